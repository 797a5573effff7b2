import type { DiffFile } from '../../../shared/api.js';
import { hasHidden } from '../lib/hidden-chars.js';

/** What a row of a file's diff is: a line added, removed or kept, a hunk's header, or git's note (`\ No newline at end of file`). */
export type RowKind = 'add' | 'del' | 'ctx' | 'hunk' | 'note';

export interface DiffRow {
  kind: RowKind;
  /** The line without its sign (a hunk's header and a note as they are). */
  text: string;
  /** Its number in the base's version of the file, and in the job's. */
  old: number | null;
  new: number | null;
  /** It holds characters shown as markers: it goes through Text, never through the highlighter. */
  hidden: boolean;
}

/** One file of the diff: its entry of the API's list (when listed) and its rows. */
export interface FileDiff {
  /** The path comments name: the list's, or the diff's own for a file past a cut list. */
  path: string;
  oldPath: string | null;
  status: string;
  added: number | null;
  removed: number | null;
  binary: boolean;
  /** git's lines about the file before its hunks that say something (new file, mode, binary). */
  notes: string[];
  rows: DiffRow[];
  /** The unified diff has no part for it: cut short before it. */
  missing: boolean;
}

const HUNK_RE = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;
/** Header lines worth showing; the rest (index, ---, +++) the file's heading says already. */
const NOTE_RE = /^(new file mode|deleted file mode|old mode|new mode|similarity index|rename from|rename to|copy from|copy to|Binary files)/;

