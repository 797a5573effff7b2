import { REDACTED, type Redactor } from '../../shared/redact.js';
import type { JobRow } from '../store/jobs.js';
import type { LogStore } from '../store/logs.js';

/**
 * The server's second net across log chunks: a runner that did not know a value (an older one, a
 * value the job got another way) may cut it between two chunks, and each chunk redacted on its
 * own would keep both halves. So each chunk is read against the end of the stored log: a value
 * that began there and ends in the chunk becomes `*` over its stored part (same length: no offset
 * moves) and `[redacted]` in the chunk. Nothing is held back, so a restart loses nothing and a
 * resent chunk (refused by its number before this runs) changes nothing; the price is that the
 * first part was stored, and shown to a live viewer, until its end came.
 *
 * Returns the chunk's text to store, and calls `rewrote` when it changed the stored log (live
 * followers holding its old bytes must read them again). Runs inside the transaction that appends it.
 */
export function hideValueAcrossChunks(
  logs: LogStore,
  job: Pick<JobRow, 'id' | 'log_bytes'>,
  text: string,
  redactor: Redactor,
  rewrote: () => void = () => {},
): string {
  if (redactor.empty || job.log_bytes === 0) return text;
  // A character is at most 4 bytes: this holds the last `longest` characters, whatever they are.
  const from = Math.max(0, job.log_bytes - 4 * redactor.longest);
  const before = logs.read(job.id, from, job.log_bytes - from).toString('utf8');
  const hit = redactor.spanning(before, text);
  if (!hit) return text;
  const stored = Buffer.byteLength(before.slice(before.length - hit.before));
  logs.overwrite(job.id, job.log_bytes - stored, Buffer.alloc(stored, '*'));
  rewrote();
  return REDACTED + text.slice(hit.after);
}
