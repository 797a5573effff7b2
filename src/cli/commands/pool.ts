import type { Command } from 'commander';
import type { PoolState } from '../../shared/api.js';
import { printable } from '../../shared/terminal.js';
import { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { clientOptions } from '../options.js';

const describe = (p: PoolState) =>
  printable(`pool: ${p.desired} desired, ${p.running} running, ${p.draining} draining (launcher: ${p.launcher}${p.ephemeral ? ', ephemeral' : ''})`) + '\n';

export function registerPool(program: Command): void {
  const pool = program.command('pool');
  pool
    .command('show', { isDefault: true })
    .description('show the pool size')
    .action(async (_opts: unknown, cmd: Command) => {
      process.stdout.write(describe(await new ApiClient(clientOptions(cmd)).request<PoolState>('GET', '/api/pool')));
    });
  pool
    .command('scale')
    .description('set the number of runners the server keeps running')
    .argument('<n>', 'desired number of runners')
    .action(async (n: string, _opts: unknown, cmd: Command) => {
      const desired = Number(n);
      if (!Number.isInteger(desired) || desired < 0 || desired > 256) throw new CliError(`the pool size must be a whole number from 0 to 256, got "${n}"`);
      process.stdout.write(describe(await new ApiClient(clientOptions(cmd)).request<PoolState>('PUT', '/api/pool', { desired })));
    });
}
