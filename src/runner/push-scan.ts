import { spawn } from 'node:child_process';
import { secretsOf } from '../shared/agents/credentials.js';
import { formatBytes } from '../shared/job-limits.js';
import { MIN_REDACTED_CHARS, Redactor } from '../shared/redact.js';
import { gitEnv } from './env.js';
import { WorkspaceError } from './workspace.js';

/**
 * Keeps a job from pushing a credential it was given (`agent_run.env`) to its branch, where the
 * redaction of its log cannot reach: every object its result adds to the base (each commit's
 * files, file names and message, the job's own commits included, even one whose value a later
 * commit removed) is read once and searched for the values.
 *
 * Only secrets are searched for: the values of variables named as one (`*_KEY*`, `*_TOKEN*`,
 * `*_SECRET*`, `*_PASSWORD*`) and a password inside a URL (a proxy's). The other settings an
 * agent gets are places and names a job may well write itself (`us-east-1`, a model's name, a
 * gateway's URL, `/etc/ssl/certs/ca-certificates.crt`): refusing those would fail honest work,
 * and their log lines are still redacted.
 *
 * The objects are read from the runner's cache, where publishing put them (checked on the way
 * in), not from the job's repository: `git cat-file` there runs no hook, filter or driver and
 * reads only the runner's config, as the push does from the same place.
 *
 * This catches an agent that writes its key into the code, the usual leak. A job bent on leaking
 * one can encode it first (base64, reversed); it holds the key and has a network, so nothing
 * here could stop it.
 *
 * The job chooses its files' size, so they are streamed and the search holds only the last
 * `longest - 1` characters of each. Bounded: past SCAN_MAX_BYTES of content or SCAN_TIMEOUT_MS
 * the result is not pushed, since what was not read may hold a value (1 GiB is the server's
 * default push limit, compressed; 200 MiB of new content is read here in 1.1 s).
 */
export const SCAN_MAX_BYTES = 1024 ** 3;
export const SCAN_TIMEOUT_MS = 2 * 60_000;

/**
 * The forms to look for (the UTF-8 bytes of each, one character a byte), each with its variable's
 * name: the secrets among `env`'s settings, and every value of `declared` (a repo's secrets, which
 * are secrets by declaration, whatever their names).
 */
export function secretsToFind(env: Readonly<Record<string, string>>, declared: Readonly<Record<string, string>> = {}): Map<string, string> {
  const found = new Map<string, string>();
  const add = (name: string, value: string) => {
    if (value.length < MIN_REDACTED_CHARS) return;
    for (const form of [value, JSON.stringify(value).slice(1, -1)]) found.set(Buffer.from(form, 'utf8').toString('latin1'), name);
  };
  for (const [name, value] of secretsOf(Object.entries(env))) add(name, value);
  for (const [name, value] of Object.entries(declared)) add(name, value);
  return found;
}

/**
 * Throws a one-line WorkspaceError when what `head` adds to `base` in the repository at `gitDir`
 * holds one of the secrets of `env`, or could not be read whole; naming the variable and where,
 * never the value. Returns when nothing was found.
 */
