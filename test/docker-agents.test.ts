// Agents on docker runners: the runner image with the pinned CLIs (test/docker-helpers.ts
// testAgentImage), as a docker pool container and as a container started from `lazyaf
// docker-command`, running Claude Code against the scripted Anthropic API on this machine's
// loopback, which a job reaches only through LAZYAF_JOB_HOST_PORTS.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type Docker from 'dockerode';
import { isAgentCredential } from '../src/shared/agents/credentials.js';
import type { DockerCommand, Job, RepoList, RunnerList, Transcript } from '../src/shared/api.js';
import { defaultScript, startAnthropicServer, type AnthropicServer } from './agents/anthropic-server.js';
import { defaultGeminiScript, startGeminiServer } from './agents/gemini-server.js';
import { startOpenAIServer } from './agents/openai-server.js';
import { containerOutput, dockerOrSkip, removeContainers, testAgentImage } from './docker-helpers.js';
import { api, authUrl, barePath, eventually, git, readStream, run, startTestServer, tempDir, type Target } from './helpers.js';
import { logOf, runJob, seedRepo, submit, waitForJob } from './queue-helpers.js';

const SLOW = 120_000;
const HOST_CA = '/etc/ssl/certs/ca-certificates.crt';
/** Gemini's default conversation: read notes.txt, make the colour in src/app.txt blue, run a command, answer. */
const GEMINI_CONVERSATION = {
  readPath: 'notes.txt',
  editPath: 'src/app.txt',
  oldText: 'colour = "red"',
  newText: 'colour = "blue"',
  command: 'git diff --stat',
  answer: 'The colour is blue now.',
};
// Characters a shell or a URL would mangle: the key must reach claude as it is, and nowhere else.
const API_KEY = `sk-ant-docker-e2e-'key'-$HOME-${'x'.repeat(8)}`;

/** The default conversation, with a command that says who ran it, in which HOME, and what the settings of claude's config gave it. */
function script() {
  const turns = defaultScript();
  turns.splice(3, 0, [
    {
      type: 'tool_use',
      name: 'Bash',
      input: {
        command: 'id -u > uid.txt && printf %s "$HOME" > home.txt && printf %s "$GREETING" > greeting.txt && printf %s "$NODE_EXTRA_CA_CERTS" > ca.txt',
        description: 'Who am I',
      },
    },
  ]);
  return turns;
}

async function modelServer(t: TestContext): Promise<AnthropicServer> {
  const model = await startAnthropicServer({ script: script() });
  t.after(() => model.close());
  return model;
}

/** Everything the server's live event stream says until `abort`, as text. */
async function recordEvents(t: TestContext, server: Target): Promise<() => string> {
  const abort = new AbortController();
  t.after(() => abort.abort());
  const res = await fetch(`${server.url}/api/events`, { headers: { authorization: `Bearer ${server.token}` }, signal: abort.signal });
  assert.equal(res.status, 200);
  return readStream(t, res, 'the event stream').text;
}

/** The container's environment holds no agent credential, by name or by value. */
async function assertNoCredentialIn(container: Docker.Container): Promise<void> {
  const env: string[] = (await container.inspect()).Config.Env;
  const names = env.map((e) => e.split('=')[0]!);
  assert.deepEqual(
    names.filter((n) => isAgentCredential(n)),
    [],
    env.join('\n'),
  );
  assert.ok(!env.some((e) => e.includes(API_KEY)), 'the key is in the container');
}

/**
 * Runs claude on the runner with `labels` and checks what every kind of docker runner must give:
 * the edit on the branch, the command run as uid 1000 in the job's own HOME, the transcript and
 * usage stored, and the key nowhere but in the model's requests.
 */
