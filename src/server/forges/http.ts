/**
 * One request to a forge's REST API: bounded in time and in size, its answer parsed as JSON only
 * when it is JSON, and every failure a ForgeError whose message never holds the token. A forge is
 * another party's server: what it answers may be huge, not JSON, or slow, and none of that may
 * hang or crash the land that asked.
 */

/** No forge request waits longer than this (connect, send, answer). */
export const FORGE_TIMEOUT_MS = 15_000;
/** A forge's answer is read up to this many bytes; past it the request is a failure. */
export const FORGE_MAX_ANSWER_BYTES = 1024 * 1024;

/** Why a pull request could not be opened, in words for the person (no token in it). */
export class ForgeError extends Error {}

export interface ForgeAnswer {
  status: number;
  /** The parsed JSON body, or undefined when the body was empty or not JSON. */
  json: unknown;
}

export interface ForgeRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: unknown;
  /** The token the headers carry: hidden from any message. */
  token: string;
  timeoutMs?: number;
}

export async function forgeRequest(req: ForgeRequest): Promise<ForgeAnswer> {
  const hide = (text: string): string => hideToken(text, req.token);
  const where = `${req.method} ${hide(new URL(req.url).origin)}`;
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: req.method,
      headers: { ...req.headers, ...(req.body === undefined ? {} : { 'Content-Type': 'application/json' }), 'User-Agent': 'lazyaf' },
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      redirect: 'error',
      signal: AbortSignal.timeout(req.timeoutMs ?? FORGE_TIMEOUT_MS),
    });
  } catch (err) {
    throw new ForgeError(`the forge could not be reached (${where}): ${hide(causeOf(err))}`);
  }
  const text = await readBounded(res, req.timeoutMs ?? FORGE_TIMEOUT_MS).catch((err: unknown) => {
    throw new ForgeError(`the forge's answer could not be read (${where}): ${hide(causeOf(err))}`);
  });
  return { status: res.status, json: parseJson(text) };
}

/** The body as text, refused past FORGE_MAX_ANSWER_BYTES. */
async function readBounded(res: Response, timeoutMs: number): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  const timer = setTimeout(() => void reader.cancel().catch(() => {}), timeoutMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > FORGE_MAX_ANSWER_BYTES) {
        await reader.cancel().catch(() => {});
        throw new Error(`it is larger than ${FORGE_MAX_ANSWER_BYTES} bytes`);
      }
      chunks.push(value);
    }
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function causeOf(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'no answer in time';
    const cause = (err as { cause?: unknown }).cause;
    return oneLine(cause instanceof Error ? cause.message : err.message);
  }
  return 'unknown error';
}

/** The token, anywhere in the text, replaced: a forge may echo what it was sent. */
export function hideToken(text: string, token: string): string {
  return token ? text.split(token).join('[hidden]') : text;
}

/** Text from a forge made one short line of words. */
export function oneLine(text: string, max = 300): string {
  const line = text
    .replace(/[\x00-\x1f\x7f]/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** What a forge said of a refused request: its `message` (and GitHub's `errors[].message`, GitLab's `message` array), on one line. */
export function forgeMessage(json: unknown): string {
  if (!json || typeof json !== 'object') return '';
  const said: string[] = [];
  const { message, error, errors } = json as { message?: unknown; error?: unknown; errors?: unknown };
  for (const m of [message, error]) {
    if (typeof m === 'string') said.push(m);
    else if (Array.isArray(m)) said.push(...m.filter((x): x is string => typeof x === 'string'));
  }
  if (Array.isArray(errors)) {
    for (const e of errors.slice(0, 5)) {
      if (typeof e === 'string') said.push(e);
      else if (e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') said.push((e as { message: string }).message);
    }
  }
  return oneLine(said.slice(0, 6).join('; '));
}

/** A string field of a JSON object that is an http(s) URL, or undefined. */
export function urlField(json: unknown, field: string): string | undefined {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const value = (json as Record<string, unknown>)[field];
  if (typeof value !== 'string' || value.length > 2048 || !URL.canParse(value)) return undefined;
  const { protocol } = new URL(value);
  return protocol === 'https:' || protocol === 'http:' ? value : undefined;
}

/** Why an answer was refused, as one line: its status and what the forge said. */
export function refused(what: string, answer: ForgeAnswer, token: string): ForgeError {
  const said = forgeMessage(answer.json);
  return new ForgeError(hideToken(`the forge refused ${what} (HTTP ${answer.status})${said ? `: ${said}` : ''}`, token));
}

/** What one forge's "open a pull request" needs to say: where, how, and how it names an open one. */
export interface CreateOrFind {
  /** "the pull request" or "the merge request", for the messages. */
  what: string;
  url: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  token: string;
  /** The field of a created one that holds its web URL. */
  urlKey: string;
  /** The status the forge answers when one is already open for the branch. */
  conflict: number;
  /** The URL of the one already open, looked up, or undefined. */
  findOpen: () => Promise<string | undefined>;
}

/**
 * The flow every forge shares: create it; a new one is 201 with its URL; one already open is
 * `conflict` and is looked up; anything else is the forge's refusal in words.
 */
export async function createOrFind(spec: CreateOrFind): Promise<string> {
  const created = await forgeRequest({ method: 'POST', url: spec.url, headers: spec.headers, body: spec.body, token: spec.token });
  if (created.status === 201) {
    const url = urlField(created.json, spec.urlKey);
    if (!url) throw new ForgeError(`the forge answered ${created.status} without ${spec.what}'s URL`);
    return url;
  }
  if (created.status === spec.conflict) {
    const open = await spec.findOpen();
    if (open) return open;
  }
  throw refused(spec.what, created, spec.token);
}
