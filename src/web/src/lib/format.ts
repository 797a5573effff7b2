/** Short forms for what the pages show: relative times, short commits and ids. */

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

/** "just now", "3 minutes ago", "in 2 hours": `iso` relative to `now` (ms); the input untouched when it is no date. */
export function timeAgo(iso: string, now: number = Date.now()): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const seconds = Math.round((then - now) / 1000);
  if (Math.abs(seconds) < 45) return 'just now';
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return relative.format(Math.round(seconds / 60), 'minute');
}

/** The full local date and time, for a `title` beside a relative time. */
export function fullTime(iso: string): string {
  const then = new Date(iso);
  return Number.isNaN(then.getTime()) ? iso : then.toLocaleString();
}

/** The first 7 characters of a commit, as git abbreviates it. */
export const shortCommit = (sha: string): string => sha.slice(0, 7);

/** The first 8 characters of an id, as branch names (`lazyaf/<8>`) and the CLI show it. */
export const shortId = (id: string): string => id.slice(0, 8);

/** The one line a failure says (an `ApiFailure` carries the server's message), for an alert. */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A span of time as a job list shows it: "12s", "3m 05s", "2h 07m"; a dash when unknown. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`;
}
