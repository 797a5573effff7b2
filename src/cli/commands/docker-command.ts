import type { Command } from 'commander';
import type { DockerCommand } from '../../shared/api.js';
import { printable } from '../../shared/terminal.js';
import { ApiClient } from '../client.js';
import { clientOptions } from '../options.js';

export function registerDockerCommand(program: Command): void {
  program
    .command('docker-command')
    .option('--with-secrets', 'put the real registration token in it instead of a <NAME> placeholder')
    .option('--labels <a,b>', 'labels the runner offers jobs, comma-separated')
    .action(async (opts: { withSecrets?: boolean; labels?: string }, cmd: Command) => {
      const query = new URLSearchParams({ with_secrets: String(opts.withSecrets === true) });
      if (opts.labels !== undefined) query.set('labels', opts.labels);
      const answer = await new ApiClient(clientOptions(cmd)).request<DockerCommand>('GET', `/api/runners/docker-command?${query}`);
      // Escaped like all server text: a control character in a key would otherwise reach the terminal.
      process.stdout.write(`${printable(answer.command)}\n`);
    });
}
