import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export type GitService = 'refs' | 'upload-pack' | 'receive-pack' | 'head';

const SERVICES: readonly GitService[] = ['refs', 'upload-pack', 'receive-pack', 'head'];

/** Which git route a route pattern is, or undefined for every other route. */
function serviceOf(url: string | undefined): GitService | undefined {
  if (!url?.startsWith('/git/')) return undefined;
  if (url.endsWith('/info/refs')) return 'refs';
  if (url.endsWith('/git-upload-pack')) return 'upload-pack';
  if (url.endsWith('/git-receive-pack')) return 'receive-pack';
  if (url.endsWith('/HEAD')) return 'head';
  return undefined;
}

export interface GitTrafficCounts {
  requests: { service: GitService; code: string; n: number }[];
  bytes: { service: GitService; direction: 'in' | 'out'; n: number }[];
}

/**
 * Requests and bytes of the git smart HTTP routes, as counters in memory (they reset with the
 * process, which Prometheus's rate() expects of a counter). Bytes out are the connection's bytes
 * written while the response lasted (headers included), measured on the socket rather than by
 * wrapping git's output: the routes' backpressure and disconnect handling stay as they are, and git
 * never pipelines requests on one connection. Bytes in are the body's, counted as it streams in
 * (Node may have read a small body off the socket with its headers, before any hook runs).
 */
export class GitTraffic {
  private readonly requests = new Map<string, number>();
  private readonly bytes = new Map<string, number>([...SERVICES.flatMap((s) => [[`${s} in`, 0] as const, [`${s} out`, 0] as const])]);
  private readonly started = new WeakMap<FastifyRequest, number>();

  /** Adds the hooks; call before the git routes are registered so that they inherit them. */
  watch(app: FastifyInstance): void {
    app.addHook('onRequest', async (req) => {
      if (!serviceOf(req.routeOptions.url)) return;
      this.started.set(req, req.raw.socket.bytesWritten);
    });
    app.addHook('preParsing', async (req, _reply, payload) => {
      const service = serviceOf(req.routeOptions.url);
      if (!service) return payload;
      const counter = new Transform({
        transform: (chunk: Buffer, _enc, done) => {
          this.add(`${service} in`, chunk.length);
          done(null, chunk);
        },
      });
      payload.on('error', (err) => counter.destroy(err));
      counter.on('close', () => {
        if (!payload.destroyed && !payload.readableEnded) payload.destroy();
      });
      return payload.pipe(counter);
    });
    app.addHook('onResponse', async (req, reply) => {
      const service = serviceOf(req.routeOptions.url);
      const start = this.started.get(req);
      if (!service || start === undefined) return;
      const key = `${service} ${reply.statusCode}`;
      this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
      this.add(`${service} out`, req.raw.socket.bytesWritten - start);
    });
  }

  private add(key: string, n: number): void {
    if (n > 0) this.bytes.set(key, (this.bytes.get(key) ?? 0) + n);
  }

  counts(): GitTrafficCounts {
    return {
      requests: [...this.requests].map(([key, n]) => {
        const [service, code] = key.split(' ') as [GitService, string];
        return { service, code, n };
      }),
      bytes: [...this.bytes].map(([key, n]) => {
        const [service, direction] = key.split(' ') as [GitService, 'in' | 'out'];
        return { service, direction, n };
      }),
    };
  }
}
