// The Docker engine for the container tests: a client or a skip, the runner image built once from this tree, cleanup by label.
import fs from 'node:fs';
import type { TestContext } from 'node:test';
import Docker from 'dockerode';
import { buildRunnerImage, ImageBuildError, ping } from '../scripts/build-image.js';

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
