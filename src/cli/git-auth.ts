import fs from 'node:fs';
import { shellQuote } from '../shared/git.js';

/** The credential-helper command that runs this very CLI: `!'node' '/path/main.js' credential`. */
export function helperCommand(): string {
  const script = fs.realpathSync(process.argv[1] ?? '');
  return `!${shellQuote(process.execPath)} ${shellQuote(script)} credential`;
}

/** `scheme://host:port` of the server: the key git matches credential config against. */
export function credentialScope(serverUrl: string): string {
  const u = new URL(serverUrl);
  return `${u.protocol}//${u.host}`;
}

/**
 * `-c` options that make git ask lazyaf (and only lazyaf) for this server's credentials. The empty
 * helper first clears helpers configured elsewhere, so no other helper ever stores the token.
 */
export function credentialArgs(serverUrl: string): string[] {
  const scope = credentialScope(serverUrl);
  return ['-c', `credential.${scope}.helper=`, '-c', `credential.${scope}.helper=${helperCommand()}`];
}

/** The same as repo config entries, so a later plain `git push lazyaf` authenticates through lazyaf too. */
export function credentialConfigEntries(serverUrl: string): [string, string][] {
  const scope = credentialScope(serverUrl);
  return [
    [`credential.${scope}.helper`, ''],
    [`credential.${scope}.helper`, helperCommand()],
  ];
}
