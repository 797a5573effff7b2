import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Job, JobLandResult, Repo } from '../src/shared/api.js';
import { checkEnvironment } from '../src/server/environment.js';
import { resolveForge } from '../src/server/forges/index.js';
import { api, branchTip, commitFiles, git, startTestServer, tempDir, type TestServer } from './helpers.js';
import { inProcessRunners, seedRepo, submit, waitForJob } from './queue-helpers.js';
import { startGitea } from './forges/gitea.js';
import { startGithub } from './forges/github.js';
import { startGitlab } from './forges/gitlab.js';
import type { Hostile } from './forges/stand-in.js';

// `POST /api/jobs/{id}/land`: a job's branch pushed from the server to the repo's remote (a real
// bare repo on disk), recorded on the job, and a pull request opened through each forge's API,
// answered by a local stand-in that checks every request as the real API would.

const TOKEN = 'forge_tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const PROJECT = 'acme/widgets';

interface Setup {
  server: TestServer;
  repo: Repo;
  origin: string;
  dir: string;
}

/** A server with a runner, the repo `demo` whose remote_url is the bare repo `origin` (holding main), and the forge token stored for it. */
async function setup(t: TestContext): Promise<Setup> {
  const runnerFor = inProcessRunners(t);
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo', { 'README.md': '# demo\n' });
  const origin = path.join(dir, 'origin.git');
  await git(['init', '-q', '--bare', '--initial-branch=main', origin]);
  await git(['push', '-q', origin, 'main'], path.join(dir, 'src'));
  assert.equal((await api(server, 'PATCH', `/api/repos/${repo.id}`, { remote_url: origin })).status, 200);
  const stored = await api(server, 'PUT', `/api/secrets/LAZYAF_FORGE_TOKEN?repo=demo`, { value: TOKEN });
  assert.equal(stored.status, 201, JSON.stringify(stored.body));
  await runnerFor(server, 'r1').registered;
  return { server, repo, origin, dir };
}

async function finished(server: TestServer, body: Record<string, unknown>): Promise<Job> {
  const job = await submit(server, { repo_id: 'demo', title: 'Add a', description: 'Adds a.txt, for the tests.', timeout_s: 120, ...body });
  return waitForJob(server, job.id, undefined, 60_000);
}

async function land(server: TestServer, job: Job | string, body: Record<string, unknown>) {
  const r = await api<JobLandResult & { message: string }>(server, 'POST', `/api/jobs/${typeof job === 'string' ? job : job.id}/land`, body);
  assert.ok(!JSON.stringify(r.body).includes(TOKEN), 'the token is in an answer');
  return r;
}

const FORGES = [
  { kind: 'github', start: startGithub, api: '', url: /^https:\/\/github\.example\/acme\/widgets\/pull\/1$/ },
  { kind: 'gitlab', start: startGitlab, api: '/api/v4', url: /^https:\/\/gitlab\.example\/acme\/widgets\/-\/merge_requests\/1$/ },
  { kind: 'gitea', start: startGitea, api: '/api/v1', url: /^https:\/\/gitea\.example\/acme\/widgets\/pulls\/1$/ },
] as const;

