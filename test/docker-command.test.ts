import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { DockerCommand, RunnerList } from '../src/shared/api.js';
import { ConfigError, resolveServerConfig } from '../src/server/config.js';
import { hostAddresses } from '../src/server/pool/docker-network.js';
import { dockerRunCommand } from '../src/server/pool/docker-command.js';
import { hostRelayDir } from '../src/server/pool/host-relay.js';
import { api, authUrl, CLI, cli, eventually, git, removeRelayDirAfter, run, spawnChild, startTestServer, tempDir, waitForOutput } from './helpers.js';
import { dockerOrSkip, testRunnerImage } from './docker-helpers.js';
import { logOf, registerRunner, poll, seedRepo, submit, waitForJob } from './queue-helpers.js';

// Secrets a shell would mangle if they were pasted unquoted: quotes, a command substitution, a glob.
const REGISTRATION_TOKEN = `lzreg_it's"$(touch_pwned)*`;
// The server holds an agent key: it travels with each agent job, never in the command.
const AGENT_KEY = `sk-ant key 'with' "quotes" $HOME; \`id\` *`;
const SECRET_ENV = { LAZYAF_REGISTRATION_TOKEN: REGISTRATION_TOKEN, ANTHROPIC_API_KEY: AGENT_KEY };

/** The words a POSIX shell passes to `docker` when it runs `command` (a shell function stands in for docker). */
async function wordsOf(command: string): Promise<string[]> {
  const r = await run('sh', ['-c', `docker() { printf '%s\\0' "$@"; }\n${command}`]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\0').slice(0, -1);
}

test('by default the command holds placeholders, starts an init that walls its jobs off the host, and a shell reads it as printed', async (t) => {
  // The job's memory set, so the container's (the job's and 256 MiB for the runner) does not depend on this machine's.
  const server = await startTestServer(t, { ...SECRET_ENV, LAZYAF_JOB_HOST_PORTS: '4000,8787', LAZYAF_JOB_MEMORY: '1g' });
  const res = await api<DockerCommand>(server, 'GET', '/api/runners/docker-command');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const raw = JSON.stringify(res.body);
  assert.ok(!raw.includes(REGISTRATION_TOKEN) && !raw.includes('sk-ant'), raw);
  assert.equal(res.body.image, 'lazyaf-runner:latest');
  // A server on this machine's loopback: the runner reaches it, and the host ports its jobs may
  // use, through the server's relay folder, not the host network (where no wall is possible).
  const addresses = hostAddresses().join(',');
  const network = [
    { name: 'LAZYAF_JOB_HOST_PORTS', value: '4000,8787', secret: false },
    ...(addresses ? [{ name: 'LAZYAF_HOST_ADDRESSES', value: addresses, secret: false }] : []),
  ];
  assert.deepEqual(res.body.env_vars, [
    { name: 'LAZYAF_SERVER', value: server.url, secret: false },
    { name: 'LAZYAF_TOKEN', value: '<LAZYAF_REGISTRATION_TOKEN>', secret: true },
    ...network,
  ]);
  assert.ok(!res.body.command.includes('\n'));

  const words = await wordsOf(res.body.command);
  assert.match(words[3]!, /^lazyaf-runner-[0-9a-f]{4}$/);
  assert.deepEqual(words, [
    'run',
    '-d',
    '--name',
    words[3],
    '--init',
    '--restart',
    'unless-stopped',
    '--pids-limit',
    '1088',
    '--memory',
    '1280m',
    '--cap-add',
    'NET_ADMIN',
    '-v',
    `${hostRelayDir(server.dataDir)}:/run/lazyaf/host:ro`,
    '-e',
    `LAZYAF_SERVER=${server.url}`,
    '-e',
    'LAZYAF_TOKEN=<LAZYAF_REGISTRATION_TOKEN>',
    ...network.flatMap((v) => ['-e', `${v.name}=${v.value}`]),
    'lazyaf-runner:latest',
  ]);
  const again = await api<DockerCommand>(server, 'GET', '/api/runners/docker-command?with_secrets=false');
  assert.notEqual((await wordsOf(again.body.command))[3], words[3], 'each command names its own container');
});

test('with_secrets=true gives the real values, quoted so that a shell reads them exactly, and only to the admin token', async (t) => {
  const server = await startTestServer(t, SECRET_ENV);
  const url = '/api/runners/docker-command?with_secrets=true';
  const res = await api<DockerCommand>(server, 'GET', url);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.headers.get('cache-control'), 'no-store', 'secrets stay out of caches');
  const words = await wordsOf(res.body.command);
  assert.ok(words.includes(`LAZYAF_TOKEN=${REGISTRATION_TOKEN}`), words.join(' | '));
  assert.ok(!res.body.command.includes('ANTHROPIC') && !res.body.command.includes('sk-ant'), res.body.command);
  assert.deepEqual(
    res.body.env_vars.filter((v) => v.secret).map((v) => v.value),
    [REGISTRATION_TOKEN],
  );

  const runner = await registerRunner(server, 'r1');
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  await submit(server, { repo_id: repo.id, title: 'holds a job token', command: 'true' });
  const assignment = await poll(server, runner.token);
  assert.ok(assignment, 'the runner got the job');
  const others: [string, string | null][] = [
    ['no token', null],
    ['the registration token', REGISTRATION_TOKEN],
    ['a runner token', runner.token],
    ['a job token', assignment.job_token],
  ];
  for (const [who, token] of others) {
    for (const variant of [url, '/api/runners/docker-command']) {
      const refused = await api(server, 'GET', variant, undefined, { token });
      assert.equal(refused.status, 401, `${who} on ${variant}: ${JSON.stringify(refused.body)}`);
      assert.ok(!JSON.stringify(refused.body).includes('sk-ant'));
    }
  }
});

