import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Command } from 'commander';
import { VERSION } from '../src/shared/version.js';
import { api, CLI, cli, eventually, ROOT, run, spawnChild, startTestServer, tempDir, type RunResult, type ServerProcess } from './helpers.js';
import { spawn } from 'node:child_process';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { poll, registerRunner, seedRepo, startRunnerProcess, submit, waitForJob } from './queue-helpers.js';

/** A stack frame as Node prints it. */
const STACK_FRAME = /^\s+at /m;

/** The lines of stderr that report a failure: everything but the progress lines a command prints on its way. */
function failureLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l && !/^(Submitted job |Waiting for a runner)/.test(l))
    .map((l) => l.trimEnd());
}

/** Every top-level command the modules of src/cli/commands declare, by calling each module's register functions. */
async function declaredCommands(): Promise<Command[]> {
  const program = new Command();
  const dir = path.join(ROOT, 'src', 'cli', 'commands');
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const mod = (await import(path.join(dir, file))) as Record<string, unknown>;
    for (const [name, fn] of Object.entries(mod)) if (name.startsWith('register') && typeof fn === 'function') (fn as (p: Command) => void)(program);
  }
  return program.commands as Command[];
}

test('--version, and --help listing every command the modules declare, each with its summary and its own help', async () => {
  const version = await cli(['--version']);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout.trim(), VERSION);

  const help = await cli(['--help']);
  assert.equal(help.code, 0, help.stderr);
  const section = help.stdout.slice(help.stdout.indexOf('\nCommands:\n'));
  const listed = new Map([...section.matchAll(/^ {2}([a-z-]+)(?: \[[^\]]*\])? +(\S.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  const declared = await declaredCommands();
  assert.ok(declared.length >= 10, `the modules declare the commands (${declared.length} found)`);
  for (const cmd of declared) {
    assert.ok(listed.get(cmd.name()), `lazyaf --help lists "${cmd.name()}" with its summary (a row in src/cli/main.ts):\n${help.stdout}`);
    // One home for the summary: main.ts's table, which --help shows without loading the module.
    assert.equal(cmd.description(), '', `"${cmd.name()}" takes its summary from src/cli/main.ts, not from its module`);
    const own = await cli([cmd.name(), '--help']);
    assert.equal(own.code, 0, `${cmd.name()} --help: ${own.stderr}`);
    assert.match(own.stdout, new RegExp(`^Usage: lazyaf ${cmd.name()} `), own.stdout);
    assert.ok(own.stdout.includes(listed.get(cmd.name())!.slice(0, 20)), `${cmd.name()} --help shows its summary:\n${own.stdout}`);
  }
  assert.deepEqual(
    [...listed.keys()].filter((n) => n !== 'help' && !declared.some((c) => c.name() === n)),
    [],
    'no row without a command',
  );

  const viaHelp = await cli(['help', 'jobs']);
  assert.equal(viaHelp.code, 0, viaHelp.stderr);
  assert.match(viaHelp.stdout, /^Usage: lazyaf jobs /);
  assert.match(viaHelp.stdout, /\n {2}submit /, '`help jobs` shows the jobs command itself, with its subcommands');
});

test('a client command loads neither the server, the runner, nor their packages', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  // A loader hook that writes down every module the CLI loads.
  const record = path.join(dir, 'loaded.txt');
  fs.writeFileSync(
    path.join(dir, 'hooks.mjs'),
    `import fs from 'node:fs';\nexport async function load(url, context, next) {\n  fs.appendFileSync(process.env.LOADED_FILE, url + '\\n');\n  return next(url, context);\n}\n`,
  );
  fs.writeFileSync(path.join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`);
  const loadedBy = async (args: string[], input?: string): Promise<string[]> => {
    fs.writeFileSync(record, '');
    const r = await run(process.execPath, ['--import', path.join(dir, 'register.mjs'), CLI, ...args], {
      env: { ...process.env, LAZYAF_SERVER: server.url, LAZYAF_TOKEN: server.token, LOADED_FILE: record },
      input,
    });
    assert.equal(r.code, 0, `lazyaf ${args.join(' ')}: ${r.stderr}`);
    return fs.readFileSync(record, 'utf8').split('\n').filter(Boolean);
  };
  const HEAVY = /\/dist\/(server|runner)\/|\/node_modules\/(typebox|fastify|@fastify|pino|dockerode|better-sqlite3)\//;

  // The hook sees what a command loads: `server --help` declares its options from the server's config.
  assert.ok(
    (await loadedBy(['server', '--help'])).some((url) => /\/dist\/server\/config\.js$/.test(url)),
    'the hook records loaded modules',
  );

  for (const [args, input] of [
    [['--version']],
    [['--help']],
    [['list']],
    [['branches', repo.name]],
    [['jobs', 'list']],
    [['runners']],
    [['credential', 'get'], `protocol=http\nhost=${new URL(server.url).host}\n\n`],
  ] as [string[], string?][]) {
    const loaded = await loadedBy(args, input);
    assert.ok(loaded.some((url) => url.endsWith('/dist/cli/main.js')));
    assert.deepEqual(
      loaded.filter((url) => HEAVY.test(url)),
      [],
      `lazyaf ${args.join(' ')} loads only what a client needs`,
    );
  }
});

test('jobs list --status done, --limit x, and a value the server refuses: one readable line each', async (t) => {
  const server = await startTestServer(t);
  const cases: [string[], RegExp][] = [
    [
      ['jobs', 'list', '--status', 'done'],
      /^lazyaf: option '--status <status>' argument 'done' is invalid\. Allowed choices are queued, running, succeeded, failed, cancelled\./,
    ],
    [['jobs', 'list', '--limit', 'x'], /^lazyaf: option '--limit <n>' argument 'x' is invalid\. expected a whole number from 1 to 1000/],
    [['jobs', 'list', '--bogus'], /^lazyaf: unknown option '--bogus' \(see lazyaf jobs list --help\)$/],
    [['jobs', 'submit', '--title', 'x'], /^lazyaf: pass --command CMD or --agent NAME$/],
    [['nosuch'], /^lazyaf: unknown command 'nosuch' \(see lazyaf --help\)$/],
    [['lst'], /^lazyaf: unknown command 'lst' \(Did you mean list\?\) \(see lazyaf --help\)$/],
    [['list', '--jsn'], /^lazyaf: unknown option '--jsn' \(Did you mean --json\?\) \(see lazyaf list --help\)$/],
    // Past the CLI's own checks, the server's schema refuses it: said in words, not as `querystring/repo_id must ...`.
    [['jobs', 'list', '--repo', 'r'.repeat(201)], /^lazyaf: invalid repo_id: must NOT have more than 200 characters$/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(args, { server });
    assert.notEqual(r.code, 0, `${args.join(' ')} should fail`);
    const lines = failureLines(r.stderr);
    assert.equal(lines.length, 1, `${args.join(' ')}: one line expected, got:\n${r.stderr}`);
    assert.match(lines[0]!, re);
    assert.equal(r.stdout, '', 'no help dumped after the error');
  }
  const done = await api(server, 'GET', '/api/jobs?status=succeeded');
  assert.equal(done.status, 200, 'the statuses the CLI offers are the ones the server takes');
});

/** `lazyaf jobs submit --wait` of a job that prints "started" and sleeps, as a child, once it has printed "started". */
async function waitingClient(t: Parameters<typeof tempDir>[0], server: ServerProcess, repoName: string): Promise<{ exited: Promise<RunResult> }> {
  const child = spawnChild(
    t,
    process.execPath,
    [CLI, 'jobs', 'submit', '--repo', repoName, '--title', 'long', '--command', 'echo started; sleep 60', '--wait'],
    {
      env: { ...process.env, LAZYAF_SERVER: server.url, LAZYAF_TOKEN: server.token },
    },
  );
  const result: RunResult = { code: -1, stdout: '', stderr: '' };
  child.stdout!.on('data', (c: Buffer) => (result.stdout += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (result.stderr += c.toString('utf8')));
  const exited = new Promise<RunResult>((resolve) => child.on('close', (code) => resolve({ ...result, code: code ?? -1 })));
  await eventually('the CLI to print the running job log', () => result.stdout.includes('started'), 60_000);
  return { exited };
}

for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  test(`jobs submit --wait whose server stops mid-job (${signal}): one line, non-zero exit, no stack`, async (t) => {
    const dir = tempDir(t);
    const server = await startTestServer(t, {}, { dataDir: path.join(dir, 'data') });
    const repo = await seedRepo(server, path.join(dir, 'src'));
    startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
    const { exited } = await waitingClient(t, server, repo.name);
    server.child.kill(signal);
    const r = await Promise.race([exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the CLI did not exit')), 60_000))]);
    assert.notEqual(r.code, 0);
    const lines = failureLines(r.stderr);
    assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, STACK_FRAME);
    const url = server.url.replace(/[.]/g, '\\.');
    const lost = new RegExp(`^lazyaf: lost the connection to the server at ${url} while following job [0-9a-f-]+ \\(.+\\)$`);
    // A server that stops in good order ends the log first; the CLI's next request finds it stopping, or gone.
    assert.match(lines[0]!, lost);
    t.diagnostic(lines[0]!);
  });
}

test('jobs logs -f of a finished job, and a job whose log ends the normal way, still exit 0', async (t) => {
  const dir = tempDir(t);
  const server = await startTestServer(t, {}, { dataDir: path.join(dir, 'data') });
  const repo = await seedRepo(server, path.join(dir, 'src'));
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  const job = await submit(server, { repo_id: repo.id, title: 'hello', command: 'echo hello' });
  await waitForJob(server, job.id);
  for (const args of [
    ['jobs', 'logs', '-f', job.id.slice(0, 8)],
    ['jobs', 'logs', job.id],
  ]) {
    const r = await cli(args, { env: { LAZYAF_SERVER: server.url, LAZYAF_TOKEN: server.token } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /hello/);
  }
  const waited = await cli(['jobs', 'submit', '--repo', repo.name, '--title', 'ok', '--command', 'echo fine', '--wait'], {
    env: { LAZYAF_SERVER: server.url, LAZYAF_TOKEN: server.token },
  });
  assert.equal(waited.code, 0, waited.stderr);
  assert.match(waited.stdout, /fine/);
});

test('a reader that goes away (lazyaf jobs logs X | head) ends the CLI quietly, exit 0', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const job = await submit(server, { repo_id: repo.id, title: 'loud', command: 'true' });
  const a = (await poll(server, (await registerRunner(server, 'r')).token))!;
  // Far more than a pipe holds (two pages of the log), so the CLI writes again after the reader has gone.
  for (const seq of [1, 2, 3, 4]) {
    const data = 'line of log\n'.repeat(40_000);
    assert.equal((await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq, data }, { token: a.job_token })).status, 200);
  }
  for (const args of [
    ['jobs', 'logs', job.id],
    ['jobs', 'logs', '-f', job.id],
  ]) {
    if (args.includes('-f'))
      assert.equal(
        (await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'succeeded', exit_code: 0 }, { token: a.job_token })).status,
        200,
      );
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, LAZYAF_SERVER: server.url, LAZYAF_TOKEN: server.token } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(stderr, '', `lazyaf ${args.join(' ')} | head`);
    assert.equal(code, 0);
  }
});

test('an error no command foresaw is one line; LAZYAF_DEBUG=1 adds its stack', async (t) => {
  const dir = tempDir(t);
  // A real one: a data dir that is a file.
  const file = path.join(dir, 'not-a-dir');
  fs.writeFileSync(file, 'x');
  const server = await cli(['server', '--port', '0', '--runners', '0', '--data', file]);
  assert.notEqual(server.code, 0);
  assert.equal(failureLines(server.stderr).length, 1, server.stderr);
  assert.match(server.stderr, /^lazyaf: /);
  assert.doesNotMatch(server.stderr, STACK_FRAME);

  // A command that throws what no one expected, through the same program.
  const script = path.join(dir, 'boom.mjs');
  const program = path.join(ROOT, 'src', 'cli', 'program.ts');
  fs.writeFileSync(
    script,
    `import { rootProgram, runProgram } from ${JSON.stringify(program)};\n` +
      `await runProgram(() => { const p = rootProgram(); p.command('boom').action(() => { throw new TypeError('it broke'); }); return p; }, process.argv);\n`,
  );
  for (const debug of [undefined, '1']) {
    const r = await run(process.execPath, ['--import', 'tsx', script, 'boom'], { cwd: ROOT, env: { ...process.env, LAZYAF_DEBUG: debug } });
    assert.equal(r.code, 1);
    const [first, ...rest] = r.stderr.trimEnd().split('\n');
    assert.equal(first, 'lazyaf: unexpected error: it broke');
    if (debug) assert.match(rest.join('\n'), STACK_FRAME, 'LAZYAF_DEBUG=1 shows where it came from');
    else assert.deepEqual(rest, []);
  }
});
