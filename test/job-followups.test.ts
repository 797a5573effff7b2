import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Job } from '../src/shared/api.js';
import { cli, git, startTestServer, tempDir, type TestServer } from './helpers.js';
import { getJob, seedRepo, startRunnerProcess, submit, waitForJob } from './queue-helpers.js';

/** A server with one real runner and the repo `demo`; `bare` is where its branches are. */
async function loop(t: Parameters<typeof startTestServer>[0]) {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo', { 'README.md': '# demo\n' });
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  return { server, repo, bare: path.join(server.ctx.reposDir, `${repo.id}.git`) };
}

/** Runs a CLI command that prints a new job's id, and returns that job once it has ended. */
async function newJob(server: TestServer, args: string[]): Promise<Job> {
  const r = await cli(args, { server });
  assert.equal(r.code, 0, r.stderr);
  return waitForJob(server, r.stdout.trim(), undefined, 60_000);
}

test('retry is refused on a succeeded job with a hint and its branch stays; rerun makes a new job with the same inputs and its own branch', async (t) => {
  const { server, bare } = await loop(t);
  const first = await newJob(server, [
    'jobs',
    'submit',
    ...['--repo', 'demo', '--title', 'add a', '--description', 'why a', '--command', 'echo a > a.txt', '--timeout', '600'],
  ]);
  assert.equal(first.status, 'succeeded', first.error ?? '');
  const tip = await git(['rev-parse', `refs/heads/${first.branch}`], bare);

  const retry = await cli(['jobs', 'retry', first.id.slice(0, 8)], { server });
  assert.equal(retry.code, 1);
  assert.equal(
    retry.stderr,
    `lazyaf: job ${first.id} succeeded and its branch may already be landed, so retry will not rewrite it: \`lazyaf jobs rerun ${first.id}\` runs it again as a new job with its own branch\n`,
  );
  assert.equal((await getJob(server, first.id)).status, 'succeeded');
  assert.equal(await git(['rev-parse', `refs/heads/${first.branch}`], bare), tip);

  const again = await newJob(server, ['jobs', 'rerun', first.id.slice(0, 8)]);
  assert.notEqual(again.id, first.id);
  assert.equal(again.status, 'succeeded', again.error ?? '');
  for (const field of ['repo_id', 'title', 'description', 'agent', 'command', 'base_branch', 'labels', 'timeout_s', 'parent_job_id'] as const) {
    assert.deepEqual(again[field], first[field], field);
  }
  assert.equal(again.branch, `lazyaf/${again.id.slice(0, 8)}`);
  assert.equal(await git(['show', `${again.branch}:a.txt`], bare), 'a');
  // The first job's branch is untouched by the rerun.
  assert.equal(await git(['rev-parse', `refs/heads/${first.branch}`], bare), tip);
});

