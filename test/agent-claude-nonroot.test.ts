// Claude Code on a process runner that is not root: `lazyaf runner` as nobody, with the pinned CLI
// in a folder of its own HOME (as `npm install --prefix ~/.local/claude` leaves it) on its PATH,
// against the scripted Anthropic API. bubblewrap works for a normal user (a user namespace); the
// job network does not where /dev/net/tun is root's alone (pasta needs it), so the runner runs with
// `--sandbox auto`, says its jobs share the host's network, and the job reaches the API there.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { agentCliBinDir } from '../scripts/agent-clis.js';
import { AGENT_CLI_VERSIONS } from '../src/shared/agents/versions.js';
import { cloneBranch, runTimedJob, setSecret, transcriptOf, type AgentStack } from './agents/agent-jobs.js';
import { startAnthropicServer, userText } from './agents/anthropic-server.js';
import { eventually, startTestServer } from './helpers.js';
import { canRunAsNobody, NOBODY, nobodysDir, startRunnerAsNobody } from './nobody-helpers.js';
import { logOf, seedRepo } from './queue-helpers.js';

const KEY = 'sk-ant-nonroot-5e1f0a';

/**
 * The pinned CLI's install, as its own user would have it in `home`: the prefix folder
 * (node_modules with .bin's links), hard-linked from the cache rather than copied (hundreds of MB).
 */
function installFor(home: string): string {
  const prefix = path.dirname(path.dirname(agentCliBinDir('claude')));
  const own = path.join(home, '.local', `claude-${AGENT_CLI_VERSIONS.claude.version}`);
  fs.mkdirSync(path.dirname(own), { recursive: true });
  execFileSync('cp', ['-al', prefix, own]);
  execFileSync('chown', ['-R', '--no-dereference', `${NOBODY}:${NOBODY}`, path.join(home, '.local')]);
  return path.join(own, 'node_modules', '.bin');
}

test('claude on a runner that is not root: in the bubblewrap sandbox, its edit on the branch, its transcript', async (t) => {
  if (!canRunAsNobody(t)) return;
  const model = await startAnthropicServer();
  t.after(() => model.close());
  const server = await startTestServer(t, { LAZYAF_JOB_HOST_PORTS: String(model.port) });
  await setSecret(server, 'ANTHROPIC_API_KEY', KEY);
  await setSecret(server, 'ANTHROPIC_BASE_URL', model.url);
  const dir = nobodysDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo', { 'README.md': '# demo\n' });
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  fs.chownSync(home, NOBODY, NOBODY);
  const binDir = installFor(home);

  const runner = startRunnerAsNobody(t, server, dir, 'nobody-claude', 'auto', {
    PATH: `${process.env.PATH}:${binDir}`,
    LAZYAF_JOB_HOST_PORTS: String(model.port),
  });
  await eventually('the runner to register', () => /registered as nobody-claude/.test(runner.output()) || undefined, 60_000);
  assert.match(runner.output(), /jobs run in a bubblewrap sandbox/);
  // Where pasta works for its user (/dev/net/tun open to all, as on most hosts) jobs get their own network; else the runner says they do not.
  if (!/jobs: own network \(pasta\)/.test(runner.output()))
    assert.match(
      runner.output(),
      /WARNING: jobs share this machine's network \(Failed to open tun socket in namespace\): .* To fix: let the runner's user \(uid 65534\) open \/dev\/net\/tun \(it is mode \d{4}, owner uid \d+; most hosts have it 0666\), or run the runner as root;/,
    );
  assert.match(runner.output(), /agents: claude/, 'the runner finds claude on its PATH');
  t.diagnostic(
    `the runner as nobody: ${runner
      .output()
      .split('\n')
      .filter((l) => /network|sandbox|agents?:/.test(l))
      .join(' | ')}`,
  );

  const stack = { server, repo, dir } as AgentStack;
  const { job, ms } = await runTimedJob(stack, { title: 'Say hello', description: 'Write hello.txt.', agent: 'claude' });
  const log = await logOf(server, job.id);
  t.diagnostic(`claude job on the nobody runner: created → finished in ${ms} ms`);
  assert.equal(job.status, 'succeeded', `${job.error}\n${log}\n${runner.output()}`);
  assert.match(userText(model.conversation()[0]!), /# Task: Say hello/);
  assert.equal(model.conversation()[0]!.headers['x-api-key'], KEY);
  const clone = await cloneBranch(stack, job);
  assert.equal(fs.readFileSync(path.join(clone, 'hello.txt'), 'utf8'), 'hello from claude\n');
  assert.equal(fs.readFileSync(path.join(clone, 'ran.txt'), 'utf8'), 'ran\n', "claude's Bash tool ran in the checkout");
  const { entries } = await transcriptOf(server, job.id);
  assert.ok(entries.some((e) => e.type === 'tool' && e.kind === 'file_edit' && e.path === 'hello.txt' && e.status === 'ok'));
});
