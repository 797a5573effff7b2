import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { cachePath, inspectCache } from '../src/runner/cache.js';
import { resolveJobUser } from '../src/runner/job-user.js';
import { inContainer } from '../src/runner/sandbox.js';
import { poolWorkRoot } from '../src/server/pool/launcher.js';
import type { RunnerList } from '../src/shared/api.js';
import { api, authUrl, CLI, eventually, git, run, type ServerProcess, spawnChild, startTestServer, tempDir, waitForOutput } from './helpers.js';
import { runJob, seedRepo, startRunnerProcess } from './queue-helpers.js';

/** bwrap must work where CI runs (it installs bubblewrap); elsewhere these tests say why they skip. */
function sandboxWorks(t: TestContext): boolean {
  const probe = spawnSync('bwrap', ['--ro-bind', '/', '/', '--unshare-pid', 'true'], { encoding: 'utf8' });
  if (probe.status === 0) return true;
  const why = probe.error ? 'bwrap is not installed' : probe.stderr.trim() || `bwrap exited with ${probe.status}`;
  if (process.env.CI) throw new Error(`the job sandbox cannot run here: ${why}`);
  t.skip(`no job sandbox here (${why})`);
  return false;
}

async function seed(t: TestContext, server: ServerProcess, files: Record<string, string>): Promise<{ id: string; cloneUrl: string; base: string }> {
  const local = path.join(tempDir(t), 'src');
  const repo = await seedRepo(server, local, `demo-${Math.random().toString(16).slice(2, 8)}`, files);
  return { id: repo.id, cloneUrl: repo.clone_url, base: await git(['rev-parse', 'HEAD'], local) };
}

/** The files of a job's branch and the parent of its commit, from a fresh clone. */
async function branchContent(t: TestContext, server: ServerProcess, cloneUrl: string, branch: string): Promise<{ files: string[]; parent: string }> {
  const check = tempDir(t);
  await git(['clone', '-q', '--branch', branch, authUrl(cloneUrl, server.token), check]);
  return { files: (await git(['ls-files'], check)).split('\n').sort(), parent: await git(['rev-parse', 'HEAD~1'], check) };
}

/** A job that tries to poison whatever it can reach of the runner's repo cache, then fails so its own result is not kept. */
const POISON = [
  'OBJ=$(cat .git/objects/info/alternates); CACHE=$(dirname "$OBJ")',
  'BASE=$(git rev-parse HEAD); EVIL=$(git commit-tree "$(git mktree </dev/null)" -m evil)',
  'git replace "$BASE" "$EVIL"',
  'CEVIL=$(git --git-dir="$CACHE" commit-tree "$(git --git-dir="$CACHE" mktree </dev/null)" -m evil) && git --git-dir="$CACHE" replace "$BASE" "$CEVIL" && echo POISONED replace',
  'mkdir -p "$CACHE/hooks" && printf "#!/bin/sh\\ntouch /tmp/hooked\\n" > "$CACHE/hooks/post-checkout" && echo POISONED hooks',
  'git --git-dir="$CACHE" config core.hooksPath "$CACHE/hooks" && echo POISONED config',
  'exit 1',
].join('\n');

