// The Docker engine for the container tests: a client or a skip, the runner image built once from this tree, cleanup by label.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import Docker from 'dockerode';
import { agentCliBinDir } from '../scripts/agent-clis.js';
import { buildRunnerImage, ImageBuildError, ping, runBuild } from '../scripts/build-image.js';
import { AGENT_CLI_VERSIONS, type TestedAgent } from '../src/shared/agents/versions.js';

/** Every container a test starts carries this label, with a value of its own (see containerLabels). */
export const TEST_LABEL = 'lazyaf.test';

/** The host's CA bundle: the image trusts what this machine trusts (a TLS-intercepting proxy). */
const HOST_CA = '/etc/ssl/certs/ca-certificates.crt';

/**
 * A client of the engine at DOCKER_HOST (or the default socket), or undefined after marking the
 * test skipped, with why. In CI an engine must answer: its absence fails the test.
 */
export async function dockerOrSkip(t: TestContext): Promise<Docker | undefined> {
  const docker = new Docker();
  try {
    await ping(docker);
    return docker;
  } catch (err) {
    const why = err instanceof ImageBuildError ? err.message : String(err);
    if (process.env.CI) throw new Error(`CI needs a Docker engine: ${why}`);
    t.skip(`no Docker engine: ${why}`);
    return undefined;
  }
}

let built: Promise<string> | undefined;

/**
 * The runner image of this tree (after `npm run build`), tagged $LAZYAF_TEST_IMAGE (default
 * lazyaf-runner:test), from $LAZYAF_TEST_BASE_IMAGE when set (CI has no registry to pull the
 * default base from). Built once per test process; Docker's layer cache makes a rebuild of an
 * unchanged tree take seconds.
 */
export function testRunnerImage(docker: Docker): Promise<string> {
  built ??= buildRunnerImage({
    docker,
    tag: process.env.LAZYAF_TEST_IMAGE || 'lazyaf-runner:test',
    baseImage: process.env.LAZYAF_TEST_BASE_IMAGE || undefined,
    caFile: process.env.LAZYAF_IMAGE_CA_FILE || (fs.existsSync(HOST_CA) ? HOST_CA : undefined),
  });
  return built;
}

let builtWithAgents: Promise<string> | undefined;

/** Where the agents' prefixes sit in the test image, as a person's `npm install --prefix` would put them. */
export const IMAGE_AGENTS_DIR = '/opt/lazyaf-agents';

/**
 * The runner image with the pinned agent CLIs, for tests: built FROM the runner image, it copies
 * the prefixes `npm install --prefix` made in the CLI cache (scripts/agent-clis.ts) and links their
 * bins into /usr/local/bin, as a person who installs them that way does. The production path
 * (`AGENTS=...` at `npm run image`, npm install -g) needs the registry and minutes; this takes the
 * same packages at the same versions from the cache. Tagged by a hash of the runner image and the
 * installed packages, so every later test process (and a second run on the same engine) finds it
 * built; older agent images of the same tag are removed, since each holds about 900 MB.
 * LAZYAF_TEST_AGENT_IMAGE names another image to use instead.
 */
export function testAgentImage(docker: Docker): Promise<string> {
  // An image built the users' way (`AGENTS=claude,codex,gemini npm run image`), to test that path instead.
  if (process.env.LAZYAF_TEST_AGENT_IMAGE) return Promise.resolve(process.env.LAZYAF_TEST_AGENT_IMAGE);
  builtWithAgents ??= (async () => {
    const runner = await testRunnerImage(docker);
    const runnerId = (await docker.getImage(runner).inspect()).Id;
    const agents = Object.keys(AGENT_CLI_VERSIONS) as TestedAgent[];
    const prefixes = agents.map((agent) => ({ agent, prefix: path.dirname(path.dirname(agentCliBinDir(agent))) }));
    const hash = crypto.createHash('sha256').update(runnerId);
    for (const { agent, prefix } of prefixes) {
      hash.update(`\0${agent}\0${path.basename(prefix)}\0`);
      // What npm installed, each package at its version: the content of the prefix.
      hash.update(fs.readFileSync(path.join(prefix, 'node_modules', '.package-lock.json')));
    }
    const base = runner.replace(/:[^:/]*$/, '');
    const tagPrefix = `${runner.slice(base.length + 1) || 'latest'}-agents-`;
    const tag = `${base}:${tagPrefix}${hash.digest('hex').slice(0, 16)}`;
    const found = await docker
      .getImage(tag)
      .inspect()
      .then(() => true)
      .catch(() => false);
    if (found) return tag;
    for (const image of await docker.listImages({ filters: { reference: [`${base}:${tagPrefix}*`] } }))
      for (const old of image.RepoTags ?? [])
        await docker
          .getImage(old)
          .remove()
          .catch(() => {});
    await buildAgentImage(docker, runner, prefixes, tag);
    return tag;
  })();
  return builtWithAgents;
}

async function buildAgentImage(docker: Docker, runner: string, prefixes: { agent: TestedAgent; prefix: string }[], tag: string): Promise<void> {
  const context = fs.mkdtempSync(path.join(os.tmpdir(), 'lazyaf-agent-image-'));
  try {
    const lines = [`FROM ${runner}`];
    for (const { prefix } of prefixes) lines.push(`COPY ${path.basename(prefix)}/ ${IMAGE_AGENTS_DIR}/${path.basename(prefix)}/`);
    const links = prefixes.map(({ agent, prefix }) => `ln -s ${IMAGE_AGENTS_DIR}/${path.basename(prefix)}/node_modules/.bin/${agent} /usr/local/bin/${agent}`);
    lines.push(`RUN ${links.join(' && ')}`);
    fs.writeFileSync(path.join(context, 'Dockerfile'), `${lines.join('\n')}\n`);
    // The context streamed by tar from where the prefixes are, rather than copied into a folder first.
    const args = ['-c', '-C', context, 'Dockerfile'];
    for (const { prefix } of prefixes) args.push('-C', path.dirname(prefix), path.basename(prefix));
    const tar = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    tar.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const tarDone = new Promise<void>((resolve, reject) =>
      tar.on('close', (code) => (code === 0 ? resolve() : reject(new ImageBuildError(`tar of the agent CLIs failed: ${stderr.trim()}`)))),
    );
    await runBuild(docker, tar.stdout, { t: tag, rm: true, forcerm: true });
    await tarDone;
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
}

/** Labels for the containers of one test; they are removed (running or not) when it ends. */
export function containerLabels(t: TestContext, docker: Docker): Record<string, string> {
  const labels = { [TEST_LABEL]: `${process.pid}-${Math.random().toString(36).slice(2, 10)}` };
  t.after(() => removeContainers(docker, labels));
  return labels;
}

/** What a container without a TTY wrote so far, stdout and stderr in order (the engine frames each write with an 8-byte header). */
export async function containerOutput(container: Docker.Container): Promise<string> {
  const framed = await container.logs({ stdout: true, stderr: true, follow: false });
  const parts: Buffer[] = [];
  for (let at = 0; at + 8 <= framed.length;) {
    const size = framed.readUInt32BE(at + 4);
    parts.push(framed.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Removes every container carrying all these labels, running or not. */
export async function removeContainers(docker: Docker, labels: Record<string, string>): Promise<void> {
  const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
  for (const c of await docker.listContainers({ all: true, filters })) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch((err: { statusCode?: number }) => {
        // Already gone (an --rm container that exited, a launcher that removed it): nothing to do.
        if (err.statusCode !== 404 && err.statusCode !== 409) throw err;
      });
  }
}
