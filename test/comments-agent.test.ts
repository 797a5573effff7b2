// Review comments reach the agent: the real Claude Code CLI (npm install --prefix) on a sandboxed
// root runner against the scripted Anthropic API, which records what each model request carries.
// The comments are sent as one follow-up that resumes the parent's conversation; its first model
// request is the evidence (the parent's turns, then the comments with their file, line and code),
// and once it has finished, the comment whose line it rewrote is marked touched.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { agentCliBinDir } from '../scripts/agent-clis.js';
import type { Comment, CommentList, Job } from '../src/shared/api.js';
import { defaultScript, startAnthropicServer, userText, type RecordedRequest } from './agents/anthropic-server.js';
import { jobNetworkOrSkip } from './agents/agent-jobs.js';
import { api, eventually, setEnv, startTestServer, tempDir } from './helpers.js';
import { inProcessRunners, logOf, seedRepo, submit, waitForJob } from './queue-helpers.js';

const BIN_DIR = agentCliBinDir('claude');
const PACKAGE_DIR = path.dirname(path.dirname(fs.realpathSync(path.join(BIN_DIR, 'claude'))));
const LAST_WORDS = 'I wrote hello.txt and ran.txt.';

/** The assistant's turns a model request carries: the conversation it continues. */
function assistantTurns(request: RecordedRequest): string {
  const messages = (request.body as { messages?: { role?: string; content?: unknown }[] }).messages ?? [];
  return JSON.stringify(messages.filter((m) => m.role === 'assistant'));
}

test("claude: the comments sent reach the follow-up's prompt with their file, line and code, in the resumed conversation; the line it rewrote is touched", async (t) => {
  if (!jobNetworkOrSkip(t, 'claude')) return;
  // The parent's four turns (hello.txt, ran.txt), then the follow-up's: it rewrites hello.txt and answers.
  const script = [
    ...defaultScript(),
    [{ type: 'tool_use' as const, name: 'Write', input: { file_path: 'hello.txt', content: 'HELLO FROM CLAUDE\n' } }],
    [{ type: 'text' as const, text: 'Louder now; ran.txt stays.' }],
  ];
  const model = await startAnthropicServer({ script });
  t.after(() => model.close());
  setEnv(t, { PATH: `${process.env.PATH}:${BIN_DIR}`, ANTHROPIC_API_KEY: 'sk-ant-comments', ANTHROPIC_BASE_URL: model.url });
  const server = await startTestServer(t, { LAZYAF_JOB_HOST_PORTS: String(model.port) });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'), 'demo', { 'README.md': '# demo\n' });
  const runner = inProcessRunners(t)(server, 'runner', { sandbox: 'require', sandboxShare: [PACKAGE_DIR], jobHostPorts: [model.port], killGraceMs: 1000 });
  await runner.registered;

  const first = await submit(server, { repo_id: repo.id, title: 'Say hello', description: 'Write hello.txt.', agent: 'claude' });
  const parent = await waitForJob(server, first.id, undefined, 90_000);
  assert.equal(parent.status, 'succeeded', `${parent.error}\n${await logOf(server, parent.id)}`);

  const add = async (file: string, body: string): Promise<Comment> => {
    const r = await api<Comment>(server, 'POST', `/api/jobs/${parent.id}/comments`, { path: file, line: 1, body });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body;
  };
  const loud = await add('hello.txt', 'Say it louder.');
  const keep = await add('ran.txt', 'Keep this one as it is.');

  const before = model.conversation().length;
  const sent = await api<Job>(server, 'POST', `/api/jobs/${parent.id}/comments/send`, {});
  assert.equal(sent.status, 201, JSON.stringify(sent.body));
  const followup = await waitForJob(server, sent.body.id, undefined, 90_000);
  const log = await logOf(server, followup.id);
  assert.equal(followup.status, 'succeeded', `${followup.error}\n${log}`);
  assert.equal(followup.parent_job_id, parent.id);
  assert.equal(followup.agent, 'claude');

  // Resumed: the follow-up's first model request carries the parent's conversation, then the review.
  assert.match(log, /resuming the parent job's conversation \(session [\w-]+\)/);
  const request = model.conversation()[before]!;
  assert.ok(assistantTurns(request).includes(LAST_WORDS), `the parent's answer is in the follow-up's first request: ${assistantTurns(request).slice(0, 300)}`);
  const prompt = userText(request);
  assert.match(prompt, /# Task: Say hello[\s\S]*# Task: Address 2 review comments on job/);
  assert.ok(prompt.includes('## 1. `hello.txt`, line 1 (as the job left it)\n\n```\n>1 | hello from claude\n```\n\nSay it louder.'), prompt.slice(-1500));
  assert.ok(prompt.includes('## 2. `ran.txt`, line 1 (as the job left it)\n\n```\n>1 | ran\n```\n\nKeep this one as it is.'), prompt.slice(-1500));

  // The follow-up rewrote hello.txt's line: that comment is touched, the other is not.
  const comments = await eventually('the touches recorded', async () => {
    const list = (await api<CommentList>(server, 'GET', `/api/jobs/${parent.id}/comments`)).body.comments;
    return list.some((c) => c.touched_by_job_id) && list;
  });
  assert.equal(comments.find((c) => c.id === loud.id)!.touched_by_job_id, followup.id);
  assert.equal(comments.find((c) => c.id === keep.id)!.touched_by_job_id, null);
  assert.ok(
    comments.every((c) => c.sent_in_job_id === followup.id && c.resolved_at === null),
    'sent, and still on the diff until resolved',
  );
});
