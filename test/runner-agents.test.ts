import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { agentCliBinDir } from '../scripts/agent-clis.js';
import { findAgents, searchAgents } from '../src/runner/agents.js';
import { withoutNpmBins } from '../src/runner/env.js';
import { Sandbox } from '../src/runner/sandbox.js';
import { AGENT_CLI_VERSIONS } from '../src/shared/agents/versions.js';
import type { RunnerList } from '../src/shared/api.js';
import { api, barePath, cli, eventually, git, ROOT, run, startTestServer, tempDir, type TestServer } from './helpers.js';
import { logOf, seedRepo, startRunnerProcess, submit, waitForJob, type RunnerProcess } from './queue-helpers.js';

// Runners name the agents they can run: found on their jobs' PATH at start, or declared. Real
// server, real runner processes; the agent is a fake `claude` script (no cloud API).

/** A folder holding an executable script of each name. */
function fakeAgents(dir: string, names: string[]): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const name of names) {
    fs.writeFileSync(path.join(dir, name), `#!/bin/sh\necho "${name} ran" > by-${name}.txt\n`, { mode: 0o755 });
  }
  return dir;
}

async function runnerNamed(server: TestServer, name: string) {
  return eventually(`runner ${name} registered`, async () => (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.find((r) => r.name === name));
}

async function started(r: RunnerProcess, line: string): Promise<void> {
  await eventually(`"${line}" from ${r.name}`, () => r.output().includes(line));
}

test('an agent found on only one runner PATH: its jobs go to that runner, never to the other', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  const bin = fakeAgents(path.join(dir, 'bin'), ['claude']);
  // Started first, and idle when the jobs come: it would take them if it were allowed to.
  const without = startRunnerProcess(t, server, 'without', path.join(dir, 'runners'));
  await started(without, 'no agent CLI its jobs can run: this runner takes shell jobs only (declare others with --agents)');
  const claudeRunner = startRunnerProcess(t, server, 'claude-one', path.join(dir, 'runners'), [], { PATH: `${bin}:${process.env.PATH}` });
  await started(claudeRunner, 'agents: claude');
  const a = await runnerNamed(server, 'claude-one');
  const b = await runnerNamed(server, 'without');
  assert.deepEqual(a.agents, ['claude']);
  assert.deepEqual(b.agents, []);

  const jobs = await Promise.all([1, 2, 3].map((i) => submit(server, { repo_id: repo.id, title: `agent job ${i}`, agent: 'claude' })));
  const bare = barePath(server.dataDir, repo.id);
  for (const job of jobs) {
    const done = await waitForJob(server, job.id, undefined, 60_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.deepEqual(
      done.attempts?.map((x) => x.runner_id),
      [a.id],
    );
    assert.equal(await git(['show', `${done.branch}:by-claude.txt`], bare), 'claude ran');
  }
  // Shell jobs still go anywhere, the runner without claude included.
  const shell = await submit(server, { repo_id: repo.id, title: 'plain', command: 'true' });
  assert.equal((await waitForJob(server, shell.id, undefined, 60_000)).status, 'succeeded');

  const listed = await cli(['runners'], { server });
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /AGENTS/);
  assert.match(listed.stdout.split('\n').find((l) => l.startsWith('claude-one')) ?? '', / shell,claude /);
});

test('--agents declares what a runner can run instead of looking; a bad name is one line', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  const declared = startRunnerProcess(t, server, 'declared', path.join(dir, 'runners'), ['--agents', 'gemini, my-agent']);
  await started(declared, 'agents: gemini, my-agent (declared)');
  const info = await runnerNamed(server, 'declared');
  assert.deepEqual(info.agents, ['gemini', 'my-agent']);
  // It takes the job: whether the agent then works is the job's business (here it is not installed).
  const job = await submit(server, { repo_id: repo.id, title: 'gemini please', agent: 'gemini' });
  const done = await waitForJob(server, job.id, undefined, 60_000);
  assert.deepEqual(
    done.attempts?.map((x) => x.runner_id),
    [info.id],
  );

  const env = { LAZYAF_TOKEN: server.registrationToken };
  for (const bad of [
    ['--agents', 'Claude'],
    ['--agents', 'a;b'],
  ]) {
    const r = await cli(['runner', '--server', server.url, '--workdir', path.join(dir, 'bad'), ...bad], { env });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^lazyaf: invalid agent name: .*\n$/, r.stderr);
  }
  const fromEnv = await cli(['runner', '--server', server.url, '--workdir', path.join(dir, 'bad')], { env: { ...env, LAZYAF_AGENTS: '__proto__' } });
  assert.match(fromEnv.stderr, /^lazyaf: invalid agent name: __proto__ \(.*\)\n$/);
});

