import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Job, JobLogs } from '../src/shared/api.js';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { PLAIN, segments } from '../src/web/src/jobs/ansi.js';
import { LogLines, MAX_SHOWN_CHARS, readablePart } from '../src/web/src/jobs/log-buffer.js';
import { LogFeed } from '../src/web/src/jobs/log-feed.js';
import { api, eventually, startTestServer, tempDir } from './helpers.js';
import { poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

// The web UI's log: how it reads the server's pages into lines, and how it turns ANSI escapes
// into styled text. What reaches the page is tested in the browser; here, the parts it relies on.

const texts = (line: ReturnType<typeof segments>) => line.map((s) => s.text).join('');
const lineTexts = (lines: LogLines) => Array.from({ length: lines.count }, (_, i) => texts(lines.segmentsOf(i)));

/** A job on a runner registered by hand: `send` appends to its log as the runner would; `readPage` reads it as the page does. */
async function jobWithLog(t: TestContext) {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const job = await submit(server, { repo_id: repo.id, title: 'a log', command: 'true' });
  const a = (await poll(server, (await registerRunner(server, 'r')).token))!;
  let seq = 0;
  return {
    send: async (data: string) =>
      assert.equal((await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq: ++seq, data }, { token: a.job_token })).status, 200),
    readPage: async (offset = 0, limit = 1024 * 1024) => (await api<JobLogs>(server, 'GET', `/api/jobs/${job.id}/logs?offset=${offset}&limit=${limit}`)).body,
    logBytes: async () => (await api<Job>(server, 'GET', `/api/jobs/${job.id}`)).body.log_bytes,
  };
}

test('the log read in pages of any size gives every line whole, characters split by a page cut included', async (t) => {
  const { send, readPage } = await jobWithLog(t);
  // Two-, three- and four-byte characters, a line ending in the middle of a chunk, and CRLF.
  for (const data of ['é one €\n😀 two ', 'still two\r\nthree ü€😀', '\nfour, no newline at the end: 漢字']) await send(data);
  const whole = (await readPage()).content;
  assert.ok(!whole.includes('\uFFFD'));
  const expected = whole.split('\n').map((l) => l.replace(/\r$/, ''));

  // At least 4 bytes: a page must hold the longest character (the UI asks for a mebibyte).
  for (const limit of [4, 5, 6, 7, 11, 64]) {
    const lines = new LogLines();
    let offset = 0;
    for (let requests = 0; requests < 10_000; requests++) {
      const page = await readPage(offset, limit);
      const { text, end } = readablePart(page);
      lines.append(text);
      // The job is running: its log ends where the server has no more bytes.
      if (page.next_offset === offset) break;
      offset = end;
    }
    assert.deepEqual(lineTexts(lines), expected, `pages of ${limit} bytes`);
  }
});

test('a long log shows its tail first, then the earlier lines join in front, news at the end included', async (t) => {
  const { send, readPage, logBytes } = await jobWithLog(t);
  // Colour set before the tail and carried into it; multi-byte characters everywhere, so cuts split them.
  await send('\x1b[32m' + Array.from({ length: 120 }, (_, i) => `line ${i} é€😀`).join('\n') + '\n');
  // LogLines counts no empty line after a final newline.
  const whole = async () =>
    (await readPage()).content
      .replace(/\n$/, '')
      .split('\n')
      .map((l) => texts(segments(l, PLAIN)));

  const shown: { lines: string[]; loadingHead: boolean }[] = [];
  let failure: string | undefined;
  const feed = new LogFeed(
    readPage,
    (error) => {
      failure ??= error;
      shown.push({ lines: lineTexts(feed.lines), loadingHead: feed.loadingHead });
    },
    { tailBytes: 200, pageBytes: 64 },
  );
  feed.grow(await logBytes());
  await eventually('the tail to show', () => shown.length > 0);
  const first = shown[0]!.lines;
  const expected = await whole();
  assert.ok(first.length < 20, `the tail alone shows first (${first.length} lines)`);
  assert.deepEqual(first, expected.slice(-first.length), 'the tail is the end of the log');
  assert.ok(shown[0]!.loadingHead, 'the earlier lines are still on their way');

  await send('news while the start loads\n');
  feed.grow(await logBytes());
  await eventually('the whole log', async () => !feed.loadingHead && lineTexts(feed.lines).length === (await whole()).length);
  assert.equal(failure, undefined);
  assert.deepEqual(lineTexts(feed.lines), await whole());
  assert.deepEqual(
    feed.lines.segmentsOf(100).map((s) => s.classes),
    ['fg2'],
    'the colour set at the start reaches the tail once joined',
  );
  feed.stop();
});

