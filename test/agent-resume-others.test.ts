// A follow-up continues codex's and gemini's conversation on another runner: the real CLIs (npm
// install --prefix) on two sandboxed root runners with their own labels and work dirs, against
// the scripted APIs, which record what each model request carries. The follow-up by the same agent
// runs on runner b; its first model request holds the first job's prompt and answer. With --fresh
// it holds neither. (Claude's: agent-resume.test.ts.)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { TestedAgent } from '../src/shared/agents/versions.js';
import type { Job } from '../src/shared/api.js';
import { agentCliBinDir } from '../scripts/agent-clis.js';
import { jobNetworkOrSkip, setSecret } from './agents/agent-jobs.js';
import { COLOUR_CONVERSATION, COLOUR_FILES, defaultGeminiScript, startGeminiServer } from './agents/gemini-server.js';
import { CLASSIC_CODEX_SCRIPT, startOpenAIServer } from './agents/openai-server.js';
import { api, setEnv, startTestServer, tempDir, type TestServer } from './helpers.js';
import { inProcessRunners, logOf, seedRepo, submit, waitForJob, type InProcessRunner } from './queue-helpers.js';

/** What the test needs of one agent's scripted API: its port, and the text of each chat request so far. */
interface ModelApi {
  port: number;
  /** The text each model request (a chat turn) carried, in order. */
  requests(): string[];
}

interface Case {
  agent: TestedAgent;
  files: Record<string, string>;
  /** The server's env (the default model) and the secrets that point the agent at `model`. */
  serverEnv: NodeJS.ProcessEnv;
  start(t: TestContext): Promise<{ model: ModelApi; secrets: Record<string, string> }>;
  /** The first job's closing answer: a follow-up that resumes sends it back to the model. */
  answer: string;
}

const CASES: Case[] = [
  {
    agent: 'codex',
    files: { 'README.md': 'Change hello.txt\n', 'hello.txt': 'hello\n' },
    serverEnv: { LAZYAF_AGENT_MODELS: 'codex=gpt-5.5' },
    async start(t) {
      // Past the script's end the last turn (the answer) repeats: each follow-up just answers.
      const server = await startOpenAIServer({ script: CLASSIC_CODEX_SCRIPT });
      t.after(() => server.close());
      const model = { port: server.port, requests: () => server.requests.map((r) => r.body) };
      return { model, secrets: { OPENAI_API_KEY: 'sk-test-codex-resume', OPENAI_BASE_URL: server.baseUrl } };
    },
    answer: 'I changed hello.txt as the README asks.',
  },
  {
    agent: 'gemini',
    files: COLOUR_FILES,
    serverEnv: { LAZYAF_AGENT_MODELS: 'gemini=gemini-2.5-pro' },
    async start(t) {
      // Once the script is spent the server closes each turn with a short answer.
      const server = await startGeminiServer({ script: defaultGeminiScript(COLOUR_CONVERSATION) });
      t.after(() => server.close());
      const model = { port: server.port, requests: () => server.chatRequests().map((r) => JSON.stringify(r.body)) };
      return { model, secrets: { GEMINI_API_KEY: 'gemini-resume-key', GOOGLE_GEMINI_BASE_URL: server.url } };
    },
    answer: COLOUR_CONVERSATION.answer,
  },
];

interface Setup {
  server: TestServer;
  model: ModelApi;
  runners: InProcessRunner[];
  repoId: string;
}

/** A server, the agent's scripted API, the repo, and runners `a` and `b` (each with its own label and work dir). */
async function setup(t: TestContext, c: Case): Promise<Setup> {
  const runnerFor = inProcessRunners(t);
  const { model, secrets } = await c.start(t);
  setEnv(t, { PATH: `${process.env.PATH}:${agentCliBinDir(c.agent)}` });
  const server = await startTestServer(t, { LAZYAF_JOB_HOST_PORTS: String(model.port), ...c.serverEnv });
  for (const [name, value] of Object.entries(secrets)) await setSecret(server, name, value);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'), 'demo', c.files);
  const runners = ['a', 'b'].map((name) =>
    runnerFor(server, `${c.agent}-${name}`, { labels: [name], sandbox: 'require', jobHostPorts: [model.port], killGraceMs: 1000 }),
  );
  await Promise.all(runners.map((r) => r.registered));
  return { server, model, runners, repoId: repo.id };
}

/** Waits for `job`, which must succeed, and returns it with its log and the first model request it made. */
async function succeeded(s: Setup, job: Job, before: number): Promise<{ job: Job; log: string; first: string }> {
  const done = await waitForJob(s.server, job.id, undefined, 60_000);
  const log = await logOf(s.server, job.id);
  assert.equal(done.status, 'succeeded', `${done.error}\n${log}`);
  const first = s.model.requests()[before];
  assert.ok(first !== undefined, `job ${job.id} asked the model nothing`);
  return { job: done, log, first };
}

async function followUp(s: Setup, c: Case, parent: Job, body: Record<string, unknown>): Promise<{ job: Job; log: string; first: string }> {
  const before = s.model.requests().length;
  const r = await api<Job>(s.server, 'POST', `/api/jobs/${parent.id}/followup`, { title: 'Now say goodbye', agent: c.agent, labels: ['b'], ...body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const result = await succeeded(s, r.body, before);
  assert.ok(
    s.runners[1]!.lines.some((l) => l.includes(r.body.id.slice(0, 8))),
    'the follow-up ran on runner b',
  );
  return result;
}

for (const c of CASES) {
  test(`${c.agent}: a follow-up on another runner resumes the conversation; --fresh starts a new one`, async (t) => {
    if (!jobNetworkOrSkip(t, c.agent)) return;
    const s = await setup(t, c);
    const parent = await succeeded(s, await submit(s.server, { repo_id: s.repoId, title: 'Say hello', agent: c.agent, labels: ['a'] }), 0);
    assert.ok(
      s.runners[0]!.lines.some((l) => l.includes(parent.job.id.slice(0, 8))),
      'the first job ran on runner a',
    );
    assert.doesNotMatch(parent.log, /session is not kept/);
    const kept = fs.statSync(path.join(s.server.dataDir, 'sessions', s.repoId, `${parent.job.attempts!.at(-1)!.id}.tgz`)).size;
    t.diagnostic(`${c.agent}'s session files after the first job: ${kept} bytes gzipped`);

    const started = Date.now();
    const resumed = await followUp(s, c, parent.job, {});
    t.diagnostic(`${c.agent}: resumed follow-up created → succeeded on runner b: ${Date.now() - started} ms`);
    assert.match(resumed.log, /resuming the parent job's conversation \(session [\w-]+\)/);
    assert.ok(resumed.first.includes(c.answer), `the first job's answer is in the follow-up's first request: ${resumed.first.slice(0, 400)}`);
    assert.match(resumed.first, /# Task: Say hello/, 'and its prompt');
    assert.match(resumed.first, /# Task: Now say goodbye/, 'and the new one');
    assert.doesNotMatch(resumed.first, /The conversation so far/, 'not a summary of it');

    const fresh = await followUp(s, c, parent.job, { fresh: true, title: 'Start over' });
    assert.doesNotMatch(fresh.log, /resum/);
    assert.ok(!fresh.first.includes(c.answer), 'nothing of the first conversation');
    assert.doesNotMatch(fresh.first, /# Task: Say hello|The conversation so far/);
    assert.match(fresh.first, /# Task: Start over/);
  });
}
