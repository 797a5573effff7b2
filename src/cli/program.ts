import { Command, CommanderError } from 'commander';
import { printable } from '../shared/terminal.js';
import { VERSION } from '../shared/version.js';
import { CliError } from './errors.js';

/** Adds a command (or several) to the program; each module in commands/ exports one. */
export type Register = (program: Command) => void;

/** A top-level command: its name and one-line summary for `--help`, and how to load the module that declares it. */
export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<Register>;
}

/** The options every command takes, wherever on the command line they are given. */
function addGlobalOptions(program: Command): Command {
  return program
    .option('--server <url>', 'lazyaf server URL (LAZYAF_SERVER, default http://localhost:8000)')
    .option('--token <token>', 'API token (LAZYAF_TOKEN; default: the admin token of a local server)');
}

/** The `lazyaf` program with its global options (`--server`, `--token`), before any command is added. */
export function rootProgram(): Command {
  return addGlobalOptions(new Command('lazyaf'))
    .version(VERSION)
    .description('Run coding agents and commands on a pool of runners against an internal git server.')
    .exitOverride();
}

/**
 * The command `args` (argv without node and the script) names, found the way commander will find
 * it: the first operand once the global options are taken out, or the one after `help`.
 */
export function commandNamed(args: string[]): string | undefined {
  // A program with the global options alone: parsing it runs no action and prints nothing.
  const probe = addGlobalOptions(new Command())
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
  try {
    const { operands } = probe.parseOptions(args);
    return operands[0] === 'help' ? operands[1] : operands[0];
  } catch {
    return undefined; // e.g. --server without its value: the real parse says so
  }
}

/**
 * The program for `argv` with only the module of the command at hand loaded; every other command
 * is a placeholder holding its name and summary, for `--help`.
 *
 * Why: loading every command's module made each start open the runner, typebox's ~680 files and
 * the server's config, so `lazyaf --version` took 7.35x bare `node -e 0` and `lazyaf list` 11.45x
 * (`npm run bench -- cli`, P9, a loaded two-core machine); with this (and node:http in client.ts),
 * 1.68x and 1.87x in the same bench. What is left is mostly Node's ESM loader: an empty .mjs
 * already takes 1.1x `node -e 0`, commander a little more.
 */
export async function programFor(commands: CommandEntry[], argv: string[]): Promise<Command> {
  const program = rootProgram();
  const wanted = commandNamed(argv.slice(2));
  const entry = commands.find((c) => c.name === wanted);
  if (entry) (await entry.load())(program);
  for (const { name, summary } of commands) {
    const declared = program.commands.find((c) => c.name() === name);
    (declared ?? placeholder(program, name)).description(summary);
  }
  return program;
}

/** Never run: `commandNamed` loads whatever commander would dispatch to. Should that ever differ, the user gets one line. */
function placeholder(program: Command, name: string): Command {
  return program
    .command(name)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new CliError(`internal error: the command "${name}" was not loaded`);
    });
}

/** `lazyaf: <what commander said> (see lazyaf <command> --help)` on one line, for every command of the program. */
function oneLineUsageErrors(cmd: Command, path: string[]): void {
  const usage = ['lazyaf', ...path, '--help'].join(' ');
  cmd.configureOutput({
    // Commander puts its "(Did you mean ...?)" on a line of its own.
    outputError: (str, write) =>
      write(
        `lazyaf: ${printable(
          str
            .trim()
            .replace(/^error: /, '')
            .replace(/\s*\n\s*/g, ' '),
        )} (see ${usage})\n`,
      ),
  });
  for (const sub of cmd.commands) oneLineUsageErrors(sub, [...path, sub.name()]);
}

/** One line for a failure that no command expected: the stack only with LAZYAF_DEBUG=1. */
function unexpected(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`lazyaf: unexpected error: ${printable(message)}\n`);
  if (process.env.LAZYAF_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
}

/** Builds the program, parses `argv` and runs the command; every failure is one line on stderr and a non-zero exit. */
export async function runProgram(build: () => Command | Promise<Command>, argv: string[]): Promise<void> {
  // A reader that went away (`lazyaf jobs logs X | head`) is not a failure of the command.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? process.exit(0) : unexpected(err)));
  try {
    const program = await build();
    oneLineUsageErrors(program, []);
    await program.parseAsync(argv);
  } catch (err) {
    // Commander has printed its own line (usage errors) or what was asked for (--help, --version).
    if (err instanceof CommanderError) process.exit(err.exitCode);
    if (err instanceof CliError) {
      // Messages carry server text (a runner's error, a name that was not found): shown escaped.
      process.stderr.write(`lazyaf: ${printable(err.message)}\n`);
      process.exit(err.exitCode);
    }
    unexpected(err);
  }
}
