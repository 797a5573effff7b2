import type { Db } from '../db/index.js';

/** All SQL on the `pool` table (one row). */
export class PoolStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      // Returns the stored desired size, or undefined before the pool was ever sized.
      desired: db.prepare<[], number>('SELECT desired FROM pool WHERE id = 1').pluck(),
      // Stores the desired size (inserts the row the first time).
      setDesired: db.prepare<[number]>('INSERT INTO pool (id, desired) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET desired = excluded.desired'),
    };
  }

  desired(): number | undefined {
    return this.stmts.desired.get();
  }

  setDesired(desired: number): void {
    this.stmts.setDesired.run(desired);
  }
}
