import { Compile } from 'typebox/compile';
import YAML from 'yaml';
import { ENVIRONMENT_FILE, MAX_ENVIRONMENT_FILE_BYTES, RepoEnvironment, type ResolvedEnvironment } from '../shared/environment.js';
import type { RepoEnvironmentView } from '../shared/api.js';
import { git } from '../shared/git.js';
import { isAgentCredential } from '../shared/agents/credentials.js';
import { COMMON_AGENT_SETTINGS } from './agent-credentials.js';
import type { SecretLookup } from './repo-secrets.js';

/** Compiled once: every claim of a job on a repo with a file checks it. */
const SCHEMA = Compile(RepoEnvironment);

/**
 * How many aliases a document may expand to: a handful of `*anchor`s is a convenience, a
 * billion-laughs document (aliases of aliases) is refused before it is built.
 */
const MAX_ALIAS_COUNT = 50;

/** The top-level keys, in the schema's order, for the message about an unknown one. */
const KNOWN_KEYS = Object.keys(RepoEnvironment.properties);

export type Parsed = { environment: RepoEnvironment; error?: undefined } | { environment?: undefined; error: string };

/** What the tree holds at `.lazyaf.yml`: nothing, the text, or why it cannot be used. */
/** `unsure`: git did not answer (no such commit, or it failed to run): not to be remembered for the commit. */
export type FileRead = { kind: 'none'; unsure?: true } | { kind: 'text'; text: string } | { kind: 'error'; error: string; unsure?: true };

/**
 * Reads `.lazyaf.yml` at `rev` (a commit, or `refs/heads/<branch>`) of a bare repository: its
 * size is read from the tree first, and never more than MAX_ENVIRONMENT_FILE_BYTES of it. A
 * symbolic link or a directory there is an error, not followed.
 */
export async function readEnvironmentFile(repoPath: string, rev: string): Promise<FileRead> {
  const listed = await git(['ls-tree', '-l', '-z', rev, '--', ENVIRONMENT_FILE], { cwd: repoPath, maxStdout: 4096 });
  // No such commit (an empty repo) reads as no file: the job's own checkout will say what is wrong.
  if (listed.code !== 0) return { kind: 'none', unsure: true };
  if (listed.stdout === '') return { kind: 'none' };
  const match = /^(\d{6}) (\w+) ([0-9a-f]{40,64}) +(-|\d+)\t/.exec(listed.stdout);
  if (!match) return { kind: 'error', error: `${ENVIRONMENT_FILE}: cannot be read from the commit` };
  const [, mode, type, oid, size] = match;
  if (type !== 'blob') return { kind: 'error', error: `${ENVIRONMENT_FILE}: is a ${type === 'tree' ? 'directory' : type}, not a file` };
  if (mode === '120000') return { kind: 'error', error: `${ENVIRONMENT_FILE}: is a symbolic link; it must be a file` };
  if (Number(size) > MAX_ENVIRONMENT_FILE_BYTES) {
    return { kind: 'error', error: `${ENVIRONMENT_FILE}: is ${size} bytes, over the limit of ${MAX_ENVIRONMENT_FILE_BYTES / 1024} KiB` };
  }
  const shown = await git(['cat-file', 'blob', oid!], { cwd: repoPath, maxStdout: MAX_ENVIRONMENT_FILE_BYTES });
  if (shown.code !== 0 || shown.truncated) return { kind: 'error', error: `${ENVIRONMENT_FILE}: cannot be read from the commit`, unsure: true };
  if (shown.stdout.includes('\uFFFD')) return { kind: 'error', error: `${ENVIRONMENT_FILE}: is not UTF-8 text` };
  return { kind: 'text', text: shown.stdout };
}

