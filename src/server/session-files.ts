import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ID_RE } from './git/bare.js';
import { removeTree } from '../shared/remove-tree.js';

const ATTEMPT_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Agents' session files, as their runners uploaded them (a gzipped tar, opaque to the server):
 * one file per attempt in the data dir, `sessions/<repo id>/<attempt id>.tgz`, not in SQLite (up
 * to 32 MiB each; the database keeps only their size). A repo's folder goes with the repo, as its
 * jobs do.
 */
export class SessionFiles {
  constructor(readonly dir: string) {}

  /** Stores an attempt's files, replacing what it sent before (written aside, then renamed: a reader never sees half). */
  write(repoId: string, attemptId: string, body: Buffer): void {
    const file = this.file(repoId, attemptId);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${crypto.randomBytes(6).toString('hex')}.tmp`;
    try {
      fs.writeFileSync(tmp, body, { mode: 0o600 });
      fs.renameSync(tmp, file);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
  }

  /** An attempt's files to send, or undefined when there are none. */
  open(repoId: string, attemptId: string): fs.ReadStream | undefined {
    const file = this.file(repoId, attemptId);
    return fs.existsSync(file) ? fs.createReadStream(file) : undefined;
  }

  exists(repoId: string, attemptId: string): boolean {
    return fs.existsSync(this.file(repoId, attemptId));
  }

  /** After the repo (and so its jobs) was deleted. */
  async removeRepo(repoId: string): Promise<void> {
    if (!REPO_ID_RE.test(repoId)) return;
    await removeTree(path.join(this.dir, repoId));
  }

  private file(repoId: string, attemptId: string): string {
    // Both come from the database; checked all the same, since they become a path.
    if (!REPO_ID_RE.test(repoId) || !ATTEMPT_ID_RE.test(attemptId)) throw new Error(`not an id: ${repoId}/${attemptId}`);
    return path.join(this.dir, repoId, `${attemptId}.tgz`);
  }
}