test('an agent counts only where the job can see and run it behind its sandbox', (t) => {
  const dir = tempDir(t);
  const home = path.join(dir, 'home');
  const tools = fakeAgents(path.join(home, '.local', 'bin'), ['claude']);
  const private_ = fakeAgents(path.join(home, 'bin'), ['gemini']);
  const hiddenDir = fakeAgents(path.join(dir, 'workdir', 'bin'), ['codex']);
  const notExecutable = fakeAgents(path.join(dir, 'plain'), ['aider']);
  fs.chmodSync(path.join(notExecutable, 'aider'), 0o644);
  const PATH = [tools, private_, hiddenDir, notExecutable, '/usr/bin'].join(':');
  const saved = process.env.PATH;
  process.env.PATH = PATH; // The sandbox shows the PATH entries the runner has at its start.
  try {
    const sandbox = new Sandbox({ hide: [path.join(dir, 'workdir')], home });
    assert.deepEqual(findAgents(sandbox, PATH), ['claude']);
    // Unsandboxed, every executable on the PATH counts.
    assert.deepEqual(findAgents(undefined, PATH), ['claude', 'gemini', 'codex']);
  } finally {
    process.env.PATH = saved;
  }
});

test("only this package's node_modules/.bin folders (and those above it) leave the jobs' PATH, not a CLI installed with npm install --prefix", () => {
  const root = '/srv/app/lazyaf';
  const PATH = [
    '/srv/app/lazyaf/node_modules/.bin',
    '/srv/app/node_modules/.bin',
    '/node_modules/.bin',
    '/usr/lib/node_modules/npm/node_modules/@npmcli/run-script/lib/node-gyp-bin',
    '/opt/agents/node_modules/.bin',
    '/srv/app/lazyaf/other/node_modules/.bin',
    '/usr/bin',
  ].join(':');
  assert.equal(withoutNpmBins(PATH, root), '/opt/agents/node_modules/.bin:/srv/app/lazyaf/other/node_modules/.bin:/usr/bin');
  assert.equal(withoutNpmBins(`${ROOT}/node_modules/.bin:/usr/bin`), '/usr/bin', "this package's own root by default");
});

/** `npm i -g` (and nvm) as it lays a CLI out: `prefix/bin/claude` -> `../lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe`. */
async function globalInstallOfClaude(prefix: string): Promise<string> {
  const installed = path.join(path.dirname(agentCliBinDir('claude')), '@anthropic-ai');
  const lib = path.join(prefix, 'lib', 'node_modules');
  fs.mkdirSync(lib, { recursive: true });
  // Hard links: the package's own folder, as npm would write it, without copying its 200 MB.
  const copied = await run('cp', ['-al', installed, path.join(lib, '@anthropic-ai')]);
  assert.equal(copied.code, 0, copied.stderr);
  fs.mkdirSync(path.join(prefix, 'bin'));
  fs.symlinkSync('../lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe', path.join(prefix, 'bin', 'claude'));
  return path.join(prefix, 'bin');
}

for (const [how, binDir] of [
  ['npm install --prefix', async () => agentCliBinDir('claude')],
  ['a folder of links into ../lib/node_modules (npm i -g, nvm)', (dir: string) => globalInstallOfClaude(path.join(dir, 'global'))],
] as const) {
  test(`the real claude installed with ${how}: the runner finds it, and a job runs it in the sandbox`, async (t) => {
    const server = await startTestServer(t);
    const dir = tempDir(t);
    const repo = await seedRepo(server, path.join(dir, 'src'));
    const bin = await binDir(dir);
    const runner = startRunnerProcess(t, server, 'agents', path.join(dir, 'runners'), ['--sandbox', 'require'], {
      PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`,
    });
    await started(runner, 'agents: claude');
    await started(runner, 'agent codex skipped: not on PATH');
    assert.deepEqual((await runnerNamed(server, 'agents')).agents, ['claude']);
    const job = await submit(server, { repo_id: repo.id, title: 'version', command: 'command -v claude; claude --version' });
    const done = await waitForJob(server, job.id, undefined, 60_000);
    const log = await logOf(server, job.id);
    assert.equal(done.status, 'succeeded', log);
    assert.ok(log.includes(`${bin}/claude\n`), log);
    assert.match(log, new RegExp(`^${AGENT_CLI_VERSIONS.claude.version.replace(/\./g, '\\.')} \\(Claude Code\\)$`, 'm'));
    assert.ok(!log.includes('WITHOUT a sandbox'));
  });
}

test('a CLI on PATH that the sandbox cannot show is skipped with the reason', (t) => {
  const dir = tempDir(t);
  const home = path.join(dir, 'home');
  // A link from a shown folder into a private one under HOME (not an install folder of the sandbox).
  const target = fakeAgents(path.join(home, 'private'), ['gemini']);
  const shown = path.join(dir, 'bin');
  fs.mkdirSync(shown);
  fs.symlinkSync(path.join(target, 'gemini'), path.join(shown, 'gemini'));
  const PATH = [shown, '/usr/bin'].join(':');
  const saved = process.env.PATH;
  process.env.PATH = PATH;
  try {
    const search = searchAgents(new Sandbox({ hide: [], home }), PATH);
    assert.deepEqual(search.found, []);
    assert.deepEqual(
      search.skipped.find((s) => s.name === 'gemini'),
      {
        name: 'gemini',
        reason: `on PATH (${shown}/gemini) but not runnable in the job's wall: it leads to ${target}/gemini, which the sandbox does not show`,
      },
    );
    assert.deepEqual(
      search.skipped.find((s) => s.name === 'codex'),
      { name: 'codex', reason: 'not on PATH' },
    );
  } finally {
    process.env.PATH = saved;
  }
});
