// Which comments a follow-up's diff touched: the arithmetic on hunk headers (comments/touched.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapOldLine, parseHunkHeader, touches, type Hunk } from '../src/server/comments/touched.js';

const hunk = (header: string): Hunk => parseHunkHeader(header)!;

test('hunk headers: counts default to 1; anything else is no header', () => {
  assert.deepEqual(hunk('@@ -3 +2,0 @@'), { oldStart: 3, oldLines: 1, newStart: 2, newLines: 0 });
  assert.deepEqual(hunk('@@ -10,2 +10,5 @@ function x() {'), { oldStart: 10, oldLines: 2, newStart: 10, newLines: 5 });
  assert.equal(parseHunkHeader('-@@ -1 +1 @@'), undefined);
  assert.equal(parseHunkHeader('@@ -x +1 @@'), undefined);
});

test('a change touches a line it covers or comes within 3 lines of; an insertion is the point between two lines', () => {
  const at = (line: number) => ({ from: line, to: line });
  assert.ok(touches([hunk('@@ -10 +10 @@')], at(10)));
  assert.ok(touches([hunk('@@ -13 +13 @@')], at(10)));
  assert.ok(!touches([hunk('@@ -14 +14 @@')], at(10)));
  assert.ok(touches([hunk('@@ -5,2 +5 @@')], at(9)), 'lines 5-6, 3 from 9');
  assert.ok(!touches([hunk('@@ -5,2 +5 @@')], at(10)));
  // Inserted after line 12 (between 12 and 13): within 3 of line 10; after 13, not.
  assert.ok(touches([hunk('@@ -12,0 +13,4 @@')], at(10)));
  assert.ok(!touches([hunk('@@ -13,0 +14,4 @@')], at(10)));
  assert.ok(touches([hunk('@@ -0,0 +1,3 @@')], { from: -Infinity, to: Infinity }), 'a file written again touches a comment on it when deleted');
  assert.ok(!touches([], at(1)));
});

test("an old-side line is carried through its job's own diff: shifted, or replaced by what the hunk wrote", () => {
  const hunks = [hunk('@@ -3 +2,0 @@'), hunk('@@ -10 +9 @@'), hunk('@@ -20,0 +20,2 @@')];
  assert.deepEqual(mapOldLine(1, hunks), { from: 1, to: 1 });
  assert.deepEqual(mapOldLine(3, hunks), { from: 2.5, to: 2.5 }, 'a deleted line: the point where it was');
  assert.deepEqual(mapOldLine(5, hunks), { from: 4, to: 4 });
  assert.deepEqual(mapOldLine(10, hunks), { from: 9, to: 9 }, 'a changed line: what replaced it');
  assert.deepEqual(mapOldLine(20, hunks), { from: 19, to: 19 }, 'before an insertion after it');
  assert.deepEqual(mapOldLine(21, hunks), { from: 22, to: 22 }, 'after it');
  assert.deepEqual(mapOldLine(7, [hunk('@@ -5,4 +5,2 @@')]), { from: 5, to: 6 });
});