/** Parses and checks the text of `.lazyaf.yml`; an error is one line naming the file, what is wrong and where. */
export function parseEnvironment(text: string, origin = ENVIRONMENT_FILE): Parsed {
  let value: unknown;
  try {
    const doc = YAML.parseDocument(text, { uniqueKeys: true });
    const first = doc.errors[0];
    if (first) return { error: `${origin}: invalid YAML${where(first.linePos?.[0])}: ${firstLine(first.message)}` };
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // toJS throws on an alias bomb (and on what the parser let through but cannot build).
    return { error: `${origin}: invalid YAML: ${firstLine((err as Error).message)}` };
  }
  // An empty file declares nothing, as an absent one does.
  if (value === null || value === undefined) return { environment: {} };
  return checkEnvironment(value, origin);
}

/** Checks a value (parsed YAML, or the API's body) against RepoEnvironment; an error is one line. */
export function checkEnvironment(value: unknown, origin: string): Parsed {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { error: `${origin}: must be a mapping of keys (${KNOWN_KEYS.join(', ')}), not ${describe(value)}` };
  }
  if (!SCHEMA.Check(value)) return { error: `${origin}: ${explain(SCHEMA.Errors(value))}` };
  const reserved = reservedNameIn(value);
  return reserved ? { error: `${origin}: ${reserved}` } : { environment: value };
}

/**
 * Variables that change how the agent, its tools or the runner's git run (the loader, Node's
 * options, the shell's start file, git's own settings) or where an agent's requests and its key go
 * (a proxy, a CA). The file is written by whoever pushes to the repo, a job's agent included: a
 * follow-up reads the file its parent left.
 */
const RESERVED_VARIABLES: ReadonlySet<string> = new Set([
  'PATH',
  'HOME',
  'SHELL',
  'ENV',
  'BASH_ENV',
  'LD_PRELOAD',
  'LD_LIBRARY_PATH',
  'LD_AUDIT',
  'NODE_OPTIONS',
  'NODE_PATH',
  'TMPDIR',
  ...COMMON_AGENT_SETTINGS,
]);

/** Why a variable may not be set or handed over by an environment, or undefined when it may. */
function reservedReason(name: string): string | undefined {
  if (isAgentCredential(name)) return "is an agent's credential or setting: an agent job gets those from the server with its assignment";
  if (name.startsWith('LAZYAF_')) return "is lazyaf's own";
  if (name.startsWith('GIT_')) return "would change the runner's git";
  if (RESERVED_VARIABLES.has(name)) return 'is reserved: it would change how the job, its agent or the runner runs, or where requests go';
  return undefined;
}

function reservedNameIn(env: RepoEnvironment): string | undefined {
  for (const name of Object.keys(env.env ?? {})) {
    const reason = reservedReason(name);
    if (reason) return `env.${name} ${reason}`;
  }
  for (const key of ['secrets', 'job_secrets'] as const) {
    for (const [i, name] of (env[key] ?? []).entries()) {
      const reason = reservedReason(name);
      if (reason) return `${key}[${i}] ${name} ${reason}`;
    }
  }
  return undefined;
}

type SchemaError = ReturnType<typeof SCHEMA.Errors>[number];

/** The one error a person should read first, in words: the key, what is wrong with it. */
function explain(errors: SchemaError[]): string {
  // An unknown key says more than the "schema is false" under it; an anyOf (setup) says more than its branches.
  const unknown = errors.find((e) => e.keyword === 'additionalProperties');
  if (unknown) {
    const names = (unknown.params as { additionalProperties?: string[] }).additionalProperties ?? [];
    const name = JSON.stringify(names[0] ?? '');
    const at = keyPath(unknown.instancePath);
    if (at === '') return `unknown key ${name} (known: ${KNOWN_KEYS.join(', ')})`;
    if (at === 'checks') return `check name ${name} is not allowed: letters, digits, ".", "_" and "-", starting with a letter or digit, at most 63`;
    if (at === 'env') return `variable name ${name} in env is not allowed: A-Z, 0-9 and "_", not starting with a digit`;
    return `unknown key ${name} in ${at}`;
  }
  const setup = errors.find((e) => e.keyword === 'anyOf' && e.instancePath === '/setup');
  if (setup) return 'setup must be a command or a list of 1 to 20 commands, each at most 4000 characters';
  const e = errors.find((x) => x.keyword !== 'anyOf' && x.keyword !== 'boolean') ?? errors[0]!;
  return `${keyPath(e.instancePath) || 'the file'} ${wrong(e)}`;
}

