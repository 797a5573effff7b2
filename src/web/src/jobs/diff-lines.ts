/** What a line of a unified diff is, for its colour: a file header, a hunk header, added, removed or context. */
export type DiffLineKind = 'add' | 'del' | 'hunk' | 'file' | 'ctx';

export function diffLineKind(line: string): DiffLineKind {
  if (line.startsWith('+++ ') || line.startsWith('--- ') || line.startsWith('diff ') || line.startsWith('index ')) return 'file';
  if (line.startsWith('+')) return 'add';
  if (line.startsWith('-')) return 'del';
  if (line.startsWith('@@')) return 'hunk';
  return 'ctx';
}
