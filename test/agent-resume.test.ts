// A follow-up continues Claude Code's conversation on another runner: the real CLI (npm install
// --prefix) on two sandboxed root runners with their own work dirs, against the scripted Anthropic
// API, which records what each model request carries. Also: --fresh, a parent whose session files
// are gone, and the login file the agent refreshes (nothing else of its HOME goes back).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { JobNetwork } from '../src/runner/job-network.js';
import type { Job } from '../src/shared/api.js';
import { agentCliBinDir } from '../scripts/agent-clis.js';
import { defaultScript, startAnthropicServer, userText, type AnthropicServer, type RecordedRequest } from './agents/anthropic-server.js';
import { api, setEnv, startTestServer, tempDir, type TestServer } from './helpers.js';
import { inProcessRunners, logOf, seedRepo, submit, waitForJob } from './queue-helpers.js';
import { tarball } from './session-helpers.js';

const BIN_DIR = agentCliBinDir('claude');
const PACKAGE_DIR = path.dirname(path.dirname(fs.realpathSync(path.join(BIN_DIR, 'claude'))));
const LAST_WORDS = 'I wrote hello.txt and ran.txt.';

function canRun(t: TestContext): boolean {
  const network = JobNetwork.locate([]);
  if (process.getuid?.() === 0 && !('problem' in network)) return true;
  if (process.env.CI) throw new Error('claude in the sandbox needs root and a job network');
  t.skip('claude in the sandbox needs root and a job network');
  return false;
}

interface Setup {
  server: TestServer;
  model: AnthropicServer;
  repoId: string;
  runners: ReturnType<ReturnType<typeof inProcessRunners>>[];
}

/** A server, the scripted API, the repo, and runners `a` and `b` (each with its own label and work dir). */
async function setup(t: TestContext, script = defaultScript()): Promise<Setup> {
  const runnerFor = inProcessRunners(t);
  const model = await startAnthropicServer({ script });
  t.after(() => model.close());
  setEnv(t, { PATH: `${process.env.PATH}:${BIN_DIR}`, ANTHROPIC_API_KEY: 'sk-ant-resume', ANTHROPIC_BASE_URL: model.url });
  const server = (await startTestServer(t, { LAZYAF_JOB_HOST_PORTS: String(model.port) })) as TestServer;
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'), 'demo', { 'README.md': '# demo\n' });
  const runners = ['a', 'b'].map((name) =>
    runnerFor(server, `runner-${name}`, { labels: [name], sandbox: 'require', sandboxShare: [PACKAGE_DIR], jobHostPorts: [model.port], killGraceMs: 1000 }),
  );
  await Promise.all(runners.map((r) => r.registered));
  return { server, model, repoId: repo.id, runners };
}

async function finished(server: TestServer, job: Job): Promise<{ job: Job; log: string }> {
  const done = await waitForJob(server, job.id, undefined, 90_000);
  const log = await logOf(server, job.id);
  return { job: done, log };
}

