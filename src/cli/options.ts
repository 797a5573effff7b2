import { InvalidArgumentError, type Command } from 'commander';
import { JOB_PREFIX_MIN } from '../shared/names.js';
import type { ClientOptions } from './client.js';

export interface GlobalOptions {
  server?: string;
  token?: string;
}

/** The help of a command's job argument: every command finds a job the same way (JOB_REF_RE). */
export const JOB_ARGUMENT_HELP = `job id, or a unique prefix of it (${JOB_PREFIX_MIN} characters or more)`;

/** The --server/--token flags, wherever on the command line they were given. */
export function clientOptions(cmd: Command): ClientOptions {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  return { server: opts.server, token: opts.token };
}

/** An option value parser for a whole number from `min` to `max`; anything else is commander's one-line usage error. */
export function wholeNumber(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}
