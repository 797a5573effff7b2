// Claude Code for real, as a lazyaf job: the pinned CLI (npm install --prefix) on a runner as root,
// in the bubblewrap sandbox on the job's own network, against the scripted Anthropic API
// (test/agents/anthropic-server.ts), the only fake. One server and runner for the file: each job
// is seconds of a 2-core machine.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { runCommand } from '../src/runner/execute.js';
import { JobNetwork } from '../src/runner/job-network.js';
import { Sandbox } from '../src/runner/sandbox.js';
import { claude } from '../src/shared/agents/claude.js';
import type { Job } from '../src/shared/api.js';
import { agentCliBinDir } from '../scripts/agent-clis.js';
import { median } from '../bench/lib/proc.js';
import {
  assertFailsFast,
  assertNothingLeaked,
  assertShellJobSeesNone,
  cloneBranch,
  jobNetworkOrSkip,
  runTimedJob,
  runQuietJob,
  startAgentStack,
  transcriptOf,
  type AgentStack,
} from './agents/agent-jobs.js';
import { startAnthropicServer, userText, type AnthropicServer } from './agents/anthropic-server.js';
import { closedPort } from './agents/scripted-server.js';
import { git, setEnv, tempDir } from './helpers.js';
import { logOf } from './queue-helpers.js';

const BIN_DIR = agentCliBinDir('claude');
// The CLI's package, where its bin's link leads: shown to claude started by hand (the runner shows it to its jobs itself).
const PACKAGE_DIR = path.dirname(path.dirname(fs.realpathSync(path.join(BIN_DIR, 'claude'))));
const API_KEY = 'sk-ant-test-e2e-key';

/** Submits a claude job and resolves with it finished, and when it was created (ms). */
async function runAgentJob(stack: AgentStack, title: string, extra: Record<string, unknown> = {}): Promise<{ job: Job; created: number; ms: number }> {
  return runTimedJob(stack, { title, description: 'Write hello.txt, then run a command.', agent: 'claude', ...extra });
}

test('claude as a job: its edit on the branch, its transcript and usage; no credential leaks; an unreachable API or no key fails it in seconds with its reason', async (t) => {
  if (!jobNetworkOrSkip(t, 'claude')) return;
  const model: AnthropicServer = await startAnthropicServer();
  t.after(() => model.close());
  const idle = await startAnthropicServer({ script: [[{ type: 'text', text: 'Nothing to change.' }]] });
  t.after(() => idle.close());
  const deadPort = await closedPort();
  // The server holds the credentials in its environment (this process's).
  setEnv(t, { ANTHROPIC_API_KEY: API_KEY, ANTHROPIC_BASE_URL: model.url });
  const stack = await startAgentStack(t, 'claude', {
    hostPorts: [model.port, idle.port, deadPort],
    files: { 'README.md': '# demo\nA demo repo.\n' },
    serverEnv: { LAZYAF_AGENT_MODELS: 'claude=claude-sonnet-4-5' },
  });
  const { server } = stack;

  const { job, created } = await runAgentJob(stack, 'Say hello');
  const log = await logOf(server, job.id);
  assert.equal(job.status, 'succeeded', `the job failed: ${job.error}\n${log}`);
  assert.ok(job.commit, 'the job committed its work');
  const first = model.conversation()[0]!;
  assert.ok(first, 'claude asked the model');
  assert.match(userText(first), /# Task: Say hello/, 'the first model request carries the prompt');
  assert.equal(first.headers['x-api-key'], API_KEY, "the server's key reached claude");
  assert.equal((first.body as { model?: string }).model, 'claude-sonnet-4-5', "the server's default model for claude");
  assert.equal(model.conversation().length, 4, 'read, write, command, answer');

  const clone = await cloneBranch(stack, job);
  assert.equal(fs.readFileSync(path.join(clone, 'hello.txt'), 'utf8'), 'hello from claude\n');
  assert.equal(fs.readFileSync(path.join(clone, 'ran.txt'), 'utf8'), 'ran\n', "claude's Bash tool ran in the checkout");
  assert.match(log, /usage: claude-\S+, 400 tokens in \(200 more from cache\), 80 out, 4 turns, \$\d+\.\d{4}/);
  assert.equal(job.usage?.input_tokens, 400);
  assert.ok((job.usage?.cost_usd ?? 0) > 0, 'claude reports a cost');
  const { entries } = await transcriptOf(server, job.id);
  assert.ok(
    entries.some((e) => e.type === 'message' && e.role === 'assistant' && e.text === 'I wrote hello.txt and ran.txt.'),
    JSON.stringify(entries),
  );
  assert.ok(entries.some((e) => e.type === 'tool' && e.kind === 'file_edit' && e.path === 'hello.txt' && e.status === 'ok'));
  assert.ok(entries.some((e) => e.type === 'tool' && e.kind === 'command' && /echo ran/.test(e.command ?? '') && e.exit_code === 0));

  await assertNothingLeaked(stack, job, [API_KEY]);
  await assertShellJobSeesNone(stack, [API_KEY]);

  // Job created → first model request, a few times, against the same CLI started by hand in the same sandbox.
  const viaJobs = [first.at - created];
  for (let i = 0; i < 2; i++) {
    const before = model.conversation().length;
    const run = await runAgentJob(stack, `Again ${i}`);
    assert.equal(run.job.status, 'succeeded');
    viaJobs.push(model.conversation()[before]!.at - run.created);
  }
  const byHand = await startedByHand(t, model, stack.dir, deadPort);
  t.diagnostic(`job created → first model request: median ${median(viaJobs)} ms of ${viaJobs.join(', ')}`);
  t.diagnostic(`claude started by hand in the same sandbox → first model request: median ${median(byHand)} ms of ${byHand.join(', ')}`);

  // A model asked for by the job; an answer without changes.
  process.env.ANTHROPIC_BASE_URL = idle.url;
  await runQuietJob(stack, { title: 'Nothing', agent: 'claude', model: 'claude-haiku-4-5' });
  assert.equal((idle.conversation()[0]?.body as { model?: string } | undefined)?.model, 'claude-haiku-4-5', 'the job’s model reached claude');

  // An API that cannot be reached.
  process.env.ANTHROPIC_BASE_URL = `http://127.0.0.1:${deadPort}`;
  await assertFailsFast(t, stack, 'unreachable API', { title: 'Nobody answers', agent: 'claude' }, /^API Error: /);

  // No key at all.
  process.env.ANTHROPIC_BASE_URL = model.url;
  delete process.env.ANTHROPIC_API_KEY;
  const asked = model.requests.length;
  await assertFailsFast(t, stack, 'no key', { title: 'No key', agent: 'claude' }, /Not logged in/);
  assert.equal(model.requests.length, asked, 'no request without a key');
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