test('a job lands on the remote and opens a pull request on GitHub, GitLab and Gitea; a second land finds the open one; the job records it', async (t) => {
  const { server, repo, origin } = await setup(t);
  const job = await finished(server, { command: 'echo a > a.txt' });
  assert.equal(job.status, 'succeeded', job.error ?? '');
  assert.equal(job.landed, null);

  for (const forge of FORGES) {
    const standIn = await forge.start(t, { token: TOKEN, project: PROJECT, remote: origin });
    const patched = await api<Repo>(server, 'PATCH', `/api/repos/${repo.id}`, {
      forge: { kind: forge.kind, api_url: `${standIn.url}${forge.api}/`, project: PROJECT },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.deepEqual(patched.body.forge, { kind: forge.kind, api_url: `${standIn.url}${forge.api}/`, project: PROJECT });

    const branch = `land-${forge.kind}`;
    const r = await land(server, job, { pr: true, remote_branch: branch });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.pr_error, null);
    assert.match(r.body.landing.pr_url ?? '', forge.url);
    assert.equal(r.body.landing.commit, job.commit);
    assert.equal(r.body.landing.remote_branch, branch);
    assert.equal(r.body.landing.landed_by, 'admin');
    assert.equal(await branchTip(origin, branch), job.commit, `${forge.kind}: pushed`);
    assert.deepEqual(standIn.problems, [], `${forge.kind}: what a real forge would refuse`);
    assert.equal(standIn.pulls.length, 1);
    assert.deepEqual(
      { head: standIn.pulls[0]!.head, base: standIn.pulls[0]!.base, title: standIn.pulls[0]!.title },
      { head: branch, base: 'main', title: 'Add a' },
    );
    assert.match(standIn.pulls[0]!.body, /^Adds a\.txt, for the tests\.\n\nLanded by lazyaf from job [0-9a-f-]{36}\.$/);

    // Landed again: the open pull request of that head is found, not a second one made.
    const again = await land(server, job, { pr: true, remote_branch: branch, title: 'Another title', body: 'Another body' });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.pr_error, null);
    assert.equal(again.body.landing.pr_url, r.body.landing.pr_url);
    assert.equal(standIn.pulls.length, 1);
    assert.deepEqual(standIn.problems, []);

    const shown = (await api<Job>(server, 'GET', `/api/jobs/${job.id}`)).body;
    assert.equal(shown.landed?.pr_url, r.body.landing.pr_url);
    assert.equal(shown.landed?.remote_branch, branch);
    assert.equal(shown.landed?.commit, job.commit);
    assert.equal(shown.landed?.remote_url, origin);
    assert.equal(shown.landed?.landed_by, 'admin');
    // The job list shows it too.
    const listed = (await api<{ jobs: Job[] }>(server, 'GET', '/api/jobs')).body.jobs.find((j) => j.id === job.id);
    assert.equal(listed?.landed?.pr_url, r.body.landing.pr_url);
  }

  // Without pr: pushed and recorded, no pull request asked for.
  const plain = await land(server, job.id.slice(0, 8), {});
  assert.equal(plain.status, 200, JSON.stringify(plain.body));
  assert.equal(plain.body.landing.remote_branch, job.branch);
  assert.equal(plain.body.landing.pr_url, null);
  assert.equal(await branchTip(origin, job.branch!), job.commit);
});

