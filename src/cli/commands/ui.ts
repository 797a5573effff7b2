import type { Command } from 'commander';
import type { SessionsEnded, SignInLink } from '../../shared/api.js';
import { printable } from '../../shared/terminal.js';
import { ApiClient } from '../client.js';
import { clientOptions } from '../options.js';

export function registerUi(program: Command): void {
  program
    .command('ui')
    .option('--sign-out-all', 'instead, sign every browser out of the web UI (when a session cookie may have leaked)')
    .action(async (opts: { signOutAll?: boolean }, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      if (opts.signOutAll) {
        const { ended } = await client.request<SessionsEnded>('DELETE', '/api/sessions');
        process.stdout.write(`signed out ${ended} browser session${ended === 1 ? '' : 's'}\n`);
        return;
      }
      const link = await client.request<SignInLink>('POST', '/api/session/links');
      // Only the link on stdout, so `open "$(lazyaf ui)"` works; it is escaped like all server text.
      process.stdout.write(`${printable(link.url)}\n`);
    });
}
