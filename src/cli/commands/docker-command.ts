import type { Command } from 'commander';
import type { DockerCommand } from '../../shared/api.js';
import { printable } from '../../shared/terminal.js';
import { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { clientOptions } from '../options.js';

export function registerDockerCommand(program: Command): void {
  program
    .command('docker-command')
    .option('--with-secrets', 'put the real registration token in it instead of a <NAME> placeholder')
    .option('--labels <a,b>', 'labels the runner offers jobs, comma-separated')
    .option('--elsewhere', 'the command for another machine: an address of this one instead of its loopback')
    .action(async (opts: { withSecrets?: boolean; labels?: string; elsewhere?: boolean }, cmd: Command) => {
      const query = new URLSearchParams({ with_secrets: String(opts.withSecrets === true) });
      if (opts.labels !== undefined) query.set('labels', opts.labels);
      const answer = await new ApiClient(clientOptions(cmd)).request<DockerCommand>('GET', `/api/runners/docker-command?${query}`);
      const line = opts.elsewhere && answer.local_only ? answer.elsewhere : answer;
      if (!line) throw new CliError(`no command for another machine: ${answer.elsewhere_hint ?? 'the server cannot say an address of its own'}`);
      // Escaped like all server text: a control character in a key would otherwise reach the terminal.
      process.stdout.write(`${printable(line.command)}\n`);
      // What a person must know to run it, on stderr so that the command alone can be piped or captured.
      const notes = [`The image ${answer.image} must be on the machine that runs this: pull or build it there.`];
      if (answer.local_only && line === answer) {
        notes.push(`It reaches the server at ${answer.server_url}, this machine's loopback: it works only on this machine.`);
        notes.push(answer.elsewhere ? 'For another machine: lazyaf docker-command --elsewhere' : (answer.elsewhere_hint ?? ''));
      } else if (line !== answer && answer.elsewhere_hint) notes.push(answer.elsewhere_hint);
      process.stderr.write(
        notes
          .filter(Boolean)
          .map((n) => `${printable(n)}\n`)
          .join(''),
      );
    });
}
