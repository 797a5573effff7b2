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

const FIRST_RESTART_DELAY_MS = 500;
/** A runner that dies after running this long restarts after the first, short pause again. */
const HEALTHY_RUN_MS = 60_000;

/** `pool-7` → 7; ids of another form sort last. */
function slotNumber(poolId: string): number {
  const m = /^pool-([1-9]\d{0,5})$/.exec(poolId);
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
}

export interface PoolOptions {
  launcher: Launcher;
  desired: number;
  /** Each runner takes one job and is replaced by a fresh one. */
  ephemeral: boolean;
  /** Keeps a new desired size, so that a restart brings the pool back to it. */
  keep: (desired: number) => void;
  serverUrl: () => string;
  registrationToken: string;
  /** Whether the runner registered under this pool id is idle (preferred when scaling down). */
  isIdle: (poolId: string) => boolean;
  emit: Emit;
  log: (msg: string) => void;
}

/**
 * Keeps `desired` runners alive: starts missing ones, restarts crashed ones with a backoff, and
 * drains surplus ones (idle first). Hand-started runners are not counted here. Runners hold slots
 * `pool-1`, `pool-2`, ... (the lowest free one first), so a restarted server starts its runners
 * under the ids of the last one and their work dirs (warm repo caches) are used again.
 */
export class Pool {
  private desired: number;
  private readonly live = new Map<string, LaunchedRunner>();
  private readonly leaving = new Map<string, LaunchedRunner>();
  private restartDelayMs = FIRST_RESTART_DELAY_MS;
  private restartTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: PoolOptions) {
    this.desired = opts.desired;
  }

  state(): PoolState {
    return { desired: this.desired, launcher: this.opts.launcher.kind, ephemeral: this.opts.ephemeral, running: this.live.size, draining: this.leaving.size };
  }

  /**
   * Checks (once) that the launcher can start runners: a LauncherError stops the server's start.
   * The server asks before it listens, so a launcher that cannot work stops it before it answers.
   */
  check(): Promise<void> {
    this.checked ??= this.opts.launcher.check();
    return this.checked;
  }

  private checked: Promise<void> | undefined;

  /**
   * Adopts the survivors of the last server that it wants (drains the rest), then starts the
   * runners still missing. The server calls it once it listens: a start that failed before (the
   * port taken by a server already running on this data dir) must not take that server's runners.
   */
  async start(): Promise<void> {
    await this.check();
    await this.adoptSurvivors();
    this.reconcile();
    this.pruneSlots();
    this.changed();
  }

  private async adoptSurvivors(): Promise<void> {
    const survivors = await this.opts.launcher.survivors({ ephemeral: this.opts.ephemeral });
    const bySlot = (a: LaunchedRunner, b: LaunchedRunner) => slotNumber(a.poolId) - slotNumber(b.poolId);
    for (const runner of survivors.sort(bySlot)) {
      const taken = this.live.has(runner.poolId) || this.leaving.has(runner.poolId);
      if (!this.closed && !taken && !runner.outdated && this.live.size < this.desired) {
        this.live.set(runner.poolId, runner);
        this.watch(runner);
        this.opts.log(`pool: adopted runner ${runner.poolId} (${runner.describe})`);
      } else if (taken) {
        // Two survivors under one id: the second cannot be told apart in the registry; it goes now.
        runner.kill();
      } else {
        this.watch(runner);
        this.retire(runner);
      }
    }
  }

  scale(desired: number): PoolState {
    this.desired = desired;
    this.opts.keep(desired);
    this.reconcile();
    this.changed();
    return this.state();
  }

  private changed(): void {
    this.opts.emit({ type: 'pool.updated', ...this.state() });
  }

  private reconcile(): void {
    if (this.closed) return;
    while (this.live.size < this.desired) this.launchOne();
    if (this.live.size > this.desired) {
      const surplus = this.live.size - this.desired;
      // Idle ones first; among those the highest slots, so the pool keeps pool-1..N and their warm caches.
      const idle = (r: LaunchedRunner) => Number(this.opts.isIdle(r.poolId));
      const ordered = [...this.live.values()].sort((a, b) => idle(b) - idle(a) || slotNumber(b.poolId) - slotNumber(a.poolId));
      for (const runner of ordered.slice(0, surplus)) this.retire(runner);
    }
  }

  /** The lowest slot no runner of this pool holds, leaving ones included (their work dir is still theirs). */
  private freeSlot(): string {
    for (let n = 1; ; n++) {
      const poolId = `pool-${n}`;
      if (!this.live.has(poolId) && !this.leaving.has(poolId)) return poolId;
    }
  }

  /** Lets the launcher drop what it keeps for slots no runner holds any more. */
  private pruneSlots(): void {
    this.opts.launcher.prune?.(new Set([...this.live.keys(), ...this.leaving.keys()]));
  }

  private launchOne(): void {
    const poolId = this.freeSlot();
    const placeholder = pendingRunner(poolId);
    this.live.set(poolId, placeholder.runner);
    this.watch(placeholder.runner);
    this.opts.launcher
      .launch({ poolId, serverUrl: this.opts.serverUrl(), registrationToken: this.opts.registrationToken, ephemeral: this.opts.ephemeral })
      .then(
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
    // Only this runner's entry: a slot's id is used again by the runner that replaces it.
    const forget = (map: Map<string, LaunchedRunner>) => map.get(poolId) === runner && map.delete(poolId);
    const startedAt = Date.now();
    void runner.exited.then((code) => {
      const expected = forget(this.leaving);
      const died = forget(this.live);
      if (this.closed || !(expected || died)) return;
      this.changed();
      if (expected) this.pruneSlots();
      if (!died) return;
      if (this.opts.ephemeral && code === 0) {
        // It did its one job, as asked: a fresh one takes the next at once.
        this.reconcile();
        this.changed();
        return;
      }
      // It died on its own: start another after a growing pause, so a broken setup cannot spin;
      // one that had run for a while before it died is no broken setup, and starts the pause again.
      if (Date.now() - startedAt > HEALTHY_RUN_MS) this.restartDelayMs = FIRST_RESTART_DELAY_MS;
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
    // Bounded too: an engine that stopped answering must not hold the server's exit.
    if (!(await within(killMs))) this.opts.log('pool: some runners did not confirm their exit; leaving them');
  }
}
