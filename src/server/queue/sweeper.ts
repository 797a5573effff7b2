import type { Queue } from './queue.js';

export interface SweepLog {
  error: (fields: object, msg: string) => void;
}

/** Leases expire on time even when no request arrives. Returns the function that stops it. */
export function startSweeper(queue: Queue, log: SweepLog): () => void {
  const sweepMs = Math.min(5000, Math.max(100, Math.floor(queue.leaseTtlMs / 4)));
  const sweeper = setInterval(() => {
    try {
      for (const f of queue.sweep().failed) log.error({ attempt: f.attempt_id, err: f.error }, 'could not expire a lease; retrying on the next sweep');
    } catch (err) {
      log.error({ err }, 'lease sweep failed');
    }
  }, sweepMs);
  sweeper.unref();
  return () => clearInterval(sweeper);
}
