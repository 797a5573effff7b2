// Claude Code for real, as a lazyaf job: the pinned CLI (npm install --prefix) on a runner as root,
// in the bubblewrap sandbox on the job's own network, against the scripted Anthropic API
// (test/agents/anthropic-server.ts), the only fake.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { runCommand } from '../src/runner/execute.js';
import { JobNetwork } from '../src/runner/job-network.js';
import { Sandbox } from '../src/runner/sandbox.js';
import { claude } from '../src/shared/agents/claude.js';
import type { Job, JobLogs } from '../src/shared/api.js';
import { agentCliBinDir } from '../scripts/agent-clis.js';
import { startAnthropicServer, userText, type AnthropicServer } from './agents/anthropic-server.js';
import { api, git, setEnv, startTestServer, tempDir, type TestServer } from './helpers.js';
import { inProcessRunners, seedRepo, submit, waitForJob } from './queue-helpers.js';

const BIN_DIR = agentCliBinDir('claude');
// The CLI's package, where its bin's link leads: shown to the job (until the runner mounts link targets itself).
const PACKAGE_DIR = path.dirname(path.dirname(fs.realpathSync(path.join(BIN_DIR, 'claude'))));
const API_KEY = 'sk-ant-test-e2e-key';

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function logOf(server: TestServer, id: string): Promise<string> {
  return (await api<JobLogs>(server, 'GET', `/api/jobs/${id}/logs`)).body.content;
}

/** Submits an agent job and resolves with it finished, and when it was created (ms). */
async function runAgentJob(server: TestServer, repoId: string, title: string): Promise<{ job: Job; created: number }> {
  const created = Date.now();
  const job = await submit(server, { repo_id: repoId, title, description: 'Write hello.txt, then run a command.', agent: 'claude' });
  return { job: await waitForJob(server, job.id, undefined, 60_000), created };
}

function jobNetworkOrSkip(t: TestContext): boolean {
  if (process.getuid?.() !== 0) {
    t.skip('claude as root in the sandbox: the runner must be root');
    return false;
  }
  const network = JobNetwork.locate([]);
  if (!('problem' in network)) return true;
  if (process.env.CI) throw new Error(`no job network: ${network.problem}`);
  t.skip(`no job network here (${network.problem})`);
  return false;
}

