/**
 * P5 of the queue part: a fleet of simulated idle runners against one `lazyaf server`, each
 * registered, heartbeating every third of the lease TTL and holding a long-poll open, as an idle
 * `lazyaf runner` does. Reports the heartbeats' round trips, the runner list's (its first page and
 * the counts, read twice a second as by an admin watching) and the server's CPU.
 *
 * The fleet runs in a few child processes (bench/lib/runner-fleet.ts): 10,000 open polls are
 * 10,000 sockets on each side, and one client process would add its own event-loop delay to what
 * it measures. Each child reports its loop delay and CPU, printed with the figures.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { PROTOCOL_VERSION, RunnerRoutes, type RegisterResponse } from '../src/shared/protocol.js';
import type { FleetRequest, FleetResult, FleetRunner } from './lib/runner-fleet.js';
import { percentile, stopChild, totalCpu, track } from './lib/proc.js';
import type { ServerProcess } from './lib/servers.js';

export interface FleetServer {
  server: ServerProcess;
  registrationToken: string;
  adminToken: string;
}

export interface ManyRunnersResult {
  runners: number;
  leaseTtlSeconds: number;
  /** Heartbeat round trips in the window. */
  p50: number;
  p99: number;
  heartbeats: number;
  polls: number;
  errors: number;
  /** GET /api/runners (a page of 50) and /api/runners/status, timed in the same window. */
  listP99: number;
  listRequests: number;
  serverCpuPercent: number;
  /** Server CPU per runner request (heartbeat or poll), µs. */
  cpuPerRequestUs: number;
  clients: number;
  clientCpuPercent: number;
  clientLoopDelayP99: number;
  registerSeconds: number;
  openFilesLimit: { server: number; client: number };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function request(url: string, method: string, token: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: http.OutgoingHttpHeaders = { authorization: `Bearer ${token}` };
    if (payload !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** RLIMIT_NOFILE of a process, soft and hard. */
function openFilesLimit(pid: number | 'self'): { soft: number; hard: number } {
  const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(fs.readFileSync(`/proc/${pid}/limits`, 'utf8'));
  const n = (s: string | undefined) => (s === 'unlimited' || s === undefined ? Number.MAX_SAFE_INTEGER : Number(s));
  return { soft: n(line?.[1]), hard: n(line?.[2]) };
}

/**
 * Raises a process's soft open-files limit to its hard one (util-linux's prlimit, where there is
 * one) and returns the soft limit it has then: each open poll is a socket on both sides.
 */
function raiseOpenFiles(pid: number): number {
  const { soft, hard } = openFilesLimit(pid);
  if (soft < hard && hard !== Number.MAX_SAFE_INTEGER) spawnSync('prlimit', ['--pid', String(pid), `--nofile=${hard}:${hard}`], { stdio: 'ignore' });
  return openFilesLimit(pid).soft;
}

function startFleetChild(): Promise<ChildProcess> {
  // BENCH_FLEET_CPU_PROF=DIR profiles the fleet's processes, as BENCH_SERVER_CPU_PROF does the server.
  const profileDir = process.env.BENCH_FLEET_CPU_PROF;
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(profileDir)] : [];
  const child = track(
    fork(path.join(import.meta.dirname, 'lib', 'runner-fleet.ts'), [], {
      execArgv: [...profile, '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve(child));
    child.once('error', reject);
  });
}

/** The child's next message of `type`; within `timeoutMs`, or the bench says which it waited for. */
function reply<T>(child: ChildProcess, type: string, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (m: { type: string }) => {
      if (m.type !== type) return;
      done();
      resolve(m as T);
    };
    const onExit = (code: number | null) => (done(), reject(new Error(`a fleet process exited (${code}) before it answered ${type}`)));
    const timer = setTimeout(() => (done(), reject(new Error(`a fleet process did not answer ${type} within ${timeoutMs / 1000} s`))), timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

const send = (child: ChildProcess, m: FleetRequest) => child.send(m);

/**
 * `count` runners on `s`, whose lease TTL is `leaseTtlSeconds`: registered, warmed up (every
 * runner has its poll open and has beaten once), then measured for a heartbeat interval (10 s at least).
 */
export async function manyRunners(s: FleetServer, count: number, leaseTtlSeconds: number, log: (m: string) => void): Promise<ManyRunnersResult> {
  const url = s.server.url;
  const serverFiles = raiseOpenFiles(s.server.pid);
  // Each poll is a socket, and heartbeats, the database and the listener want some more.
  if (serverFiles < count + 1024) throw new Error(`the server may open ${serverFiles} files, too few for ${count} runners: raise its RLIMIT_NOFILE`);
  const clientFiles = openFilesLimit('self').soft;
  // A client process per 2,500 runners, more if its open-files limit says so.
  const clients = Math.max(Math.ceil(count / 2500), Math.ceil(count / Math.max(1, clientFiles - 1024)));

  const r0 = performance.now();
  const registered: RegisterResponse[] = [];
  for (let i = 0; i < count; i += 64) {
    const batch = Array.from({ length: Math.min(64, count - i) }, (_, j) =>
      request(`${url}${RunnerRoutes.register}`, 'POST', s.registrationToken, { name: `p5-${i + j}`, protocol_version: PROTOCOL_VERSION }).then((r) => {
        if (r.status !== 201) throw new Error(`register: ${r.status} ${r.text}`);
        return JSON.parse(r.text) as RegisterResponse;
      }),
    );
    registered.push(...(await Promise.all(batch)));
  }
  const registerSeconds = (performance.now() - r0) / 1000;
  const interval = registered[0]!.heartbeat_interval_ms;
  log(
    `P5: ${count} runners registered in ${registerSeconds.toFixed(1)} s; heartbeat every ${interval} ms, polls of ${registered[0]!.poll_wait_ms} ms, ${clients} client processes`,
  );

  const children = await Promise.all(Array.from({ length: clients }, startFleetChild));
  try {
    const started = children.map((child, c) => {
      const runners: FleetRunner[] = [];
      for (let i = c; i < count; i += clients) {
        const r = registered[i]!;
        runners.push({
          token: r.token,
          heartbeatMs: r.heartbeat_interval_ms,
          pollWaitMs: r.poll_wait_ms,
          delayMs: (i / count) * interval,
          // A stride prime to the count scatters these apart from the heartbeats' delays.
          firstPollWaitMs: Math.max(100, Math.round((((i * 7919) % count) / count) * r.poll_wait_ms)),
        });
      }
      const ready = reply(child, 'ready', 120_000);
      send(child, { type: 'start', url, runners });
      return ready;
    });
    // Warm-up: every runner's poll is open and its first heartbeat answered (opening 10,000
    // connections is a storm of its own, not the steady state measured), then one more second.
    await Promise.all(started);
    log(`P5: the fleet is warm after ${((performance.now() - r0) / 1000 - registerSeconds).toFixed(1)} s`);
    await new Promise((r) => setTimeout(r, 1000));

    for (const child of children) send(child, { type: 'mark' });
    const cpu0 = totalCpu(s.server.pid);
    const t0 = performance.now();
    // Every runner beats once at least; twice at short intervals, for enough samples.
    const end = t0 + Math.max(10_000, interval);
    const listTimes: number[] = [];
    // An admin looking at the runners meanwhile, twice a second.
    while (performance.now() < end) {
      const l0 = performance.now();
      const page = await request(`${url}/api/runners?limit=50`, 'GET', s.adminToken);
      const status = await request(`${url}/api/runners/status`, 'GET', s.adminToken);
      if (page.status !== 200 || status.status !== 200) throw new Error(`runner list: ${page.status}, status: ${status.status}`);
      listTimes.push(performance.now() - l0);
      await new Promise((r) => setTimeout(r, 500));
    }
    const seconds = (performance.now() - t0) / 1000;
    const serverCpu = totalCpu(s.server.pid) - cpu0;
    const results = await Promise.all(
      children.map((child) => {
        const result = reply<FleetResult>(child, 'result');
        send(child, { type: 'stop' });
        return result;
      }),
    );
    const heartbeats = results.flatMap((r) => r.heartbeats);
    const errors = results.reduce((n, r) => n + r.errors, 0);
    const polls = results.reduce((n, r) => n + r.polls, 0);
    if (errors > 0) log(`P5: ${errors} failed requests, the first: ${results.find((r) => r.firstError)?.firstError}`);
    return {
      runners: count,
      leaseTtlSeconds,
      p50: percentile(heartbeats, 50),
      p99: percentile(heartbeats, 99),
      heartbeats: heartbeats.length,
      polls,
      errors,
      listP99: percentile(listTimes, 99),
      listRequests: listTimes.length,
      serverCpuPercent: (serverCpu / seconds) * 100,
      cpuPerRequestUs: (serverCpu * 1e6) / Math.max(1, heartbeats.length + polls),
      clients,
      clientCpuPercent: results.reduce((n, r) => n + r.cpuPercent, 0),
      clientLoopDelayP99: Math.max(...results.map((r) => r.loopDelayP99)),
      registerSeconds,
      openFilesLimit: { server: serverFiles, client: clientFiles },
    };
  } finally {
    // They exit once they have answered (writing a profile first, if asked); the rest are killed.
    await Promise.all(children.map((child) => stopChild(child, 5000)));
  }
}