async function assertClaudeJob(
  t: TestContext,
  server: Target,
  model: AnthropicServer,
  events: () => string,
  labels: string[],
): Promise<{ job: Job; clone: string }> {
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'), 'demo', { 'README.md': '# demo\nA demo repo.\n' });
  const { log, ...job } = await runJob(server, { repo_id: repo.id, title: 'Say hello', description: 'Write hello.txt.', agent: 'claude', labels }, SLOW);
  assert.equal(job.status, 'succeeded', `${job.error}\n${log}`);
  assert.equal(model.conversation()[0]?.headers['x-api-key'], API_KEY, "the server's key reached claude");
  assert.match(log, /running in the runner's container as lazyaf \(uid 1000\)/);

  const clone = path.join(tempDir(t), 'clone');
  await git(['clone', '-q', '--branch', job.branch!, authUrl(repo.clone_url, server.token), clone]);
  assert.equal(fs.readFileSync(path.join(clone, 'hello.txt'), 'utf8'), 'hello from claude\n');
  assert.equal(fs.readFileSync(path.join(clone, 'uid.txt'), 'utf8'), '1000\n', "claude's commands ran as the job user");
  const home = fs.readFileSync(path.join(clone, 'home.txt'), 'utf8');
  assert.match(home, /^\/.+\/home$/);
  assert.notEqual(home, '/home/lazyaf', "the job's own HOME, not the job user's");

  const transcript = await api<Transcript>(server, 'GET', `/api/jobs/${job.id}/transcript`);
  assert.equal(transcript.status, 200);
  const edit = transcript.body.entries.find((e) => e.type === 'tool' && e.kind === 'file_edit');
  assert.match(edit?.path ?? '', /hello\.txt$/);
  const command = transcript.body.entries.find((e) => e.type === 'tool' && e.kind === 'command' && /ran\.txt/.test(e.command ?? ''));
  assert.equal(command?.exit_code, 0);
  assert.ok(transcript.body.entries.some((e) => e.type === 'message' && e.role === 'assistant'));
  const shown = await api<Job>(server, 'GET', `/api/jobs/${job.id}`);
  assert.ok((shown.body.usage?.input_tokens ?? 0) > 0 && (shown.body.usage?.output_tokens ?? 0) > 0, JSON.stringify(shown.body.usage));

  // The key is in none of what the server keeps or shows, nor in the branch.
  const answers = [
    log,
    JSON.stringify(transcript.body),
    JSON.stringify(shown.body),
    JSON.stringify((await api(server, 'GET', '/api/jobs')).body),
    JSON.stringify((await api(server, 'GET', `/api/jobs/${job.id}/diff`)).body),
    await git(['log', '-p', '--all'], clone),
  ];
  for (const text of answers) assert.ok(!text.includes(API_KEY), `the key leaked: ${text.slice(0, 2000)}`);
  await eventually('the job.updated events', async () => events().includes(job.id));
  assert.ok(!events().includes(API_KEY), 'the key is in an event');
  return { job, clone };
}

test('a docker pool runner takes the agent key and ANTHROPIC_BASE_URL with the job, not in its environment: claude reaches the model through the job host port', async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const model = await modelServer(t);
  const dataDir = path.join(tempDir(t), 'data');
  // A CA file of the server's machine, which the container does not have (it trusts its image's bundle).
  const hostCa = path.join(tempDir(t), 'company-ca.pem');
  fs.copyFileSync(HOST_CA, hostCa);
  // The runner's own settings say nothing of agents: the server's environment holds the key and the endpoint.
  const server = await startTestServer(
    t,
    {
      LAZYAF_LAUNCHER: 'docker',
      LAZYAF_RUNNER_IMAGE: await testAgentImage(docker),
      LAZYAF_JOB_HOST_PORTS: String(model.port),
      ANTHROPIC_API_KEY: API_KEY,
      ANTHROPIC_BASE_URL: model.url,
      NODE_EXTRA_CA_CERTS: hostCa,
    },
    { dataDir, runners: 1 },
  );
  const serverId = fs.readFileSync(path.join(dataDir, 'server_id'), 'utf8').trim();
  t.after(() => removeContainers(docker, { 'lazyaf.server': serverId }));
  const events = await recordEvents(t, server);
  const runner = await eventually(
    () => `the pool runner with its agents; the server said:\n${server.output()}`,
    async () => (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.find((r) => r.status === 'idle' && r.agents.includes('claude')),
    SLOW,
  );
  assert.deepEqual([...runner.agents].sort(), ['claude', 'codex', 'gemini']);
  const [info] = await docker.listContainers({ filters: { label: [`lazyaf.server=${serverId}`] } });
  await assertNoCredentialIn(docker.getContainer(info!.Id));

  const { job, clone } = await assertClaudeJob(t, server, model, events, []);
  assert.equal(job.runner_id, runner.id);
  // A file setting that names no file in the container would have replaced the image's CA bundle: the runner keeps its own and says so.
  assert.equal(fs.readFileSync(path.join(clone, 'ca.txt'), 'utf8'), '/etc/ssl/certs/ca-certificates.crt');
  assert.match(
    await logOf(server, job.id),
    /^\[lazyaf\] NODE_EXTRA_CA_CERTS from the server names a file this runner does not have: left out \(the agent keeps the runner's own\)$/m,
  );
  assert.ok(!server.output().includes(API_KEY), 'the key is in the server output');
});

test("a runner started from `lazyaf docker-command` finds the CLIs of its image, says so, gets the agent key with the job only, and gives claude a copy of the config mounted in the job user's HOME", async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const model = await modelServer(t);
  const dataDir = path.join(tempDir(t), 'data');
  const server = await startTestServer(
    t,
    {
      LAZYAF_RUNNER_IMAGE: await testAgentImage(docker),
      LAZYAF_JOB_HOST_PORTS: String(model.port),
      ANTHROPIC_API_KEY: API_KEY,
      ANTHROPIC_BASE_URL: model.url,
    },
    { dataDir },
  );
  const events = await recordEvents(t, server);
  const res = await api<DockerCommand>(server, 'GET', '/api/runners/docker-command?with_secrets=true&labels=agents');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.ok(!res.body.command.includes(API_KEY) && !/ANTHROPIC|CLAUDE/.test(res.body.command), res.body.command);

  // Claude's config where the image's README puts it, in the job user's HOME: its settings give the agent's commands a variable.
  const config = path.join(tempDir(t), 'claude-config');
  fs.mkdirSync(config);
  fs.writeFileSync(path.join(config, 'settings.json'), JSON.stringify({ env: { GREETING: 'from the mounted settings' } }));
  const command = res.body.command.replace(' --init ', ` --init -v ${config}:/home/lazyaf/.claude:ro `);
  assert.notEqual(command, res.body.command);
  const started = await run('sh', ['-c', command]);
  assert.equal(started.code, 0, started.stderr);
  const container = docker.getContainer(started.stdout.trim());
  t.after(() => container.remove({ force: true }).catch(() => undefined));
  await assertNoCredentialIn(container);
  let output = '';
  const runner = await eventually(
    () => `the runner to register; its output:\n${output}`,
    async () => {
      output = await containerOutput(container);
      return (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.find((r) => r.status === 'idle' && r.labels.includes('agents'));
    },
    SLOW,
  );
  assert.deepEqual([...runner.agents].sort(), ['claude', 'codex', 'gemini']);
  output = await containerOutput(container);
  assert.match(output, /: agents: claude, gemini, codex$/m);
  assert.match(output, /: agent aider skipped: not on PATH$/m);

  const { clone } = await assertClaudeJob(t, server, model, events, ['agents']);
  assert.equal(fs.readFileSync(path.join(clone, 'greeting.txt'), 'utf8'), 'from the mounted settings');

  // An endpoint the job's wall closes (the server's own port on the container's loopback, where its
  // runner reaches it): the agent fails within seconds with its own reason, not at the job's timeout.
  const walled = `http://127.0.0.1:${new URL(server.url).port}`;
  assert.equal((await api(server, 'PUT', '/api/secrets/ANTHROPIC_BASE_URL', { value: walled })).status, 201);
  const repo = (await api<RepoList>(server, 'GET', '/api/repos')).body.repos[0]!;
  const began = Date.now();
  const submitted = await submit(server, { repo_id: repo.id, title: 'Nobody answers', agent: 'claude', labels: ['agents'] });
  const failed = await waitForJob(server, submitted.id, undefined, SLOW);
  const took = Date.now() - began;
  assert.equal(failed.status, 'failed');
  assert.match(failed.error ?? '', /^API Error: /, `claude's reason is the error: ${failed.error}`);
  assert.ok(took < 30_000, `failed after ${took} ms`);
  t.diagnostic(`an endpoint behind the wall: failed after ${took} ms: ${failed.error}`);
});

test('codex and gemini on a docker pool runner: each edits its branch through its API on a job host port, with the key from the assignment', async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const openai = await startOpenAIServer();
  t.after(() => openai.close());
  const gemini = await startGeminiServer({ script: defaultGeminiScript(GEMINI_CONVERSATION) });
  t.after(() => gemini.close());
  const keys = { OPENAI_API_KEY: `sk-openai-docker-${'o'.repeat(8)}`, GEMINI_API_KEY: `gemini-docker-${'g'.repeat(8)}` };
  const dataDir = path.join(tempDir(t), 'data');
  const server = await startTestServer(
    t,
    {
      LAZYAF_LAUNCHER: 'docker',
      LAZYAF_RUNNER_IMAGE: await testAgentImage(docker),
      LAZYAF_JOB_HOST_PORTS: `${openai.port},${gemini.port}`,
      ...keys,
      OPENAI_BASE_URL: openai.baseUrl,
      GOOGLE_GEMINI_BASE_URL: gemini.url,
    },
    { dataDir, runners: 1 },
  );
  const serverId = fs.readFileSync(path.join(dataDir, 'server_id'), 'utf8').trim();
  t.after(() => removeContainers(docker, { 'lazyaf.server': serverId }));
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'), 'demo', {
    'README.md': 'Change hello.txt\n',
    'hello.txt': 'hello\n',
    'notes.txt': 'The colour must be blue.\n',
    'src/app.txt': 'colour = "red"\n',
  });
  const info = await eventually(
    'the pool container',
    async () => (await docker.listContainers({ filters: { label: [`lazyaf.server=${serverId}`] } }))[0],
    SLOW,
  );
  const env: string[] = (await docker.getContainer(info.Id).inspect()).Config.Env;
  assert.ok(!env.some((e) => isAgentCredential(e.split('=')[0]!) || Object.values(keys).some((k) => e.includes(k))), env.join('\n'));

  const expected = { codex: ['hello.txt', 'hello from codex\n'], gemini: ['src/app.txt', 'colour = "blue"\n'] } as const;
  for (const agent of ['codex', 'gemini'] as const) {
    const { log, ...job } = await runJob(server, { repo_id: repo.id, title: `Edit as ${agent}`, agent }, SLOW);
    assert.equal(job.status, 'succeeded', `${agent}: ${job.error}\n${log}`);
    assert.match(log, /running in the runner's container as lazyaf \(uid 1000\)/);
    const [file, content] = expected[agent];
    assert.equal(await git(['show', `${job.branch}:${file}`], barePath(server.dataDir, repo.id)), content.trimEnd());
    const transcript = (await api<Transcript>(server, 'GET', `/api/jobs/${job.id}/transcript`)).body;
    assert.ok(
      transcript.entries.some((e) => e.type === 'tool' && e.kind === 'file_edit' && e.path === file),
      JSON.stringify(transcript.entries),
    );
    const usage = (await api<Job>(server, 'GET', `/api/jobs/${job.id}`)).body.usage;
    assert.ok((usage?.input_tokens ?? 0) > 0 && (usage?.output_tokens ?? 0) > 0, JSON.stringify(usage));
    for (const text of [log, JSON.stringify(transcript)]) for (const key of Object.values(keys)) assert.ok(!text.includes(key), `${agent}: a key leaked`);
  }
  assert.equal(openai.requests.find((r) => r.path.includes('/responses'))?.headers.authorization, `Bearer ${keys.OPENAI_API_KEY}`);
  assert.equal(gemini.chatRequests()[0]?.headers['x-goog-api-key'], keys.GEMINI_API_KEY);
});
