/**
 * W1: many watchers. 20 simulated runners stream job output through the runner protocol (the
 * calls `lazyaf runner` makes: register, poll, one log chunk at a time, complete), 1 MB/s in all,
 * cut as the runner cuts it (a chunk every 100 ms); 500 clients follow those logs as `lazyaf jobs
 * logs -f` does (`GET /api/jobs/{id}/logs?follow=true`, 25 per job) and 50 UI event streams
 * (`GET /api/events`, as the web UI opens it) are open. Each chunk starts with the bench's clock
 * at the moment its runner sent it; a follower that reads it takes the difference. The figures
 * are that delay's p99 and the server's CPU, against the same 20 runners with one follower, in
 * the same run.
 *
 * The runners, followers and event streams all live in the bench process, on the same machine
 * as the server: the delay includes the runner's request, the server's work and the follower's
 * reading, and the bench's own CPU (reported) competes with the server's.
 */
import http from 'node:http';
import { isFinished } from '../src/shared/api.js';
import { PROTOCOL_VERSION, RunnerRoutes, type Assignment, type RegisterResponse } from '../src/shared/protocol.js';
import { percentile, totalCpu } from './lib/proc.js';
import type { BenchContext, BenchPart, Figure, PartResult } from './lib/report.js';
import { ADMIN, call, setup, teardown, type Setup } from './queue.js';

const RUNNERS = 20;
const FOLLOWERS = 500;
const UI_STREAMS = 50;
/** As the runner cuts a chunk at the latest 100 ms after its first character: 20 runners × 10 chunks/s × 5,120 bytes = 1 MB/s. */
const CHUNK_EVERY_MS = 100;
const CHUNK_BYTES = 5120;
const WARMUP_MS = 3000;
const TARGET_P99_MS = 100;
const MARK = Buffer.from('@t=');

/** Connections of their own for the streams: a long-lived stream must not queue behind another on a shared socket. */
const streamAgent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

/** One chunk of output: the send time in the bench's clock, then filler lines. */
function chunkText(): string {
  const head = `@t=${performance.now().toFixed(3)};\n`;
  const line = 'x'.repeat(79) + '\n';
  let text = head;
  while (text.length + line.length <= CHUNK_BYTES) text += line;
  return text + 'y'.repeat(CHUNK_BYTES - text.length);
}

interface Stream {
  bytes: number;
  ended: Promise<void>;
  close: () => void;
}