test('a U+FFFD of the log itself shows; the last page of a finished log shows as it is', () => {
  const page = (content: string, bytes: number, complete = false): JobLogs => ({
    job_id: 'j',
    offset: 10,
    next_offset: 10 + bytes,
    content,
    truncated: false,
    complete,
  });
  assert.deepEqual(readablePart(page('\uFFFD ok', 6)), { text: '\uFFFD ok', end: 16 });
  // At the end of a page it looks like 3 bytes of a 4-byte character: held back, it starts the next page.
  assert.deepEqual(readablePart(page('ok \uFFFD', 6)), { text: 'ok ', end: 13 });
  assert.deepEqual(readablePart(page('ok \uFFFD', 5)), { text: 'ok ', end: 13 }, 'two bytes of a split character are held back');
  assert.deepEqual(
    readablePart(page('\uFFFDok \uFFFD', 6)),
    { text: '\uFFFDok \uFFFD', end: 16 },
    'a broken byte before the cut: the count cannot tell, so it shows',
  );
  assert.deepEqual(readablePart(page('ok \uFFFD', 5, true)), { text: 'ok \uFFFD', end: 15 }, 'a finished log ends as it is');
});

test('ANSI colours become styled segments; other escapes, controls and redrawn text do not show', () => {
  assert.deepEqual(
    segments('\x1b[31mred\x1b[0m plain \x1b[1;42mbold on green\x1b[22;49m', PLAIN).map((s) => [s.text, s.classes]),
    [
      ['red', 'fg1'],
      [' plain ', ''],
      ['bold on green', 'bg2 bold'],
    ],
  );
  const [c256, truecolor] = segments('\x1b[38;5;196mA\x1b[48;2;1;2;3mB', PLAIN);
  assert.equal(c256?.color, 'rgb(255,0,0)');
  assert.deepEqual([truecolor?.color, truecolor?.background], ['rgb(255,0,0)', 'rgb(1,2,3)']);
  assert.equal(texts(segments('a\x1b]0;window title\x07b\x1b[2Kc\x1b[1A\x07d\u009be', PLAIN)), 'abcde', 'OSC, cursor moves, bell and C1 controls are dropped');
  assert.equal(texts(segments('50%\r75%\r100% done', PLAIN)), '100% done', 'a carriage return redraws the line');
  assert.equal(texts(segments('<script>alert(1)</script> &amp;', PLAIN)), '<script>alert(1)</script> &amp;', 'markup stays text');
  assert.deepEqual(
    segments('\x1b[7minverse', PLAIN).map((s) => s.classes),
    ['fg-inv bg-inv'],
  );
  assert.deepEqual(
    segments('\x1b[38;5;999mbad colour\x1b[38;2;1mbad too', PLAIN).map((s) => [s.text, s.classes, s.color ?? null]),
    [['bad colourbad too', '', null]],
  );
});

test('a style carries from line to line and chunk to chunk; a partial last line is shown and later completed', () => {
  const lines = new LogLines();
  lines.append('\x1b[32mgreen starts\nstill gr');
  assert.equal(lines.count, 2);
  assert.deepEqual(
    lines.segmentsOf(1).map((s) => [s.text, s.classes]),
    [['still gr', 'fg2']],
  );
  lines.append('een\x1b[0m plain\nplain again\n');
  assert.equal(lines.count, 3);
  assert.deepEqual(
    lines.segmentsOf(1).map((s) => [s.text, s.classes]),
    [
      ['still green', 'fg2'],
      [' plain', ''],
    ],
  );
  assert.deepEqual(
    lines.segmentsOf(2).map((s) => [s.text, s.classes]),
    [['plain again', '']],
  );
  lines.append('x'.repeat(MAX_SHOWN_CHARS + 5));
  const long = lines.segmentsOf(3);
  assert.equal(long[0]?.text.length, MAX_SHOWN_CHARS);
  assert.match(long[1]?.text ?? '', /5 more characters/);
  assert.equal(lines.width, MAX_SHOWN_CHARS);
});
