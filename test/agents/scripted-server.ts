// What the scripted model servers share: an HTTP server on 127.0.0.1 at a port of its own, each
// request read whole (decompressed as the client sent it) before the script answers it, JSON
// answers, and a closed port for an API nobody answers. Each server (anthropic-, openai-,
// gemini-server.ts) adds only its vendor's routes and stream format.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

/** One request as it arrived, its body read to the end. */
export interface IncomingRequest {
  method: string;
  /** The path and query as sent. */
  url: string;
  headers: http.IncomingHttpHeaders;
  /** The body as text, decompressed when the client compressed it. */
  text: string;
  /** When it arrived (ms). */
  at: number;
  /** Drops the connection unanswered: an API that goes away mid-request. */
  drop(): void;
}

export interface ScriptedServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 at a free port; `answer` gets every request once its body is in. */
export async function startScriptedServer(answer: (req: IncomingRequest, res: http.ServerResponse) => void): Promise<ScriptedServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = decodeBody(Buffer.concat(chunks), req.headers['content-encoding']);
      answer({ method: req.method ?? '', url: req.url ?? '/', headers: req.headers, text, at: Date.now(), drop: () => req.socket.destroy() }, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function decodeBody(raw: Buffer, encoding: string | undefined): string {
  try {
    if (encoding === 'gzip') return zlib.gunzipSync(raw).toString('utf8');
    if (encoding === 'deflate') return zlib.inflateSync(raw).toString('utf8');
    if (encoding === 'br') return zlib.brotliDecompressSync(raw).toString('utf8');
  } catch {
    // Kept as it came: the test sees what was sent.
  }
  return raw.toString('utf8');
}

/** The body parsed as JSON, or undefined when it is empty or not JSON. */
export function parseJson(text: string): unknown {
  try {
    return text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed): an unreachable API. */
export async function closedPort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