function wrong(e: SchemaError): string {
  const params = e.params as { type?: string; limit?: number };
  const at = e.instancePath;
  switch (e.keyword) {
    case 'type':
      if (at.startsWith('/env/')) return 'must be a string (quote a number or a boolean: "3000")';
      return `must be ${params.type === 'object' ? 'a mapping' : params.type === 'array' ? 'a list' : `a ${params.type ?? 'value of another type'}`}`;
    case 'required':
      return `is missing a key: ${JSON.stringify((e.params as { requiredProperties?: string[] }).requiredProperties?.[0] ?? '')}`;
    case 'pattern':
      if (/^\/cache\//.test(at)) return 'must be a relative path inside the checkout (no leading "/", no "..")';
      if (/^\/(secrets|job_secrets)\//.test(at)) return 'must be a secret name: A-Z, 0-9 and "_", not starting with a digit';
      if (at === '/image') return 'must be an image name (letters, digits and ._/:@-)';
      return 'must not contain a NUL character';
    case 'minLength':
      return 'must not be empty';
    case 'maxLength':
      return `must be at most ${params.limit} characters`;
    case 'minItems':
      return `must have at least ${params.limit} item${params.limit === 1 ? '' : 's'}`;
    case 'maxItems':
      return `must have at most ${params.limit} items`;
    case 'maxProperties':
      return `must have at most ${params.limit} entries`;
    default:
      return e.message;
  }
}

/** `/cache/paths/0` → `cache.paths[0]`. */
function keyPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((out, part) => (/^\d+$/.test(part) ? `${out}[${part}]` : out ? `${out}.${part}` : part), '');
}

function where(pos: { line: number; col: number } | undefined): string {
  return pos ? ` at line ${pos.line}, column ${pos.col}` : '';
}

/** The parser's message without its position (said once, by `where`) and without the excerpt it appends. */
function firstLine(message: string): string {
  return message
    .split('\n')[0]!
    .replace(/ at line \d+, column \d+:?$/, '')
    .slice(0, 300);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return `a ${typeof value}`;
}

/** The file with the server's override applied: each top-level key the override sets replaces the file's. */
export function applyOverride(file: RepoEnvironment | null, server: RepoEnvironment | null): RepoEnvironment | null {
  if (!file && !server) return null;
  return { ...file, ...server };
}

/** Where the effective environment came from, as the assignment says it. */
export function sourceOf(file: RepoEnvironment | null, server: RepoEnvironment | null): ResolvedEnvironment['source'] {
  if (file && server) return 'file+server';
  return file ? 'file' : server ? 'server' : 'none';
}

export type Resolved = { environment: ResolvedEnvironment; error?: undefined } | { environment?: undefined; error: string };

/**
 * The environment a runner is handed: the effective one with its secrets' values. A secret the
 * server does not hold is an error naming it and where it was asked for, not a job run without it.
 * A name in both lists is given to the job too (job_secrets is the wider grant).
 */
export function resolveEnvironment(
  file: RepoEnvironment | null,
  server: RepoEnvironment | null,
  ctx: { repoId: string; repoName: () => string; lookup: SecretLookup; requireChecks: boolean | null },
): Resolved | undefined {
  const effective = applyOverride(file, server);
  if (!effective) return undefined;
  const secretsFrom = (key: 'secrets' | 'job_secrets') => (server && Object.hasOwn(server, key) ? "the server's environment of the repo" : ENVIRONMENT_FILE);
  const values = (key: 'secrets' | 'job_secrets', skip: ReadonlySet<string>): Record<string, string> | string => {
    const out: Record<string, string> = {};
    for (const name of effective[key] ?? []) {
      if (skip.has(name)) continue;
      const value = ctx.lookup(ctx.repoId, name);
      if (value === undefined) {
        return `${secretsFrom(key)}: ${key} names ${name}, which the server does not hold (lazyaf secrets set ${name} --repo ${ctx.repoName()})`;
      }
      out[name] = value;
    }
    return out;
  };
  const jobSecrets = values('job_secrets', new Set());
  if (typeof jobSecrets === 'string') return { error: jobSecrets };
  const setupSecrets = values('secrets', new Set(Object.keys(jobSecrets)));
  if (typeof setupSecrets === 'string') return { error: setupSecrets };
  const setup = effective.setup === undefined ? [] : typeof effective.setup === 'string' ? [effective.setup] : effective.setup;
  return {
    environment: {
      setup,
      cache: effective.cache ? { paths: effective.cache.paths, key: effective.cache.key ?? [] } : null,
      checks: Object.entries(effective.checks ?? {}).map(([name, command]) => ({ name, command })),
      env: { ...effective.env },
      setup_secrets: setupSecrets,
      job_secrets: jobSecrets,
      require_checks: ctx.requireChecks ?? effective.require_checks ?? false,
      image: effective.image ?? null,
      source: sourceOf(file, server),
    },
  };
}

type FileEnvironment = { file: RepoEnvironment | null; error: string | null; unsure?: true };

/**
 * The file at a commit never changes: what was read at one is kept (the last FILE_CACHE_SIZE
 * commits), so the jobs of a busy repo do not each spawn git at their claim.
 */
const FILE_CACHE_SIZE = 256;
const atCommit = new Map<string, FileEnvironment>();

/** `.lazyaf.yml` at `rev`, parsed and checked: null when there is none. */
export async function fileEnvironmentAt(repoPath: string, rev: string): Promise<FileEnvironment> {
  const key = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(rev) ? `${repoPath}\0${rev}` : undefined;
  const kept = key === undefined ? undefined : atCommit.get(key);
  if (kept) {
    // Most recently used last, so the oldest goes first.
    atCommit.delete(key!);
    atCommit.set(key!, kept);
    return kept;
  }
  const found = await readFileEnvironment(repoPath, rev);
  if (key !== undefined && !found.unsure) {
    atCommit.set(key, found);
    if (atCommit.size > FILE_CACHE_SIZE) atCommit.delete(atCommit.keys().next().value!);
  }
  return found;
}

async function readFileEnvironment(repoPath: string, rev: string): Promise<FileEnvironment> {
  const read = await readEnvironmentFile(repoPath, rev);
  const unsure = read.kind !== 'text' && read.unsure ? { unsure: true as const } : {};
  if (read.kind === 'none') return { file: null, error: null, ...unsure };
  if (read.kind === 'error') return { file: null, error: read.error, ...unsure };
  const parsed = parseEnvironment(read.text);
  return parsed.error !== undefined ? { file: null, error: parsed.error } : { file: parsed.environment, error: null };
}

/**
 * What a job of the repo at `rev` is handed: the environment, or the one line that fails it.
 * Neither when the repo declares none. The file's error wins even with an override: the
 * override replaces keys of a file that can be read, never a broken one silently.
 */
export async function environmentForJob(
  repoPath: string,
  rev: string,
  ctx: { repoId: string; repoName: () => string; override: RepoEnvironment | null; lookup: SecretLookup; requireChecks: boolean | null },
): Promise<{ environment?: ResolvedEnvironment; environment_error?: string }> {
  const { file, error } = await fileEnvironmentAt(repoPath, rev);
  if (error !== null) return { environment_error: error };
  const resolved = resolveEnvironment(file, ctx.override, ctx);
  if (!resolved) return {};
  return resolved.error !== undefined ? { environment_error: resolved.error } : { environment: resolved.environment };
}

/** The repo page's and `lazyaf repos config`'s view: the file at the default branch, the override, and both applied. */
export async function environmentView(repoPath: string, defaultBranch: string, override: RepoEnvironment | null): Promise<RepoEnvironmentView> {
  const { file, error } = await fileEnvironmentAt(repoPath, `refs/heads/${defaultBranch}`);
  return { file, file_error: error, server: override, effective: error !== null ? null : applyOverride(file, override) };
}
