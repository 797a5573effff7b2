/** A server timestamp in the reader's locale: the time alone for today, the date too otherwise. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const today = new Date().toDateString() === at.toDateString();
  return today ? at.toLocaleTimeString() : at.toLocaleString();
}

/** A commit as people read it. */
export const shortCommit = (sha: string): string => sha.slice(0, 10);

/** The message of a refusal or failure, for a role="alert". */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
