/**
 * In-process wake-ups for long-polls. This holds no queue state: SQLite does. It only tells a
 * waiting request "look again now" so that a job reaches an idle runner without any polling
 * interval, and a cancel reaches a busy runner without waiting for its next heartbeat.
 */
import { canTake, type JobNeeds, type RunnerOffer } from './matching.js';

/** A chunk just appended to a job's log, handed to its followers so they need not read it back. */
export interface LogNews {
  offset: number;
  data: Buffer;
}

interface PollWaiter {
  runnerId: string;
  offer: RunnerOffer;
  wake: () => void;
}

export class Wakeups {
  private readonly pollWaiters = new Set<PollWaiter>();
  private readonly heartbeatWaiters = new Map<string, () => void>();
  private readonly jobWatchers = new Map<string, Set<() => void>>();
  private readonly jobListeners = new Map<string, Set<(news: LogNews | undefined) => void>>();
  private readonly all = new Set<() => void>();
  private isClosed = false;

  /** The server is shutting down: every wait ends now, and new ones end at once. */
  close(): void {
    this.isClosed = true;
    for (const wake of [...this.all]) wake();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Resolves when woken for a job a runner with this offer can take, when `ms` pass, or on abort. */
  waitForJob(runnerId: string, offer: RunnerOffer, ms: number, signal?: AbortSignal): Promise<void> {
    return this.waitOn(ms, signal, (wake) => {
      const waiter: PollWaiter = { runnerId, offer, wake };
      this.pollWaiters.add(waiter);
      return () => this.pollWaiters.delete(waiter);
    });
  }

  /** Wakes the longest-waiting poll whose runner can take the job (its labels and its agent). */
  jobAvailable(job: JobNeeds): void {
    for (const waiter of this.pollWaiters) {
      if (canTake(waiter.offer, job)) {
        this.pollWaiters.delete(waiter);
        waiter.wake();
        return;
      }
    }
  }

  /** Ends this runner's waiting poll, so that it reads the runner again (it began to drain: no job for it). */
  wakePoll(runnerId: string): void {
    for (const waiter of [...this.pollWaiters]) {
      if (waiter.runnerId !== runnerId) continue;
      this.pollWaiters.delete(waiter);
      waiter.wake();
    }
  }

  waitForRunnerNews(runnerId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return this.waitOn(ms, signal, (wake) => {
      this.heartbeatWaiters.get(runnerId)?.();
      this.heartbeatWaiters.set(runnerId, wake);
      return () => {
        if (this.heartbeatWaiters.get(runnerId) === wake) this.heartbeatWaiters.delete(runnerId);
      };
    });
  }

  /** Ends the heartbeat this runner holds open (waitForRunnerNews), so that it answers now. */
  wakeHeartbeat(runnerId: string): void {
    this.heartbeatWaiters.get(runnerId)?.();
  }

  /** Resolves on the next change to a job (log appended, status changed), after `ms`, or on abort. */
  waitForJobChange(jobId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return this.waitOn(ms, signal, (wake) => {
      let set = this.jobWatchers.get(jobId);
      if (!set) this.jobWatchers.set(jobId, (set = new Set()));
      set.add(wake);
      return () => {
        set.delete(wake);
        if (set.size === 0) this.jobWatchers.delete(jobId);
      };
    });
  }

  /**
   * A job changed: `news` when its log grew by that chunk, nothing for any other change (its
   * status, its stored log rewritten). Listeners hear of it first, then waiters wake.
   */
  jobChanged(jobId: string, news?: LogNews): void {
    const listeners = this.jobListeners.get(jobId);
    if (listeners) for (const listener of [...listeners]) listener(news);
    const set = this.jobWatchers.get(jobId);
    if (set) for (const wake of [...set]) wake();
  }

  /** Calls `listener` on every change to a job (see jobChanged) until the returned function is called. */
  onJobChange(jobId: string, listener: (news: LogNews | undefined) => void): () => void {
    let set = this.jobListeners.get(jobId);
    if (!set) this.jobListeners.set(jobId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.jobListeners.get(jobId) === set) this.jobListeners.delete(jobId);
    };
  }

  private waitOn(ms: number, signal: AbortSignal | undefined, register: (wake: () => void) => () => void): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted || this.isClosed) return resolve();
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.all.delete(finish);
        unregister();
        signal?.removeEventListener('abort', finish);
        resolve();
      };
      const unregister = register(finish);
      this.all.add(finish);
      const timer = setTimeout(finish, ms);
      signal?.addEventListener('abort', finish, { once: true });
    });
  }
}
