import crypto from 'node:crypto';
import fs from 'node:fs';
import type { AgentAdapter } from '../shared/agents/adapter.js';
import { insideHome, readRegularFile } from './home-files.js';

/** A login file is a few hundred bytes of JSON (tokens, an expiry); far more is not one. */
export const MAX_LOGIN_BYTES = 64 * 1024;

/** The login files the job's HOME got (path → content), to tell afterwards which the agent refreshed. */
export type LoginSnapshot = ReadonlyMap<string, Buffer>;

export function loginSnapshot(adapter: AgentAdapter, home: string): LoginSnapshot {
  const found = adapter.loginFiles.map((rel): [string, Buffer | undefined] => [rel, readLogin(home, rel)]);
  return new Map(found.filter((f): f is [string, Buffer] => f[1] !== undefined));
}

/**
 * Writes the login files the agent refreshed during the job (an OAuth token it renewed: the old
 * one may no longer work) back to the runner's HOME, so the next job starts logged in. Only the
 * adapter's login files that the job got, only when changed, and only a regular file under the
 * cap holding a JSON object with the same keys at its top: a job can thus change a token, never
 * plant a hook, a setting, a link or a login where there was none, since nothing else it writes
 * under its HOME goes back.
 */
export function writeBackLogins(adapter: AgentAdapter, home: string, runnerHome: string, before: LoginSnapshot, say: (line: string) => void): void {
  for (const rel of adapter.loginFiles) {
    const was = before.get(rel);
    const content = readLogin(home, rel);
    if (was === undefined || content === undefined || content.equals(was)) continue;
    const keys = keysOf(content);
    if (keys === undefined || keys !== keysOf(was)) {
      say(`the agent's changed ~/${rel} is not a JSON object with the keys it had: not written back to the runner's HOME`);
      continue;
    }
    try {
      const target = insideHome(runnerHome, rel, true);
      if (!target) throw new Error('a link or a file is on the way');
      const tmp = `${target}.lazyaf-${crypto.randomBytes(4).toString('hex')}`;
      fs.writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
      fs.renameSync(tmp, target);
      say(`the agent refreshed its login: ~/${rel} written back to the runner's HOME`);
    } catch (err) {
      say(`could not write the refreshed ~/${rel} back to the runner's HOME: ${(err as Error).message.split('\n')[0]}`);
    }
  }
}

/** A login file of the job's HOME: a regular file reached without a link, at most MAX_LOGIN_BYTES; else undefined. */
function readLogin(home: string, rel: string): Buffer | undefined {
  const file = insideHome(home, rel);
  const st = file ? fs.lstatSync(file, { throwIfNoEntry: false }) : undefined;
  if (!file || !st?.isFile() || st.size > MAX_LOGIN_BYTES) return undefined;
  const content = readRegularFile(file, MAX_LOGIN_BYTES + 1);
  return content && content.length <= MAX_LOGIN_BYTES ? content : undefined;
}

/** The top-level keys of a JSON object, sorted and joined; undefined for anything else. */
function keysOf(content: Buffer): string | undefined {
  try {
    const value: unknown = JSON.parse(content.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? JSON.stringify(Object.keys(value).sort()) : undefined;
  } catch {
    return undefined;
  }
}
