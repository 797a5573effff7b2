import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { StoredTranscriptEntry, Transcript } from '../src/shared/api.js';
import { RunnerRoutes, type Assignment } from '../src/shared/protocol.js';
import type { TranscriptEntry } from '../src/shared/transcript.js';
import { FIRST_PAGE, PAGE, TranscriptFeed } from '../src/web/src/jobs/transcript-feed.js';
import { api, eventually, startTestServer, tempDir } from './helpers.js';
import { poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

// The web UI's transcript feed against a real server: what the page reads, a page at a time, and
// how live entries join it. What reaches the page is tested in the browser (web-ui-transcript).

const entry = (i: number): TranscriptEntry => ({ type: 'message', role: 'assistant', text: `entry ${i}` });

test('the transcript feed reads one block first, then big pages until a short one, and live entries join once each, in order', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r1', [], ['claude']);
  const job = await submit(server, { repo_id: repo.id, title: 'long', agent: 'claude' });
  const a = (await poll(server, runner.token)) as Assignment;
  let batch = 0;
  const send = async (from: number, to: number): Promise<StoredTranscriptEntry[]> => {
    const entries = Array.from({ length: to - from + 1 }, (_, k) => entry(from + k));
    const r = await api(server, 'POST', RunnerRoutes.transcript(a.attempt_id), { seq: ++batch, entries }, { token: a.job_token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return entries.map((e, k) => ({ ...e, seq: from + k }));
  };
  const total = FIRST_PAGE + PAGE + 800;
  for (let from = 1; from <= total; from += 200) await send(from, Math.min(total, from + 199));

  const reads: [number, number][] = [];
  let firstShown = -1;
  const errors: string[] = [];
  const feed = new TranscriptFeed(
    async (after, limit) => {
      reads.push([after, limit]);
      const r = await api<Transcript>(server, 'GET', `/api/jobs/${job.id}/transcript?after=${after}&limit=${limit}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body;
    },
    (error) => {
      if (error) errors.push(error);
      if (firstShown < 0) firstShown = feed.entries.length;
    },
  );
  t.after(() => feed.stop());
  feed.refresh();
  await eventually('the first page', () => feed.loaded);
  // Entries the agent adds while the rest is read: a live event that leaves a gap reads what is missing.
  const late = await send(total + 1, total + 3);
  feed.append(1, late);
  await eventually('the whole transcript', () => !feed.reading && feed.lastSeq === total + 3);
  assert.equal(firstShown, FIRST_PAGE, 'the page first gets one block');
  assert.deepEqual(reads.slice(0, 3), [
    [0, FIRST_PAGE],
    [FIRST_PAGE, PAGE],
    [FIRST_PAGE + PAGE, PAGE],
  ]);
  // Then a live event that follows on is appended without a read.
  const readsBefore = reads.length;
  const next = await send(total + 4, total + 4);
  feed.append(1, next);
  assert.equal(feed.lastSeq, total + 4);
  assert.equal(reads.length, readsBefore, 'no read for an event that follows on');
  assert.deepEqual(
    feed.entries.map((e) => e.seq),
    Array.from({ length: total + 4 }, (_, i) => i + 1),
    'every entry once, in order',
  );
  assert.equal(feed.entries.at(-1)?.text, `entry ${total + 4}`);
  assert.deepEqual(errors, []);
});
