import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import { LauncherError, type LaunchedRunner, type Launcher, type LaunchOptions } from '../src/server/pool/launcher.js';
import { Pool } from '../src/server/pool/pool.js';
import { eventually } from './helpers.js';

const SLEEP = 'setInterval(() => {}, 1000)';

/** A runner stand-in: a real child process that runs `script` (by default sleeps until it is signalled). */
function sleeper(t: TestContext, poolId: string, script = SLEEP): LaunchedRunner & { pid: number; signals: string[] } {
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  t.after(() => void child.kill('SIGKILL'));
  const signals: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    poolId,
    pid: child.pid!,
    signals,
    describe: `pid ${child.pid}`,
    exited,
    drain: () => (signals.push('drain'), child.kill('SIGTERM')),
    kill: () => (signals.push('kill'), child.kill('SIGKILL')),
  };
}

class TestLauncher implements Launcher {
  readonly kind = 'process' as const;
  readonly launched: LaunchOptions[] = [];
  pruned: string[] = [];
  constructor(
    private readonly t: TestContext,
    private readonly found: LaunchedRunner[],
    private readonly problem?: string,
    /** What each launched runner does, by the number of its launch. */
    private readonly script: (launch: number) => string = () => SLEEP,
  ) {}
  async check(): Promise<void> {
    if (this.problem) throw new LauncherError(this.problem);
  }
  async survivors(): Promise<LaunchedRunner[]> {
    return this.found;
  }
  async launch(opts: LaunchOptions): Promise<LaunchedRunner> {
    this.launched.push(opts);
    return sleeper(this.t, opts.poolId, this.script(this.launched.length));
  }
  prune(keep: ReadonlySet<string>): void {
    this.pruned = [...keep].sort();
  }
}

function poolWith(launcher: Launcher, desired: number, opts: { kept?: number[]; ephemeral?: boolean; logged?: string[] } = {}): Pool {
  return new Pool({
    launcher,
    desired,
    ephemeral: opts.ephemeral ?? false,
    keep: (n) => opts.kept?.push(n),
    serverUrl: () => 'http://127.0.0.1:1',
    registrationToken: 'lzreg_test',
    isIdle: () => true,
    emit: () => {},
    log: (line) => opts.logged?.push(line),
  });
}

test('at start the pool adopts the survivors it wants, drains the surplus, kills a second one under a taken id, and starts what is missing', async (t) => {
  const survivors = ['pool-5', 'pool-1', 'pool-1', 'pool-3'].map((id) => sleeper(t, id));
  const [five, one, oneAgain, three] = survivors as [
    ReturnType<typeof sleeper>,
    ReturnType<typeof sleeper>,
    ReturnType<typeof sleeper>,
    ReturnType<typeof sleeper>,
  ];
  const launcher = new TestLauncher(t, survivors);
  const kept: number[] = [];
  const pool = poolWith(launcher, 2, { kept });
  t.after(() => pool.close(100, 100));
  await pool.start();

  assert.equal(launcher.launched.length, 0, 'two survivors wanted: nothing to start');
  assert.deepEqual(one.signals, []);
  assert.deepEqual(three.signals, []);
  assert.deepEqual(oneAgain.signals, ['kill']);
  assert.deepEqual(five.signals, ['drain']);
  assert.deepEqual(pool.state(), { desired: 2, launcher: 'process', ephemeral: false, running: 2, draining: 1 });
  await eventually('the drained survivor to exit', () => pool.state().draining === 0);
  assert.deepEqual(launcher.pruned, ['pool-1', 'pool-3'], 'work dirs of the adopted only');

  // The lowest free slot next; a drained slot is free again once its runner has left.
  pool.scale(4);
  assert.deepEqual(kept, [4]);
  assert.deepEqual(
    launcher.launched.map((o) => o.poolId),
    ['pool-2', 'pool-4'],
  );
});

test('a launcher that cannot start runners stops the pool start with its one line, and nothing is launched', async (t) => {
  const launcher = new TestLauncher(t, [], 'cannot reach the Docker engine at /var/run/docker.sock');
  const pool = poolWith(launcher, 2);
  await assert.rejects(pool.start(), (err: Error) => err instanceof LauncherError && /cannot reach the Docker engine/.test(err.message));
  assert.equal(launcher.launched.length, 0);
});

test('an ephemeral runner that exits 0 after its job is replaced in its slot at once; one that fails is a crash', async (t) => {
  // The first two runners do their one job and leave; the third crashes; the fourth stays.
  const launcher = new TestLauncher(t, [], undefined, (n) => (n <= 2 ? 'process.exit(0)' : n === 3 ? 'process.exit(3)' : SLEEP));
  const logged: string[] = [];
  const pool = poolWith(launcher, 1, { ephemeral: true, logged });
  t.after(() => pool.close(100, 100));
  await pool.start();
  await eventually('four launches', () => launcher.launched.length === 4);
  assert.ok(launcher.launched.every((o) => o.ephemeral && o.poolId === 'pool-1'));
  assert.deepEqual(
    logged.filter((l) => l.includes('exited unexpectedly')),
    ['pool: runner pool-1 exited unexpectedly; restarting in 500 ms'],
    'only the crash',
  );
});

test('an outdated survivor (another image, another ephemeral setting) is drained, not adopted, and its slot is not reused while it leaves', async (t) => {
  const outdated = { ...sleeper(t, 'pool-1'), outdated: true };
  const launcher = new TestLauncher(t, [outdated]);
  const pool = poolWith(launcher, 1);
  t.after(() => pool.close(100, 100));
  await pool.start();
  assert.deepEqual(outdated.signals, ['drain']);
  assert.deepEqual(
    launcher.launched.map((l) => l.poolId),
    ['pool-2'],
  );
});

test('closing the pool ends even when a runner never confirms its exit', async (t) => {
  const stuck: LaunchedRunner = { poolId: 'pool-1', describe: 'stuck', exited: new Promise(() => {}), drain: () => {}, kill: () => {} };
  const logged: string[] = [];
  // The pool's own timers do not hold a process open: a server has its sockets, this test this.
  const alive = setInterval(() => {}, 1000);
  t.after(() => clearInterval(alive));
  const pool = poolWith(new TestLauncher(t, [stuck]), 1, { logged });
  await pool.start();
  await pool.close(50, 50);
  assert.ok(
    logged.some((l) => /did not confirm their exit/.test(l)),
    logged.join('\n'),
  );
});