test("what a sandboxed job on a pool runner can see: its workspace and a copy of the agents' dirs, no token, nothing of the data dir or other workspaces", async (t) => {
  if (!sandboxWorks(t)) return;
  const dir = tempDir(t);
  // A home with an agent's login dir and a secret next to it; a shared folder holding the data dir.
  const home = path.join(dir, 'home');
  fs.mkdirSync(path.join(home, '.claude'), { recursive: true });
  fs.writeFileSync(path.join(home, '.claude', 'settings.json'), '{"agent":"config"}\n');
  fs.mkdirSync(path.join(home, '.ssh'));
  fs.writeFileSync(path.join(home, '.ssh', 'id_ed25519'), 'PRIVATE KEY\n');
  const shared = path.join(dir, 'shared');
  const data = path.join(shared, 'data');
  fs.mkdirSync(shared);
  fs.writeFileSync(path.join(shared, 'note.txt'), 'shared with jobs\n');
  fs.writeFileSync(path.join(dir, 'secret.txt'), 'not shared\n');
  const server = await startTestServer(t, { HOME: home, LAZYAF_SANDBOX_SHARE: shared }, { dataDir: data, runners: 2 });
  const repo = await seed(t, server, { 'README.md': 'hello\n' });
  const workRoot = poolWorkRoot(data);
  await eventually('both pool runners to have a work dir', async () => fs.existsSync(workRoot) && fs.readdirSync(workRoot).length === 2);
  assert.ok(!fs.readdirSync(data).includes('runners'), 'no work dir under the data dir');

  const probe = [
    'see() { if eval "$2" >/dev/null 2>&1; then echo "SEES $1"; else echo "BLIND $1"; fi; }',
    `see admin-token "cat '${data}/admin_token'"`,
    `see database "test -e '${data}/lazyaf.db'"`,
    `see bare-repos "ls '${data}/repos' | grep -q ."`,
    // Besides its own checkout, HOME, prompt and the cache's objects, which it is meant to see.
    `see pool-workdirs "find '${workRoot}' -path \\"$PWD\\" -prune -o -path \\"$HOME\\" -prune -o -path \\"$(cat .git/objects/info/alternates)\\" -prune -o -type f ! -path \\"$LAZYAF_PROMPT_FILE\\" -print | grep -q ."`,
    "see registration-token-in-proc \"cat /proc/[0-9]*/environ | tr '\\0' '\\n' | grep -q lzreg_\"",
    'see registration-token-in-env "env | grep -q lzreg_"',
    'see runner-process "grep -qs \'main[.]js\' /proc/[0-9]*/cmdline"',
    'see cache-config "cat \\"$(dirname "$(cat .git/objects/info/alternates)")/config\\""',
    'see cache-objects-writable "touch \\"$(cat .git/objects/info/alternates)/x\\""',
    `see ssh-key "cat '${home}/.ssh/id_ed25519'"`,
    // Its own HOME holds a copy of the agents' config, its to change; the runner's is out of reach.
    `see agent-config "grep -q agent \\"$HOME/.claude/settings.json\\""`,
    `see agent-config-writable "touch \\"$HOME/.claude/session\\""`,
    `see runner-agent-config "grep -q agent '${home}/.claude/settings.json'"`,
    `see shared-folder "cat '${shared}/note.txt'"`,
    `see host-tmp "cat '${dir}/secret.txt'"`,
    'see workspace-writable "touch written-by-job"',
    'see prompt "test -s \\"$LAZYAF_PROMPT_FILE\\""',
  ].join('\n');
  const job = await runJob(server, { repo_id: repo.id, title: 'probe the walls', command: probe });
  assert.equal(job.status, 'succeeded', job.log);
  const seen = new Map([...job.log.matchAll(/^(SEES|BLIND) (\S+)$/gm)].map((m) => [m[2]!, m[1] === 'SEES']));
  const expected = {
    'admin-token': false,
    database: false,
    'bare-repos': false,
    'pool-workdirs': false,
    'registration-token-in-proc': false,
    'registration-token-in-env': false,
    'runner-process': false,
    'cache-config': false,
    'cache-objects-writable': false,
    'ssh-key': false,
    'agent-config': true,
    'agent-config-writable': true,
    'runner-agent-config': false,
    'shared-folder': true,
    'host-tmp': false,
    'workspace-writable': true,
    prompt: true,
  };
  assert.deepEqual(Object.fromEntries(seen), expected, job.log);
  assert.ok(!fs.existsSync(path.join(home, '.claude', 'session')), "what the job wrote in its HOME's copy stays there");
  assert.deepEqual((await branchContent(t, server, repo.cloneUrl, job.branch!)).files, ['README.md', 'written-by-job']);
});

