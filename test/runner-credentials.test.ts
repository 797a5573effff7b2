import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { poolWorkRoot } from '../src/server/pool/launcher.js';
import { api, type ApiResponse, eventually, startTestServer, tempDir } from './helpers.js';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { logOf, poll, processesMatching, registerRunner, seedRepo, startRunnerProcess, submit, waitForJob } from './queue-helpers.js';

// Agent credentials travel with the job that needs them: not through the pool's runners, nor the
// runner's own environment into its jobs. Real server, real runner processes, real jobs.

const KEY = 'sk-ant-api03-runner-env-key-never-in-a-job';
const AGENT_ENV = { ANTHROPIC_API_KEY: KEY, OPENAI_API_KEY: 'sk-openai-runner-env-key', AWS_SECRET_ACCESS_KEY: 'aws-runner-env-secret' };

test("a pool runner does not get the server's agent credentials, nor its jobs", async (t) => {
  const dataDir = tempDir(t, 'lazyaf-data-');
  const server = await startTestServer(t, AGENT_ENV, { dataDir, runners: 1 });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const job = await submit(server, { repo_id: repo.id, title: 'env', command: 'env' });
  assert.equal((await waitForJob(server, job.id, undefined, 60_000)).status, 'succeeded');
  const log = await logOf(server, job.id);
  assert.match(log, /^LAZYAF_JOB_ID=/m, 'the job printed its environment');
  for (const name of Object.keys(AGENT_ENV)) assert.ok(!log.includes(`${name}=`), `${name} reached the job: ${log}`);

  const [pid] = await eventually('the pool runner', () => {
    const pids = processesMatching(poolWorkRoot(dataDir)).filter((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('\0--name\0pool-'));
    return pids.length > 0 ? pids : undefined;
  });
  const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  assert.ok(
    environ.some((e) => e.startsWith('LAZYAF_TOKEN=')),
    'the runner has its registration token',
  );
  for (const name of Object.keys(AGENT_ENV)) assert.ok(!environ.some((e) => e.startsWith(`${name}=`)), `${name} reached the pool runner`);
});

test('a runner started by hand with agent credentials in its environment keeps them from its jobs', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  startRunnerProcess(t, server, 'by-hand', path.join(dir, 'runners'), [], AGENT_ENV);
  const job = await submit(server, { repo_id: repo.id, title: 'env', command: 'env; echo "key=${ANTHROPIC_API_KEY:-unset}"' });
  assert.equal((await waitForJob(server, job.id, undefined, 60_000)).status, 'succeeded');
  const log = await logOf(server, job.id);
  assert.match(log, /^key=unset$/m);
  for (const name of Object.keys(AGENT_ENV)) assert.ok(!log.includes(`${name}=`), `${name} reached the job: ${log}`);
});

test('the server hides the values it holds from the log it stores: stored secrets and its own agent credentials', async (t) => {
  const stored = 'stored-gemini-key-0123456789';
  // A server process: its environment is its own.
  // A setting is no secret: a gateway's URL stays readable in the log.
  const server = await startTestServer(
    t,
    { OPENAI_API_KEY: 'server-env-openai-key-42', OPENAI_BASE_URL: 'https://gateway.example.com/v1', NO_PROXY: 'localhost,127.0.0.1' },
    { dataDir: tempDir(t, 'lazyaf-data-') },
  );
  assert.equal((await api(server, 'PUT', '/api/secrets/GEMINI_API_KEY', { value: stored })).status, 201);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  startRunnerProcess(t, server, 'r', path.join(dir, 'runners'));
  // The values reach this job by its own command: the runner knows nothing of them, the server does.
  // The last value comes in two writes 500 ms apart: two log chunks.
  const command = `echo "a ${stored} b"; echo server-env-openai-key-42; printf 'c ${stored.slice(0, 10)}'; sleep 0.5; printf '${stored.slice(10)} d\\n'; echo 'via https://gateway.example.com/v1 not localhost,127.0.0.1'`;
  const job = await submit(server, { repo_id: repo.id, title: 'leak', command });
  assert.equal((await waitForJob(server, job.id, undefined, 60_000)).status, 'succeeded');
  const log = await logOf(server, job.id);
  assert.match(log, /^a \[redacted\] b\n\[redacted\]\nc \*{10}\[redacted\] d\n/m);
  assert.ok(!log.includes(stored.slice(0, 10)) && !log.includes(stored.slice(10)) && !log.includes('server-env-openai-key-42'), log);
  assert.match(log, /^via https:\/\/gateway\.example\.com\/v1 not localhost,127\.0\.0\.1$/m, 'settings are shown as they are');
});

test('a value cut across three log chunks of a runner that did not know it is hidden once its end comes; resent chunks change nothing', async (t) => {
  const stored = 'stored-gemini-key-0123456789';
  const server = await startTestServer(t);
  assert.equal((await api(server, 'PUT', '/api/secrets/GEMINI_API_KEY', { value: stored })).status, 201);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r');
  const job = await submit(server, { repo_id: repo.id, title: 'split', command: 'true' });
  const a = await poll(server, runner.token, 10_000);
  assert.ok(a);
  assert.equal(a.job_id, job.id);
  const chunks = ['a stored-gem', 'ini-key-0123', `456789 b ${stored.slice(0, 5)}`, 'x\n'];
  for (const seq of [1, 2, 2, 3, 3, 2, 4, 4]) {
    const sent: ApiResponse = await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq, data: chunks[seq - 1] }, { token: a.job_token });
    assert.equal(sent.status, 200);
  }
  const log = await logOf(server, job.id);
  assert.ok(log.includes(`a ${'*'.repeat(22)}[redacted] b storex\n`), log);
  assert.ok(!log.includes('stored-gem') && !log.includes('0123'), log);
});

test("an agent run from a template (aider, agents.json) gets the agents' credentials the server holds, hidden in its log; a shell job gets none", async (t) => {
  const data = tempDir(t, 'lazyaf-data-');
  const probe = 'echo "key=${ANTHROPIC_API_KEY:-unset} url=${ANTHROPIC_BASE_URL:-unset} openai=${OPENAI_API_KEY:-unset}"';
  fs.writeFileSync(path.join(data, 'agents.json'), JSON.stringify({ echoer: probe }));
  const server = await startTestServer(
    t,
    { ANTHROPIC_API_KEY: 'sk-ant-template-0123456789', ANTHROPIC_BASE_URL: 'https://gateway.example.com' },
    { dataDir: data },
  );
  assert.equal((await api(server, 'PUT', '/api/secrets/OPENAI_API_KEY', { value: 'sk-openai-stored-0123456789' })).status, 201);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  startRunnerProcess(t, server, 'templates', path.join(dir, 'runners'), ['--agents', 'echoer']);

  const agentJob = await submit(server, { repo_id: repo.id, title: 'template', agent: 'echoer' });
  assert.equal((await waitForJob(server, agentJob.id, undefined, 60_000)).status, 'succeeded');
  assert.match(await logOf(server, agentJob.id), /^key=\[redacted\] url=https:\/\/gateway\.example\.com openai=\[redacted\]$/m);

  const shellJob = await submit(server, { repo_id: repo.id, title: 'shell', command: probe });
  assert.equal((await waitForJob(server, shellJob.id, undefined, 60_000)).status, 'succeeded');
  assert.match(await logOf(server, shellJob.id), /^key=unset url=unset openai=unset$/m);
});
