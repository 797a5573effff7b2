import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { resolveRunnerConfig, RunnerConfigError } from '../src/runner/options.js';
import { ConfigError, resolveServerConfig } from '../src/server/config.js';

const RUNNER_ENV = { LAZYAF_TOKEN: 'lzreg_x' };

/** A pool runner gets the server's environment: the server's answer for a variable must be its runners' too. */
function bothRead(env: NodeJS.ProcessEnv): { server: boolean | Error; runner: boolean | Error } {
  const read = <T>(f: () => T): T | Error => {
    try {
      return f();
    } catch (err) {
      return err as Error;
    }
  };
  return {
    server: read(() => resolveServerConfig({}, env).ephemeral),
    runner: read(() => resolveRunnerConfig({}, { ...RUNNER_ENV, ...env }).ephemeral),
  };
}

test('LAZYAF_EPHEMERAL reads the same in the server and in its runners: unset, empty and 0 are off, 1 is on, anything else is refused by both', () => {
  for (const [value, want] of [
    [undefined, false],
    ['', false],
    ['0', false],
    ['1', true],
  ] as const) {
    const env = value === undefined ? {} : { LAZYAF_EPHEMERAL: value };
    assert.deepEqual(bothRead(env), { server: want, runner: want }, `LAZYAF_EPHEMERAL=${value}`);
  }
  for (const value of ['yes', 'true', '2', ' 1', '01']) {
    const { server, runner } = bothRead({ LAZYAF_EPHEMERAL: value });
    assert.ok(server instanceof ConfigError, `the server refuses "${value}"`);
    assert.ok(runner instanceof RunnerConfigError, `the runner refuses "${value}"`);
    assert.equal(runner.message, server.message);
    assert.equal(server.message, `LAZYAF_EPHEMERAL must be 0 or 1, got "${value}"`);
  }
  assert.equal(resolveRunnerConfig({ ephemeral: true }, { ...RUNNER_ENV, LAZYAF_EPHEMERAL: '0' }).ephemeral, true, '--ephemeral wins over the variable');
});

test("a runner's sandbox hides the data dir the server on its machine uses, LAZYAF_DATA or the same default", () => {
  for (const env of [{}, { LAZYAF_DATA: 'relative/data' }, { LAZYAF_DATA: '/srv/lazyaf' }]) {
    const { dataDir } = resolveServerConfig({}, env);
    const { sandboxHide, workdir } = resolveRunnerConfig({}, { ...RUNNER_ENV, ...env });
    assert.deepEqual(sandboxHide, [workdir, dataDir], JSON.stringify(env));
  }
  assert.equal(resolveServerConfig({}, {}).dataDir, path.join(os.homedir(), '.lazyaf'));
});
