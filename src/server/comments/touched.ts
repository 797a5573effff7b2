/**
 * Which review comments a follow-up's diff touched: pure arithmetic on hunk headers. A comment
 * sits on a line of its job's diff; the follow-up's diff runs from that job's commit to its own,
 * so a comment on the new side is at its own line number in the follow-up's old side, and one on
 * the old side is first carried through its job's own diff (mapOldLine).
 */

/** One `@@ -oldStart,oldLines +newStart,newLines @@` header. */
export interface Hunk {
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
}

/**
 * Lines from `from` to `to`, both included. A point between two lines (where a hunk only inserted
 * or only removed) is a half: 12.5 lies between lines 12 and 13.
 */
export interface Span {
  from: number;
  to: number;
}

/** How near (in lines) a change must come to a comment's line to count as touching it. */
export const TOUCH_DISTANCE = 3;

const HUNK_RE = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/** A hunk's header, or undefined for any other line; an omitted count is 1, as git writes it. */
export function parseHunkHeader(line: string): Hunk | undefined {
  const m = HUNK_RE.exec(line);
  if (!m) return undefined;
  return { oldStart: Number(m[1]), oldLines: m[2] === undefined ? 1 : Number(m[2]), newStart: Number(m[3]), newLines: m[4] === undefined ? 1 : Number(m[4]) };
}

/** The lines a hunk replaced on its old side: with none (an insertion), the point after `oldStart`. */
export function oldSpan(h: Hunk): Span {
  return h.oldLines > 0 ? { from: h.oldStart, to: h.oldStart + h.oldLines - 1 } : { from: h.oldStart + 0.5, to: h.oldStart + 0.5 };
}

/** The lines a hunk wrote on its new side: with none (a removal), the point after `newStart`. */
export function newSpan(h: Hunk): Span {
  return h.newLines > 0 ? { from: h.newStart, to: h.newStart + h.newLines - 1 } : { from: h.newStart + 0.5, to: h.newStart + 0.5 };
}

/**
 * Where an old-side line is on the new side of the diff whose hunks (in order) these are: an
 * unchanged line moves by what the hunks before it added and removed; a line a hunk replaced or
 * removed becomes what that hunk wrote in its place (or the point where it was, when it wrote
 * nothing).
 */
export function mapOldLine(line: number, hunks: readonly Hunk[]): Span {
  let shift = 0;
  for (const h of hunks) {
    const old = oldSpan(h);
    if (line < old.from) break;
    if (h.oldLines > 0 && line <= old.to) return newSpan(h);
    shift += h.newLines - h.oldLines;
  }
  return { from: line + shift, to: line + shift };
}

/** Whether a hunk's old side covers `target` or comes within TOUCH_DISTANCE lines of it. */
export function touches(hunks: readonly Hunk[], target: Span): boolean {
  return hunks.some((h) => {
    const old = oldSpan(h);
    return old.from <= target.to + TOUCH_DISTANCE && old.to >= target.from - TOUCH_DISTANCE;
  });
}