async function followUp(s: Setup, parent: Job, body: Record<string, unknown>): Promise<{ job: Job; log: string; first: RecordedRequest }> {
  const before = s.model.conversation().length;
  const r = await api<Job>(s.server, 'POST', `/api/jobs/${parent.id}/followup`, { title: 'Now say goodbye', agent: 'claude', labels: ['b'], ...body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const result = await finished(s.server, r.body);
  assert.equal(result.job.status, 'succeeded', `${result.job.error}\n${result.log}`);
  return { ...result, first: s.model.conversation()[before]! };
}

/** The assistant's turns a model request carries: the conversation it continues. */
function assistantTurns(request: RecordedRequest): string {
  const messages = (request.body as { messages?: { role?: string; content?: unknown }[] }).messages ?? [];
  return JSON.stringify(messages.filter((m) => m.role === 'assistant'));
}

test('claude: a follow-up on another runner resumes the conversation; --fresh starts a new one; without session files it starts afresh with a summary', async (t) => {
  if (!canRun(t)) return;
  const s = await setup(t);
  const first = await submit(s.server, { repo_id: s.repoId, title: 'Say hello', description: 'Write hello.txt.', agent: 'claude', labels: ['a'] });
  const parent = await finished(s.server, first);
  assert.equal(parent.job.status, 'succeeded', `${parent.job.error}\n${parent.log}`);
  assert.doesNotMatch(parent.log, /session is not kept/);
  assert.ok(
    s.runners[0]!.lines.some((l) => l.includes(first.id.slice(0, 8))),
    'the first job ran on runner a',
  );
  const kept = fs.statSync(path.join(s.server.dataDir, 'sessions', s.repoId, `${parent.job.attempts!.at(-1)!.id}.tgz`)).size;
  t.diagnostic(`claude's session files after a 4-turn conversation: ${kept} bytes gzipped`);

  // On runner b, whose work dir (and so the checkout's path, where Claude Code files its sessions) differs.
  const resumedAt = Date.now();
  const resumed = await followUp(s, parent.job, {});
  t.diagnostic(`follow-up created → its first model request (resumed, on runner b): ${resumed.first.at - resumedAt} ms`);
  assert.ok(
    s.runners[1]!.lines.some((l) => l.includes(resumed.job.id.slice(0, 8))),
    'the follow-up ran on runner b',
  );
  assert.match(resumed.log, /resuming the parent job's conversation \(session [\w-]+\)/);
  const carried = assistantTurns(resumed.first);
  assert.ok(carried.includes(LAST_WORDS), `the first run's answer is in the follow-up's first request: ${carried.slice(0, 300)}`);
  assert.ok(carried.includes('"name":"Write"'), 'and its tool calls');
  assert.match(userText(resumed.first), /# Task: Say hello/, 'and its prompt');
  assert.match(userText(resumed.first), /# Task: Now say goodbye/, 'followed by the new one');

  // --fresh: nothing of the first conversation.
  const fresh = await followUp(s, parent.job, { fresh: true, title: 'Start over' });
  assert.equal(assistantTurns(fresh.first), '[]');
  assert.doesNotMatch(userText(fresh.first), /# Task: Say hello|The conversation so far/);
  assert.doesNotMatch(fresh.log, /resum/);

  // The parent's files gone from the server: one line says so, and the prompt has the summary.
  for (const f of fs.readdirSync(path.join(s.server.dataDir, 'sessions', s.repoId))) fs.rmSync(path.join(s.server.dataDir, 'sessions', s.repoId, f));
  const summarized = await followUp(s, parent.job, { title: 'Try again' });
  assert.match(
    summarized.log,
    /cannot resume the parent job's conversation: the session files of job \w{8} were not kept .*; the agent starts a new one with a summary of it in its prompt/,
  );
  assert.equal(assistantTurns(summarized.first), '[]', 'a new conversation');
  const prompt = userText(summarized.first);
  assert.match(prompt, /# Task: Try again[\s\S]*# The conversation so far/);
  assert.ok(prompt.includes(`- result (ok): ${LAST_WORDS}`), prompt.slice(-1500));
  assert.match(prompt, /- tool Write hello\.txt \(ok\)/);

  // A hostile archive where the parent's files were (a link to /etc/passwd, a name with ..): refused, said, the summary instead.
  const stored = path.join(s.server.dataDir, 'sessions', s.repoId, `${parent.job.attempts!.at(-1)!.id}.tgz`);
  const hostile = await tarball([
    { name: '1/passwd', type: 'symlink', linkname: '/etc/passwd' },
    { name: '1/../../../../escaped', content: 'x' },
  ]);
  const sessionId = /resuming the parent job's conversation \(session ([\w-]+)\)/.exec(resumed.log)![1]!;
  await restoreParentFiles(s, parent.job, stored, hostile, sessionId);
  const refused = await followUp(s, parent.job, { title: 'Hostile' });
  assert.match(
    refused.log,
    /cannot resume the parent job's conversation: its session files could not be restored \(an entry that is not a file or a folder \(symlink\)/,
  );
  assert.match(userText(refused.first), /# The conversation so far/);
  assert.equal(assistantTurns(refused.first), '[]');
  assert.ok(!fs.existsSync(path.join(s.runners[1]!.workdir, 'escaped')) && !fs.existsSync('/escaped'));

  // Files that restore but hold no conversation: claude says it found none, and runs again afresh with the summary.
  await restoreParentFiles(s, parent.job, stored, await tarball([{ name: '1/notes.txt', content: 'no conversation here' }]), sessionId);
  const retried = await followUp(s, parent.job, { title: 'Not found' });
  assert.match(retried.log, new RegExp(`claude did not find session ${sessionId} to resume; it starts a new conversation with a summary`));
  // The failed run asked the model nothing: the first request is the new conversation's.
  assert.equal(assistantTurns(retried.first), '[]');
  assert.match(userText(retried.first), /# Task: Not found[\s\S]*# The conversation so far/);
});

/** Puts `archive` where the server keeps the parent's session files, and makes its attempt name the session again. */
async function restoreParentFiles(s: Setup, parent: Job, stored: string, archive: Buffer, sessionId: string): Promise<void> {
  fs.writeFileSync(stored, archive);
  const attempt = parent.attempts!.at(-1)!.id;
  s.server.ctx.db.prepare('UPDATE attempts SET session_bytes = ?, session_id = ? WHERE id = ?').run(archive.length, sessionId, attempt);
}

test("claude: the login file the agent refreshed goes back to the runner's HOME; a settings file with a hook it wrote does not", async (t) => {
  if (!canRun(t)) return;
  const runnerHome = tempDir(t, 'lazyaf-runner-home-');
  const credentials = path.join(runnerHome, '.claude', '.credentials.json');
  const login = (token: string) => JSON.stringify({ claudeAiOauth: { accessToken: token, refreshToken: `${token}-refresh`, expiresAt: 4102444800000 } });
  fs.mkdirSync(path.dirname(credentials), { recursive: true });
  fs.writeFileSync(credentials, login('old-token'), { mode: 0o600 });
  setEnv(t, { HOME: runnerHome });
  const hook = JSON.stringify({ hooks: { SessionStart: [{ hooks: [{ type: 'command', command: 'touch /tmp/lazyaf-planted' }] }] } });
  const command = [
    `printf '%s' '${login('new-token')}' > ~/.claude/.credentials.json`,
    `printf '%s' '${hook}' > ~/.claude/settings.json`,
    'echo hi > ~/.claude/CLAUDE.md',
  ].join(' && ');
  const s = await setup(t, [
    [{ type: 'tool_use', name: 'Bash', input: { command, description: 'Refresh the login' } }],
    [{ type: 'text', text: 'Refreshed.' }],
  ]);
  const job = await finished(s.server, await submit(s.server, { repo_id: s.repoId, title: 'Refresh', agent: 'claude', labels: ['a'] }));
  assert.equal(job.job.status, 'succeeded', `${job.job.error}\n${job.log}`);
  assert.match(job.log, /the agent refreshed its login: ~\/\.claude\/\.credentials\.json written back to the runner's HOME/);
  assert.equal(fs.readFileSync(credentials, 'utf8'), login('new-token'));
  assert.equal(fs.statSync(credentials).mode & 0o777, 0o600);
  assert.deepEqual(fs.readdirSync(path.join(runnerHome, '.claude')), ['.credentials.json'], 'nothing else the job wrote');
});
