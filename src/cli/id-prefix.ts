import { printable } from '../shared/terminal.js';
import { CliError } from './errors.js';

/**
 * The one item of a short list (a job's comments, the webhooks) that an id names, or a unique prefix
 * of it, as git names a commit. `missing` says where to find the ids.
 */
export function byIdPrefix<T extends { id: string }>(items: readonly T[], ref: string, noun: string, missing: string): T {
  const exact = items.find((item) => item.id === ref);
  if (exact) return exact;
  const matches = ref === '' ? [] : items.filter((item) => item.id.startsWith(ref));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new CliError(printable(`no ${noun} ${JSON.stringify(ref)} (${missing})`));
  throw new CliError(printable(`${noun} id prefix ${ref} is ambiguous: it matches ${matches.map((m) => m.id.slice(0, 8)).join(', ')}; give more of the id`));
}
