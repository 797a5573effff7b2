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
      // Returns the chunks from the one that holds byte `from` on, in order, at most `limit`. Both
      // lookups walk the primary key; "offset + length(data) > from" read every chunk of the job
      // up to `from`, blobs included, which made each read of a long log's end cost its length.
      from: db.prepare<[{ job: string; from: number; limit: number }], { offset: number; data: Buffer }>(
        `SELECT offset, data FROM log_chunks
          WHERE job_id = @job AND offset >= coalesce((SELECT max(offset) FROM log_chunks WHERE job_id = @job AND offset <= @from), 0)
          ORDER BY offset LIMIT @limit`,
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
    for (const chunk of this.stmts.from.all({ job: jobId, from: offset, limit: 1000 })) {
      if (chunk.offset + chunk.data.length <= offset) continue;
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
    // Iterated, not fetched whole: a read stops at `maxBytes` without loading the chunks after.
    for (const chunk of this.stmts.from.iterate({ job: jobId, from, limit: 1000 })) {
      if (chunk.offset + chunk.data.length <= from) continue;
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
