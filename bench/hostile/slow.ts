import net from 'node:net';
import { RunnerRoutes } from '../../src/shared/protocol.js';
import { median, percentile } from '../lib/proc.js';
import type { Target } from './target.js';

export interface SlowResult {
  connections: number;
  /** Connections the bench could not open at all. */
  refused: number;
  holdSeconds: number;
  baselineP50: number;
  p50: number;
  p99: number;
  max: number;
  probes: number;
  failures: number;
  /** Connections the server had not closed when the bench let go. */
  stillOpen: number;
  /** Of those, the ones with no token or a wrong one: the server had no reason to keep reading them. */
  stillOpenWithoutToken: number;
  heldMedianSeconds: number;
  heldMaxSeconds: number;
  /** What the server answered the slow requests, if anything: status → count. */
  answers: Record<string, number>;
}

interface Slow {
  socket: net.Socket;
  withToken: boolean;
  openedAt: number;
  closedAt?: number;
  answer?: string;
}

const DECLARED = 1_000_000;

/** One slow client: a whole header, then a body that never comes faster than a byte a second. */
function openSlow(url: URL, authorization: string | undefined, withToken: boolean): Promise<Slow | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    const slow: Slow = { socket, withToken, openedAt: performance.now() };
    socket.on('data', (c: Buffer) => (slow.answer ??= /^HTTP\/1\.[01] (\d{3})/.exec(c.toString('latin1'))?.[1] ?? 'bytes'));
    socket.on('error', () => undefined);
    socket.on('close', () => (slow.closedAt ??= performance.now()));
    socket.once('connect', () => {
      const auth = authorization ? `Authorization: ${authorization}\r\n` : '';
      socket.write(
        `POST ${RunnerRoutes.register} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${DECLARED}\r\n${auth}\r\n{`,
      );
      resolve(slow);
    });
    socket.once('error', () => resolve(undefined));
  });
}

/**
 * R6: `count` connections trickle a runner registration (a third with no token, a third with a
 * wrong one, a third with the registration token) while /api/health is asked over fresh
 * connections, one after another, for `holdSeconds`.
 */
export async function slowClients(target: Target, registrationToken: string, count: number, holdSeconds: number): Promise<SlowResult> {
  const baseline: number[] = [];
  for (let i = 0; i < 20; i++) baseline.push((await target.health()).ms);
  const url = new URL(target.url);
  const auths = [undefined, 'Bearer lzreg_not_the_registration_token', `Bearer ${registrationToken}`];
  const slows: Slow[] = [];
  let refused = 0;
  for (let i = 0; i < count; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, j) => openSlow(url, auths[(i + j) % 3], (i + j) % 3 === 2)));
    for (const s of batch) {
      if (s) slows.push(s);
      else refused += 1;
    }
  }
  const trickle = setInterval(() => {
    for (const s of slows) if (s.closedAt === undefined) s.socket.write(' ');
  }, 1000);
  const latencies: number[] = [];
  let failures = 0;
  const start = performance.now();
  const end = start + holdSeconds * 1000;
  try {
    while (performance.now() < end) {
      const h = await target.health(5000);
      if (h.status === 200) latencies.push(h.ms);
      else failures += 1;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    clearInterval(trickle);
  }
  const letGo = performance.now();
  const open = slows.filter((s) => s.closedAt === undefined);
  const held = slows.map((s) => ((s.closedAt ?? letGo) - s.openedAt) / 1000);
  const answers: Record<string, number> = {};
  for (const s of slows) answers[s.answer ?? 'none'] = (answers[s.answer ?? 'none'] ?? 0) + 1;
  for (const s of slows) s.socket.destroy();
  return {
    connections: slows.length,
    refused,
    holdSeconds,
    baselineP50: median(baseline),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
    probes: latencies.length + failures,
    failures,
    stillOpen: open.length,
    stillOpenWithoutToken: open.filter((s) => !s.withToken).length,
    heldMedianSeconds: median(held),
    heldMaxSeconds: Math.max(...held),
    answers,
  };
}
