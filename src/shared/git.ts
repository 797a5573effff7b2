import { spawn, type SpawnOptions } from 'node:child_process';

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface GitOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Inherit stderr instead of capturing it (lets git show its own progress). */
  showProgress?: boolean;
  signal?: AbortSignal;
}

/** Environment under which git never stops to ask a person anything. */
export function nonInteractiveEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '', SSH_ASKPASS: '', ...extra };
}

/** Runs the system git with an argument vector (never a shell) and collects its output. */
export function git(args: string[], opts: GitOptions = {}): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = {
      cwd: opts.cwd,
      env: opts.env ?? nonInteractiveEnv(),
      stdio: ['pipe', 'pipe', opts.showProgress ? 'inherit' : 'pipe'],
      signal: opts.signal,
    };
    const child = spawn('git', args, spawnOpts);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
  });
}

export class GitError extends Error {
  constructor(
    message: string,
    readonly result: GitResult,
  ) {
    super(message);
  }
}

/** Like `git`, but throws a GitError with git's own last message when it fails. */
export async function gitOk(args: string[], opts: GitOptions = {}): Promise<string> {
  const result = await git(args, opts);
  if (result.code !== 0) throw new GitError(lastGitMessage(result.stderr) || `git ${args[0]} exited with ${result.code}`, result);
  return result.stdout;
}

/** The most useful line of git's stderr: the last "fatal:"/"error:" line, else the last line. */
export function lastGitMessage(stderr: string): string {
  const lines = stderr
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter(Boolean);
  const fatal = [...lines].reverse().find((l) => /^(fatal|error):/.test(l));
  return fatal ?? lines.at(-1) ?? '';
}

const BAD_REF_CHARS = /[\x00-\x20\x7f~^:?*[\\]/;

/**
 * A branch name git would accept (the rules of `git check-ref-format --branch`), checked
 * here so that nothing odd ever reaches a git command line.
 */
export function isValidBranchName(name: string): boolean {
  if (name.length === 0 || name.length > 255) return false;
  if (BAD_REF_CHARS.test(name)) return false;
  if (name.startsWith('-') || name.startsWith('/') || name.endsWith('/') || name.endsWith('.')) return false;
  if (name.includes('..') || name.includes('//') || name.includes('@{') || name === '@') return false;
  return name.split('/').every((part) => part.length > 0 && !part.startsWith('.') && !part.endsWith('.lock'));
}

/**
 * Removes user:password from URLs (a whole URL, or URLs inside a message), so a remote's
 * credentials are never shown or logged. Everything up to the last "@" of the authority goes,
 * so a password holding a raw "@" does not leak its tail.
 */
export function redactUrls(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s?#]*@/gi, '$1***@');
}

/** Single-quotes a word for the shell git runs some commands with (`!helper`, `--upload-pack`). */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