/** Opens a GET stream; resolves once its headers arrived, calling `onData` for each piece. */
function openStream(url: string, onData: (chunk: Buffer, at: number) => void): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: streamAgent, headers: { authorization: `Bearer ${ADMIN}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`${url}: HTTP ${res.statusCode}`));
      const stream: Stream = {
        bytes: 0,
        ended: new Promise((done) => {
          res.on('end', done);
          res.on('close', done);
        }),
        close: () => req.destroy(),
      };
      res.on('data', (chunk: Buffer) => {
        stream.bytes += chunk.length;
        onData(chunk, performance.now());
      });
      res.on('error', () => {});
      resolve(stream);
    });
    req.on('error', reject);
  });
}

/** Finds the send times in a followed log, a marker cut between two reads included. */
function markerReader(onDelay: (ms: number) => void): (chunk: Buffer, at: number) => void {
  let carry = Buffer.alloc(0);
  return (chunk, at) => {
    const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    let done = 0;
    for (let i = buf.indexOf(MARK); i !== -1; i = buf.indexOf(MARK, i + 1)) {
      const end = buf.indexOf(0x3b, i); // ';'
      if (end === -1) break;
      onDelay(at - Number(buf.toString('latin1', i + MARK.length, end)));
      done = end + 1;
    }
    carry = Buffer.from(buf.subarray(Math.max(done, buf.length - 32)));
  };
}

interface Phase {
  followers: number;
  uiStreams: number;
  delays: number[];
  serverCpuPercent: number;
  benchCpuPercent: number;
  seconds: number;
  chunks: number;
  /** Followers whose bytes differ from their job's log once it finished (must be 0). */
  incomplete: number;
  uiBytes: number;
}

async function register(s: Setup, name: string): Promise<RegisterResponse> {
  const r = await call<RegisterResponse>(`${s.server.url}${RunnerRoutes.register}`, 'POST', s.registrationToken, { name, protocol_version: PROTOCOL_VERSION });
  if (r.status !== 201) throw new Error(`register: ${r.status}`);
  return r.body;
}

/** One measurement: 20 jobs streaming for `seconds` after a warm-up, followed by `followers` clients, with `uiStreams` event streams open. */
async function phase(s: Setup, runners: RegisterResponse[], followers: number, uiStreams: number, seconds: number, ctx: BenchContext): Promise<Phase> {
  const url = s.server.url;
  const jobs: string[] = [];
  for (let i = 0; i < RUNNERS; i++) {
    const r = await call<{ id: string }>(`${url}/api/jobs`, 'POST', ADMIN, { repo_id: s.repoId, title: `w1-${followers}-${i}`, command: 'true' });
    if (r.status !== 201) throw new Error(`submit: ${r.status} ${JSON.stringify(r.body)}`);
    jobs.push(r.body.id);
  }
  const assignments = await Promise.all(
    runners.map(async (runner) => {
      for (;;) {
        const r = await call<Assignment>(`${url}${RunnerRoutes.poll}`, 'POST', runner.token, { wait_ms: 5000 });
        if (r.status === 200) return r.body;
      }
    }),
  );

  let measuring = false;
  const delays: number[] = [];
  const onDelay = (ms: number) => {
    if (measuring) delays.push(ms);
  };
  const follows: Stream[] = [];
  for (let i = 0; i < followers; i += 50) {
    follows.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(50, followers - i) }, (_, j) =>
          openStream(`${url}/api/jobs/${jobs[(i + j) % RUNNERS]}/logs?follow=true`, markerReader(onDelay)),
        ),
      )),
    );
  }
  const ui = await Promise.all(Array.from({ length: uiStreams }, () => openStream(`${url}/api/events`, () => {})));
  ctx.log(`W1: ${followers} followers and ${uiStreams} event streams open; streaming`);

  let stop = false;
  let chunks = 0;
  const streaming = assignments.map(async (a, i) => {
    // Spread the runners over the interval, as runners started at different times would be.
    const start = performance.now() + (i / RUNNERS) * CHUNK_EVERY_MS;
    for (let seq = 1; !stop; seq++) {
      const wait = start + seq * CHUNK_EVERY_MS - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const r = await call(`${url}${RunnerRoutes.logs(a.attempt_id)}`, 'POST', a.job_token, { seq, data: chunkText() });
      if (r.status !== 200) throw new Error(`logs: HTTP ${r.status}`);
      chunks += 1;
    }
    const done = await call(`${url}${RunnerRoutes.complete(a.attempt_id)}`, 'POST', a.job_token, { outcome: 'succeeded', exit_code: 0, commit: null });
    if (done.status !== 200) throw new Error(`complete: HTTP ${done.status}`);
  });

  await new Promise((r) => setTimeout(r, WARMUP_MS));
  measuring = true;
  const cpu0 = { server: totalCpu(s.server.pid), bench: totalCpu('self') };
  const chunks0 = chunks;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  const serverCpu = totalCpu(s.server.pid) - cpu0.server;
  const benchCpu = totalCpu('self') - cpu0.bench;
  const measuredChunks = chunks - chunks0;
  measuring = false;
  stop = true;
  await Promise.all(streaming);

  // Every follow ends with its job; each must have had the whole log.
  const deadline = AbortSignal.timeout(30_000);
  await Promise.race([Promise.all(follows.map((f) => f.ended)), new Promise((r) => deadline.addEventListener('abort', r))]);
  const logBytes = new Map<string, number>();
  for (const id of jobs) {
    const job = (await call<{ status: string; log_bytes: number }>(`${url}/api/jobs/${id}`, 'GET', ADMIN)).body;
    if (!isFinished(job.status as never)) throw new Error(`job ${id} is ${job.status}`);
    logBytes.set(id, job.log_bytes);
  }
  const incomplete = follows.filter((f, i) => f.bytes !== logBytes.get(jobs[i % RUNNERS]!)).length;
  for (const f of [...follows, ...ui]) f.close();
  return {
    followers,
    uiStreams,
    delays,
    serverCpuPercent: (serverCpu / elapsed) * 100,
    benchCpuPercent: (benchCpu / elapsed) * 100,
    seconds: elapsed,
    chunks: measuredChunks,
    incomplete,
    uiBytes: ui.reduce((n, u) => n + u.bytes, 0),
  };
}

async function run_(ctx: BenchContext): Promise<PartResult> {
  const seconds = Number(process.env.BENCH_W1_SECONDS ?? 15);
  // Leases outlive the measurement without heartbeats; the queue's own costs are P2's.
  const s = await setup(ctx, 'w1', { LAZYAF_LEASE_TTL: '600' });
  try {
    const runners = await Promise.all(Array.from({ length: RUNNERS }, (_, i) => register(s, `w1-${i}`)));
    const one = await phase(s, runners, 1, 0, seconds, ctx);
    const many = await phase(s, runners, FOLLOWERS, UI_STREAMS, seconds, ctx);
    const summary = (p: Phase) => ({
      followers: p.followers,
      uiStreams: p.uiStreams,
      p50: percentile(p.delays, 50),
      p99: percentile(p.delays, 99),
      max: Math.max(...p.delays),
      samples: p.delays.length,
      serverCpuPercent: p.serverCpuPercent,
      benchCpuPercent: p.benchCpuPercent,
      chunksPerSecond: p.chunks / p.seconds,
      megabytesPerSecond: (p.chunks * CHUNK_BYTES) / p.seconds / 1e6,
      incomplete: p.incomplete,
      uiBytes: p.uiBytes,
    });
    const a = summary(one);
    const b = summary(many);
    ctx.log(`W1 1 follower: ${JSON.stringify(a)}`);
    ctx.log(`W1 ${FOLLOWERS} followers: ${JSON.stringify(b)}`);
    const ms = (x: number) => `${x.toFixed(1)} ms`;
    const figures: Figure[] = [
      {
        metric: `W1 chunk sent → follower has it, p99, ${FOLLOWERS} followers + ${UI_STREAMS} event streams`,
        value: b.p99,
        unit: 'ms',
        target: TARGET_P99_MS,
        raw: `p50 ${ms(b.p50)}, max ${ms(b.max)}, ${b.samples} deliveries, ${b.chunksPerSecond.toFixed(0)} chunks/s (${b.megabytesPerSecond.toFixed(2)} MB/s)`,
      },
      {
        metric: `W1 the same ÷ 1 follower, p99`,
        value: b.p99 / a.p99,
        unit: 'x',
        raw: `${ms(b.p99)} / ${ms(a.p99)} (1 follower: p50 ${ms(a.p50)})`,
      },
      {
        metric: `W1 server CPU, ${FOLLOWERS} followers + ${UI_STREAMS} event streams`,
        value: b.serverCpuPercent,
        unit: '%',
        raw: `of one core; 1 follower ${a.serverCpuPercent.toFixed(0)}%; bench clients ${b.benchCpuPercent.toFixed(0)}% / ${a.benchCpuPercent.toFixed(0)}%`,
      },
      {
        metric: 'W1 every follower had its whole log',
        value: b.incomplete + a.incomplete,
        unit: 'count',
        check: true,
        ...(b.incomplete + a.incomplete > 0 ? { error: `${b.incomplete + a.incomplete} followers' bytes differ from their job's log` } : {}),
      },
    ];
    return { part: 'watchers', figures, details: { seconds, oneFollower: a, many: b } };
  } finally {
    await teardown(s);
  }
}

export const watchersPart: BenchPart = {
  name: 'watchers',
  description: `W1: ${RUNNERS} runners streaming 1 MB/s of output, ${FOLLOWERS} followed logs and ${UI_STREAMS} UI event streams`,
  run: run_,
};
