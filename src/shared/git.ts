import { spawn, type SpawnOptions } from 'node:child_process';

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout went past `maxStdout`: git was stopped, and `stdout` holds only its first bytes. */
  truncated?: boolean;
}

export interface GitOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Inherit stderr instead of capturing it (lets git show its own progress). */
  showProgress?: boolean;
  signal?: AbortSignal;
  /**
   * The most bytes of stdout read (default GIT_STDOUT_CAP): past it git is stopped and the result
   * is `truncated`. Output someone else controls (a job's file list, a file) is never read whole:
   * a job's 564 MB file list, collected into one string, threw in the child's event handler and
   * ended the server.
   */
  maxStdout?: number;
}

/** The default cap on git's stdout: far above any listing we ask for, far below the 512 MiB a string can hold. */
export const GIT_STDOUT_CAP = 32 * 1024 * 1024;
/** Only the end of stderr is kept: git's last lines say why it failed, and a remote or a job can make it long. */
const STDERR_TAIL_BYTES = 64 * 1024;

/** Environment under which git never stops to ask a person anything. */
export function nonInteractiveEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '', SSH_ASKPASS: '', ...extra };
}

/**
 * Runs the system git with an argument vector (never a shell) and collects its output: stdout
 * up to `maxStdout` (then git is stopped), the last 64 KiB of stderr.
 */
export function git(args: string[], opts: GitOptions = {}): Promise<GitResult> {
  const maxStdout = opts.maxStdout ?? GIT_STDOUT_CAP;
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = {
      cwd: opts.cwd,
      env: opts.env ?? nonInteractiveEnv(),
      stdio: ['pipe', 'pipe', opts.showProgress ? 'inherit' : 'pipe'],
      signal: opts.signal,
    };
    const child = spawn('git', args, spawnOpts);
    const out: Buffer[] = [];
    let outBytes = 0;
    let truncated = false;
    const err = new TailBuffer(STDERR_TAIL_BYTES);
    child.stdout?.on('data', (c: Buffer) => {
      if (truncated) return;
      const room = maxStdout - outBytes;
      out.push(c.length <= room ? c : c.subarray(0, room));
      outBytes += Math.min(c.length, room);
      if (c.length <= room) return;
      truncated = true;
      child.stdout?.destroy();
      child.kill('SIGTERM');
    });
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: err.text(),
        truncated,
      });
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
  });
}

/** The last `max` bytes of a stream, in memory that never holds much more. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size <= 2 * this.max) return;
    const kept = Buffer.concat(this.chunks).subarray(-this.max);
    this.chunks = [kept];
    this.size = kept.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).subarray(-this.max).toString('utf8');
  }
}

export class GitError extends Error {
  constructor(
    message: string,
    readonly result: GitResult,
  ) {
    super(message);
  }
}

/** Like `git`, but throws a GitError with git's own last message when it fails, or when its output was cut. */
export async function gitOk(args: string[], opts: GitOptions = {}): Promise<string> {
  const result = await git(args, opts);
  if (result.truncated) throw new GitError(`git ${args[0]} wrote more than ${opts.maxStdout ?? GIT_STDOUT_CAP} bytes`, result);
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

/** A word for a command line a person copies: as it is when a POSIX shell reads it so, else single-quoted. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:=@,+%-]+$/.test(word) ? word : shellQuote(word);
}
