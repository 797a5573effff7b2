/**
 * One process of P5's simulated fleet (bench/many-runners.ts forks a few): for each runner token
 * it is given, a heartbeat every `heartbeatMs` and a long-poll always open, as `lazyaf runner`
 * does when idle. It times every heartbeat and measures its own event-loop delay and CPU, so the
 * parent can tell a slow server from a saturated client. Spoken to over the fork's IPC channel:
 *
 *   parent → { type: 'start', url, runners }   child → { type: 'ready' } once every runner's poll is
 *                                              open and its first heartbeat answered
 *   parent → { type: 'mark' }                  (the measured window starts: samples so far are dropped)
 *   parent → { type: 'stop' }                  child → { type: 'result', ... }, then exits
 */
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { RunnerRoutes } from '../../src/shared/protocol.js';

export interface FleetRunner {
  token: string;
  heartbeatMs: number;
  pollWaitMs: number;
  /** When its first heartbeat goes out: spread over the interval, as runners started at different times. */
  delayMs: number;
  /** The wait of its first poll: spread over the poll's wait likewise, so that polls end as often in every second. */
  firstPollWaitMs: number;
}

export type FleetRequest = { type: 'start'; url: string; runners: FleetRunner[] } | { type: 'mark' } | { type: 'stop' };

export interface FleetResult {
  type: 'result';
  /** Heartbeat round trips in the measured window, ms. */
  heartbeats: number[];
  /** Heartbeats and polls that failed (a status other than 200/204, or a broken connection). */
  errors: number;
  firstError?: string;
  polls: number;
  /** This process's event-loop delay, p99, ms: above a few ms, the client adds to what it measures. */
  loopDelayP99: number;
  /** This process's CPU in the window, % of a core. */
  cpuPercent: number;
}

// Keep-alive as a runner's. Two pools: each open poll holds a connection of its own, while a
// few connections carry every heartbeat. (In one pool of thousands, Node's Agent spends a scan of
// its socket list on each answer.)
const pollPool = new http.Agent({ keepAlive: true, maxFreeSockets: 4096 });
const beatPool = new http.Agent({ keepAlive: true, maxFreeSockets: 4096 });
let stopped = false;
const heartbeats: number[] = [];
let errors = 0;
let firstError: string | undefined;
let polls = 0;

/** A POST's status once its answer has been read; `connected` runs once its connection is up. */
function post(agent: http.Agent, url: string, token: string, body: string, connected?: () => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (connected) req.once('socket', (socket) => (socket.connecting ? socket.once('connect', connected) : connected()));
    req.end(body);
  });
}

function failed(what: string): void {
  if (stopped) return;
  errors++;
  firstError ??= what;
}

// No abort signal shared by thousands of requests and sleeps: removing a listener from one scans them all.
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runners whose poll is open and whose first heartbeat was answered: once all are, the fleet is warm. */
let ready = 0;
let runnerCount = 0;

async function runOne(url: string, r: FleetRunner): Promise<void> {
  await sleep(r.delayMs);
  const pollBody = JSON.stringify({ wait_ms: r.pollWaitMs });
  let pollOpen: () => void = () => {};
  const opened = new Promise<void>((resolve) => (pollOpen = resolve));
  const poller = (async () => {
    for (let first = true; !stopped; first = false) {
      const body = first ? JSON.stringify({ wait_ms: r.firstPollWaitMs }) : pollBody;
      const status = await post(pollPool, `${url}${RunnerRoutes.poll}`, r.token, body, first ? pollOpen : undefined).catch((err: Error) => err.message);
      pollOpen(); // (had it failed to connect)
      if (status !== 204 && status !== 200) {
        failed(`poll: ${status}`);
        await sleep(1000);
      } else polls++;
    }
  })();
  await opened;
  const beatBody = JSON.stringify({ status: 'idle', attempts: [], wait_ms: r.heartbeatMs });
  for (let first = true; !stopped; first = false) {
    const t0 = performance.now();
    const status = await post(beatPool, `${url}${RunnerRoutes.heartbeat}`, r.token, beatBody).catch((err: Error) => err.message);
    if (status === 200) heartbeats.push(performance.now() - t0);
    else failed(`heartbeat: ${status}`);
    if (first && ++ready === runnerCount) process.send!({ type: 'ready' });
    await sleep(r.heartbeatMs - (performance.now() - t0));
  }
  await poller;
}

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
let cpu0 = process.cpuUsage();
let t0 = performance.now();

process.on('message', (m: FleetRequest) => {
  if (m.type === 'start') {
    runnerCount = m.runners.length;
    for (const r of m.runners) void runOne(m.url, r);
    loopDelay.enable();
  } else if (m.type === 'mark') {
    heartbeats.length = 0;
    errors = 0;
    polls = 0;
    loopDelay.reset();
    cpu0 = process.cpuUsage();
    t0 = performance.now();
  } else {
    const cpu = process.cpuUsage(cpu0);
    const seconds = (performance.now() - t0) / 1000;
    const result: FleetResult = {
      type: 'result',
      heartbeats: [...heartbeats],
      errors,
      ...(firstError === undefined ? {} : { firstError }),
      polls,
      loopDelayP99: loopDelay.percentile(99) / 1e6,
      cpuPercent: ((cpu.user + cpu.system) / 1e6 / seconds) * 100,
    };
    stopped = true;
    // Nothing to wind down: the fleet's sockets close with the process.
    process.send!(result, () => process.exit(0));
  }
});
