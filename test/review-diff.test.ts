// The review view's pure parts: reading a unified diff into numbered rows, the file tree, the
// side-by-side pairing, and cutting highlight.js's HTML into lines without losing its escaping.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DiffFile } from '../src/shared/api.js';
import { fileTree, treeOrder } from '../src/web/src/review/file-tree.js';
import { parseDiff, splitRows, unquotePath } from '../src/web/src/review/parse-diff.js';

// Loaded by a path the compiler does not follow: highlight.js's types bring the DOM's, which clash with Node's.
const HIGHLIGHT: string = '../src/web/src/review/highlight.js';
const { highlightRows, splitLines } = (await import(HIGHLIGHT)) as {
  highlightRows: (rows: readonly { kind: string; text: string; hidden: boolean }[], language: string) => (string | null)[] | null;
  splitLines: (html: string) => string[];
};

const file = (path: string, added: number, removed: number, status = 'M'): DiffFile => ({ path, old_path: null, status, added, removed, binary: false });

const DIFF = [
  'diff --git a/src/app.ts b/src/app.ts',
  'index 1111111..2222222 100644',
  '--- a/src/app.ts',
  '+++ b/src/app.ts',
  '@@ -1,3 +1,3 @@',
  ' const a = 1;',
  '--- a removed line that looks like a header',
  '+++ an added line that looks like one',
  ' const c = 3;',
  '@@ -10 +10,2 @@ function f() {',
  ' x',
  '+y',
  '\\ No newline at end of file',
  'diff --git "a/caf\\303\\251.txt" "b/caf\\303\\251.txt"',
  'new file mode 100644',
  'index 0000000..3333333',
  '--- /dev/null',
  '+++ "b/caf\\303\\251.txt"',
  '@@ -0,0 +1 @@',
  '+hi',
  '[lazyaf: diff truncated at 1024 bytes; the list of files is cut too]',
  '',
].join('\n');

test('a unified diff reads as files of numbered rows; a hunk ends by its counts, so header-like lines inside it stay lines', () => {
  const files = parseDiff(DIFF, [file('src/app.ts', 2, 1), file('b.txt', 1, 0, 'A')]);
  assert.equal(files.length, 2);
  const [app, second] = files;
  assert.deepEqual(
    app!.rows.map((r) => [r.kind, r.old, r.new, r.text]),
    [
      ['hunk', null, null, '@@ -1,3 +1,3 @@'],
      ['ctx', 1, 1, 'const a = 1;'],
      ['del', 2, null, '-- a removed line that looks like a header'],
      ['add', null, 2, '++ an added line that looks like one'],
      ['ctx', 3, 3, 'const c = 3;'],
      ['hunk', null, null, '@@ -10 +10,2 @@ function f() {'],
      ['ctx', 10, 10, 'x'],
      ['add', null, 11, 'y'],
      ['note', null, null, '\\ No newline at end of file'],
    ],
  );
  // The n-th part is the list's n-th file: its path is the list's, whatever the header says.
  assert.equal(second!.path, 'b.txt');
  assert.deepEqual(second!.notes, ['new file mode 100644']);
  assert.equal(second!.rows.length, 2, 'the truncation marker is no row');
});

test('a part past a cut list takes its path from its header, unquoted; a listed file past a cut diff is missing', () => {
  const past = parseDiff(DIFF, [file('src/app.ts', 2, 1)]);
  assert.equal(past[1]!.path, 'café.txt');
  assert.equal(unquotePath('"a\\tb\\"c"'), 'a\tb"c');
  const missing = parseDiff(DIFF, [file('src/app.ts', 2, 1), file('b.txt', 1, 0), file('c.txt', 1, 0)]);
  assert.equal(missing[2]!.missing, true);
});

test('side by side: kept lines on both sides, removed lines beside the added ones that follow them', () => {
  const [app] = parseDiff(DIFF, [file('src/app.ts', 2, 1)]);
  const rows = splitRows(app!.rows);
  const pair = rows.find((r) => r.left?.kind === 'del')!;
  assert.equal(pair.right?.kind, 'add');
  assert.equal(rows.filter((r) => r.full).length, 3, 'two hunk headers and a note across both halves');
  const lone = rows.find((r) => r.right?.text === 'y')!;
  assert.equal(lone.left, null);
});

test('the file tree: folders first, counts summed, a chain of single folders as one', () => {
  const tree = fileTree([
    { path: 'src/web/app.ts', added: 3, removed: 1 },
    { path: 'README.md', added: 1, removed: 0 },
    { path: 'src/web/lib/a.ts', added: 2, removed: 2 },
  ]);
  assert.equal(tree.children[0]!.kind, 'folder');
  assert.equal(tree.children[0]!.name, 'src/web');
  assert.equal(tree.added, 6);
  assert.deepEqual(treeOrder(tree), [2, 0, 1], 'src/web/lib/a.ts, src/web/app.ts, README.md');
});

test("highlight.js's HTML cut into lines keeps its escaping and closes each line's spans", () => {
  assert.deepEqual(splitLines('<span class="hljs-comment">/* a\nb */</span> x'), [
    '<span class="hljs-comment">/* a</span>',
    '<span class="hljs-comment">b */</span> x',
  ]);
  const hostile = '<img src=x onerror=alert(1)>';
  const rows = parseDiff(
    ['diff --git a/a.ts b/a.ts', '--- a/a.ts', '+++ b/a.ts', '@@ -1,2 +1,2 @@', ' /* one', `-${hostile} */`, `+"${hostile}" */`, ''].join('\n'),
    [file('a.ts', 1, 1)],
  )[0]!.rows;
  const html = highlightRows(rows, 'typescript')!;
  assert.match(html[1]!, /^<span class="hljs-comment">\/\* one<\/span>$/);
  assert.match(html[2]!, /^<span class="hljs-comment">&lt;img src=x onerror=alert\(1\)&gt; \*\/<\/span>$/, 'the removed line reads in the comment it is in');
  for (const line of html) assert.doesNotMatch(line ?? '', /<(?!\/?span\b)/, 'no markup but its spans');
  assert.equal(html[0], null, 'a hunk header is shown as text');
});
