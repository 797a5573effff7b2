import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import Docker from 'dockerode';
import { buildRunnerImage, ImageBuildError } from '../scripts/build-image.js';
import type { RunnerList } from '../src/shared/api.js';
import { containerLabels, containerOutput, dockerOrSkip, testRunnerImage } from './docker-helpers.js';
import { api, eventually, git, startTestServer, tempDir } from './helpers.js';
import { ended, logOf, seedRepo, submit, waitForJob } from './queue-helpers.js';

/** A container of the runner image (built from this tree) for a fresh test server, once its runner has registered. */
async function startRunnerContainer(t: TestContext, docker: Docker, name: string) {
  const image = await testRunnerImage(docker);
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const container = await docker.createContainer({
    Image: image,
    Cmd: ['--server', server.url, '--name', name],
    Env: [`LAZYAF_TOKEN=${server.registrationToken}`],
    Labels: containerLabels(t, docker),
    // The test server listens on 127.0.0.1 of this machine.
    HostConfig: { NetworkMode: 'host' },
  });
  await container.start();
  const runner = await eventually(
    'the container registers',
    async () => (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.find((r) => r.name === name),
    120_000,
  );
  return { server, repo, container, runner, bare: path.join(server.ctx.reposDir, `${repo.id}.git`) };
}

test('a container of the runner image registers with the container as its wall, runs a job as a non-root user, pushes its branch and leaves cleanly on docker stop', async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const { server, repo, container, runner, bare } = await startRunnerContainer(t, docker, 'in-docker');
  assert.equal(runner.sandbox, 'container');
  assert.match(await containerOutput(container), /jobs run in this runner's container, their sandbox \(no bubblewrap inside it\)/);
  // On the host's network the runner sets no firewall rules (they would be the host's), and says what that leaves open.
  assert.match(await containerOutput(container), /WARNING: jobs share the host's network \(this container runs with --network host\)/);

  const job = await submit(server, { repo_id: repo.id, title: 'in a container', command: 'id -u > uid.txt && echo made in a container > made.txt' });
  const done = await waitForJob(server, job.id, ended, 120_000);
  assert.equal(done.status, 'succeeded', done.error ?? undefined);
  assert.equal(done.attempts?.[0]?.runner_id, runner.id);
  const uid = await git(['show', `${done.branch}:uid.txt`], bare);
  assert.match(uid, /^\d+$/);
  assert.notEqual(uid, '0', 'the job ran as a non-root user');
  assert.equal(await git(['show', `${done.branch}:made.txt`], bare), 'made in a container');
  assert.match(await logOf(server, job.id), /running in the runner's container/);

  // `docker stop`'s SIGTERM reaches the runner through the image's init: it deregisters and exits cleanly.
  await container.stop({ t: 30 });
  assert.equal((await container.inspect()).State.ExitCode, 0);
  const left = (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.find((r) => r.id === runner.id);
  assert.equal(left, undefined, 'the runner deregistered');
});

/** Every environment the job can read, one variable a line, into its log. */
const READ_ENVIRONS = `for f in /proc/[0-9]*/environ; do cat "$f"; echo; done 2>/dev/null | tr '\\0' '\\n'`;

test("a job in the runner image reads no process's registration token, runs as uid 1000, writes its checkout, and leaves nothing running for the next job", async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const { server, repo, container, bare } = await startRunnerContainer(t, docker, 'walled');

  const first = await submit(server, {
    repo_id: repo.id,
    title: 'looks around',
    // The pid is written once the process has left the job's process group and session: it escapes the group's kill.
    command: `stat -c 'inode %i' README.md; ${READ_ENVIRONS}; id -u > uid.txt && echo written by the job > wrote.txt && { setsid sh -c 'echo $$ > /tmp/bg.pid; exec sleep 300' </dev/null >/dev/null 2>&1 & } && while [ ! -s /tmp/bg.pid ]; do sleep 0.1; done`,
  });
  const firstDone = await waitForJob(server, first.id, ended, 120_000);
  const log = await logOf(server, first.id);
  assert.equal(firstDone.status, 'succeeded', `${firstDone.error ?? ''}\n${log}\n${await containerOutput(container)}`);
  // The loop did read environments: its own shell's at least.
  assert.match(log, new RegExp(`^LAZYAF_JOB_ID=${first.id}$`, 'm'));
  assert.ok(!log.includes(server.registrationToken), 'the registration token is in an environment the job can read');
  assert.doesNotMatch(log, /^LAZYAF_TOKEN=/m);
  assert.equal(await git(['show', `${firstDone.branch}:uid.txt`], bare), '1000');
  assert.equal(await git(['show', `${firstDone.branch}:wrote.txt`], bare), 'written by the job');

  // The same repo again: a warm checkout, reset by the runner, written by the job once more.
  const second = await submit(server, {
    repo_id: repo.id,
    title: 'after a background process',
    command:
      'stat -c "inode %i" README.md; if kill -0 "$(cat /tmp/bg.pid)" 2>/dev/null; then echo "the first job left $(cat /tmp/bg.pid) running"; exit 1; fi; echo again > wrote.txt',
  });
  const secondDone = await waitForJob(server, second.id, ended, 120_000);
  const secondLog = await logOf(server, second.id);
  assert.equal(secondDone.status, 'succeeded', `${secondDone.error ?? ''}\n${secondLog}\n${await containerOutput(container)}`);
  assert.equal(await git(['show', `${secondDone.branch}:wrote.txt`], bare), 'again');
  assert.match(secondLog, /running in the runner's container as lazyaf \(uid 1000\)/);
  // A file neither job changed is the same file: the reset did not write the checkout again (it did
  // while the runner's index still held the owner and ctime from before the job user got the files).
  const inode = (text: string) => /^inode (\d+)$/m.exec(text)?.[1];
  assert.ok(inode(log));
  assert.equal(inode(secondLog), inode(log), 'README.md was written again');

  // Another repo's job on the same runner: the first repo's checkout and cache are closed to it, the work dir is not listable.
  const other = await seedRepo(server, path.join(tempDir(t), 'other'), 'other');
  const third = await submit(server, {
    repo_id: other.id,
    title: 'looks next door',
    command: [
      'work="$(dirname "$PWD")"',
      `for what in "$work/${repo.id}/wrote.txt" "$work/../cache/${repo.id}.git/objects/info"; do if ls "$what" 2>/dev/null; then echo "read $what"; exit 1; fi; done`,
      'if ls "$work" "$work/.." 2>/dev/null; then echo "listed the work dir"; exit 1; fi',
      'git log -1 --format=%H > head.txt',
    ].join('\n'),
  });
  const thirdDone = await waitForJob(server, third.id, ended, 120_000);
  const thirdLog = await logOf(server, third.id);
  assert.equal(thirdDone.status, 'succeeded', `${thirdDone.error ?? ''}\n${thirdLog}`);
  // Its own cache's objects it reads (its checkout borrows them).
  assert.match(await git(['show', `${thirdDone.branch}:head.txt`], path.join(server.ctx.reposDir, `${other.id}.git`)), /^[0-9a-f]{40}$/);
});

test('a runner container started as another user says loudly that its jobs can read its environment; an unknown job user stops it with one line', async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const image = await testRunnerImage(docker);
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const start = async (name: string, extra: Partial<Docker.ContainerCreateOptions>) => {
    const container = await docker.createContainer({
      Image: image,
      Cmd: ['--server', server.url, '--name', name],
      Labels: containerLabels(t, docker),
      HostConfig: { NetworkMode: 'host' },
      ...extra,
      Env: [`LAZYAF_TOKEN=${server.registrationToken}`, ...(extra.Env ?? [])],
    });
    await container.start();
    return container;
  };

  const unknown = await start('no-such-user', { Env: ['LAZYAF_JOB_USER=nosuchuser'] });
  assert.equal((await unknown.wait()).StatusCode, 1);
  assert.match(
    await containerOutput(unknown),
    /^lazyaf: cannot run jobs as nosuchuser: no user nosuchuser in \/etc\/passwd \(LAZYAF_JOB_USER names the user jobs run as\)\n$/,
  );

  const asUser = await start('as-user', { User: '1000' });
  await eventually(
    'the container registers',
    async () => (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.find((r) => r.name === 'as-user'),
    120_000,
  );
  assert.match(
    await containerOutput(asUser),
    /WARNING: jobs run in this runner's container, .*, as the runner's own user \(uid 1000\): a job can read the runner's environment, its registration token included/,
  );
  const job = await submit(server, { repo_id: repo.id, title: 'as the runner', command: 'true' });
  assert.equal((await waitForJob(server, job.id, ended, 120_000)).status, 'succeeded');
  assert.match(
    await logOf(server, job.id),
    /running in the runner's container as the runner's own user: the command can read the runner's environment, its registration token included/,
  );
});

test("a failed image build is one line with the failing step's own complaint, not the whole command", async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const tag = `${process.env.LAZYAF_TEST_IMAGE || 'lazyaf-runner:test'}-bad`;
  await assert.rejects(
    buildRunnerImage({ docker, tag, baseImage: process.env.LAZYAF_TEST_BASE_IMAGE || undefined, agents: 'claude,nonesuch' }),
    (err: Error) => {
      assert.ok(err instanceof ImageBuildError, String(err));
      assert.match(
        err.message,
        /^image build failed at step \d+\/\d+ \(RUN .{1,80}\): AGENTS: unknown agent 'nonesuch' \(this image installs claude, gemini, codex\)$/,
      );
      return true;
    },
  );
});

test('an engine that does not answer is one line naming where it was looked for', async () => {
  const socket = path.join(os.tmpdir(), `lazyaf-no-engine-${process.pid}.sock`);
  await assert.rejects(buildRunnerImage({ docker: new Docker({ socketPath: socket }), tag: 'lazyaf-runner:never' }), (err: Error) => {
    assert.ok(err instanceof ImageBuildError, String(err));
    assert.match(err.message, /^cannot reach the Docker engine at .*: connect ENOENT .*lazyaf-no-engine-\d+\.sock$/);
    return true;
  });
});
