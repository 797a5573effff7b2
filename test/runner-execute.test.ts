import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { RunnerClient } from '../src/runner/client.js';
import { jobEnv } from '../src/runner/env.js';
import { groupHasLiving, runCommand, type CommandOptions } from '../src/runner/execute.js';
import { LogStream, type LogStreamOptions, type SendChunk } from '../src/runner/log-stream.js';
import type { Assignment, LogChunk } from '../src/shared/protocol.js';
import { eventually, ROOT, tempDir } from './helpers.js';

const assignment: Assignment = {
  job_id: 'job-1234',
  attempt_id: 'attempt-1',
  attempt: 1,
  job_token: 'lzjob_secret_job_token',
  repo_id: 'repo-1',
  clone_url: 'http://127.0.0.1:1/git/repo-1.git',
  title: 'Fix the "thing"',
  description: "multi\nline 'description'",
  base_branch: 'main',
  branch: 'lazyaf/job-1234',
  agent: 'shell',
  command: 'true',
  prompt: '# Task\nDo it.\n',
  timeout_ms: 60_000,
  lease_expires_in_ms: 60_000,
};

/** A log sink that records chunks; `truncateAfter` characters makes it answer truncated like the server's cap. */
function fakeSink(opts: { truncateAfter?: number; keep?: boolean; delay?: () => Promise<void> } = {}) {
  const chunks: LogChunk[] = [];
  let received = 0;
  const send: SendChunk = async (chunk) => {
    await opts.delay?.();
    received += chunk.data.length;
    if (opts.keep !== false) chunks.push(chunk);
    else chunks.push({ seq: chunk.seq, data: '' });
    return { accepted: true, truncated: opts.truncateAfter !== undefined && received >= opts.truncateAfter };
  };
  return { send, chunks, received: () => received, text: () => chunks.map((c) => c.data).join('') };
}

function stream(send: SendChunk, extra: Partial<LogStreamOptions> = {}): LogStream {
  return new LogStream({ send, ...extra });
}

async function run(t: TestContext, command: string, output: LogStream, extra: Partial<CommandOptions> = {}) {
  const result = await runCommand({ command, cwd: tempDir(t), env: { PATH: process.env.PATH }, timeoutMs: 0, output, ...extra });
  await output.finish();
  return result;
}

/** Whether a process is gone (or a zombie waiting for a parent that does not reap). */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