test('claude as a job: the branch holds its edit, its usage is reported, the prompt reaches the model; an unreachable API fails it in seconds with its reason', async (t) => {
  if (!jobNetworkOrSkip(t)) return;
  const runnerFor = inProcessRunners(t);
  const dir = tempDir(t);
  const model: AnthropicServer = await startAnthropicServer();
  t.after(() => model.close());
  const deadPort = await closedPort();
  // The server holds the credentials (its environment: this process's); claude is on PATH in a
  // folder ending in node_modules/.bin, as `npm install --prefix` leaves it.
  setEnv(t, { PATH: `${process.env.PATH}:${BIN_DIR}`, ANTHROPIC_API_KEY: API_KEY, ANTHROPIC_BASE_URL: model.url });
  const server = await startTestServer(t, { LAZYAF_JOB_HOST_PORTS: `${model.port},${deadPort}` });
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo', { 'README.md': '# demo\nA demo repo.\n' });
  const runner = runnerFor(server, 'claude-runner', {
    sandbox: 'require',
    sandboxShare: [PACKAGE_DIR],
    jobHostPorts: [model.port, deadPort],
    killGraceMs: 1000,
  });
  await runner.registered;

  const { job, created } = await runAgentJob(server, repo.id, 'Say hello');
  const log = await logOf(server, job.id);
  assert.equal(job.status, 'succeeded', `the job failed: ${job.error}\n${log}`);
  assert.ok(job.commit, 'the job committed its work');
  const first = model.conversation()[0]!;
  assert.ok(first, 'claude asked the model');
  assert.match(userText(first), /# Task: Say hello/, 'the first model request carries the prompt');
  assert.equal(first.headers['x-api-key'], API_KEY, "the server's key reached claude");
  assert.equal(model.conversation().length, 4, 'read, write, command, answer');

  const clone = path.join(dir, 'clone');
  await git(['clone', '-q', '--branch', job.branch!, `${server.url.replace('http://', `http://x:${server.token}@`)}/git/${repo.id}.git`, clone]);
  assert.equal(fs.readFileSync(path.join(clone, 'hello.txt'), 'utf8'), 'hello from claude\n');
  assert.equal(fs.readFileSync(path.join(clone, 'ran.txt'), 'utf8'), 'ran\n', "claude's Bash tool ran in the checkout");
  // Reported with the completion (the job's usage storage comes with the transcript's): the runner says it in the log.
  assert.match(log, /usage: claude-\S+, 400 tokens in \(200 more from cache\), 80 out, 4 turns, \$\d+\.\d{4}/);
  assert.ok(!log.includes(API_KEY), 'the key is not in the log');
  // The transcript went out in batches the server's schema took (its storage comes later).
  assert.doesNotMatch(log, /transcript batch|takes no transcripts/);

  // Job created → first model request, a few times, against the same CLI started by hand in the same sandbox.
  const viaJobs = [first.at - created];
  for (let i = 0; i < 2; i++) {
    const before = model.conversation().length;
    const run = await runAgentJob(server, repo.id, `Again ${i}`);
    assert.equal(run.job.status, 'succeeded');
    viaJobs.push(model.conversation()[before]!.at - run.created);
  }
  const byHand = await startedByHand(t, model, dir, deadPort);
  t.diagnostic(`job created → first model request: median ${median(viaJobs)} ms of ${viaJobs.join(', ')}`);
  t.diagnostic(`claude started by hand in the same sandbox → first model request: median ${median(byHand)} ms of ${byHand.join(', ')}`);

  // An API that cannot be reached: the job fails within seconds, with claude's own words.
  process.env.ANTHROPIC_BASE_URL = `http://127.0.0.1:${deadPort}`;
  const started = Date.now();
  const { job: failed } = await runAgentJob(server, repo.id, 'Nobody answers');
  const took = Date.now() - started;
  assert.equal(failed.status, 'failed');
  assert.match(failed.error ?? '', /^API Error: /, `claude's reason is the error: ${failed.error}`);
  assert.ok(!(failed.error ?? '').includes('\n'), 'in one line');
  assert.ok(took < 20_000, `failed after ${took} ms`);
  t.diagnostic(`unreachable API: failed after ${took} ms: ${failed.error}`);
});

/** Runs claude by hand in the runner's sandbox and job network, a few times: spawn → first model request (ms). */
async function startedByHand(t: TestContext, model: AnthropicServer, dir: string, deadPort: number): Promise<number[]> {
  const network = JobNetwork.locate([model.port, deadPort]) as JobNetwork;
  const sandbox = new Sandbox({ hide: [], share: [PACKAGE_DIR], network });
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const ws = tempDir(t, 'lazyaf-by-hand-');
    const home = path.join(dir, `home-${i}`);
    fs.mkdirSync(home);
    await git(['init', '-q', ws]);
    fs.writeFileSync(path.join(ws, 'README.md'), '# demo\n');
    const launch = claude.launch({
      prompt: 'Say hello',
      promptFile: '',
      home,
      workspace: ws,
      model: null,
      resumeSessionId: null,
      credentials: { ANTHROPIC_API_KEY: API_KEY, ANTHROPIC_BASE_URL: model.url },
    });
    const before = model.conversation().length;
    const started = Date.now();
    const result = await runCommand({
      command: sandbox.wrap(launch.argv, { workspace: ws, network: true, home }),
      cwd: ws,
      env: { PATH: process.env.PATH, ...launch.env, HOME: home },
      timeoutMs: 60_000,
      output: new PassThrough().resume(),
      stdin: launch.stdin,
    });
    assert.equal(result.exitCode, 0);
    times.push(model.conversation()[before]!.at - started);
  }
  return times;
}
