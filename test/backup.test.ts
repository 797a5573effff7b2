import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Job, Repo } from '../src/shared/api.js';
import { dataDirSize, describeDataDirSize } from '../src/server/data-size.js';
import { api, authUrl, cli, commitFiles, git, startTestServer, tempDir } from './helpers.js';
import { inProcessRunners, runJob, seedRepo } from './queue-helpers.js';

// `lazyaf backup` runs the built CLI (`npx tsc -p tsconfig.build.json` first).

test('lazyaf backup copies a running server’s data dir while a repo is pushed; a server restored from it lists the repos and jobs and serves a clone', async (t) => {
  const runners = inProcessRunners(t);
  const server = await startTestServer(t);
  const work = tempDir(t);
  const repo = await seedRepo(server, path.join(work, 'src'), 'demo');
  runners(server, 'r1');
  const job = await runJob(server, { repo_id: repo.id, title: 'writes', command: 'echo from the job > job.txt && git add job.txt && git commit -qm job' });
  assert.equal(job.status, 'succeeded');
  assert.ok(job.commit);

  const size = await dataDirSize(server.dataDir);
  assert.ok(size.database > 0 && size.repos > 0, JSON.stringify(size));
  assert.match(describeDataDirSize(size), /^\d+(\.\d)? \w+ \(database .+, repos .+, sessions 0 bytes\)$/);

  // Pushes go on, one after the other, for as long as the backup runs (bounded).
  const src = path.join(work, 'src');
  let backingUp = true;
  let pushes = 0;
  const pushing = (async () => {
    while (backingUp && pushes < 40) {
      pushes += 1;
      await commitFiles(src, { [`file-${pushes}.txt`]: `push ${pushes}\n`.repeat(2000) }, `push ${pushes}`);
      await git(['push', '-q', authUrl(repo.clone_url, server.token), 'main:busy'], src);
    }
  })();
  // A server with a pool has an id on the Docker engine; this one's is made here, as a pool's would be.
  fs.writeFileSync(path.join(server.dataDir, 'server_id'), 'lzsrv_test\n', { mode: 0o600 });
  const backup = path.join(tempDir(t), 'backup');
  const r = await cli(['backup', backup, '--data', server.dataDir]);
  backingUp = false;
  await pushing;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Backed up 1 jobs and 1 repos from .+ to .+\n$/);
  assert.ok(pushes >= 1);

  const copied = path.join(backup, 'repos', `${repo.id}.git`);
  await git(['fsck', '--full', '--no-dangling'], copied);
  assert.equal(await git(['rev-parse', job.branch!], copied), job.commit);
  for (const name of ['admin_token', 'registration_token', 'server_id'])
    assert.equal(fs.readFileSync(path.join(backup, name), 'utf8'), fs.readFileSync(path.join(server.dataDir, name), 'utf8'), name);
  assert.equal(fs.statSync(backup).mode & 0o777, 0o700);

  // A second backup into the same place is refused, as is one inside the data dir.
  const again = await cli(['backup', backup, '--data', server.dataDir]);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /not empty/);
  const inside = await cli(['backup', path.join(server.dataDir, 'b'), '--data', server.dataDir]);
  assert.match(inside.stderr, /inside the data dir/);

  // Restore: the backup is a data dir; a server starts on a copy of it.
  const restoredDir = path.join(tempDir(t), 'restored');
  fs.cpSync(backup, restoredDir, { recursive: true });
  const restored = await startTestServer(t, {}, { dataDir: restoredDir, token: server.token });
  assert.match(restored.output(), /\n {2}data: .+, \d+(\.\d)? \w+ \(database .+, repos .+, sessions .+\)\n/);
  const repos = (await api<{ repos: Repo[] }>(restored, 'GET', '/api/repos')).body.repos;
  assert.deepEqual(
    repos.map((x) => x.name),
    ['demo'],
  );
  const jobs = (await api<{ jobs: Job[] }>(restored, 'GET', '/api/jobs')).body.jobs;
  assert.deepEqual(
    jobs.map((j) => [j.id, j.status, j.commit]),
    [[job.id, 'succeeded', job.commit]],
  );
  const cloneUrl = (await api<Repo>(restored, 'GET', `/api/repos/${repo.id}`)).body.clone_url;
  const clone = path.join(tempDir(t), 'clone');
  await git(['clone', '-q', authUrl(cloneUrl, restored.token), clone]);
  assert.equal(fs.readFileSync(path.join(clone, 'README.md'), 'utf8'), '# demo\n');
  await git(['fetch', '-q', 'origin', job.branch!], clone);
  assert.equal(await git(['rev-parse', 'FETCH_HEAD'], clone), job.commit);
  // And it takes pushes.
  await commitFiles(clone, { 'after.txt': 'after the restore\n' }, 'after');
  await git(['push', '-q', 'origin', 'main'], clone);
});