test("the job's context is in the command's environment, no token is", async (t) => {
  const saved = { ...process.env };
  t.after(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });
  process.env.LAZYAF_TOKEN = 'lzreg_registration_secret';
  process.env.LAZYAF_REGISTRATION_TOKEN = 'lzreg_registration_secret';
  process.env.GIT_CONFIG_COUNT = '1';
  process.env.GIT_CONFIG_KEY_0 = 'http.extraHeader';
  process.env.GIT_CONFIG_VALUE_0 = 'Authorization: Bearer lzjob_secret_job_token';
  process.env.ANTHROPIC_API_KEY = 'lzagent_anthropic_secret';
  process.env.OPENAI_BASE_URL = 'http://lzagent-openai-endpoint';
  process.env.AWS_SECRET_ACCESS_KEY = 'lzagent_aws_secret';
  process.env.GITHUB_TOKEN = 'lzforge_github_secret';
  // What `npm start` adds: its settings, and this package's tools first on PATH.
  process.env['npm_config_//registry.example/:_authToken'] = 'lznpm_registry_secret';
  process.env.npm_lifecycle_event = 'start';
  process.env.PATH = `${ROOT}node_modules/.bin:/usr/lib/node_modules/npm/node_modules/@npmcli/run-script/lib/node-gyp-bin:${saved.PATH}`;

  const sink = fakeSink();
  const dir = tempDir(t);
  const out = stream(sink.send);
  fs.writeFileSync(`${dir}/prompt.md`, 'the prompt file\n');
  const result = await runCommand({
    command: 'env; echo "title=$LAZYAF_JOB_TITLE"; cat "$LAZYAF_PROMPT_FILE"',
    cwd: dir,
    env: jobEnv(assignment, `${dir}/prompt.md`),
    timeoutMs: 0,
    output: out,
  });
  await out.finish();
  assert.equal(result.exitCode, 0);
  const env = sink.text();
  for (const [name, value] of Object.entries({
    LAZYAF_JOB_ID: 'job-1234',
    LAZYAF_JOB_TITLE: 'Fix the "thing"',
    LAZYAF_JOB_DESCRIPTION: "multi\nline 'description'",
    LAZYAF_PROMPT: '# Task\nDo it.\n',
    LAZYAF_PROMPT_FILE: `${dir}/prompt.md`,
    LAZYAF_BRANCH: 'lazyaf/job-1234',
    LAZYAF_BASE_BRANCH: 'main',
  })) {
    assert.ok(env.includes(`${name}=${value}`), `${name} is set`);
  }
  assert.ok(env.includes('title=Fix the "thing"'));
  assert.ok(env.includes('the prompt file\n'));
  // An agent's credentials come with its job's assignment (agent_run.env), never from the runner's environment.
  assert.ok(!env.includes('lzagent_'), 'no agent credential of the runner');
  assert.ok(!env.includes('lzreg_registration_secret'), 'no registration token');
  assert.ok(!env.includes('lzjob_secret_job_token'), 'no job token');
  assert.ok(!env.includes('lzforge_github_secret'), 'no forge token');
  assert.ok(!/^LAZYAF_TOKEN=/m.test(env));
  assert.ok(!env.includes('lznpm_registry_secret'), 'no npm setting (a registry token)');
  assert.doesNotMatch(env, /^npm_/m, 'no npm_* variable');
  const jobPath = /^PATH=(.*)$/m.exec(env)?.[1] ?? '';
  assert.doesNotMatch(jobPath, /node_modules/, "the package's tools are not on the job's PATH");
  assert.ok(jobPath.includes('/usr/bin'), jobPath);
});

test('output is streamed in order as chunks numbered 1, 2, 3, ...', async (t) => {
  const sink = fakeSink();
  const lines = 30_000;
  const result = await run(
    t,
    `i=1; while [ $i -le ${lines} ]; do echo "line $i"; i=$((i+1)); done; echo "to stderr" >&2`,
    stream(sink.send, { batchChars: 8 * 1024 }),
  );
  assert.equal(result.exitCode, 0);
  assert.ok(sink.chunks.length > 10, `${sink.chunks.length} chunks`);
  assert.deepEqual(
    sink.chunks.map((c) => c.seq),
    sink.chunks.map((_, i) => i + 1),
  );
  const text = sink.text();
  const stdout = text.split('\n').filter((l) => l.startsWith('line '));
  assert.equal(stdout.length, lines);
  stdout.forEach((l, i) => assert.equal(l, `line ${i + 1}`));
  assert.ok(text.includes('to stderr\n'));
});

test('a chunk resent after a network error keeps its number', async (t) => {
  // A tiny stand-in for the server: the first try of chunk 2 fails as a restarting server would.
  const seen: number[] = [];
  const stored = new Map<number, string>();
  let failed = false;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const chunk = JSON.parse(body) as LogChunk;
      seen.push(chunk.seq);
      if (chunk.seq === 2 && !failed) {
        failed = true;
        res.writeHead(503).end();
        return;
      }
      stored.set(chunk.seq, chunk.data);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: true, truncated: false }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const client = new RunnerClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, retryBaseMs: 10, retryCapMs: 50 });

  const out = stream((chunk, call) => client.logs('attempt-1', 'job-token', chunk, call), { batchChars: 4 });
  const result = await run(t, 'echo one; sleep 0.2; echo two; sleep 0.2; echo three', out);
  assert.equal(result.exitCode, 0);
  assert.deepEqual(seen.slice(0, 3), [1, 2, 2]);
  assert.deepEqual(
    [...stored.keys()],
    [...stored.keys()].map((_, i) => i + 1),
  );
  assert.equal([...stored.values()].join(''), 'one\ntwo\nthree\n');
});