/** A path as git prints it in a header: C-quoted when it holds special characters. */
export function unquotePath(raw: string): string {
  if (!raw.startsWith('"') || !raw.endsWith('"') || raw.length < 2) return raw;
  const bytes: number[] = [];
  const body = raw.slice(1, -1);
  const simple: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, '\\': 92, '"': 34 };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      for (const b of new TextEncoder().encode(c)) bytes.push(b);
      continue;
    }
    const next = body[i + 1] ?? '';
    if (/[0-7]/.test(next)) {
      bytes.push(parseInt(body.slice(i + 1, i + 4), 8) & 0xff);
      i += 3;
    } else {
      bytes.push(simple[next] ?? next.charCodeAt(0));
      i += 1;
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** The new path a file's header names (`+++ b/x`, else `diff --git a/x b/x`): for a file past a cut list. */
function headerPath(header: string[]): string {
  for (const line of header) {
    if (line.startsWith('+++ ') && line !== '+++ /dev/null') return unquotePath(line.slice(4)).replace(/^b\//, '');
  }
  for (const line of header) if (line.startsWith('--- ') && line !== '--- /dev/null') return unquotePath(line.slice(4)).replace(/^a\//, '');
  const m = /^diff --git (?:"?a\/.*?"?) ("?b\/.*"?)$/.exec(header[0] ?? '');
  return m ? unquotePath(m[1]!).replace(/^"?b\//, '') : (header[0] ?? '');
}

/**
 * The unified diff in files and rows, each line with its numbers. `files` is the API's list, in
 * git's order as the diff is (both come from the same `git diff`): the n-th part of the diff is
 * the n-th file. A part past a cut list takes its path from its header; a listed file past a cut
 * diff has no rows (`missing`). A hunk ends when its counts are used up, so a removed line that
 * reads `--- x` stays a line.
 */
export function parseDiff(text: string, files: readonly DiffFile[]): FileDiff[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const parts: { header: string[]; rows: DiffRow[] }[] = [];
  let part: { header: string[]; rows: DiffRow[] } | undefined;
  let oldLeft = 0;
  let newLeft = 0;
  let oldNo = 0;
  let newNo = 0;
  for (const line of lines) {
    if (part && (oldLeft > 0 || newLeft > 0)) {
      const sign = line[0];
      const body = line.slice(1);
      if (sign === '+') {
        part.rows.push({ kind: 'add', text: body, old: null, new: newNo++, hidden: hasHidden(body) });
        newLeft--;
        continue;
      }
      if (sign === '-') {
        part.rows.push({ kind: 'del', text: body, old: oldNo++, new: null, hidden: hasHidden(body) });
        oldLeft--;
        continue;
      }
      if (sign === ' ' || line === '') {
        part.rows.push({ kind: 'ctx', text: body, old: oldNo++, new: newNo++, hidden: hasHidden(body) });
        oldLeft--;
        newLeft--;
        continue;
      }
      if (sign === '\\') {
        part.rows.push({ kind: 'note', text: line, old: null, new: null, hidden: hasHidden(line) });
        continue;
      }
      // A hunk shorter than its header said: what follows is read as headers again.
      oldLeft = newLeft = 0;
    }
    if (line.startsWith('diff --git ')) {
      part = { header: [line], rows: [] };
      parts.push(part);
      continue;
    }
    if (!part) continue;
    const hunk = HUNK_RE.exec(line);
    if (hunk) {
      oldNo = Number(hunk[1]);
      newNo = Number(hunk[3]);
      oldLeft = hunk[2] === undefined ? 1 : Number(hunk[2]);
      newLeft = hunk[4] === undefined ? 1 : Number(hunk[4]);
      part.rows.push({ kind: 'hunk', text: line, old: null, new: null, hidden: hasHidden(line) });
    } else if (line.startsWith('\\')) {
      part.rows.push({ kind: 'note', text: line, old: null, new: null, hidden: hasHidden(line) });
    } else if (part.rows.length === 0) {
      part.header.push(line);
    }
    // Anything else after a file's hunks (the truncation marker) is left out: the view says it.
  }
  const count = Math.max(files.length, parts.length);
  const out: FileDiff[] = [];
  for (let i = 0; i < count; i++) {
    const listed = files[i];
    const p = parts[i];
    out.push({
      path: listed?.path ?? headerPath(p!.header),
      oldPath: listed?.old_path ?? null,
      status: listed?.status ?? '',
      added: listed?.added ?? (p ? p.rows.filter((r) => r.kind === 'add').length : null),
      removed: listed?.removed ?? (p ? p.rows.filter((r) => r.kind === 'del').length : null),
      binary: listed?.binary ?? false,
      notes: p ? p.header.filter((h) => NOTE_RE.test(h)) : [],
      rows: p?.rows ?? [],
      missing: p === undefined,
    });
  }
  return out;
}

/** Which side and line a comment on `row` names: the job's line for an added or kept one, the base's for a removed one. */
export function commentTarget(row: DiffRow): { side: 'new' | 'old'; line: number } | null {
  if ((row.kind === 'add' || row.kind === 'ctx') && row.new !== null) return { side: 'new', line: row.new };
  if (row.kind === 'del' && row.old !== null) return { side: 'old', line: row.old };
  return null;
}

/** One row of the side-by-side view: the base's line on the left, the job's on the right, or one row across both. */
export interface SplitRow {
  left: DiffRow | null;
  right: DiffRow | null;
  /** A hunk header or a note: across both halves. */
  full: DiffRow | null;
  /** The rows' indexes in the file's unified rows, for their highlighting and comments. */
  leftIndex: number;
  rightIndex: number;
}

/** The side-by-side rows: kept lines on both sides, and each run of removed lines beside the added ones that follow it. */
export function splitRows(rows: readonly DiffRow[]): SplitRow[] {
  const out: SplitRow[] = [];
  for (let i = 0; i < rows.length;) {
    const row = rows[i]!;
    if (row.kind === 'hunk' || row.kind === 'note') {
      out.push({ left: null, right: null, full: row, leftIndex: -1, rightIndex: -1 });
      i++;
    } else if (row.kind === 'ctx') {
      out.push({ left: row, right: row, full: null, leftIndex: i, rightIndex: i });
      i++;
    } else {
      const dels: number[] = [];
      const adds: number[] = [];
      while (i < rows.length && rows[i]!.kind === 'del') dels.push(i++);
      while (i < rows.length && rows[i]!.kind === 'add') adds.push(i++);
      for (let k = 0; k < Math.max(dels.length, adds.length); k++) {
        const l = dels[k];
        const r = adds[k];
        out.push({ left: l === undefined ? null : rows[l]!, right: r === undefined ? null : rows[r]!, full: null, leftIndex: l ?? -1, rightIndex: r ?? -1 });
      }
    }
  }
  return out;
}
