import type { Db } from '../db/index.js';

/**
 * Transactions whose side effects (events, wake-ups) wait for the commit. A listener told about
 * a change that then rolled back would act on a state that never existed.
 */
export class Transactions {
  /** What the transaction in progress will do once it commits; dropped if it rolls back. */
  private pending: (() => void)[] | undefined;

  constructor(private readonly db: Db) {}

  /** Runs `fn` in a transaction (a savepoint inside another one), then what it deferred once the outermost commits. */
  run<T>(fn: () => T, mode: 'deferred' | 'immediate' = 'deferred'): T {
    const outer = this.pending;
    const pending = outer ?? [];
    const mark = pending.length;
    this.pending = pending;
    let result: T;
    try {
      result = this.db.transaction(fn)[mode]();
    } catch (err) {
      pending.length = mark;
      throw err;
    } finally {
      this.pending = outer;
    }
    if (!outer) for (const effect of pending) effect();
    return result;
  }

  /** Runs `effect` once the current transaction commits, or now outside one. */
  afterCommit(effect: () => void): void {
    if (this.pending) this.pending.push(effect);
    else effect();
  }
}
