import crypto from 'node:crypto';
import type { Emit } from '../events.js';
import type { PoolState } from '../../shared/api.js';
import type { Launcher, LaunchedRunner } from './launcher.js';

/**
 * Stands in for a runner while its launcher starts it, so the pool counts it at once; drain and
 * kill wait for the real one.
 */
function pendingRunner(poolId: string): { runner: LaunchedRunner; settle: (real: LaunchedRunner | undefined) => void } {
  let settle!: (real: LaunchedRunner | undefined) => void;
  const real = new Promise<LaunchedRunner | undefined>((resolve) => (settle = resolve));
  const runner: LaunchedRunner = {
    poolId,
    describe: 'starting',
    exited: real.then((r) => r?.exited),
    drain: () => void real.then((r) => r?.drain()),
    kill: () => void real.then((r) => r?.kill()),
  };
  return { runner, settle };
}

export interface PoolOptions {
  launcher: Launcher;
  desired: number;
  serverUrl: () => string;
  registrationToken: string;
  /** Whether the runner registered under this pool id is idle (preferred when scaling down). */
  isIdle: (poolId: string) => boolean;
  emit: Emit;
  log: (msg: string) => void;
}

/**
 * Keeps `desired` runners alive: starts missing ones, restarts crashed ones with a backoff, and
 * drains surplus ones (idle first). Hand-started runners are not counted here.
 */
export class Pool {
  private desired: number;
  private readonly live = new Map<string, LaunchedRunner>();
  private readonly leaving = new Map<string, LaunchedRunner>();
  private restartDelayMs = 500;
  private restartTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: PoolOptions) {
    this.desired = opts.desired;
  }

  state(): PoolState {
    return { desired: this.desired, launcher: this.opts.launcher.kind, running: this.live.size, draining: this.leaving.size };
  }

  scale(desired: number): PoolState {
    this.desired = desired;
    this.reconcile();
    this.changed();
    return this.state();
  }

  private changed(): void {
    this.opts.emit({ type: 'pool.updated', ...this.state() });
  }

  reconcile(): void {
    if (this.closed) return;
    while (this.live.size < this.desired) this.start();
    if (this.live.size > this.desired) {
      const surplus = this.live.size - this.desired;
      const ordered = [...this.live.values()].sort((a, b) => Number(this.opts.isIdle(b.poolId)) - Number(this.opts.isIdle(a.poolId)));
      for (const runner of ordered.slice(0, surplus)) this.retire(runner);
    }
  }

  private start(): void {
    const poolId = `pool-${crypto.randomBytes(3).toString('hex')}`;
    const placeholder = pendingRunner(poolId);
    this.live.set(poolId, placeholder.runner);
    this.watch(placeholder.runner);
    this.opts.launcher.launch({ poolId, serverUrl: this.opts.serverUrl(), registrationToken: this.opts.registrationToken, ephemeral: false }).then(
      (runner) => {
        this.opts.log(`pool: started runner ${poolId} (${runner.describe})`);
        placeholder.settle(runner);
      },
      (err: unknown) => {
        // Counted as a runner that died at once: restarted after the same growing pause.
        this.opts.log(`pool: could not start runner ${poolId}: ${err instanceof Error ? err.message : String(err)}`);
        placeholder.settle(undefined);
      },
    );
  }

  /** When a runner exits: forget it, and replace it if it was not asked to leave. */
  private watch(runner: LaunchedRunner): void {
    const poolId = runner.poolId;
    void runner.exited.then(() => {
      const expected = this.leaving.delete(poolId);
      const died = this.live.delete(poolId);
      if (this.closed || !(expected || died)) return;
      this.changed();
      if (!died) return;
      // It died on its own: start another after a growing pause, so a broken setup cannot spin.
      this.opts.log(`pool: runner ${poolId} exited unexpectedly; restarting in ${this.restartDelayMs} ms`);
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => {
        this.reconcile();
        this.changed();
      }, this.restartDelayMs);
      this.restartDelayMs = Math.min(this.restartDelayMs * 2, 30_000);
    });
  }

  private retire(runner: LaunchedRunner): void {
    this.live.delete(runner.poolId);
    this.leaving.set(runner.poolId, runner);
    runner.drain();
    this.opts.log(`pool: draining runner ${runner.poolId}`);
  }

  /**
   * Stops the pool while the server still answers, so runners can report and deregister: drain
   * (finish the job), after `graceMs` a second SIGTERM (give the job back to the queue), and
   * after `killMs` more, SIGKILL. Idempotent.
   */
  close(graceMs = 10_000, killMs = 5_000): Promise<void> {
    this.closing ??= this.stopAll(graceMs, killMs);
    return this.closing;
  }

  private closing: Promise<void> | undefined;

  private async stopAll(graceMs: number, killMs: number): Promise<void> {
    this.closed = true;
    clearTimeout(this.restartTimer);
    const all = [...this.live.values(), ...this.leaving.values()];
    if (all.length === 0) return;
    this.opts.log(`pool: stopping ${all.length} runner(s)`);
    const exited = Promise.all(all.map((r) => r.exited));
    const within = (ms: number) => Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    for (const r of all) r.drain();
    if (await within(graceMs)) return;
    this.opts.log('pool: runners still busy; giving their jobs back to the queue');
    for (const r of all) r.drain();
    if (await within(killMs)) return;
    for (const r of all) r.kill();
    await exited;
  }
}
