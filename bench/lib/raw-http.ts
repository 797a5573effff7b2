import net from 'node:net';

/**
 * HTTP/1.1 over a bare socket, one connection per request: the path, headers and body go out
 * exactly as given (no normalisation, no Content-Length unless asked), and whatever the server
 * answers is read even when it answers before the body is sent or resets the connection after.
 */
export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
  /** Send the body with Transfer-Encoding: chunked instead of a Content-Length. */
  chunked?: boolean;
  timeoutMs?: number;
}

export interface RawResponse {
  /** 0 when no status line came back (reset, timeout). */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Why the exchange ended without a complete answer, if it did. */
  error?: string;
  ms: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');

function encodeRequest(host: string, req: RawRequest): Buffer {
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
  const lines = [`${req.method} ${req.path} HTTP/1.1`, `Host: ${host}`, 'Connection: close'];
  for (const [name, value] of Object.entries(req.headers ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  }
  if (body !== undefined && req.chunked) lines.push('Transfer-Encoding: chunked');
  else if (body !== undefined && !Object.keys(req.headers ?? {}).some((h) => h.toLowerCase() === 'content-length'))
    lines.push(`Content-Length: ${body.length}`);
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  if (body === undefined) return head;
  if (!req.chunked) return Buffer.concat([head, body]);
  return Buffer.concat([head, Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
}

/** The body of a chunked message, or undefined while the last chunk has not arrived. */
function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(data.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size)) return Buffer.concat(parts);
    if (size === 0) return Buffer.concat(parts);
    if (data.length < eol + 2 + size) return undefined;
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  complete: boolean;
}

function parse(data: Buffer): Parsed | undefined {
  const end = data.indexOf(HEAD_END);
  if (end < 0) return undefined;
  const [statusLine, ...headerLines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = data.subarray(end + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    const body = dechunk(rest);
    return { status, headers, body: body ?? rest, complete: body !== undefined };
  }
  const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
  if (length !== undefined) return { status, headers, body: rest.subarray(0, length), complete: rest.length >= length };
  return { status, headers, body: rest, complete: false };
}

/**
 * Writes in slices and stops as soon as the server has answered, as a careful client does: a
 * server that answers early (401, 413) and closes would otherwise reset the connection under
 * the rest of the body, and the answer already sent could be lost with it.
 */
async function send(socket: net.Socket, data: Buffer, answered: () => boolean): Promise<void> {
  for (let at = 0; at < data.length && !socket.destroyed; at += 64 * 1024) {
    // Up to 200 ms after the first slice (headers and the start of the body), and a turn of the
    // event loop after each other one, let an early answer be read before the next write.
    if (at === 64 * 1024) for (let waited = 0; waited < 200 && !answered(); waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
    else if (at > 0) await new Promise((resolve) => setImmediate(resolve));
    if (answered() || socket.destroyed) return;
    if (!socket.write(data.subarray(at, at + 64 * 1024))) {
      await new Promise<void>((resolve) => {
        const go = () => {
          socket.off('drain', go);
          socket.off('close', go);
          resolve();
        };
        socket.on('drain', go);
        socket.on('close', go);
      });
    }
  }
}

export function rawRequest(base: string, req: RawRequest): Promise<RawResponse> {
  const url = new URL(base);
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const parsed = parse(Buffer.concat(chunks));
      const ms = performance.now() - started;
      if (!parsed) return resolve({ status: 0, headers: {}, body: Buffer.alloc(0), error: error ?? 'connection closed without an answer', ms });
      resolve({ status: parsed.status, headers: parsed.headers, body: parsed.body, ms, ...(parsed.complete || !error ? {} : { error }) });
    };
    const timer = setTimeout(() => finish(`no complete answer within ${req.timeoutMs ?? 15_000} ms`), req.timeoutMs ?? 15_000);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (parse(Buffer.concat(chunks))?.complete) finish();
    });
    // A server may answer (413, 401) and close before it has read the whole body: the write
    // fails, but the answer already received is what counts.
    socket.on('error', (err) => finish((err as NodeJS.ErrnoException).code ?? err.message));
    socket.on('close', () => finish());
    socket.on('connect', () => void send(socket, encodeRequest(url.host, req), () => chunks.length > 0 || done));
  });
}

/** A JSON call for the bench's own set-up steps. */
export async function jsonRequest<T = any>(
  base: string,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
): Promise<{ status: number; body: T; raw: RawResponse }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const raw = await rawRequest(base, { method, path, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let parsed: unknown = null;
  try {
    parsed = raw.body.length > 0 ? JSON.parse(raw.body.toString('utf8')) : null;
  } catch {
    parsed = raw.body.toString('utf8');
  }
  return { status: raw.status, body: parsed as T, raw };
}