test("a sandboxed job cannot poison the runner's cache: the next job on the same runner starts from the real base", async (t) => {
  if (!sandboxWorks(t)) return;
  const server = await startTestServer(t, {}, { dataDir: path.join(tempDir(t), 'data') });
  const repo = await seed(t, server, { 'README.md': 'hello\n' });
  const workRoot = tempDir(t);
  const runner = startRunnerProcess(t, server, 'walled', workRoot);

  const poison = await runJob(server, { repo_id: repo.id, title: 'poison', command: POISON });
  assert.equal(poison.status, 'failed');
  assert.doesNotMatch(poison.log, /POISONED replace/, 'the objects the job sees are read-only');
  assert.equal(await inspectCache(cachePath(path.join(workRoot, 'walled'), repo.id)), undefined, 'the real cache is untouched');
  const innocent = await runJob(server, { repo_id: repo.id, title: 'innocent', command: 'echo b > b.txt' });
  assert.equal(innocent.status, 'succeeded', innocent.log);
  assert.deepEqual(await branchContent(t, server, repo.cloneUrl, innocent.branch!), { files: ['README.md', 'b.txt'], parent: repo.base });
  assert.match(runner.output(), /jobs run in a bubblewrap sandbox/);
  assert.deepEqual(
    (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.map((r) => r.sandbox),
    ['bubblewrap'],
  );
});

test('without the sandbox, a poisoned cache is caught before the next job and rebuilt', async (t) => {
  const server = await startTestServer(t, {}, { dataDir: path.join(tempDir(t), 'data') });
  const repo = await seed(t, server, { 'README.md': 'hello\n' });
  const runner = startRunnerProcess(t, server, 'open', tempDir(t), ['--no-sandbox']);
  await eventually('the warning', async () => /WARNING: jobs run WITHOUT a sandbox/.test(runner.output()));
  const cliEnv = { ...process.env, LAZYAF_SERVER: server.url, LAZYAF_TOKEN: server.token };
  // Admins see that the runner is unsandboxed.
  await eventually('`lazyaf runners` to show NONE', async () =>
    /^open\s+\S+\s+-\s+NONE\s/m.test((await run(process.execPath, [CLI, 'runners'], { env: cliEnv })).stdout),
  );

  const poison = await runJob(server, { repo_id: repo.id, title: 'poison', command: POISON });
  assert.match(poison.log, /POISONED replace/, 'unsandboxed, the job did reach the cache');
  assert.match(poison.log, /running WITHOUT a sandbox/, "the job's log says it ran unsandboxed");
  const innocent = await runJob(server, { repo_id: repo.id, title: 'innocent', command: 'echo b > b.txt' });
  assert.equal(innocent.status, 'succeeded', innocent.log);
  assert.match(innocent.log, /cached repo cannot be trusted \(it holds (refs\/replace|hooks)\); cloning again/);
  assert.deepEqual(await branchContent(t, server, repo.cloneUrl, innocent.branch!), { files: ['README.md', 'b.txt'], parent: repo.base });
});

test("git config a job leaves in its repository runs only inside its sandbox when the runner commits the job's work", async (t) => {
  if (!sandboxWorks(t)) return;
  const server = await startTestServer(t, {}, { dataDir: path.join(tempDir(t), 'data') });
  const repo = await seed(t, server, { 'README.md': 'hello\n' });
  startRunnerProcess(t, server, 'walled', tempDir(t));
  // A clean filter runs on `git add`: outside the sandbox it would leave the mark.
  const markDir = tempDir(t);
  const mark = path.join(markDir, 'filter-ran-outside');
  const command = [`git config filter.trap.clean "sh -c 'touch ${mark}; cat'"`, "echo '* filter=trap' > .gitattributes", 'echo changed > README.md'].join('\n');
  const job = await runJob(server, { repo_id: repo.id, title: 'trap', command });
  assert.equal(job.status, 'succeeded', job.log);
  assert.equal(fs.existsSync(mark), false, 'the filter did not run outside the sandbox');
  assert.deepEqual((await branchContent(t, server, repo.cloneUrl, job.branch!)).files, ['.gitattributes', 'README.md']);
});

test('a runner that cannot sandbox: --sandbox require refuses to start, the default warns loudly and runs', async (t) => {
  const dir = tempDir(t);
  const fakeBin = path.join(dir, 'bin');
  fs.mkdirSync(fakeBin);
  fs.writeFileSync(path.join(fakeBin, 'bwrap'), '#!/bin/sh\necho "bwrap: No permissions to creating new namespace" >&2\nexit 1\n', { mode: 0o755 });
  const env = { ...process.env, PATH: `${fakeBin}:${process.env.PATH}`, LAZYAF_TOKEN: 'lzreg_unused' };
  const server = 'http://127.0.0.1:9'; // never reached: the sandbox is set up before registering

  const strict = spawnChild(
    t,
    process.execPath,
    [CLI, 'runner', '--server', server, '--token', 'lzreg_unused', '--workdir', path.join(dir, 'w1'), '--sandbox', 'require'],
    { env },
  );
  let stderr = '';
  strict.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => strict.once('exit', resolve));
  assert.notEqual(code, 0);
  assert.match(stderr, /cannot sandbox jobs: bwrap: No permissions to creating new namespace; install bubblewrap .* or pass --no-sandbox/);
  assert.match(stderr, /warning: --token is visible to every user of this machine in the process list; prefer LAZYAF_TOKEN/);

  const lenient = spawnChild(t, process.execPath, [CLI, 'runner', '--server', server, '--workdir', path.join(dir, 'w2')], { env });
  await waitForOutput(lenient, /WARNING: cannot sandbox jobs \(bwrap: No permissions to creating new namespace\); jobs run WITHOUT a sandbox/);
});

test('a runner claims the container as its wall only where Docker or Podman left their mark at the root', (t) => {
  const root = tempDir(t);
  assert.equal(inContainer(root), false);
  fs.writeFileSync(path.join(root, '.dockerenv'), '');
  assert.equal(inContainer(root), true);
  fs.rmSync(path.join(root, '.dockerenv'));
  fs.mkdirSync(path.join(root, 'run'));
  fs.writeFileSync(path.join(root, 'run', '.containerenv'), '');
  assert.equal(inContainer(root), true);
});

test('the job user of the runner image comes from /etc/passwd: missing, malformed or root is one line', (t) => {
  const passwd = path.join(tempDir(t), 'passwd');
  fs.writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\nlazyaf:x:1000:1000::/home/lazyaf:/bin/bash\nodd:x:abc:1000::/home/odd:/bin/sh\n');
  assert.deepEqual(resolveJobUser('lazyaf', passwd), { name: 'lazyaf', uid: 1000, gid: 1000, home: '/home/lazyaf' });
  assert.throws(() => resolveJobUser('nobody-here', passwd), /^Error: no user nobody-here in .*passwd \(LAZYAF_JOB_USER names the user jobs run as\)$/);
  assert.throws(() => resolveJobUser('root', passwd), /^Error: the job user root is root: jobs must not run as root$/);
  assert.throws(() => resolveJobUser('odd', passwd), /^Error: the entry of odd in .*passwd is malformed$/);
  assert.throws(() => resolveJobUser('lazyaf', path.join(passwd, 'none')), /^Error: cannot read .*: ENOTDIR/);
});