test('a secret with a control character, which no one-line command can carry, is a 422 naming it, not a broken command', async (t) => {
  for (const value of ['lzreg-line-one\nline-two', 'lzreg-\u202eevil']) {
    const server = await startTestServer(t, { LAZYAF_REGISTRATION_TOKEN: value });
    const refused = await api(server, 'GET', '/api/runners/docker-command?with_secrets=true');
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.match(refused.body.message, /^LAZYAF_TOKEN holds a control character/);
    assert.ok(!JSON.stringify(refused.body).includes('lzreg-'));
  }
  const server = await startTestServer(t, { LAZYAF_REGISTRATION_TOKEN: 'lzreg-line-one\nline-two' });
  assert.equal((await api(server, 'GET', '/api/runners/docker-command')).status, 200, 'placeholders still work');
});

test('labels, LAZYAF_PUBLIC_URL and LAZYAF_RUNNER_IMAGE shape the command; hostile query values are a 400', async (t) => {
  const server = await startTestServer(t, { LAZYAF_PUBLIC_URL: 'https://lazyaf.example:8443/', LAZYAF_RUNNER_IMAGE: 'registry.example:5000/team/runner:v1' });
  const res = await api<DockerCommand>(server, 'GET', `/api/runners/docker-command?labels=${encodeURIComponent(' gpu, os=linux,gpu')}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const words = await wordsOf(res.body.command);
  assert.ok(words.includes('LAZYAF_SERVER=https://lazyaf.example:8443'), words.join(' '));
  assert.ok(!words.includes('--network'), 'a server reached by name needs no host network');
  assert.deepEqual(words.slice(11, 13), ['--cap-add', 'NET_ADMIN'], 'the runner walls its jobs off its host (after its limits)');
  assert.ok(!words.includes('-v') && !words.some((w) => w.startsWith('LAZYAF_HOST_ADDRESSES=')), 'no relay for a runner elsewhere');
  assert.deepEqual(words.slice(-3), ['registry.example:5000/team/runner:v1', '--labels', 'gpu,os=linux']);
  assert.equal(res.body.env_vars.length, 2, 'the server URL and the registration token');

  const spec = await api(server, 'GET', '/docs/json', undefined, { token: null });
  const operation = spec.body.paths['/api/runners/docker-command'].get;
  assert.deepEqual(operation.parameters.map((p: { name: string }) => p.name).sort(), ['labels', 'with_secrets']);
  assert.deepEqual(Object.keys(operation.responses['200'].content['application/json'].schema.properties).sort(), [
    'command',
    'elsewhere',
    'elsewhere_hint',
    'env_vars',
    'image',
    'lines',
    'local_only',
    'server_url',
  ]);

  const hostile = [
    'with_secrets=yes',
    'with_secrets=',
    'with_secrets=true&with_secrets=false',
    `labels=${encodeURIComponent('gpu;$(rm -rf ~)')}`,
    `labels=${encodeURIComponent("a'b")}`,
    `labels=${encodeURIComponent('-x')}`,
    `labels=${Array.from({ length: 33 }, (_, i) => `l${i}`).join(',')}`,
    `labels=${'a'.repeat(5000)}`,
    'image=evil',
    '__proto__=1',
  ];
  for (const query of hostile) {
    const r = await api(server, 'GET', `/api/runners/docker-command?${query}`);
    assert.equal(r.status, 400, `${query}: ${r.status} ${JSON.stringify(r.body)}`);
  }
});

test('without LAZYAF_PUBLIC_URL the server URL is the host the request reached; a Host that is no plain host[:port] is a 400', async (t) => {
  const server = await startTestServer(t);
  const ask = (host: string) =>
    server.app.inject({ method: 'GET', url: '/api/runners/docker-command', headers: { host, authorization: `Bearer ${server.token}` } });
  const named = await ask('lazyaf.example:8000');
  assert.equal(named.statusCode, 200, named.body);
  assert.equal((named.json() as DockerCommand).env_vars[0]!.value, 'http://lazyaf.example:8000');
  assert.equal((await ask('[::1]:8000')).json().env_vars[0].value, 'http://[::1]:8000');
  for (const host of ['u:p@evil.example', 'evil.example/x?y', 'evil.example#x', "a'b", 'a b', '[::1', 'localhost:80:90', 'lazyaf.example:99999']) {
    const r = await ask(host);
    assert.equal(r.statusCode, 400, `${host}: ${r.body}`);
    assert.match(r.json().message, /LAZYAF_PUBLIC_URL/);
  }
});

test('a bad LAZYAF_PUBLIC_URL or LAZYAF_RUNNER_IMAGE is a ConfigError', () => {
  for (const bad of ['ftp://lazyaf.example', 'lazyaf.example:8000', 'http://user:pw@lazyaf.example', 'http://lazyaf.example/?x=1', 'http://']) {
    assert.throws(() => resolveServerConfig({}, { LAZYAF_PUBLIC_URL: bad }), ConfigError, bad);
  }
  for (const bad of ['Lazyaf', 'img:tag;rm -rf /', '-v/:/host', 'img tag', "img'"]) {
    assert.throws(() => resolveServerConfig({}, { LAZYAF_RUNNER_IMAGE: bad }), ConfigError, bad);
  }
  assert.equal(resolveServerConfig({}, { LAZYAF_PUBLIC_URL: 'http://lazyaf.example:8000/' }).publicUrl, 'http://lazyaf.example:8000');
});

test('lazyaf docker-command prints the command; the server logs no secret; refusals are one line', async (t) => {
  const dataDir = tempDir(t, 'lazyaf-data-');
  removeRelayDirAfter(t, dataDir);
  const admin = 'lzadm_docker_command_admin';
  const child = spawnChild(t, process.execPath, [CLI, 'server', '--port', '0', '--data', dataDir, '--runners', '0', '--log-level', 'trace'], {
    env: { ...process.env, ...SECRET_ENV, LAZYAF_ADMIN_TOKEN: admin },
  });
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString('utf8')));
  const url = (await waitForOutput(child, /lazyaf server listening on (http:\/\/127\.0\.0\.1:\d+)/, 60_000))[1]!;
  const env = { LAZYAF_SERVER: url, LAZYAF_TOKEN: admin };

  const printed = await cli(['docker-command', '--with-secrets', '--labels', 'gpu'], { env });
  assert.equal(printed.code, 0, printed.stderr);
  assert.equal(printed.stdout.split('\n').length, 2, 'one line');
  const words = await wordsOf(printed.stdout);
  assert.ok(words.includes(`LAZYAF_TOKEN=${REGISTRATION_TOKEN}`) && !words.some((w) => w.includes(AGENT_KEY)), words.join(' | '));
  assert.deepEqual(words.slice(-2), ['--labels', 'gpu']);
  const placeholders = await cli(['docker-command'], { env });
  assert.match(placeholders.stdout, /LAZYAF_TOKEN=<LAZYAF_REGISTRATION_TOKEN>/);
  // Where it works goes to stderr: the image must be there, and a loopback server is this machine's only.
  assert.match(placeholders.stderr, /The image \S+ must be on the machine that runs this/);
  assert.match(placeholders.stderr, /this machine's loopback: it works only on this machine/);
  assert.match(placeholders.stderr, /listens on 127\.0\.0\.1 only, so no other machine can reach it.*LAZYAF_HOST=0\.0\.0\.0/);
  const elsewhere = await cli(['docker-command', '--elsewhere'], { env });
  assert.notEqual(elsewhere.code, 0);
  assert.match(elsewhere.stderr, /^lazyaf: no command for another machine: The server listens on 127\.0\.0\.1 only.*\n$/);
  assert.equal(elsewhere.stdout, '');

  assert.ok(log.includes('/api/runners/docker-command'), 'the requests were logged');
  assert.ok(!log.includes(REGISTRATION_TOKEN) && !log.includes('sk-ant'), log);

  const refused = await cli(['docker-command', '--with-secrets'], { env: { ...env, LAZYAF_TOKEN: 'lzadm_wrong' } });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /^lazyaf: unauthorized: invalid token .*\n$/);
  assert.equal(refused.stdout, '');
  const badLabel = await cli(['docker-command', '--labels', 'a;b'], { env });
  assert.match(badLabel.stderr, /^lazyaf: invalid label: a;b .*\n$/);
  const runnerBadLabel = await cli(['runner', '--labels', 'a;b'], { env: { ...env, LAZYAF_TOKEN: 'lzreg_any' } });
  assert.equal(runnerBadLabel.stderr, badLabel.stderr, 'the runner refuses labels by the same rule');
  child.kill('SIGKILL');
  const unreachable = await cli(['docker-command'], { env: { ...env, LAZYAF_SERVER: 'http://127.0.0.1:1' } });
  assert.notEqual(unreachable.code, 0);
  assert.match(unreachable.stderr, /^lazyaf: cannot reach the lazyaf server at http:\/\/127\.0\.0\.1:1 .*\n$/);
});

test('the command, run as printed with its placeholder filled in, starts a runner that registers and completes a job as a non-root user', async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const server = await startTestServer(t, { LAZYAF_RUNNER_IMAGE: await testRunnerImage(docker) });
  const res = await api<DockerCommand>(server, 'GET', '/api/runners/docker-command?labels=docker-e2e');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  // The printed command carries no test label (it is run as printed): its container goes by its name.
  const name = (await wordsOf(res.body.command))[3]!;
  t.after(() =>
    docker
      .getContainer(name)
      .remove({ force: true })
      .catch(() => undefined),
  );

  const filled = res.body.command.replace('<LAZYAF_REGISTRATION_TOKEN>', server.registrationToken);
  const started = await run('sh', ['-c', filled]);
  assert.equal(started.code, 0, started.stderr);
  let output = '';
  const runner = await eventually(
    () => `the container to register; its output:\n${output}`,
    async () => {
      const { runners } = (await api<RunnerList>(server, 'GET', '/api/runners')).body;
      const found = runners.find((r) => r.status === 'idle' && r.labels.includes('docker-e2e'));
      if (!found) output = (await docker.getContainer(name).logs({ stdout: true, stderr: true })).toString('utf8');
      return found;
    },
    120_000,
  );

  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  // The runner reaches the server on its container's loopback; its job does not.
  const probe = `node -e 'require("net").connect(${new URL(server.url).port}, "127.0.0.1").on("connect", () => { console.log("server: open"); process.exit(0) }).on("error", (e) => console.log("server: " + e.code))'`;
  const job = await submit(server, { repo_id: repo.id, title: 'in a container', command: `id -un; id -u > uid.txt; ${probe}`, labels: ['docker-e2e'] });
  const done = await waitForJob(server, job.id, undefined, 120_000);
  assert.equal(done.status, 'succeeded', done.error ?? '');
  assert.equal(done.runner_id, runner.id);
  assert.equal(runner.sandbox, 'container');
  const logs = await logOf(server, job.id);
  assert.match(logs, /^lazyaf$/m, logs);
  assert.match(logs, /^server: ECONNREFUSED$/m, logs);
  const clone = path.join(tempDir(t), 'clone');
  await git(['clone', '-q', '--branch', done.branch!, authUrl(repo.clone_url, server.token), clone]);
  assert.notEqual(fs.readFileSync(path.join(clone, 'uid.txt'), 'utf8').trim(), '0', 'the job ran as a user other than root');
});

test('the command in argument groups never splits a flag from its value, and a server on loopback says the command works only on its machine', async (t) => {
  const server = await startTestServer(t, { LAZYAF_JOB_MEMORY: '1g' });
  const res = await api<DockerCommand>(server, 'GET', '/api/runners/docker-command?labels=gpu');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const { lines } = res.body;
  assert.equal(lines.join(' '), res.body.command, 'the groups are the one-line command');
  assert.deepEqual(await wordsOf(lines.join(' \\\n  ')), await wordsOf(res.body.command), 'shown with continuations, a shell reads the same words');
  assert.match(lines[0]!, /^docker run -d --name lazyaf-runner-[0-9a-f]{4} --init --restart unless-stopped$/);
  assert.ok(lines.includes('--cap-add NET_ADMIN'), lines.join('\n'));
  assert.ok(lines.includes(`-e LAZYAF_SERVER=${server.url}`), lines.join('\n'));
  assert.equal(lines.at(-1), 'lazyaf-runner:latest --labels gpu');
  assert.equal(res.body.server_url, server.url);
  // The test server listens on 127.0.0.1, as LAZYAF_HOST's default does.
  assert.equal(res.body.local_only, true);
  assert.equal(res.body.elsewhere, null);
  assert.match(res.body.elsewhere_hint ?? '', /listens on 127\.0\.0\.1 only, so no other machine can reach it.*LAZYAF_HOST=0\.0\.0\.0/);
});

test('a server listening on every interface offers the command for another machine with an address of this one', () => {
  const input = {
    serverUrl: 'http://127.0.0.1:8000',
    image: 'lazyaf-runner:latest',
    registrationToken: 'lzreg-x',
    withSecrets: false,
    labels: [],
    nameSuffix: 'abcd',
    relayDir: '/data/relay',
  };
  const interfaces = {
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
    eth0: [
      { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
      { address: '192.168.1.20', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '192.168.1.20/24' },
    ],
  } as const;
  const all = dockerRunCommand(input, { host: '0.0.0.0', interfaces: structuredClone(interfaces) as never });
  assert.equal(all.local_only, true);
  assert.equal(all.elsewhere?.server_url, 'http://192.168.1.20:8000');
  assert.ok(all.elsewhere?.lines.includes('-e LAZYAF_SERVER=http://192.168.1.20:8000'), all.elsewhere?.command);
  assert.ok(
    !all.elsewhere?.command.includes('/data/relay') && !all.elsewhere?.command.includes('--network host'),
    'no relay or host network on another machine',
  );
  assert.match(all.elsewhere_hint ?? '', /address of this machine/);

  assert.equal(dockerRunCommand(input, { host: '10.0.0.5' }).elsewhere?.server_url, 'http://10.0.0.5:8000', 'a server bound to one address is reached there');
  const onlyLoopback = dockerRunCommand(input, { host: '::', interfaces: { lo: interfaces.lo.map((a) => ({ ...a })) as never } });
  assert.equal(onlyLoopback.elsewhere, null);
  assert.match(onlyLoopback.elsewhere_hint ?? '', /no network address other than loopback/);
  const named = dockerRunCommand({ ...input, serverUrl: 'https://lazyaf.example' }, { host: '127.0.0.1' });
  assert.deepEqual([named.local_only, named.elsewhere, named.elsewhere_hint], [false, null, null], 'a URL by name works wherever the name resolves');
});
