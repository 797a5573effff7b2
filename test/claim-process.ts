// One claimer of the concurrent-claim test in queue-protocol.test.ts, as a process of its own with
// its own connection to the server's database: given the database file and a runner id, it opens
// the queue, says "ready", and at SIGUSR2 claims jobs for that runner until none is left, then
// prints the ids it claimed as one JSON line.
import { openDb } from '../src/server/db/index.js';
import { openQueueStores } from '../src/server/queue/core.js';
import { Queue } from '../src/server/queue/queue.js';

const [file, runnerId] = process.argv.slice(2);
const db = openDb(file!);
const emit = () => {};
const store = openQueueStores(db, emit);
const runner = store.runners.get(runnerId!);
if (!runner) throw new Error(`no runner ${runnerId}`);
const queue = new Queue(db, store, {
  leaseTtlMs: 600_000,
  maxAttempts: 3,
  logCapBytes: 1 << 20,
  runnerPruneAfterMs: 3_600_000,
  timeoutGraceMs: 0,
  cancelGraceMs: 1000,
  emit,
});
// Told within the test's bound, or gone.
const bound = setTimeout(() => {
  process.stderr.write('never told to claim\n');
  process.exit(1);
}, 60_000);
process.once('SIGUSR2', () => {
  clearTimeout(bound);
  const claimed: string[] = [];
  for (let c = queue.claim(runner); c; c = queue.claim(runner)) claimed.push(c.job.id);
  process.stdout.write(`${JSON.stringify(claimed)}\n`);
  db.close();
  process.exit(0);
});
process.stdout.write('ready\n');
