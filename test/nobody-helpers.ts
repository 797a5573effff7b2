// A runner that is not root: `lazyaf runner` from the sources as `nobody`, with a work dir and a
// HOME of its own, as the tests that need a normal user (runner-poison, agent-claude-nonroot) start it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { ROOT, spawnChild, tempDir } from './helpers.js';

export const NOBODY = 65534;

/** Whether a runner can run here as another user in a bubblewrap sandbox (needs root and unprivileged user namespaces). */
export function canRunAsNobody(t: TestContext): boolean {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to start a runner as nobody');
    return false;
  }
  const probe = spawnSync('setpriv', [
    `--reuid=${NOBODY}`,
    `--regid=${NOBODY}`,
    '--clear-groups',
    'bwrap',
    '--ro-bind',
    '/',
    '/',
    '--unshare-user',
    '--unshare-pid',
    'true',
  ]);
  if (probe.status === 0) return true;
  const why = probe.error?.message ?? (probe.stderr.toString().trim() || `exit ${probe.status}`);
  if (process.env.CI) throw new Error(`cannot run a sandboxed runner as nobody: ${why}`);
  t.skip(`cannot run a sandboxed runner as nobody here (${why})`);
  return false;
}

/** A dir that `nobody` owns, removed when the test ends. */
export function nobodysDir(t: TestContext): string {
  const dir = tempDir(t, 'lazyaf-nobody-');
  fs.chmodSync(dir, 0o755);
  fs.chownSync(dir, NOBODY, NOBODY);
  return dir;
}

/**
 * `lazyaf runner` from the sources, as nobody, with its work dir and HOME under `dir`. Its sandbox
 * is `auto`: bubblewrap works for nobody, but where /dev/net/tun is root's alone (0600, as on these
 * machines) pasta cannot give its jobs a network, and `require` would refuse to start; the checkout
 * is what these tests are about. `env` adds to the runner's environment.
 */
export function startRunnerAsNobody(
  t: TestContext,
  server: { url: string; registrationToken: string },
  dir: string,
  name: string,
  sandbox = 'auto',
  env: NodeJS.ProcessEnv = {},
) {
  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { recursive: true });
  fs.chownSync(home, NOBODY, NOBODY);
  const workdir = path.join(dir, 'work');
  const child = spawnChild(
    t,
    'setpriv',
    [
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      '--clear-groups',
      process.execPath,
      '--import',
      import.meta.resolve('tsx'),
      path.join(ROOT, 'src/cli/main.ts'),
      'runner',
      '--server',
      server.url,
      '--name',
      name,
      '--workdir',
      workdir,
      '--sandbox',
      sandbox,
    ],
    { env: { ...process.env, HOME: home, GIT_CONFIG_GLOBAL: '/dev/null', LAZYAF_TOKEN: server.registrationToken, ...env }, cwd: dir },
  );
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  return { child, workdir, output: () => output };
}
