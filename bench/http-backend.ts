/**
 * The reference server for the git benchmark: `git http-backend` run as a CGI program, one per
 * request, behind a small Node http server. The wrapper itself is Node, as is lazyaf's server,
 * so both pay the same HTTP layer cost and the comparison isolates what each does around git.
 *
 * Run as its own process (so its RSS can be sampled apart from the bench):
 *   node --import tsx bench/http-backend.ts <project-root>
 * It prints "http-backend listening on http://127.0.0.1:PORT" on stderr. Bare repos under the
 * root need `http.receivepack=true` to accept pushes.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { pathToFileURL } from 'node:url';

function cgiEnv(root: string, req: http.IncomingMessage, url: URL): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: process.env.GIT_CONFIG_GLOBAL,
    GIT_TERMINAL_PROMPT: '0',
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'lazyaf-bench',
    PATH_INFO: decodeURIComponent(url.pathname),
    REQUEST_METHOD: req.method ?? 'GET',
    QUERY_STRING: url.search.slice(1),
    REMOTE_USER: 'bench',
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
  };
  const header = (name: string): string | undefined => {
    const v = req.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  };
  const set = (key: string, value: string | undefined) => {
    if (value !== undefined) env[key] = value;
  };
  set('CONTENT_TYPE', header('content-type'));
  // Absent for a chunked body: http-backend then reads until EOF.
  set('CONTENT_LENGTH', header('content-length'));
  set('HTTP_CONTENT_ENCODING', header('content-encoding'));
  set('GIT_PROTOCOL', header('git-protocol'));
  return env;
}

/** Finds the end of the CGI header block: the first empty line, with CRLF or LF endings. */
function headerEnd(buf: Buffer): { end: number; body: number } | undefined {
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] !== 0x0a) continue;
    if (buf[i + 1] === 0x0a) return { end: i, body: i + 2 };
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return { end: i, body: i + 3 };
  }
  return undefined;
}

function handle(root: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const child = spawn('git', ['http-backend'], { env: cgiEnv(root, req, url), stdio: ['pipe', 'pipe', 'pipe'] });
  const fail = (status: number, message: string) => {
    if (!res.headersSent) res.writeHead(status, { 'Content-Type': 'text/plain' }).end(message + '\n');
    else res.destroy();
  };
  child.on('error', (err) => fail(502, `cannot run git http-backend: ${err.message}`));
  child.stdin.on('error', () => {});
  req.pipe(child.stdin);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 16 * 1024) stderr += c.toString('utf8');
  });
  res.on('close', () => {
    if (!res.writableFinished && child.exitCode === null) child.kill('SIGKILL');
  });

  let head = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const at = headerEnd(head);
    if (!at) {
      if (head.length > 64 * 1024) {
        child.kill('SIGKILL');
        fail(502, 'git http-backend sent no header block');
      }
      return;
    }
    // Hand the rest of the stream to the response with backpressure; pause first so no chunk is lost.
    child.stdout.pause();
    child.stdout.off('data', onData);
    let status = 200;
    let reason: string | undefined;
    for (const line of head.subarray(0, at.end).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') {
        const m = /^(\d{3})\s*(.*)$/.exec(value);
        if (m) {
          status = Number(m[1]);
          reason = m[2] || undefined;
        }
      } else {
        res.appendHeader(name, value);
      }
    }
    if (reason) res.writeHead(status, reason);
    else res.writeHead(status);
    const rest = head.subarray(at.body);
    if (rest.length > 0) res.write(rest);
    child.stdout.pipe(res);
  };
  child.stdout.on('data', onData);
  child.stdout.on('end', () => {
    if (!res.headersSent) fail(502, `git http-backend failed: ${stderr.trim().split('\n').at(-1) ?? ''}`);
  });
}

export function startHttpBackend(root: string, port = 0): Promise<http.Server> {
  const server = http.createServer((req, res) => handle(root, req, res));
  // Pushes of large packs may take a while; the bench bounds its own commands instead.
  server.requestTimeout = 0;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = process.argv[2];
  if (!root) {
    process.stderr.write('usage: http-backend.ts <project-root> [port]\n');
    process.exit(2);
  }
  const server = await startHttpBackend(root, Number(process.argv[3] ?? 0));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stderr.write(`http-backend listening on http://127.0.0.1:${port}\n`);
  const stop = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
