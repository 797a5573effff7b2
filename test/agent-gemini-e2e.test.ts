// Gemini CLI for real, as lazyaf jobs: the pinned CLI (npm install --prefix) on a runner as root,
// in the bubblewrap sandbox on the job's own network, against the scripted Gemini API
// (test/agents/gemini-server.ts), the only fake. One server and runner for the file: each job
// is seconds of a 2-core machine.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { COLOUR_CONVERSATION, COLOUR_FILES, defaultGeminiScript, startGeminiServer } from './agents/gemini-server.js';
import { closedPort } from './agents/scripted-server.js';
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
import { logOf } from './queue-helpers.js';

const KEY = 'gemini-e2e-key-0c7f3a91d5';
const CONVERSATION = COLOUR_CONVERSATION;

/** The text the model was sent in a request's contents. */
function sentText(body: unknown): string {
  const contents = (body as { contents?: { parts?: { text?: string }[] }[] }).contents ?? [];
  return contents.flatMap((c) => (c.parts ?? []).map((p) => p.text ?? '')).join('\n');
}

test('gemini as a job: its edit on the branch, its transcript and usage; no credential leaks; an unreachable API or no key fails it in seconds with its reason', async (t) => {
  if (!jobNetworkOrSkip(t, 'gemini')) return;
  const model = await startGeminiServer({ script: defaultGeminiScript(CONVERSATION) });
  t.after(() => model.close());
  const idle = await startGeminiServer({ script: [{ parts: [{ text: 'Nothing to change.' }] }] });
  t.after(() => idle.close());
  const deadPort = await closedPort();
  const stack = await startAgentStack(t, 'gemini', {
    hostPorts: [model.port, idle.port, deadPort],
    files: COLOUR_FILES,
    serverEnv: { LAZYAF_AGENT_MODELS: 'gemini=gemini-2.5-pro' },
  });
  const { server } = stack;
  await setSecret(server, 'GEMINI_API_KEY', KEY);
  await setSecret(server, 'GOOGLE_GEMINI_BASE_URL', model.url);

  const { job } = await runTimedJob(stack, { title: 'Make it blue', description: 'Do what notes.txt says.', agent: 'gemini' });
  const log = await logOf(server, job.id);
  assert.equal(job.status, 'succeeded', `the job failed: ${job.error}\n${log}`);
  const first = model.chatRequests()[0];
  assert.ok(first, 'gemini asked the model');
  assert.match(sentText(first.body), /# Task: Make it blue/, 'the first model request carries the prompt');
  assert.equal(first.headers['x-goog-api-key'], KEY, "the server's key reached gemini");
  assert.equal(first.model, 'gemini-2.5-pro', "the server's default model for gemini");
  const clone = await cloneBranch(stack, job);
  assert.equal(fs.readFileSync(path.join(clone, 'src/app.txt'), 'utf8'), 'name = "app"\ncolour = "blue"\n');

  const { entries } = await transcriptOf(server, job.id);
  assert.ok(
    entries.some((e) => e.type === 'message' && e.role === 'assistant' && e.text === CONVERSATION.answer),
    JSON.stringify(entries),
  );
  assert.ok(entries.some((e) => e.type === 'tool' && e.kind === 'file_edit' && e.path === 'src/app.txt' && e.status === 'ok'));
  assert.ok(entries.some((e) => e.type === 'tool' && e.kind === 'command' && e.command === CONVERSATION.command && e.exit_code === 1));
  assert.ok(job.usage && job.usage.input_tokens > 0 && job.usage.output_tokens > 0, JSON.stringify(job.usage));

  await assertNothingLeaked(stack, job, [KEY]);
  await assertShellJobSeesNone(stack, [KEY]);

  // A model asked for by the job; an answer without changes.
  await setSecret(server, 'GOOGLE_GEMINI_BASE_URL', idle.url);
  await runQuietJob(stack, { title: 'Nothing', agent: 'gemini', model: 'gemini-2.5-flash' });
  assert.equal(idle.chatRequests()[0]?.model, 'gemini-2.5-flash', 'the job’s model reached gemini');

  // Nobody listens at the API's address.
  await setSecret(server, 'GOOGLE_GEMINI_BASE_URL', `http://127.0.0.1:${deadPort}`);
  await assertFailsFast(t, stack, 'unreachable API', { title: 'Nobody answers', agent: 'gemini' }, /fetch failed/);

  // No key at all: the CLI would ask for a Google login, which a headless run cannot give.
  await setSecret(server, 'GOOGLE_GEMINI_BASE_URL', model.url);
  await setSecret(server, 'GEMINI_API_KEY', null);
  const asked = model.requests.length;
  await assertFailsFast(t, stack, 'no key', { title: 'No key', agent: 'gemini' }, /Manual authorization is required/);
  assert.equal(model.requests.length, asked, 'no request without a key');
});
