import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** A fresh token: 32 random bytes, URL-safe, with a prefix that says what it is for. */
export function newToken(prefix: string): string {
  return `${prefix}_${crypto.randomBytes(32).toString('base64url')}`;
}

/** A job token's prefix: the git and API routes try a token as a job's only when it has it. */
export const JOB_TOKEN_PREFIX = 'lzjob';

/** Whether a token is one newToken made with this prefix. */
export const hasTokenPrefix = (token: string, prefix: string): boolean => token.startsWith(`${prefix}_`);

/** Tokens are stored only as this hash; a leaked database does not leak working tokens. */
export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (!presented) return false;
  const a = crypto.createHash('sha256').update(presented).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

/**
 * The value from the environment if set; otherwise the one kept in `dataDir/file`,
 * generated on first use and written with mode 0600 so only the owner can read it.
 */
export function loadOrCreateSecret(
  dataDir: string,
  file: string,
  prefix: string,
  fromEnv?: string,
): { value: string; source: 'env' | 'file' | 'generated'; path: string } {
  const filePath = path.join(dataDir, file);
  if (fromEnv) return { value: fromEnv, source: 'env', path: filePath };
  try {
    const value = fs.readFileSync(filePath, 'utf8').trim();
    if (value) return { value, source: 'file', path: filePath };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const value = newToken(prefix);
  // 'wx' fails if another process created it first; then theirs wins.
  try {
    fs.writeFileSync(filePath, value + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      return { value: fs.readFileSync(filePath, 'utf8').trim(), source: 'file', path: filePath };
    }
    throw err;
  }
  return { value, source: 'generated', path: filePath };
}
