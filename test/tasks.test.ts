import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Job, JobCompare, PickResult, Task, TaskCreated, TaskList } from '../src/shared/api.js';
import { api, authUrl, commitFiles, eventually, git, startTestServer, tempDir, type TestServer } from './helpers.js';
import { inProcessRunners, seedRepo, waitForJob } from './queue-helpers.js';

/** Three seconds, in days: discarded branches go while the test waits. */
const DISCARD_DAYS = String(3 / 86_400);

/** Each candidate writes its own job id, so every two of them differ in one line of one file. */
const COMMAND = 'echo "$LAZYAF_JOB_ID" > answer.txt';

async function getTask(server: TestServer, id: string): Promise<Task> {
  const r = await api<Task>(server, 'GET', `/api/tasks/${id}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

test('a task of three command jobs: three branches from one base commit, compared side by side; one picked, the others discarded and their branches deleted after their time', async (t) => {
  const start = inProcessRunners(t);
  const server = await startTestServer(t, { LAZYAF_DISCARD_DAYS: DISCARD_DAYS });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const bare = path.join(server.ctx.reposDir, `${repo.id}.git`);
  const main = await git(['rev-parse', 'refs/heads/main'], bare);
  for (const name of ['r1', 'r2', 'r3']) start(server, name);

  const created = await api<TaskCreated>(server, 'POST', '/api/tasks', { repo_id: repo.id, title: 'answer', command: COMMAND, count: 3 });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const { id: taskId, jobs } = created.body;
  assert.equal(jobs.length, 3);
  assert.ok(jobs.every((j) => j.task_id === taskId && j.choice === null && j.command === COMMAND));

  const done = await Promise.all(jobs.map((j) => waitForJob(server, j.id, undefined, 60_000)));
  assert.equal(new Set(done.map((j) => j.branch)).size, 3, 'each job its own branch');
  for (const job of done) {
    assert.equal(job.status, 'succeeded', job.error ?? '');
    assert.equal(job.base_commit, main, 'every candidate starts from the base commit');
    assert.equal(await git(['rev-parse', `refs/heads/${job.branch}`], bare), job.commit);
  }

  const task = await getTask(server, taskId.slice(0, 8));
  assert.equal(task.id, taskId, 'a task is found by a prefix of its id');
  assert.equal(task.status, 'finished');
  assert.equal(task.repo_name, 'demo');
  assert.deepEqual(
    task.jobs.map((c) => c.job.id),
    jobs.map((j) => j.id),
    'candidates in the order they were made',
  );
  for (const c of task.jobs) {
    assert.deepEqual(c.diff_stat, { files: 1, added: 1, removed: 0 });
    assert.ok(c.duration_ms !== null && c.duration_ms >= 0);
    assert.equal(c.choice, null);
    assert.equal(c.branch_expires_at, null);
  }
  const listed = await api<TaskList>(server, 'GET', `/api/tasks?repo_id=demo`);
  assert.equal(listed.status, 200);
  assert.equal(listed.body.total, 1);
  assert.equal(listed.body.tasks[0]!.id, taskId);

  // Two candidates compared: the one line each wrote.
  const [a, b, c] = done as [Job, Job, Job];
  const compared = await api<JobCompare>(server, 'GET', `/api/jobs/${a.id.slice(0, 8)}/compare/${b.id}`);
  assert.equal(compared.status, 200, JSON.stringify(compared.body));
  assert.equal(compared.body.commit, a.commit);
  assert.equal(compared.body.other_commit, b.commit);
  assert.deepEqual(
    compared.body.files.map((f) => [f.path, f.added, f.removed]),
    [['answer.txt', 1, 1]],
  );
  assert.match(compared.body.diff, new RegExp(`^-${a.id}$`, 'm'));
  assert.match(compared.body.diff, new RegExp(`^\\+${b.id}$`, 'm'));
  const statOnly = await api<JobCompare>(server, 'GET', `/api/jobs/${a.id}/compare/${b.id}?stat=true`);
  assert.equal(statOnly.body.diff, '');
  assert.equal(statOnly.body.files.length, 1);

  // The pick: one picked, the others discarded with their branches due; a second pick of another is refused.
  const picked = await api<PickResult>(server, 'POST', `/api/tasks/${taskId}/pick`, { job_id: b.id.slice(0, 6) });
  assert.equal(picked.status, 200, JSON.stringify(picked.body));
  assert.equal(picked.body.task.picked_job_id, b.id);
  assert.equal(picked.body.land, undefined);
  const choices = Object.fromEntries(picked.body.task.jobs.map((cand) => [cand.job.id, cand.choice]));
  assert.deepEqual(choices, { [a.id]: 'discarded', [b.id]: 'picked', [c.id]: 'discarded' });
  const discarded = picked.body.task.jobs.filter((cand) => cand.choice === 'discarded');
  assert.ok(discarded.every((cand) => cand.branch_expires_at !== null && Date.parse(cand.branch_expires_at) > Date.now() - 60_000));
  assert.equal(picked.body.task.jobs.find((cand) => cand.choice === 'picked')!.branch_expires_at, null);
  assert.equal((await api<Job>(server, 'GET', `/api/jobs/${a.id}`)).body.choice, 'discarded', "a job's view says its choice");

  const again = await api(server, 'POST', `/api/tasks/${taskId}/pick`, { job_id: b.id });
  assert.equal(again.status, 200, 'picking the same one again changes nothing');
  const other = await api<{ message: string }>(server, 'POST', `/api/tasks/${taskId}/pick`, { job_id: a.id });
  assert.equal(other.status, 409);
  assert.match(other.body.message, /has its pick already/);

  // After their time the discarded branches go; the picked one stays.
  const after = await eventually(
    'the discarded branches deleted',
    async () => {
      const now = await getTask(server, taskId);
      return now.jobs.every((cand) => cand.choice !== 'discarded' || cand.branch_deleted_at !== null) && now;
    },
    30_000,
  );
  const branches = (await git(['for-each-ref', '--format=%(refname:short)', 'refs/heads/'], bare)).split('\n');
  assert.deepEqual(branches.sort(), [b.branch!, 'main'].sort());
  assert.equal(after.jobs.find((cand) => cand.choice === 'picked')!.branch_deleted_at, null);
});

test('hostile task bodies and ids are refused with a 4xx, and nothing is stored', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const base = { repo_id: repo.id, title: 'x' };
  const refused: [string, unknown, number][] = [
    ['neither count nor agents', { ...base, command: 'true' }, 400],
    ['both', { ...base, command: 'true', count: 2, agents: ['claude'] }, 400],
    ['agents with a command', { ...base, command: 'true', agents: ['claude'] }, 400],
    ['agents with an agent', { ...base, agent: 'claude', agents: ['claude'] }, 400],
    ['agents naming the shell', { ...base, agents: ['shell'] }, 400],
    ['an unknown agent among known ones', { ...base, agents: ['claude', 'nosuchagent'] }, 400],
    ['an agent name that is a path', { ...base, agents: ['../../etc/passwd'] }, 400],
    ['count 0', { ...base, command: 'true', count: 0 }, 400],
    ['count past the cap', { ...base, command: 'true', count: 17 }, 400],
    ['count not a number', { ...base, command: 'true', count: 'many' }, 400],
    ['too many agents', { ...base, agents: Array.from({ length: 17 }, () => 'claude') }, 400],
    ['an unknown field', { ...base, command: 'true', count: 2, evil: true }, 400],
    ['count without a command or agent', { ...base, count: 2 }, 400],
    ['an unknown repo', { ...base, repo_id: 'nope', command: 'true', count: 2 }, 404],
    ['a missing base branch', { ...base, command: 'true', count: 2, base_branch: 'nope' }, 400],
    ['a malformed body', '{"repo_id":', 400],
    ['an array', '[1,2]', 400],
  ];
  for (const [what, body, status] of refused) {
    const r = await api(server, 'POST', '/api/tasks', body);
    assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
  }
  const tasks = await api<TaskList>(server, 'GET', '/api/tasks');
  assert.equal(tasks.body.total, 0, 'no task stored');
  assert.equal((await api<{ total: number }>(server, 'GET', '/api/jobs')).body.total, 0, 'no job stored');

  for (const id of ['nope', '../../etc/passwd', 'abc', '00000000-0000-0000-0000-000000000000', '%2e%2e']) {
    assert.equal((await api(server, 'GET', `/api/tasks/${id}`)).status, 404, id);
    assert.equal((await api(server, 'POST', `/api/tasks/${id}/pick`, { job_id: 'abcd' })).status, 404, id);
  }
  assert.equal((await api(server, 'GET', '/api/tasks?repo_id=nope')).status, 404);
  assert.equal((await api(server, 'GET', '/api/tasks?limit=0')).status, 400);

  // No runner: the candidates stay queued, and a queued one cannot be picked.
  const created = await api<TaskCreated>(server, 'POST', '/api/tasks', { ...base, command: 'true', count: 2 });
  assert.equal(created.status, 201);
  const taskId = created.body.id;
  const queued = await api<{ message: string }>(server, 'POST', `/api/tasks/${taskId}/pick`, { job_id: created.body.jobs[0]!.id });
  assert.equal(queued.status, 409);
  assert.match(queued.body.message, /is queued/);
  for (const body of [{}, { job_id: '' }, { job_id: 'x'.repeat(65) }, { job_id: 'abcd', land: 'yes' }, { job_id: 'abcd', evil: 1 }]) {
    assert.equal((await api(server, 'POST', `/api/tasks/${taskId}/pick`, body)).status, 400, JSON.stringify(body));
  }
  assert.equal((await api(server, 'POST', `/api/tasks/${taskId}/pick`, { job_id: 'abcd' })).status, 404, 'a job not of the task');
  const first = created.body.jobs[0]!.id;
  assert.equal((await api(server, 'GET', `/api/jobs/${first}/compare/nope`)).status, 404);
  assert.equal((await api(server, 'GET', `/api/jobs/${first}/compare/${created.body.jobs[1]!.id}`)).status, 409, 'no commits yet');
  assert.equal((await api(server, 'GET', `/api/jobs/${first}/compare/${created.body.jobs[1]!.id}?max_bytes=1`)).status, 400);

  // Jobs of two repos have no diff between them.
  const other = await seedRepo(server, path.join(tempDir(t), 'src2'), 'other');
  const elsewhere = await api<Job>(server, 'POST', '/api/jobs', { repo_id: other.id, title: 'y', command: 'true' });
  assert.equal((await api(server, 'GET', `/api/jobs/${first}/compare/${elsewhere.body.id}`)).status, 400);
});

test("a task's candidates start from the commit of its submit, even when the base branch moves before a runner takes them", async (t) => {
  const start = inProcessRunners(t);
  const server = await startTestServer(t);
  const src = path.join(tempDir(t), 'src');
  const repo = await seedRepo(server, src);
  const bare = path.join(server.ctx.reposDir, `${repo.id}.git`);
  const submitted = await git(['rev-parse', 'refs/heads/main'], bare);
  const created = await api<TaskCreated>(server, 'POST', '/api/tasks', { repo_id: repo.id, title: 'answer', command: 'ls > listing.txt', count: 2 });
  assert.equal(created.status, 201, JSON.stringify(created.body));

  // main moves on while the candidates wait for a runner.
  await commitFiles(src, { 'later.txt': 'pushed after the task\n' }, 'later');
  await git(['push', '-q', authUrl(repo.clone_url, server.token), 'main'], src);
  assert.notEqual(await git(['rev-parse', 'refs/heads/main'], bare), submitted);

  start(server, 'r1');
  for (const job of created.body.jobs) {
    const done = await waitForJob(server, job.id, undefined, 60_000);
    assert.equal(done.status, 'succeeded', done.error ?? '');
    assert.equal(done.base_commit, submitted, 'started from the commit of the submit');
    assert.doesNotMatch(await git(['show', `${done.commit}:listing.txt`], bare), /later\.txt/);
  }
  // A job of no task starts from the branch as it is.
  const alone = await api<Job>(server, 'POST', '/api/jobs', { repo_id: repo.id, title: 'alone', command: 'ls > listing.txt' });
  const done = await waitForJob(server, alone.body.id, undefined, 60_000);
  assert.equal(done.base_commit, await git(['rev-parse', 'refs/heads/main'], bare));
  assert.match(await git(['show', `${done.commit}:listing.txt`], bare), /later\.txt/);

  // A candidate that finished without a commit has nothing to pick.
  const failing = await api<TaskCreated>(server, 'POST', '/api/tasks', { repo_id: repo.id, title: 'fail', command: 'exit 3', count: 1 });
  const failed = await waitForJob(server, failing.body.jobs[0]!.id, undefined, 60_000);
  assert.equal(failed.status, 'failed');
  const refused = await api<{ message: string }>(server, 'POST', `/api/tasks/${failing.body.id}/pick`, { job_id: failed.id });
  assert.equal(refused.status, 409);
  assert.match(refused.body.message, /left no commit/);
});

test('a discarded branch someone moved since is left alone when its time is up', async (t) => {
  const start = inProcessRunners(t);
  const server = await startTestServer(t, { LAZYAF_DISCARD_DAYS: DISCARD_DAYS });
  const src = path.join(tempDir(t), 'src');
  const repo = await seedRepo(server, src);
  const bare = path.join(server.ctx.reposDir, `${repo.id}.git`);
  start(server, 'r1');
  const created = await api<TaskCreated>(server, 'POST', '/api/tasks', { repo_id: repo.id, title: 'answer', command: COMMAND, count: 2 });
  const [kept, moved] = await Promise.all(created.body.jobs.map((j) => waitForJob(server, j.id, undefined, 60_000)));
  assert.equal(kept!.status, 'succeeded');
  assert.equal(moved!.status, 'succeeded');
  // A person builds on a candidate's branch; it is discarded afterwards.
  await git(['fetch', '-q', authUrl(repo.clone_url, server.token), `${moved!.branch}:${moved!.branch}`], src);
  await git(['checkout', '-q', moved!.branch!], src);
  const theirs = await commitFiles(src, { 'more.txt': 'mine now\n' }, 'more');
  await git(['push', '-q', authUrl(repo.clone_url, server.token), moved!.branch!], src);
  const picked = await api(server, 'POST', `/api/tasks/${created.body.id}/pick`, { job_id: kept!.id });
  assert.equal(picked.status, 200);

  const due = (await getTask(server, created.body.id)).jobs.find((c) => c.job.id === moved!.id)!;
  assert.equal(due.choice, 'discarded');
  assert.notEqual(due.branch_expires_at, null);
  // Its time comes: the branch is someone's now, so it is no longer due, and not deleted.
  await eventually('the moved branch taken off the list of those due', async () => {
    const task = await getTask(server, created.body.id);
    return task.jobs.find((c) => c.job.id === moved!.id)!.branch_expires_at === null;
  });
  assert.equal((await getTask(server, created.body.id)).jobs.find((c) => c.job.id === moved!.id)!.branch_deleted_at, null);
  assert.equal(await git(['rev-parse', `refs/heads/${moved!.branch}`], bare), theirs, 'the moved branch stays');
  assert.equal(await git(['rev-parse', `refs/heads/${kept!.branch}`], bare), kept!.commit, 'the picked one stays');
});

test('a pick with land lands the picked candidate on the remote; a discarded one landed meanwhile keeps its branch', async (t) => {
  const start = inProcessRunners(t);
  const server = await startTestServer(t, { LAZYAF_DISCARD_DAYS: DISCARD_DAYS });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const bare = path.join(server.ctx.reposDir, `${repo.id}.git`);
  const remote = path.join(tempDir(t), 'remote.git');
  await git(['init', '-q', '--bare', remote]);
  start(server, 'r1');
  const created = await api<TaskCreated>(server, 'POST', '/api/tasks', { repo_id: repo.id, title: 'answer', command: COMMAND, count: 2 });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const [chosen, other] = await Promise.all(created.body.jobs.map((j) => waitForJob(server, j.id, undefined, 60_000)));
  assert.equal(other!.status, 'succeeded');
  // A land that cannot happen (no remote yet) is refused before the pick, which is not taken.
  const early = await api<{ message: string }>(server, 'POST', `/api/tasks/${created.body.id}/pick`, { job_id: chosen!.id, land: true });
  assert.equal(early.status, 409);
  assert.match(early.body.message, /has no remote_url to land on/);
  assert.equal((await getTask(server, created.body.id)).picked_job_id, null, 'no pick left behind');
  assert.equal((await api(server, 'PATCH', `/api/repos/${repo.id}`, { remote_url: remote })).status, 200);
  // Someone lands the other candidate before the pick: it will be discarded, but it is on the remote.
  assert.equal((await api(server, 'POST', `/api/jobs/${other!.id}/land`, {})).status, 200);

  const picked = await api<PickResult>(server, 'POST', `/api/tasks/${created.body.id}/pick`, { job_id: chosen!.id, land: true });
  assert.equal(picked.status, 200, JSON.stringify(picked.body));
  assert.equal(picked.body.land?.landing.commit, chosen!.commit);
  assert.equal(await git(['rev-parse', `refs/heads/${chosen!.branch}`], remote), chosen!.commit, 'the picked one is on the remote');
  assert.equal((await api<Job>(server, 'GET', `/api/jobs/${chosen!.id}`)).body.landed?.remote_branch, chosen!.branch);

  // Past its time, the landed discarded branch is still there.
  const discarded = (await getTask(server, created.body.id)).jobs.find((c) => c.job.id === other!.id)!;
  assert.equal(discarded.choice, 'discarded');
  await new Promise((resolve) => setTimeout(resolve, 4500));
  assert.equal((await getTask(server, created.body.id)).jobs.find((c) => c.job.id === other!.id)!.branch_deleted_at, null);
  assert.equal(await git(['rev-parse', `refs/heads/${other!.branch}`], bare), other!.commit);
});
