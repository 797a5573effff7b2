import type { RetentionStore } from './store/retention.js';

/** Jobs pruned per transaction: a batch's deletes stay well under a millisecond per job, so a long backlog never holds the queue's writes for long. */
const BATCH = 100;
/** How often the sweep looks: retention is counted in days, an hour late is nothing (a tenth of a shorter retention). */
export function retentionSweepMs(days: number): number {
  return Math.max(50, Math.min(60 * 60_000, (days * 24 * 3600_000) / 10));
}

export interface RetentionLog {
  info: (fields: object, msg: string) => void;
  error: (fields: object, msg: string) => void;
}

/**
 * Prunes the logs and transcripts of jobs that finished more than `days` ago, a batch per
 * transaction with a turn of the event loop between batches (the server keeps answering), then
 * gives the freed pages back to the file system. Returns how many jobs it pruned.
 */
export async function pruneOldLogs(store: RetentionStore, days: number, nowMs = Date.now(), stopped: () => boolean = () => false): Promise<number> {
  const before = new Date(nowMs - days * 24 * 3600_000).toISOString();
  let total = 0;
  while (!stopped()) {
    const due = store.due(before, BATCH);
    if (due.length === 0) break;
    total += store.prune(due, nowMs);
    if (due.length < BATCH) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (total > 0 && !stopped()) store.vacuum();
  return total;
}

/** Sweeps a second after start and then every hour while `days` > 0; returns the function that stops it. */
export function startRetentionSweeper(store: RetentionStore, days: number, log: RetentionLog): () => void {
  if (days <= 0) return () => {};
  let running = false;
  let stopped = false;
  const sweep = () => {
    if (running) return;
    running = true;
    // Stopped at shutdown between batches: the database closes next.
    pruneOldLogs(store, days, Date.now(), () => stopped)
      .then((pruned) => {
        if (pruned > 0) log.info({ pruned, days }, `pruned the logs and transcripts of ${pruned} jobs finished more than ${days} days ago`);
      })
      .catch((err: unknown) => log.error({ err }, 'pruning old logs failed; trying again on the next sweep'))
      .finally(() => (running = false));
  };
  const first = setTimeout(sweep, 1000);
  const timer = setInterval(sweep, retentionSweepMs(days));
  first.unref();
  timer.unref();
  return () => {
    stopped = true;
    clearTimeout(first);
    clearInterval(timer);
  };
}
