// Codex for real, as lazyaf jobs: the pinned CLI (npm install --prefix) on a runner as root, in
// the bubblewrap sandbox on the job's own network, against the scripted OpenAI Responses API
// (test/agents/openai-server.ts), the only fake. One server and runner for the file: each job
// is several seconds of a 2-core machine.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CLASSIC_CODEX_SCRIPT, startOpenAIServer } from './agents/openai-server.js';
import {
  assertNothingLeaked,
  assertShellJobSeesNone,
  cloneBranch,
  assertFailsFast,
  jobNetworkOrSkip,
  runTimedJob,
  runQuietJob,
  setSecret,
  startAgentStack,
  transcriptOf,
} from './agents/agent-jobs.js';
import { closedPort } from './agents/scripted-server.js';
import { cli } from './helpers.js';
import { logOf } from './queue-helpers.js';

const KEY = 'sk-test-codex-e2e-3b9d71c4a2';
const PROMPT_TITLE = 'Change hello';

test('codex as a job: its edit on the branch, its transcript and usage; no credential leaks; an unreachable API or no key fails it in seconds with its reason', async (t) => {
  if (!jobNetworkOrSkip(t, 'codex')) return;
  const model = await startOpenAIServer({ script: CLASSIC_CODEX_SCRIPT });
  t.after(() => model.close());
  const idle = await startOpenAIServer({ script: [{ items: [{ type: 'message', text: 'Nothing to change.' }] }] });
  t.after(() => idle.close());
  const deadPort = await closedPort();
  const stack = await startAgentStack(t, 'codex', {
    hostPorts: [model.port, idle.port, deadPort],
    files: { 'README.md': 'Change hello.txt\n', 'hello.txt': 'hello\n' },
    serverEnv: { LAZYAF_AGENT_MODELS: 'codex=gpt-5.5' },
  });
  const { server } = stack;
  await setSecret(server, 'OPENAI_API_KEY', KEY);
  await setSecret(server, 'OPENAI_BASE_URL', model.baseUrl);

  const { job } = await runTimedJob(stack, { title: PROMPT_TITLE, description: 'Do what README.md says.', agent: 'codex' });
  const log = await logOf(server, job.id);
  assert.equal(job.status, 'succeeded', `the job failed: ${job.error}\n${log}`);
  const first = model.requests[0];
  assert.ok(first, 'codex asked the model');
  assert.match(first.body, /# Task: Change hello/, 'the first model request carries the prompt');
  assert.equal(first.headers.authorization, `Bearer ${KEY}`, "the server's key reached codex");
  assert.equal(first.json?.model, 'gpt-5.5', "the server's default model for codex");
  const clone = await cloneBranch(stack, job);
  assert.equal(fs.readFileSync(path.join(clone, 'hello.txt'), 'utf8'), 'hello from codex\n');

  const { entries } = await transcriptOf(server, job.id);
  assert.ok(
    entries.some((e) => e.type === 'message' && e.role === 'assistant' && e.text === 'I changed hello.txt as the README asks.'),
    JSON.stringify(entries),
  );
  assert.ok(entries.some((e) => e.type === 'tool' && e.kind === 'file_edit' && e.path === 'hello.txt' && e.status === 'ok'));
  assert.ok(entries.some((e) => e.type === 'tool' && e.kind === 'command' && /git status --short/.test(e.command ?? '') && e.exit_code === 0));
  assert.ok(job.usage && job.usage.input_tokens + (job.usage.cache_read_tokens ?? 0) > 0 && job.usage.output_tokens > 0, JSON.stringify(job.usage));

  await assertNothingLeaked(stack, job, [KEY]);
  await assertShellJobSeesNone(stack, [KEY]);

  // A model asked for by the job; an answer without changes.
  await setSecret(server, 'OPENAI_BASE_URL', idle.baseUrl);
  const quiet = await runQuietJob(stack, { title: 'Nothing', agent: 'codex', model: 'gpt-5.4-mini' });
  assert.equal(idle.requests[0]?.json?.model, 'gpt-5.4-mini', 'the job’s model reached codex');
  const listed = await cli(['jobs', 'list'], { server });
  assert.match(listed.stdout, new RegExp(`^${quiet.id.slice(0, 8)} +succeeded, no changes `, 'm'), listed.stdout);
  assert.match(listed.stdout, new RegExp(`^${job.id.slice(0, 8)} +succeeded +lazyaf/`, 'm'), 'a job with changes is only succeeded');

  // Nobody listens at the API's address.
  await setSecret(server, 'OPENAI_BASE_URL', `http://127.0.0.1:${deadPort}/v1`);
  await assertFailsFast(t, stack, 'unreachable API', { title: 'Nobody answers', agent: 'codex' }, /error sending request|Connection failed/);

  // No key at all.
  await setSecret(server, 'OPENAI_BASE_URL', model.baseUrl);
  await setSecret(server, 'OPENAI_API_KEY', null);
  const asked = model.requests.length;
  await assertFailsFast(t, stack, 'no key', { title: 'No key', agent: 'codex' }, /Missing environment variable: `CODEX_API_KEY`/);
  assert.equal(model.requests.length, asked, 'no request without a key');
});
