import { Type, type Static } from 'typebox';
import { NullableInteger } from './nullable.js';

/**
 * What an agent did, normalized across agents: the runner turns each agent's own event stream
 * (claude's stream-json, codex's exec --json, gemini's stream-json) into these entries, the server
 * stores them per attempt and serves them at `GET /api/jobs/{id}/transcript`, the live stream
 * carries them as they come, and the CLI and the web UI show them.
 *
 * - `message`: text from the agent (`role: assistant`) or to it (`role: user`: the prompt).
 * - `thinking`: the agent's reasoning, shown collapsed.
 * - `tool`: one tool call with its input and result. `tool` is the agent's own name for it,
 *   `kind` what it does; `path` where a file is concerned, `exit_code` for a command.
 * - `error`: something went wrong (the API refused, a tool crashed); the run may go on.
 * - `result`: the final word of the run, with `text` and `status`.
 * An event the parser does not know becomes a `tool` of kind `other` or an `error`, never dropped.
 */
export const TranscriptEntryType = Type.Union([
  Type.Literal('message'),
  Type.Literal('thinking'),
  Type.Literal('tool'),
  Type.Literal('error'),
  Type.Literal('result'),
]);
export type TranscriptEntryType = Static<typeof TranscriptEntryType>;

export const ToolKind = Type.Union([
  Type.Literal('file_edit'),
  Type.Literal('command'),
  Type.Literal('read'),
  Type.Literal('search'),
  Type.Literal('web'),
  Type.Literal('todo'),
  Type.Literal('other'),
]);
export type ToolKind = Static<typeof ToolKind>;

/** `running` only while a call has no result yet (live); `ok`/`error` once it has; `unknown` when the run ended without one. */
export const EntryStatus = Type.Union([Type.Literal('running'), Type.Literal('ok'), Type.Literal('error'), Type.Literal('unknown')]);
export type EntryStatus = Static<typeof EntryStatus>;

/** The most any text field of an entry holds; longer text is cut with a marker (`cutText`). */
export const MAX_ENTRY_TEXT = 16 * 1024;

export const TranscriptEntry = Type.Object(
  {
    type: TranscriptEntryType,
    /** For a message: who speaks. */
    role: Type.Optional(Type.Union([Type.Literal('user'), Type.Literal('assistant')])),
    /** A message's or thinking's text, an error's message, the result's final text. */
    text: Type.Optional(Type.String({ maxLength: MAX_ENTRY_TEXT + 100 })),
    /** The agent's own name for the tool (Bash, Edit, shell, apply_patch, run_shell_command, ...). */
    tool: Type.Optional(Type.String({ maxLength: 200 })),
    kind: Type.Optional(ToolKind),
    /** The file a tool read or changed, relative to the workspace where it is inside it. */
    path: Type.Optional(Type.String({ maxLength: 4096 })),
    status: Type.Optional(EntryStatus),
    /** A command's exit code. */
    exit_code: Type.Optional(NullableInteger()),
    /** A command tool's command line. */
    command: Type.Optional(Type.String({ maxLength: MAX_ENTRY_TEXT + 100 })),
    /** A tool call's input as JSON text (capped). */
    input: Type.Optional(Type.String({ maxLength: MAX_ENTRY_TEXT + 100 })),
    /** A tool call's result text (a command's output, a file's excerpt, a search's hits; capped). */
    output: Type.Optional(Type.String({ maxLength: MAX_ENTRY_TEXT + 100 })),
    /** A file edit as a unified diff (capped). */
    diff: Type.Optional(Type.String({ maxLength: MAX_ENTRY_TEXT + 100 })),
    /** When the runner saw it (ISO 8601). */
    at: Type.Optional(Type.String({ maxLength: 40 })),
  },
  { additionalProperties: false },
);
export type TranscriptEntry = Static<typeof TranscriptEntry>;

/** What an agent run used, as the agent reports it; fields the agent does not report are left out. */
export const Usage = Type.Object(
  {
    model: Type.Optional(Type.String({ maxLength: 200 })),
    input_tokens: Type.Integer({ minimum: 0 }),
    output_tokens: Type.Integer({ minimum: 0 }),
    cache_read_tokens: Type.Optional(Type.Integer({ minimum: 0 })),
    cache_write_tokens: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Model requests (claude's num_turns; codex's and gemini's turns). */
    turns: Type.Optional(Type.Integer({ minimum: 0 })),
    duration_ms: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Only where the agent reports it (claude's total_cost_usd). */
    cost_usd: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type Usage = Static<typeof Usage>;

/** `text` cut to `max` characters with a visible marker saying how much was left out. */
export function cutText(text: string, max = MAX_ENTRY_TEXT): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}\n[… ${text.length - max} more characters not kept]`;
}