test('cancel kills the whole process group, including what the shell started', async (t) => {
  const sink = fakeSink();
  const cancel = new AbortController();
  const out = stream(sink.send, { flushMs: 10 });
  const running = run(t, 'sleep 1000 & echo "child $!"; wait', out, { signal: cancel.signal, killGraceMs: 500 });
  await eventually('the child pid in the output', () => /child \d+/.test(sink.text()));
  const childPid = Number(/child (\d+)/.exec(sink.text())?.[1]);
  assert.equal(isGone(childPid), false);

  cancel.abort();
  const result = await running;
  assert.equal(result.aborted, true);
  assert.equal(result.timedOut, false);
  assert.notEqual(result.exitCode, 0);
  await eventually('the sleep child to die', () => isGone(childPid));
});

test('a timeout kills the command; one that ignores SIGTERM gets SIGKILL', async (t) => {
  const sink = fakeSink();
  const result = await run(t, 'trap "" TERM; echo started; sleep 1000 & wait; sleep 1000', stream(sink.send), { timeoutMs: 300, killGraceMs: 300 });
  assert.equal(result.timedOut, true);
  assert.equal(result.aborted, false);
  assert.equal(result.signal, 'SIGKILL');
  assert.ok(sink.text().includes('started'));
});

test('background processes do not outlive a command that exited', async (t) => {
  const sink = fakeSink();
  const result = await run(t, 'sleep 1000 >/dev/null 2>&1 & echo "child $!"', stream(sink.send), { killGraceMs: 300 });
  assert.equal(result.exitCode, 0);
  const childPid = Number(/child (\d+)/.exec(sink.text())?.[1]);
  await eventually('the background child to die', () => isGone(childPid));
});

test('the command ends only once its whole group is gone: a leftover that ignores SIGTERM gets SIGKILL first', async (t) => {
  const sink = fakeSink();
  const result = await run(t, `sh -c 'trap "" TERM; exec sleep 1000' >/dev/null 2>&1 & echo "child $!"`, stream(sink.send), { killGraceMs: 300 });
  assert.equal(result.exitCode, 0);
  const childPid = Number(/child (\d+)/.exec(sink.text())?.[1]);
  // Not eventually: what comes after the command (the commit that keeps its work) must not race it.
  assert.equal(isGone(childPid), true);
});

