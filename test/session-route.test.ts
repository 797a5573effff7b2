// The session route of the runner protocol, spoken by hand: an attempt uploads its agent's session
// files (capped, a gzipped tar), its follow-up's assignment names them with a summary of the
// conversation, and only the follow-up's own job token fetches them.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';
import type { Job } from '../src/shared/api.js';
import { MAX_PARENT_SUMMARY_BYTES, MAX_SESSION_BYTES, RunnerRoutes, type Assignment } from '../src/shared/protocol.js';
import { api, authUrl, git, startTestServer, tempDir, type TestServer } from './helpers.js';
import { poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

async function put(server: TestServer, attemptId: string, token: string, body: Buffer, type = 'application/gzip') {
  const res = await fetch(server.url + RunnerRoutes.session(attemptId), {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': type },
    body,
  }).catch((err: Error) => ({ status: 0, err }));
  return res.status;
}

async function get(server: TestServer, attemptId: string, token: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(server.url + RunnerRoutes.session(attemptId), { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

const DEFAULT_TRANSCRIPT: object[] = [
  { type: 'message', role: 'assistant', text: 'I will write hello.txt.' },
  { type: 'tool', tool: 'Write', kind: 'file_edit', path: 'hello.txt', status: 'ok' },
  { type: 'tool', tool: 'Bash', kind: 'command', command: 'echo ran > ran.txt', exit_code: 0, status: 'ok' },
  { type: 'result', text: 'I wrote hello.txt and ran.txt.', status: 'ok' },
];

/** Does what a runner does for an agent job that edited a file: pushes a commit to its branch, sends a transcript, completes with a session id. */
async function finishAsAgent(server: TestServer, a: Assignment, dir: string, sessionId: string, transcript = DEFAULT_TRANSCRIPT): Promise<void> {
  const clone = path.join(dir, `clone-${a.attempt_id}`);
  await git(['clone', '-q', '--branch', a.base_branch, authUrl(a.clone_url, a.job_token), clone]);
  fs.writeFileSync(path.join(clone, 'hello.txt'), 'hello\n');
  await git(['add', '.'], clone);
  await git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'hello.txt'], clone);
  await git(['push', '-q', 'origin', `HEAD:refs/heads/${a.branch}`], clone);
  const commit = await git(['rev-parse', 'HEAD'], clone);
  // In batches of the most the protocol takes.
  for (let seq = 1; (seq - 1) * 200 < transcript.length; seq++) {
    const entries = transcript.slice((seq - 1) * 200, seq * 200);
    const batch = await api(server, 'POST', RunnerRoutes.transcript(a.attempt_id), { seq, entries }, { token: a.job_token });
    assert.equal(batch.status, 200, JSON.stringify(batch.body));
  }
  const done = await api(
    server,
    'POST',
    RunnerRoutes.complete(a.attempt_id),
    { outcome: 'succeeded', exit_code: 0, commit, session_id: sessionId },
    { token: a.job_token },
  );
  assert.equal(done.status, 200, JSON.stringify(done.body));
}

test('session files: uploaded capped with the job token, named by the follow-up that resumes them, fetched only with its token; deleted with the repo', async (t) => {
  const server = (await startTestServer(t)) as TestServer;
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  const runner = await registerRunner(server, 'r1', [], ['claude']);
  const parent = await submit(server, { repo_id: repo.id, title: 'First', agent: 'claude' });
  const a1 = (await poll(server, runner.token))!;
  assert.equal(a1.agent_run?.resume, null);
  assert.equal(a1.agent_run?.parent_conversation, undefined, 'a first job continues nothing');

  const archive = zlib.gzipSync(Buffer.from('a tarball, as far as the server cares'));
  assert.equal(await put(server, a1.attempt_id, 'lzjob-not-a-token', archive), 401);
  assert.equal(await put(server, a1.attempt_id, a1.job_token, Buffer.from('{}'), 'application/json'), 400, 'not gzip');
  assert.equal(await put(server, a1.attempt_id, a1.job_token, Buffer.alloc(MAX_SESSION_BYTES + 1, 0x1f)), 413);
  assert.equal(await put(server, a1.attempt_id, a1.job_token, archive), 204);
  const stored = path.join(server.dataDir, 'sessions', repo.id, `${a1.attempt_id}.tgz`);
  assert.deepEqual(fs.readFileSync(stored), archive, 'a file per attempt in the data dir');
  await finishAsAgent(server, a1, dir, 'sess-1');

  // An unrelated live job, whose token must not reach the parent's files.
  const other = await submit(server, { repo_id: repo.id, title: 'Other', command: 'true' });
  const ao = (await poll(server, runner.token))!;
  assert.equal(ao.job_id, other.id);

  const follow = (await api<Job>(server, 'POST', `/api/jobs/${parent.id}/followup`, { title: 'Second', agent: 'claude' })).body;
  const a2 = (await poll(server, runner.token))!;
  assert.equal(a2.job_id, follow.id);
  assert.deepEqual(a2.agent_run?.resume, { session_id: 'sess-1', attempt_id: a1.attempt_id });
  const summary = a2.agent_run?.parent_conversation?.summary ?? '';
  assert.match(summary, /^# The conversation so far/);
  assert.match(summary, /- assistant: I will write hello\.txt\./);
  assert.match(summary, /- tool Bash echo ran > ran\.txt \(exit 0\)/);
  assert.equal(a2.agent_run?.parent_conversation?.unavailable, null);

  const fetched = await get(server, a1.attempt_id, a2.job_token);
  assert.equal(fetched.status, 200);
  assert.deepEqual(fetched.body, archive);
  assert.equal((await get(server, a1.attempt_id, ao.job_token)).status, 403, "another live job's token");
  assert.equal((await get(server, a1.attempt_id, a1.job_token)).status, 409, "the parent's own token, its attempt over");
  assert.equal((await get(server, a2.attempt_id, a2.job_token)).status, 403, 'an attempt its assignment did not name');
  assert.equal((await get(server, a1.attempt_id, 'lzjob-nothing')).status, 401);

  // --fresh: a new conversation, nothing to resume and no summary.
  const fresh = (await api<Job>(server, 'POST', `/api/jobs/${parent.id}/followup`, { title: 'Fresh', agent: 'claude', fresh: true })).body;
  await api(server, 'POST', RunnerRoutes.complete(a2.attempt_id), { outcome: 'failed', exit_code: 1 }, { token: a2.job_token });
  await api(server, 'POST', RunnerRoutes.complete(ao.attempt_id), { outcome: 'failed', exit_code: 1 }, { token: ao.job_token });
  const a3 = (await poll(server, runner.token))!;
  assert.equal(a3.job_id, fresh.id);
  assert.equal(a3.agent_run?.resume, null);
  assert.equal(a3.agent_run?.parent_conversation, undefined);
  await api(server, 'POST', RunnerRoutes.complete(a3.attempt_id), { outcome: 'failed', exit_code: 1 }, { token: a3.job_token });

  // The files gone: the follow-up is told why, and gets the summary.
  fs.rmSync(stored);
  await api(server, 'POST', `/api/jobs/${parent.id}/followup`, { title: 'Third', agent: 'claude' });
  const a4 = (await poll(server, runner.token))!;
  assert.equal(a4.agent_run?.resume, null);
  assert.match(a4.agent_run?.parent_conversation?.unavailable ?? '', /session files of job \w{8} were not kept/);
  assert.match(a4.agent_run?.parent_conversation?.summary ?? '', /I wrote hello\.txt/);
  await api(server, 'POST', RunnerRoutes.complete(a4.attempt_id), { outcome: 'failed', exit_code: 1 }, { token: a4.job_token });

  // Deleting the repo deletes its jobs, and their session files.
  assert.equal(await put(server, a4.attempt_id, a4.job_token, archive), 409, 'an ended attempt takes no files');
  fs.writeFileSync(stored, archive);
  assert.equal((await api(server, 'DELETE', `/api/repos/${repo.id}`)).status, 204);
  assert.ok(!fs.existsSync(path.dirname(stored)), 'the repo’s session files are gone');
});

test("a follow-up of a long run is told its start and its end: the summary reads the transcript's two ends, not all of it", async (t) => {
  const server = (await startTestServer(t)) as TestServer;
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r1', [], ['claude']);
  const parent = await submit(server, { repo_id: repo.id, title: 'Long', agent: 'claude' });
  const a1 = (await poll(server, runner.token))!;
  // 3,000 entries: the task, thinking the summary leaves out, and numbered steps.
  const entries = [
    { type: 'message', role: 'user', text: 'the task: count to 2998' },
    ...Array.from({ length: 2999 }, (_, i) =>
      i % 3 === 0 ? { type: 'thinking', text: `thought ${i}` } : { type: 'message', role: 'assistant', text: `step ${i}` },
    ),
  ];
  await finishAsAgent(server, a1, tempDir(t), 'sess-long', entries);

  const follow = await api(server, 'POST', `/api/jobs/${parent.id}/followup`, { title: 'Next', agent: 'claude' });
  assert.equal(follow.status, 201, JSON.stringify(follow.body));
  const a2 = (await poll(server, runner.token))!;
  const summary = a2.agent_run?.parent_conversation?.summary ?? '';
  const lines = summary.split('\n');
  assert.equal(lines[2], '- user: the task: count to 2998');
  assert.equal(lines.at(-1), '- assistant: step 2998', 'its last line is the run’s last');
  const shown = lines.filter((l) => /^- assistant: step \d+$/.test(l)).map((l) => Number(l.split(' ').at(-1)));
  const steps = Array.from({ length: 2999 }, (_, i) => i).filter((i) => i % 3 !== 0);
  assert.deepEqual(shown, steps.slice(-shown.length), 'the latest steps, in order, none missing');
  assert.ok(shown.length > 300, `as many as fit: ${shown.length}`);
  // Step i is entry i + 1 (the task is entry 0): every entry between the task and the first step shown is counted.
  assert.match(summary, new RegExp(`^- \\[${shown[0]} entries left out\\]$`, 'm'));
  assert.ok(Buffer.byteLength(summary) <= MAX_PARENT_SUMMARY_BYTES);
});
