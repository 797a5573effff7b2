import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { test, type TestContext } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { EVENT_STREAM_BEHIND_BYTES } from '../src/server/routes/events.js';
import { LogStore } from '../src/server/store/logs.js';
import { api, startTestServer, tempDir, type TestServer } from './helpers.js';
import { poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

const MiB = 1024 * 1024;

/** A full collection, so that what is measured is what is alive (the server runs in this process). */
function collectAll(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

/**
 * The bytes of Buffers still alive: collected, then again until the figure stops falling (at most
 * 2 s). V8 frees the memory of dead Buffers on a background thread after a collection; on a busy
 * machine that lags, and a single reading once counted 29 MiB of them.
 */
async function aliveBuffers(): Promise<number> {
  let least = Infinity;
  for (const deadline = Date.now() + 2000; Date.now() < deadline;) {
    collectAll();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = process.memoryUsage().arrayBuffers;
    if (now >= least) break;
    least = now;
  }
  return least;
}

async function until(what: string, ok: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Reader {
  bytes: () => number;
  text: () => string;
  pause: () => void;
  resume: () => void;
  ended: Promise<void>;
}

/** A GET stream with the admin token, kept whole; `pause` stops reading it (the socket fills up). */
function openReader(t: TestContext, server: TestServer, urlPath: string): Promise<Reader> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${server.url}${urlPath}`, { headers: { authorization: `Bearer ${server.token}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`${urlPath}: HTTP ${res.statusCode}`));
      // Kept as a string: Buffers held here would count as the server's (this process's) Buffers.
      const decoder = new StringDecoder('utf8');
      let text = '';
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        text += decoder.write(c);
        bytes += c.length;
      });
      res.on('error', () => {});
      const ended = new Promise<void>((done) => {
        res.on('end', done);
        res.on('close', done);
      });
      resolve({ bytes: () => bytes, text: () => text + decoder.end(), pause: () => res.pause(), resume: () => res.resume(), ended });
    });
    req.on('error', reject);
    t.after(() => req.destroy());
  });
}

test('a follower that stops reading holds at most about 1 MiB, slows no other follower, and gets the whole log when it reads again', async (t) => {
  const server = (await startTestServer(t, { LAZYAF_LOG_CAP: String(64 * MiB) })) as TestServer;
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r');
  const job = await submit(server, { repo_id: repo.id, title: 'loud', command: 'true' });
  const a = (await poll(server, runner.token))!;
  assert.ok(a);

  const reading = await openReader(t, server, `/api/jobs/${job.id}/logs?follow=true`);
  const stalled = await openReader(t, server, `/api/jobs/${job.id}/logs?follow=true`);
  stalled.pause();

  // Database reads of the log while the followers keep up (or stall): the appends hand the chunks over.
  let reads = 0;
  const read = LogStore.prototype.read;
  LogStore.prototype.read = function (this: LogStore, ...args: Parameters<LogStore['read']>) {
    reads += 1;
    return read.apply(this, args);
  };
  t.after(() => {
    LogStore.prototype.read = read;
  });

  const before = await aliveBuffers();
  const chunks = 48;
  const line = (seq: number, i: number) => `chunk ${String(seq).padStart(3, '0')} line ${String(i).padStart(5, '0')} ${'x'.repeat(100)}\n`;
  let sent = 0;
  for (let seq = 1; seq <= chunks; seq++) {
    const data = Array.from({ length: 4096 }, (_, i) => line(seq, i)).join(''); // about 512 KiB
    const r = await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq, data }, { token: a.job_token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    sent += Buffer.byteLength(data);
    // The reading follower has every chunk while the other one reads nothing.
    await until(`the reading follower to have chunk ${seq}`, () => reading.bytes() >= sent);
  }
  assert.ok(sent > 20 * MiB);
  assert.ok(reads <= 2, `the log was read from the database ${reads} times for ${chunks} chunks`);
  const held = ((await aliveBuffers()) - before) / MiB;
  t.diagnostic(`alive after ${(sent / MiB).toFixed(0)} MiB appended, one follower not reading: +${held.toFixed(1)} MiB of Buffers`);
  // 1 MiB held, one chunk in its response's buffer, the sockets' own.
  assert.ok(held < 4, `${held.toFixed(1)} MiB of Buffers alive with one follower not reading`);

  const done = await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'succeeded', exit_code: 0, commit: null }, { token: a.job_token });
  assert.equal(done.status, 200);
  stalled.resume();
  await Promise.all([reading.ended, stalled.ended]);
  // The whole stored log, a page at a time.
  let log = '';
  for (let page = { content: '', next_offset: 0, complete: false }; !page.complete;) {
    page = (await api(server, 'GET', `/api/jobs/${job.id}/logs?offset=${page.next_offset}`)).body;
    log += page.content;
  }
  assert.equal(reading.text(), log);
  assert.equal(stalled.text(), log, 'the follower that stalled got the whole log, in order, from the database');
});

test('an event stream whose client stops reading is closed once 1 MiB behind; one that reads gets every event', async (t) => {
  const server = (await startTestServer(t)) as TestServer;
  const reading = await openReader(t, server, '/api/events');
  const stalled = await openReader(t, server, '/api/events');
  stalled.pause();

  const frame = (i: number) => `event: log.appended\ndata: {"type":"log.appended","job_id":"j","log_bytes":${i}}\n\n`;
  const batches = 400;
  const perBatch = 500;
  let expected = 0;
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < perBatch; i++) {
      const n = b * perBatch + i;
      server.ctx.events.emit({ type: 'log.appended', job_id: 'j', log_bytes: n });
      expected += Buffer.byteLength(frame(n));
    }
    // The reading stream keeps up between batches (a batch is about 40 KB).
    await until(`the reading stream to have batch ${b}`, () => reading.bytes() >= expected + ': connected\n\n'.length);
  }
  assert.ok(expected > 8 * EVENT_STREAM_BEHIND_BYTES);
  assert.ok(reading.text().endsWith(frame(batches * perBatch - 1)));

  // The one that stopped was cut: reading again, it finds the end of its stream, well short of everything.
  stalled.resume();
  await Promise.race([stalled.ended, new Promise((_, reject) => setTimeout(() => reject(new Error('the stalled stream was not closed')), 15_000))]);
  assert.ok(stalled.bytes() < expected / 2, `the stalled stream got ${stalled.bytes()} of ${expected} bytes`);
});
