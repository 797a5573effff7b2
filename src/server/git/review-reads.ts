import { git } from '../../shared/git.js';
import { parseHunkHeader, type Hunk } from '../comments/touched.js';
import { diffEnv, SHA_RE } from './diff.js';

/**
 * What review comments read from a bare repo: the lines of a file at a commit (is the commented
 * line there? what code surrounds it?) and the hunks of a diff for a few paths (which lines did a
 * follow-up change?). Both read with a cap: a job chooses the size of its files and diffs.
 */

/** The most bytes of a file read: a comment's line lies within them, or it is refused in words. */
export const FILE_READ_MAX_BYTES = 8 * 1024 * 1024;
/** The most bytes of a path's `-U0` diff read; past it, the hunks read so far are all there are. */
const HUNKS_MAX_BYTES = 16 * 1024 * 1024;

export interface FileLines {
  lines: string[];
  /** false: the file goes on past FILE_READ_MAX_BYTES, and `lines` holds its whole lines before that. */
  complete: boolean;
}

/**
 * The lines of `file` at `commit`, or undefined when the commit holds no such file. `file` is a
 * name git gave in a diff of this repo, never a person's text: `<commit>:<file>` takes the rest
 * of its argument as the path, and the repo's fsck-checked trees hold no `.` or `..` component.
 */
export async function fileLinesAt(repoPath: string, commit: string, file: string, signal?: AbortSignal): Promise<FileLines | undefined> {
  if (!SHA_RE.test(commit)) throw new Error(`not a commit id: ${JSON.stringify(commit)}`);
  const r = await git(['cat-file', 'blob', `${commit}:${file}`], { cwd: repoPath, env: diffEnv(), maxStdout: FILE_READ_MAX_BYTES, signal });
  if (r.code !== 0 && !r.truncated) return undefined;
  const lines = r.stdout.split('\n');
  // Cut by the cap, the last line is a part of one; whole, a final newline ends the last line.
  if (r.truncated || lines.at(-1) === '') lines.pop();
  return { lines, complete: !r.truncated };
}

/**
 * The hunks of the diff from `from` to `to` limited to `paths` (literal: no pathspec magic), in
 * order. `renames`: detect a rename among the paths (the job's own diff lists renames, so a
 * comment's old and new names are one file); without it a file moved away reads as deleted,
 * every line changed.
 */
export async function diffHunks(repoPath: string, from: string, to: string, paths: string[], renames: boolean): Promise<Hunk[]> {
  if (!SHA_RE.test(from) || !SHA_RE.test(to)) throw new Error('diffHunks takes full commit ids');
  const args = [
    '--literal-pathspecs',
    'diff',
    '--no-ext-diff',
    '--no-textconv',
    '--no-color',
    renames ? '-M' : '--no-renames',
    '-U0',
    from,
    to,
    '--',
    ...paths,
  ];
  const r = await git(args, { cwd: repoPath, env: diffEnv(), maxStdout: HUNKS_MAX_BYTES });
  if (r.code !== 0 && !r.truncated) throw new Error(`git diff failed (${r.code}): ${r.stderr.trim().slice(-300)}`);
  const hunks: Hunk[] = [];
  // With -U0 every other line starts with +, -, a space, a backslash or a header word: only a hunk's header starts with "@@ ".
  for (const line of r.stdout.split('\n')) {
    const hunk = line.startsWith('@@ ') ? parseHunkHeader(line) : undefined;
    if (hunk) hunks.push(hunk);
  }
  return hunks;
}
