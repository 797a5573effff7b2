import type { Db } from '../db/index.js';

export interface TranscriptRow {
  seq: number;
  /** A TranscriptEntry as JSON. */
  entry: string;
}

/** All SQL on the `transcript_entries` table. */
export class TranscriptStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      // Appends one entry at its seq within the attempt.
      insert: db.prepare('INSERT INTO transcript_entries (attempt_id, seq, entry) VALUES (?, ?, ?)'),
      // Returns the attempt's entries with a seq above `after`, in order, at most `limit`.
      after: db.prepare<[string, number, number], TranscriptRow>(
        'SELECT seq, entry FROM transcript_entries WHERE attempt_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
    };
  }

  insert(attemptId: string, seq: number, entryJson: string): void {
    this.stmts.insert.run(attemptId, seq, entryJson);
  }

  after(attemptId: string, after: number, limit: number): TranscriptRow[] {
    return this.stmts.after.all(attemptId, after, limit);
  }
}
