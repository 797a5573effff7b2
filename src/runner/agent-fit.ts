import { Compile } from 'typebox/compile';
import { atOf, count, own, sessionIdOf } from '../shared/agents/stream-helpers.js';
import { cutText, EntryStatus, ToolKind, TranscriptEntry, TranscriptEntryType, type Usage } from '../shared/transcript.js';

/**
 * The last word before an agent's entries, usage and session id leave the runner. A parser is
 * written against hostile output, but what it gives still passes through redaction (which makes
 * text longer) and may hold what no one foresaw. The server refuses a batch with one invalid entry
 * (up to 200 entries lost) and a completion with an invalid usage or session id (the job's result
 * lost): here everything is made to fit instead.
 */

// Compiled once: a flood of entries is checked one by one.
const ENTRY = Compile(TranscriptEntry);
/** Whether the server takes `e` (not a type guard: what fails it is still read field by field). */
const takes = (e: unknown): boolean => ENTRY.Check(e);
const ENTRY_TYPE = Compile(TranscriptEntryType);
const KIND = Compile(ToolKind);
const STATUS = Compile(EntryStatus);

const TEXT_FIELDS = ['text', 'command', 'input', 'output', 'diff'] as const;
const CAPPED_FIELDS = { tool: 200, path: 4096 } as const;

/** `e` if the server takes it; else a copy that it takes: long text cut, odd values dropped, unknown fields left out. */
export function fitEntry(e: TranscriptEntry): TranscriptEntry {
  if (takes(e)) return e;
  const out: TranscriptEntry = { type: ENTRY_TYPE.Check(e.type) ? e.type : 'error', at: atOf(e.at) };
  if (e.role === 'user' || e.role === 'assistant') out.role = e.role;
  for (const f of TEXT_FIELDS) if (typeof e[f] === 'string') out[f] = cutText(e[f]);
  for (const [f, max] of Object.entries(CAPPED_FIELDS) as [keyof typeof CAPPED_FIELDS, number][]) if (typeof e[f] === 'string') out[f] = e[f].slice(0, max);
  if (KIND.Check(e.kind)) out.kind = e.kind;
  if (STATUS.Check(e.status)) out.status = e.status;
  if (e.exit_code !== undefined) out.exit_code = Number.isSafeInteger(e.exit_code) ? e.exit_code : null;
  return takes(out) ? out : { type: 'error', text: '[lazyaf: an entry of the agent’s stream could not be kept]', at: atOf(undefined) };
}

const USAGE_COUNTS = ['cache_read_tokens', 'cache_write_tokens', 'turns', 'duration_ms'] as const;

/** Usage the completion carries: counts whole and within 0..2^53-1, a cost finite, the model within 200 characters; null when there is none. */
export function fitUsage(u: Usage | undefined): Usage | null {
  if (typeof u !== 'object' || u === null) return null;
  const out: Usage = { input_tokens: count(u.input_tokens) ?? 0, output_tokens: count(u.output_tokens) ?? 0 };
  if (typeof u.model === 'string' && u.model !== '') out.model = u.model.slice(0, 200);
  for (const k of USAGE_COUNTS) {
    const n = count(own(u, k));
    if (n !== undefined) out[k] = n;
  }
  if (typeof u.cost_usd === 'number' && Number.isFinite(u.cost_usd) && u.cost_usd >= 0) out.cost_usd = Math.min(u.cost_usd, Number.MAX_SAFE_INTEGER);
  return out;
}

/** The session id the completion carries: one the server takes and that holds no credential (redaction would change it); else null. */
export function fitSessionId(id: string | undefined, redact: (s: string) => string): string | null {
  const fit = sessionIdOf(id);
  return fit !== undefined && redact(fit) === fit ? fit : null;
}