test('a follow-up chain: each job starts on its parent branch, the last branch holds every change, and jobs show lists the chain by name', async (t) => {
  const { server, repo, bare } = await loop(t);
  const one = await newJob(server, ['jobs', 'submit', '--repo', 'demo', '--title', 'first', '--command', 'echo one > one.txt']);
  assert.equal(one.status, 'succeeded', one.error ?? '');

  // --wait follows the new job like submit does.
  const r = await cli(['jobs', 'followup', one.id.slice(0, 8), '--title', 'second', '--command', 'echo two > two.txt && ls', '--wait'], { server });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /one\.txt/);
  const two = await getJob(server, /Submitted job ([0-9a-f-]{36})/.exec(r.stderr)![1]!);
  assert.equal(two.status, 'succeeded', two.error ?? '');
  assert.equal(two.parent_job_id, one.id);
  assert.equal(two.base_branch, one.branch);

  const three = await newJob(server, ['jobs', 'followup', two.id, '--title', 'third', '--command', 'cat one.txt two.txt > both.txt']);
  assert.equal(three.status, 'succeeded', three.error ?? '');
  assert.equal(await git(['show', `${three.branch}:both.txt`], bare), 'one\ntwo');
  assert.deepEqual((await git(['ls-tree', '--name-only', three.branch!], bare)).split('\n'), ['README.md', 'both.txt', 'one.txt', 'two.txt']);
  assert.deepEqual(
    three.chain?.map((l) => [l.id, l.status, l.branch]),
    [
      [one.id, 'succeeded', one.branch],
      [two.id, 'succeeded', two.branch],
    ],
  );

  const show = await cli(['jobs', 'show', three.id.slice(0, 8)], { server });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^repo: +demo$/m);
  assert.match(show.stdout, /^runner: +r1$/m);
  assert.ok(!show.stdout.includes(repo.id) && !show.stdout.includes(three.id), 'names and short ids, not the ids whole');
  const follows = show.stdout.split('\n').filter((l) => l.startsWith('follows:'));
  assert.deepEqual(follows, [`follows:   ${one.id.slice(0, 8)} succeeded first`, `follows:   ${two.id.slice(0, 8)} succeeded second`]);

  // A rerun of a follow-up follows the same parent, on the same base.
  const rerun = await newJob(server, ['jobs', 'rerun', three.id]);
  assert.equal(rerun.parent_job_id, two.id);
  assert.equal(rerun.base_branch, two.branch);
  assert.equal(await git(['show', `${rerun.branch}:both.txt`], bare), 'one\ntwo');
});

test('a follow-up of a job that changed nothing, or of one not finished, is refused with a hint on one line', async (t) => {
  const { server } = await loop(t);
  const idle = await newJob(server, ['jobs', 'submit', '--repo', 'demo', '--title', 'reads only', '--command', 'cat README.md']);
  assert.equal(idle.status, 'succeeded', idle.error ?? '');
  assert.equal(idle.commit, null);
  const r = await cli(['jobs', 'followup', idle.id, '--title', 'more', '--command', 'true'], { server });
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `lazyaf: job ${idle.id} changed nothing, so ${`lazyaf/${idle.id.slice(0, 8)}`} holds no commit to build on; submit the follow-up on its base instead (lazyaf jobs submit --base main)\n`,
  );

  const slow = await cli(['jobs', 'submit', '--repo', 'demo', '--title', 'slow', '--command', 'sleep 60'], { server });
  const slowId = slow.stdout.trim();
  await waitForJob(server, slowId, (j) => j.status === 'running');
  for (const args of [
    ['followup', slowId, '--title', 'x', '--command', 'true'],
    ['rerun', slowId],
  ]) {
    const refused = await cli(['jobs', ...args], { server });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^lazyaf: job [0-9a-f-]{36} is running; wait for it to finish \(or cancel it\) before you (follow up|rerun) it\n$/);
  }
  const noAction = await cli(['jobs', 'followup', slowId, '--title', 'x'], { server });
  assert.equal(noAction.stderr, 'lazyaf: pass --command CMD or --agent NAME\n');
  await cli(['jobs', 'cancel', slowId], { server });
});

test('a chain is read at most 100 links deep and ends at a cycle, which the API cannot make but a hand-edited database can', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const ids: string[] = [];
  for (let i = 0; i < 103; i++) ids.push((await submit(server, { repo_id: repo.id, title: `j${i}`, command: 'true' })).id);
  const setParent = server.ctx.db.prepare<[string | null, string]>('UPDATE jobs SET parent_job_id = ? WHERE id = ?');
  for (let i = 1; i < ids.length; i++) setParent.run(ids[i - 1]!, ids[i]!);
  const last = await getJob(server, ids.at(-1)!);
  assert.equal(last.chain?.length, 100);
  assert.deepEqual(last.chain?.at(-1)?.id, ids.at(-2));
  assert.deepEqual(last.chain?.[0]?.id, ids[2]);

  setParent.run(ids[2]!, ids[0]!);
  const looped = await getJob(server, ids[2]!);
  assert.deepEqual(
    looped.chain?.map((l) => l.title),
    ['j0', 'j1'],
  );
});