test('refusals: unfinished, failed and empty jobs, no remote, no forge, no token, hostile bodies; nothing is pushed', async (t) => {
  const { server, repo, origin, dir } = await setup(t);
  const queued = await submit(server, { repo_id: 'demo', title: 'never runs', command: 'true', labels: ['nowhere'] });
  const r1 = await land(server, queued, {});
  assert.equal(r1.status, 409);
  assert.match(r1.body.message, /is queued: it has not run yet/);

  const failed = await finished(server, { command: 'echo a > a.txt; exit 3' });
  assert.equal(failed.status, 'failed');
  const r2 = await land(server, failed, {});
  assert.equal(r2.status, 409);
  assert.match(r2.body.message, /failed; its branch holds what it left/);

  const empty = await finished(server, { command: 'true' });
  assert.equal(empty.status, 'succeeded');
  const r3 = await land(server, empty, {});
  assert.equal(r3.status, 409);
  assert.match(r3.body.message, /with no changes: it has no branch to land/);

  const job = await finished(server, { command: 'echo b > b.txt' });
  assert.equal(job.status, 'succeeded', job.error ?? '');
  // A file remote is on no known forge: a pull request needs the repo's forge, refused before the push.
  const r4 = await land(server, job, { pr: true });
  assert.equal(r4.status, 409);
  assert.match(r4.body.message, /^set the repo's forge/);
  assert.equal(await branchTip(origin, job.branch!), undefined, 'nothing pushed');

  // A forge but no token: another repo, with none stored and none in the environment.
  const other = await seedRepo(server, path.join(dir, 'other-src'), 'other');
  await api(server, 'PATCH', `/api/repos/${other.id}`, {
    remote_url: origin,
    forge: { kind: 'gitea', api_url: 'http://127.0.0.1:9/api/v1', project: PROJECT },
  });
  const otherJob = await finished(server, { repo_id: 'other', command: 'echo c > c.txt' });
  const r5 = await land(server, otherJob, { pr: true });
  assert.equal(r5.status, 409);
  assert.match(r5.body.message, /^no token to open a pull request with: store one with lazyaf secrets set LAZYAF_FORGE_TOKEN --repo other/);
  assert.equal(await branchTip(origin, otherJob.branch!), undefined, 'nothing pushed');

  // No remote at all.
  await api(server, 'PATCH', `/api/repos/${other.id}`, { remote_url: null });
  const r6 = await land(server, otherJob, {});
  assert.equal(r6.status, 409);
  assert.match(r6.body.message, /has no remote_url to land on/);

  // Hostile bodies and ids.
  for (const body of [
    { pr: 'yes' },
    { extra: 1 },
    { remote_branch: '--force' },
    { remote_branch: 'a..b' },
    { base: '--upload-pack=x', pr: true },
    { title: '' },
    [],
  ]) {
    const r = await land(server, job, body as Record<string, unknown>);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
  }
  const notJson = await api(server, 'POST', `/api/jobs/${job.id}/land`, '{"pr":', { headers: { 'content-type': 'application/json' } });
  assert.equal(notJson.status, 400);
  assert.equal((await land(server, '00000000-0000-4000-8000-000000000000', {})).status, 404);
  assert.equal((await land(server, '..%2F..%2Fetc', {})).status, 404);
  assert.equal(await branchTip(origin, job.branch!), undefined, 'nothing pushed');

  // A forge the API refuses to store.
  for (const forge of [
    { kind: 'bitbucket', api_url: 'https://api.bitbucket.org' },
    { kind: 'github', api_url: 'file:///etc/passwd' },
    { kind: 'github', api_url: 'https://user:secret@api.github.com' },
    { kind: 'github', api_url: 'https://api.github.com', project: '../etc' },
    { kind: 'github', api_url: 'https://api.github.com', project: 'a/b/c' },
    { kind: 'gitlab', api_url: 'https://gitlab.example/api/v4?x=1' },
  ]) {
    const r = await api(server, 'PATCH', `/api/repos/${repo.id}`, { forge });
    assert.equal(r.status, 400, `${JSON.stringify(forge)}: ${JSON.stringify(r.body)}`);
    assert.ok(!JSON.stringify(r.body).includes('secret@'));
  }
  assert.equal((await api<Repo>(server, 'GET', `/api/repos/${repo.id}`)).body.forge, null);
});

test('a branch that moved on the remote is refused in words, replaced only with force_with_lease; a follow-up lands its chain; an unreachable remote is a 424', async (t) => {
  const { server, repo, origin, dir } = await setup(t);
  const job = await finished(server, { command: 'echo a > a.txt' });
  assert.equal(job.status, 'succeeded', job.error ?? '');
  assert.equal((await land(server, job, { remote_branch: 'feature' })).status, 200);

  // Someone else pushes to the remote's branch.
  const clone = path.join(dir, 'clone');
  await git(['clone', '-q', '--branch', 'feature', origin, clone]);
  await git(['config', 'user.email', 't@example.com'], clone);
  await git(['config', 'user.name', 't'], clone);
  await git(['reset', '-q', '--hard', 'HEAD~1'], clone);
  const theirs = await commitFiles(clone, { 'theirs.txt': 'x\n' }, 'theirs');
  await git(['push', '-q', '--force', 'origin', 'HEAD:feature'], clone);

  const refused = await land(server, job, { remote_branch: 'feature' });
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.equal(
    refused.body.message,
    'feature on the remote has moved: it holds commits this branch does not (was the job redone after it was landed?); to replace it, land it with force_with_lease (lazyaf land JOB --from-server --force-with-lease)',
  );
  assert.equal(await branchTip(origin, 'feature'), theirs, 'untouched without force_with_lease');

  const forced = await land(server, job, { remote_branch: 'feature', force_with_lease: true });
  assert.equal(forced.status, 200, JSON.stringify(forced.body));
  assert.equal(await branchTip(origin, 'feature'), job.commit);
  // With a lease on a branch the remote does not have, it is created.
  assert.equal((await land(server, job, { remote_branch: 'fresh', force_with_lease: true })).status, 200);
  assert.equal(await branchTip(origin, 'fresh'), job.commit);

  // A follow-up's branch holds its parent's work: landing it lands the chain.
  const followup = await api<Job>(server, 'POST', `/api/jobs/${job.id}/followup`, { title: 'Add b', command: 'echo b > b.txt' });
  assert.equal(followup.status, 201, JSON.stringify(followup.body));
  const second = await waitForJob(server, followup.body.id, undefined, 60_000);
  assert.equal(second.status, 'succeeded', second.error ?? '');
  const chained = await land(server, second, {});
  assert.equal(chained.status, 200, JSON.stringify(chained.body));
  assert.equal(await branchTip(origin, second.branch!), second.commit);
  assert.equal(await git(['show', `${second.commit}:a.txt`], origin), 'a');
  assert.equal(await git(['show', `${second.commit}:b.txt`], origin), 'b');

  await api(server, 'PATCH', `/api/repos/${repo.id}`, { remote_url: path.join(dir, 'missing.git') });
  const gone = await land(server, job, {});
  assert.equal(gone.status, 424);
  assert.match(gone.body.message, /^cannot push to \S*missing\.git/);
  const goneLease = await land(server, job, { force_with_lease: true });
  assert.equal(goneLease.status, 424);
  assert.match(goneLease.body.message, /^cannot read \S+ on \S*missing\.git/);
});

test('a forge that refuses, answers huge, not JSON, without a URL, echoes the token or cannot be reached: the landing stands, pr_error says why, the token is never shown', async (t) => {
  const { server, repo, origin } = await setup(t);
  const job = await finished(server, { command: 'echo a > a.txt' });
  assert.equal(job.status, 'succeeded', job.error ?? '');
  const standIn = await startGithub(t, { token: TOKEN, project: PROJECT, remote: origin });
  await api(server, 'PATCH', `/api/repos/${repo.id}`, { forge: { kind: 'github', api_url: standIn.url, project: PROJECT } });

  const cases: [Hostile, RegExp][] = [
    ['huge', /^the forge's answer could not be read \(POST http:\/\/127\.0\.0\.1:\d+\): it is larger than 1048576 bytes$/],
    ['not-json', /^the forge answered 201 without the pull request's URL$/],
    ['no-url', /^the forge answered 201 without the pull request's URL$/],
    ['echo-token', /^the forge refused the pull request \(HTTP 403\): token \[hidden\] is not allowed here$/],
  ];
  for (const [hostile, said] of cases) {
    standIn.hostile = hostile;
    const r = await land(server, job, { pr: true, remote_branch: `h-${hostile}` });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.body.pr_error ?? '', said, hostile);
    assert.equal(r.body.landing.pr_url, null);
    assert.equal(await branchTip(origin, `h-${hostile}`), job.commit, 'the landing stands');
  }
  standIn.hostile = undefined;

  // A wrong token: the forge's 401 in words.
  await api(server, 'PUT', `/api/secrets/LAZYAF_FORGE_TOKEN?repo=demo`, { value: `${TOKEN}-old` });
  const wrong = await land(server, job, { pr: true, remote_branch: 'h-wrong' });
  assert.equal(wrong.status, 200);
  assert.equal(wrong.body.pr_error, 'the forge refused the pull request (HTTP 401): Bad credentials');
  assert.ok(!JSON.stringify(wrong.body).includes(`${TOKEN}-old`));

  // A forge nothing listens on.
  await api(server, 'PATCH', `/api/repos/${repo.id}`, { forge: { kind: 'github', api_url: 'http://127.0.0.1:9', project: PROJECT } });
  const unreachable = await land(server, job, { pr: true, remote_branch: 'h-gone' });
  assert.equal(unreachable.status, 200);
  assert.match(unreachable.body.pr_error ?? '', /^the forge could not be reached \(POST http:\/\/127\.0\.0\.1:9\): /);
  // Only the last landing is kept; its pull request failed.
  const shown = (await api<Job>(server, 'GET', `/api/jobs/${job.id}`)).body;
  assert.equal(shown.landed?.remote_branch, 'h-gone');
  assert.equal(shown.landed?.pr_url, null);
});

test('.lazyaf.yml cannot hand LAZYAF_FORGE_TOKEN to a job: LAZYAF_ names are refused in secrets, job_secrets and env', () => {
  for (const environment of [{ secrets: ['LAZYAF_FORGE_TOKEN'] }, { job_secrets: ['LAZYAF_FORGE_TOKEN'] }, { env: { LAZYAF_FORGE_TOKEN: 'x' } }]) {
    const checked = checkEnvironment(environment, '.lazyaf.yml');
    assert.match(checked.error ?? '', /LAZYAF_FORGE_TOKEN is lazyaf's own/, JSON.stringify(environment));
  }
});

test('which forge a repo has: its own, else a github.com or gitlab.com remote by its path, else why not', () => {
  const of = (remote_url: string | null, forge: Record<string, unknown> | null = null) => {
    const found = resolveForge({ remote_url, forge: forge && JSON.stringify(forge) });
    return typeof found === 'string' ? found : { kind: found.kind, apiUrl: found.apiUrl, project: found.project };
  };
  assert.deepEqual(of('git@github.com:acme/widgets.git'), { kind: 'github', apiUrl: 'https://api.github.com', project: 'acme/widgets' });
  assert.deepEqual(of('https://x:secret@GitHub.com/acme/widgets'), { kind: 'github', apiUrl: 'https://api.github.com', project: 'acme/widgets' });
  assert.deepEqual(of('ssh://git@gitlab.com/group/sub/proj.git'), { kind: 'gitlab', apiUrl: 'https://gitlab.com/api/v4', project: 'group/sub/proj' });
  assert.deepEqual(of('https://git.example/acme/widgets.git', { kind: 'gitea', api_url: 'https://git.example/api/v1/' }), {
    kind: 'gitea',
    apiUrl: 'https://git.example/api/v1',
    project: 'acme/widgets',
  });
  assert.match(of('https://git.example/acme/widgets.git') as string, /^set the repo's forge/);
  assert.match(of('/srv/git/widgets.git', { kind: 'github', api_url: 'https://api.github.com' }) as string, /^set the repo's forge\.project/);
  // A path GitHub would not take: three parts, or one that climbs.
  assert.match(of('https://github.com/a/b/c') as string, /cannot be used: a github project is owner\/name/);
  assert.match(of('git@github.com:a/..') as string, /cannot be used/);
});