test('a background process that left the process group (setsid) and holds the output does not hold the command once its shell exited', async (t) => {
  const pidFile = `${tempDir(t)}/bg.pid`;
  t.after(() => {
    const pid = Number(fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8') : 0);
    if (pid > 0 && !isGone(pid)) process.kill(pid, 'SIGKILL');
  });
  // The pid is written once the process has left the group: the group's kill cannot reach it.
  const command = `setsid sh -c 'echo $$ > ${pidFile}; exec sleep 1000' & while [ ! -s ${pidFile} ]; do sleep 0.05; done; echo left`;
  const sink = fakeSink();
  const bound = new Promise<'held'>((resolve) => setTimeout(() => resolve('held'), 30_000).unref());
  const result = await Promise.race([run(t, command, stream(sink.send), { killGraceMs: 200 }), bound]);
  if (result === 'held') assert.fail('the command was still running 30 s after its shell exited');
  assert.equal(result.exitCode, 0);
  assert.match(sink.text(), /left/);
});

test('a command that cannot start is reported, not thrown', async (t) => {
  const result = await runCommand({ command: 'true', cwd: `${tempDir(t)}/missing`, env: {}, timeoutMs: 0, output: stream(fakeSink().send) });
  assert.match(result.spawnError ?? '', /ENOENT/);
});

/** Samples this process's RSS while `work` runs; returns the largest growth over the start. */
async function rssGrowth(work: () => Promise<void>): Promise<number> {
  const start = process.memoryUsage().rss;
  let max = start;
  const timer = setInterval(() => (max = Math.max(max, process.memoryUsage().rss)), 20);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(max, process.memoryUsage().rss) - start;
}

const MB = 1024 * 1024;

test('100 MB of output against a capped log: sending stops, the pipes keep draining, memory stays flat', async (t) => {
  const sink = fakeSink({ truncateAfter: MB });
  const out = stream(sink.send);
  let result;
  const growth = await rssGrowth(async () => {
    result = await run(t, "head -c 100000000 /dev/zero | tr '\\0' x; echo; echo done", out);
  });
  assert.equal(result!.exitCode, 0);
  assert.equal(out.truncated, true);
  assert.ok(sink.received() >= MB && sink.received() < 2 * MB, `sent ${sink.received()} characters`);
  assert.ok(growth < 60 * MB, `RSS grew by ${Math.round(growth / MB)} MiB`);
});

test('a slow server holds the command back instead of filling memory', async (t) => {
  const sink = fakeSink({ keep: false, delay: () => new Promise((r) => setImmediate(r)) });
  const out = stream(sink.send);
  const total = 20 * MB;
  const result = await run(t, `head -c ${total} /dev/zero | tr '\\0' y`, out);
  assert.equal(result.exitCode, 0);
  assert.equal(sink.received(), total, 'everything arrived');
  assert.deepEqual(
    sink.chunks.map((c) => c.seq),
    sink.chunks.map((_, i) => i + 1),
  );
  assert.ok(out.maxBufferedChars <= 512 * 1024, `at most ${out.maxBufferedChars} characters held`);
});

test('while the server is unreachable, output is buffered up to a limit and the rest dropped with a marker', async (t) => {
  let serverBack!: () => void;
  const back = new Promise<void>((resolve) => (serverBack = resolve));
  const chunks: LogChunk[] = [];
  const send: SendChunk = async (chunk, call) => {
    if (chunks.length === 0) {
      call.onRetry(); // What the client does when a request fails and it is about to retry.
      await back;
    }
    chunks.push(chunk);
    return { accepted: true, truncated: false };
  };
  const out = stream(send, { offlineLimitChars: 256 * 1024 });
  const total = 4 * MB;
  const result = await runCommand({
    command: `head -c ${total} /dev/zero | tr '\\0' z; echo; echo after`,
    cwd: tempDir(t),
    env: { PATH: process.env.PATH },
    timeoutMs: 0,
    output: out,
  });
  assert.equal(result.exitCode, 0, 'the command ran to its end while the server was away');
  serverBack();
  await out.finish();
  const text = chunks.map((c) => c.data).join('');
  assert.match(text, /\[lazyaf runner: \d+ characters of output dropped while the server was unreachable\]/);
  assert.ok(text.length < total, `kept ${text.length} of ${total}`);
  assert.ok(out.maxBufferedChars <= 256 * 1024 + 128 * 1024, `at most ${out.maxBufferedChars} characters held`);
  assert.deepEqual(
    chunks.map((c) => c.seq),
    chunks.map((_, i) => i + 1),
  );
});

test('a process group left with only a zombie counts as gone, one with a running process does not', async (t) => {
  // perl forks a child that moves to a group of its own and exits; perl never reaps it, so that
  // group holds only a zombie (as an orphan's does until a slow init reaps it).
  const parent = spawn('perl', ['-e', '$| = 1; my $p = fork(); if (!$p) { setpgrp(0, 0); exit 0 } print "$p\\n"; sleep 30'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => parent.kill('SIGKILL'));
  const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString()))));
  await eventually('the child to be a zombie', async () => /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')));
  assert.doesNotThrow(() => process.kill(-pid, 0), 'the zombie still holds its group');
  assert.equal(groupHasLiving(pid), false);

  const alive = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  t.after(() => alive.kill('SIGKILL'));
  assert.equal(groupHasLiving(alive.pid!), true);
});
