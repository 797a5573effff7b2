import type { Command } from 'commander';
import type { ClientOptions } from './client.js';

export interface GlobalOptions {
  server?: string;
  token?: string;
}

/** The --server/--token flags, wherever on the command line they were given. */
export function clientOptions(cmd: Command): ClientOptions {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  return { server: opts.server, token: opts.token };
}
