import type { Db } from '../db/index.js';

/** All SQL on the `log_chunks` table. */
export class LogStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      // Appends one chunk at a byte offset.
      insert: db.prepare('INSERT INTO log_chunks (job_id, offset, data) VALUES (?, ?, ?)'),
      // Replaces the bytes of the chunk at `offset` (of the same length).
      update: db.prepare('UPDATE log_chunks SET data = ? WHERE job_id = ? AND offset = ?'),
      // Returns the chunks that hold bytes at or after `from`, in order, at most `limit`.
      from: db.prepare<[string, number, number], { offset: number; data: Buffer }>(
        'SELECT offset, data FROM log_chunks WHERE job_id = ? AND offset + length(data) > ? ORDER BY offset LIMIT ?',
      ),
    };
  }

  append(jobId: string, offset: number, data: Buffer): void {
    // A chunk is keyed by its offset and an empty one advances no offset: stored, it would clash
    // with the next chunk at the same offset and fail every later write of the job for good.
    if (data.length === 0) return;
    this.stmts.insert.run(jobId, offset, data);
  }

  /** Writes `data` over the stored bytes from `offset` on: same length, so no offset moves. */
  overwrite(jobId: string, offset: number, data: Buffer): void {
    for (const chunk of this.stmts.from.all(jobId, offset, 1000)) {
      const at = offset - chunk.offset;
      if (at + data.length <= 0) break;
      const updated = Buffer.from(chunk.data);
      data.subarray(Math.max(0, -at)).copy(updated, Math.max(0, at));
      this.stmts.update.run(updated, jobId, chunk.offset);
    }
  }

  /** Up to about `maxBytes` of the log starting at byte `from`. */
  read(jobId: string, from: number, maxBytes: number): Buffer {
    const parts: Buffer[] = [];
    let size = 0;
    for (const chunk of this.stmts.from.all(jobId, from, 1000)) {
      const start = Math.max(0, from - chunk.offset);
      const piece = chunk.data.subarray(start);
      parts.push(piece);
      size += piece.length;
      if (size >= maxBytes) break;
    }
    const all = Buffer.concat(parts);
    return all.length > maxBytes ? all.subarray(0, maxBytes) : all;
  }
}