export async function refuseCredentials(
  gitDir: string,
  base: string,
  head: string,
  env: Readonly<Record<string, string>>,
  opts: { signal?: AbortSignal; maxBytes?: number; timeoutMs?: number; declared?: Readonly<Record<string, string>> } = {},
): Promise<void> {
  const { signal, maxBytes = SCAN_MAX_BYTES, timeoutMs = SCAN_TIMEOUT_MS } = opts;
  const secrets = secretsToFind(env, opts.declared);
  if (secrets.size === 0) return;
  const stop = new AbortController();
  const timeout = AbortSignal.timeout(timeoutMs);
  const all = AbortSignal.any([stop.signal, timeout, ...(signal ? [signal] : [])]);
  const options = { cwd: gitDir, env: gitEnv(), signal: all };
  const list = spawn('git', ['rev-list', '--objects', head, '--not', base, '--'], { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  const cat = spawn('git', ['cat-file', '--batch=%(objectname) %(objecttype) %(objectsize) %(rest)'], { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
  const errors = [tailOf(list.stderr), tailOf(cat.stderr)];
  const exits = [exitOf(list), exitOf(cat)];
  cat.stdin.on('error', () => {}); // Closed early when the search stops: what rev-list still says is not needed.
  list.stdout.pipe(cat.stdin);

  const search = new ObjectSearch(new Redactor(secrets.keys()));
  let verdict: string | undefined;
  try {
    for await (const piece of cat.stdout as AsyncIterable<Buffer>) {
      const hit = search.feed(piece);
      if (hit) verdict = `the job's changes hold the value of ${secrets.get(hit.value)} (${hit.where}): not pushed`;
      else if (search.bytes > maxBytes) verdict = `the job's changes are too large to check for credentials (more than ${formatBytes(maxBytes)}): not pushed`;
      if (verdict) break;
    }
  } catch {
    // Stopped by a signal: said below.
  }
  if (verdict) stop.abort();
  const codes = await Promise.all(exits);
  if (signal?.aborted) throw Object.assign(new Error('stopped'), { name: 'AbortError' });
  if (verdict) throw new WorkspaceError(verdict);
  if (codes.every((c) => c === 0)) return;
  if (timeout.aborted) throw new WorkspaceError(`the job's changes could not be checked for credentials in ${timeoutMs / 1000} s: not pushed`);
  const why = errors.map((e) => e().trim().split('\n').at(-1)).find(Boolean) ?? 'git failed';
  throw new WorkspaceError(`cannot check the job's changes for credentials: ${why.slice(0, 300)}`);
}

function exitOf(child: ReturnType<typeof spawn>): Promise<number | null> {
  child.on('error', () => {}); // An abort: its exit code says the rest.
  return new Promise((resolve) => child.on('close', (code) => resolve(code)));
}

function tailOf(stream: NodeJS.ReadableStream | null): () => string {
  let tail = '';
  stream?.on('data', (c: Buffer) => (tail = (tail + c.toString('utf8')).slice(-2000)));
  return () => tail;
}

export interface Hit {
  value: string;
  where: string;
}

/**
 * Reads `git cat-file --batch` output given in pieces: a header line per object
 * (`<oid> <type> <size> <path>`, or `<name> missing`), then `size` bytes and a newline. Each
 * object's bytes are searched as one text (a value cut between two pieces is found), one
 * character a byte, so no cut can split a character.
 */
export class ObjectSearch {
  bytes = 0;
  private header = '';
  /** Bytes of the current object still to come, its final newline included; 0 between objects. */
  private left = 0;
  private object = { type: '', path: '', oid: '' };
  private tail = '';

  constructor(private readonly redactor: Redactor) {}

  feed(piece: Buffer): Hit | undefined {
    let at = 0;
    while (at < piece.length) {
      if (this.left === 0) {
        const nl = piece.indexOf(10, at);
        const end = nl === -1 ? piece.length : nl;
        // A path of the job's may be long: the header keeps only what names the object.
        if (this.header.length < 8192) this.header += piece.toString('latin1', at, Math.min(end, at + 8192));
        at = end + 1;
        if (nl !== -1) this.startObject();
        continue;
      }
      const take = Math.min(this.left, piece.length - at);
      const content = piece.toString('latin1', at, at + Math.min(take, this.left - 1));
      at += take;
      this.left -= take;
      this.bytes += content.length;
      const hit = this.search(content);
      if (hit) return hit;
    }
    return undefined;
  }

  private startObject(): void {
    const m = /^([0-9a-f]+) ([a-z]+) (\d+)(?: (.*))?$/s.exec(this.header);
    this.header = '';
    if (!m) return; // "<name> missing": a line of a path that held a newline.
    this.object = { oid: m[1]!, type: m[2]!, path: Buffer.from(m[4] ?? '', 'latin1').toString('utf8') };
    this.left = Number(m[3]) + 1;
    this.tail = '';
  }

  private search(content: string): Hit | undefined {
    const text = this.tail + content;
    for (const m of this.redactor.matches(text)) return { value: m[0], where: this.where() };
    this.tail = text.slice(-(this.redactor.longest - 1));
    return undefined;
  }

  private where(): string {
    const path = JSON.stringify(this.object.path.slice(0, 200)).slice(1, -1);
    if (this.object.type === 'blob') return `in ${path}`;
    if (this.object.type === 'tree') return `in a file name in ${path ? `${path}/` : 'the top folder'}`;
    return `in the message of commit ${this.object.oid.slice(0, 12)}`;
  }
}
