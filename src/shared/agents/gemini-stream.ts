import path from 'node:path';
import { cutText, MAX_ENTRY_TEXT, type ToolKind, type TranscriptEntry, type Usage } from '../transcript.js';
import type { ParseContext, StreamParser } from './adapter.js';
import { atOf, isObject, own, sessionIdOf, showPath, str } from './stream-helpers.js';

/**
 * Gemini CLI's `-o stream-json` (0.61), one JSON object a line:
 *   init         {session_id, model}                   model is "auto" when the CLI routes
 *   message      {role: user|assistant, content, delta?} an assistant message comes in deltas
 *   tool_use     {tool_name, tool_id, parameters}
 *   tool_result  {tool_id, status: success|error, output?, error?: {type, message}}
 *   error        {severity: warning|error, message}     the run may go on
 *   result       {status: success|error, error?: {type, message}, stats: {input_tokens,
 *                 output_tokens, total_tokens, cached, input, duration_ms, tool_calls, models}}
 * Thoughts are not in the stream, nor a file edit's diff (derived here from the call's
 * arguments), nor a command's exit code when the command printed something (see commandExit).
 */

const TOOL_KINDS: Record<string, ToolKind> = {
  run_shell_command: 'command',
  replace: 'file_edit',
  edit: 'file_edit',
  write_file: 'file_edit',
  read_file: 'read',
  read_many_files: 'read',
  list_directory: 'read',
  glob: 'search',
  grep_search: 'search',
  search_file_content: 'search',
  grep: 'search',
  web_fetch: 'web',
  google_web_search: 'web',
  write_todos: 'todo',
};

/** Tool calls kept waiting for their result; a stream that never answers them cannot grow memory past this. */
const MAX_OPEN_CALLS = 256;

interface OpenCall {
  name: string;
  params: Record<string, unknown>;
  /** The parameters as sent, whatever their shape. */
  input: string;
  at: string;
}

export function geminiParser(ctx: ParseContext): StreamParser {
  const workspace = path.resolve(ctx.workspace);
  const open = new Map<string, OpenCall>();
  let assistant: TextBuffer | undefined;
  let lastAssistant: string | undefined;
  let sessionId: string | undefined;
  let initModel: string | undefined;
  let usage: Usage | undefined;
  let failure: string | undefined;

  const flushAssistant = (): TranscriptEntry[] => {
    if (!assistant) return [];
    const entry: TranscriptEntry = { type: 'message', role: 'assistant', text: assistant.text(), at: assistant.at };
    lastAssistant = entry.text;
    assistant = undefined;
    return [entry];
  };

  const toolEntry = (call: OpenCall, result: Record<string, unknown> | undefined): TranscriptEntry => {
    const kind = own(TOOL_KINDS, call.name) ?? 'other';
    const entry: TranscriptEntry = { type: 'tool', tool: cut(call.name, 200), kind, input: cutText(call.input), at: call.at };
    const filePath = str(call.params.file_path) ?? str(call.params.dir_path) ?? str(call.params.path);
    if (filePath !== undefined) entry.path = showPath(filePath, workspace);
    const output = result?.output === undefined ? undefined : (str(result.output) ?? safeJson(result.output));
    const error = result && isObject(result.error) ? str(result.error.message) : undefined;
    if (output) entry.output = cutText(output);
    if (error) entry.output = cutText(entry.output ? `${entry.output}\n${error}` : error);
    entry.status = !result ? 'unknown' : result.status === 'success' && !error ? 'ok' : 'error';
    if (kind === 'command') {
      entry.command = cutText(str(call.params.command) ?? '');
      entry.exit_code = result ? commandExit(result, entry.status) : null;
    }
    if (kind === 'file_edit' && entry.path !== undefined) {
      const diff = editDiff(call.name, entry.path, call.params);
      if (diff) entry.diff = cutText(diff);
    }
    return entry;
  };

  const handle = (event: Record<string, unknown>, raw: string): TranscriptEntry[] => {
    const at = atOf(event.timestamp);
    const type = event.type;
    if (type === 'message' && event.role === 'assistant' && typeof event.content === 'string') {
      const text = event.content;
      if (event.delta !== true) {
        const out = flushAssistant();
        assistant = new TextBuffer(at);
        assistant.add(text);
        return [...out, ...flushAssistant()];
      }
      assistant ??= new TextBuffer(at);
      assistant.add(text);
      return [];
    }
    const out = flushAssistant();
    switch (type) {
      case 'init':
        sessionId = sessionIdOf(event.session_id) ?? sessionId;
        initModel = str(event.model) ?? initModel;
        return out;
      case 'message':
        out.push(
          event.role === 'user' && typeof event.content === 'string'
            ? { type: 'message', role: 'user', text: cutText(event.content), at }
            : otherEntry(raw, at),
        );
        return out;
      case 'tool_use': {
        const id = str(event.tool_id) ?? '';
        const call: OpenCall = {
          name: str(event.tool_name) ?? 'unknown',
          params: isObject(event.parameters) ? event.parameters : {},
          input: safeJson(event.parameters ?? {}),
          at,
        };
        // A second call with an id still open closes the first: its result can no longer be told apart.
        const previous = open.get(id);
        if (previous) out.push(toolEntry(previous, undefined));
        open.delete(id);
        open.set(id, call);
        if (open.size > MAX_OPEN_CALLS) {
          const [oldestId, oldest] = open.entries().next().value as [string, OpenCall];
          open.delete(oldestId);
          out.push(toolEntry(oldest, undefined));
        }
        return out;
      }
      case 'tool_result': {
        const id = str(event.tool_id) ?? '';
        const call = open.get(id);
        open.delete(id);
        out.push(toolEntry(call ?? { name: 'unknown', params: {}, input: '{}', at }, event));
        return out;
      }
      case 'error': {
        const message = str(event.message) ?? raw;
        out.push({ type: 'error', text: cutText(event.severity === 'warning' ? `warning: ${message}` : message), at });
        if (event.severity !== 'warning') failure ??= oneLine(message);
        return out;
      }
      case 'result': {
        const ok = event.status === 'success';
        const error = isObject(event.error) ? str(event.error.message) : undefined;
        failure = ok ? undefined : oneLine(apiError(error) ?? `gemini ended with status ${safeJson(event.status)}`);
        const entry: TranscriptEntry = { type: 'result', status: ok ? 'ok' : 'error', at };
        const text = ok ? lastAssistant : (error ?? lastAssistant);
        if (text !== undefined) entry.text = cutText(text);
        out.push(entry);
        if (isObject(event.stats)) usage = statsUsage(event.stats, initModel, ctx.startedAt);
        return out;
      }
      default:
        out.push(otherEntry(raw, at));
        return out;
    }
  };

  return {
    line(line) {
      try {
        if (line.trim() === '') return [];
        let event: unknown;
        try {
          event = JSON.parse(line);
        } catch {
          return [...flushAssistant(), otherEntry(line)];
        }
        if (!isObject(event)) return [...flushAssistant(), otherEntry(line)];
        return handle(event, line);
      } catch (err) {
        // Nothing above should throw; if it does the line is still kept.
        return [otherEntry(line), { type: 'error', text: cutText(`unreadable gemini event: ${String(err)}`) }];
      }
    },
    end() {
      const out = flushAssistant();
      for (const call of open.values()) out.push(toolEntry(call, undefined));
      open.clear();
      return out;
    },
    usage: () => usage,
    sessionId: () => sessionId,
    failure: () => failure,
  };
}

/**
 * The CLI wraps the API's refusal as `[API Error: <the response body>]`; the body, when it is
 * Google's JSON error, reads better as its code, status and message.
 */
function apiError(message: string | undefined): string | undefined {
  const wrapped = message === undefined ? undefined : /^\[API Error: ([\s\S]*)\]$/.exec(message.trim());
  if (!wrapped) return message;
  let body: unknown;
  try {
    body = JSON.parse(wrapped[1] ?? '');
  } catch {
    return `API error: ${wrapped[1]}`;
  }
  const error = isObject(body) && isObject(body.error) ? body.error : undefined;
  if (!error || str(error.message) === undefined) return message;
  const code = [error.code, error.status].filter((v) => typeof v === 'number' || typeof v === 'string').join(' ');
  return `API error${code ? ` ${code}` : ''}: ${str(error.message)}`;
}

/**
 * A command's exit code, where the stream tells it. The result shows the command's output, and
 * only when there is none does it say `Command exited with code: N` (or name a signal or a spawn
 * failure); an empty output with success therefore means 0. With output the code is not in the
 * stream (only in the chat file, for the model): unknown, null.
 */
function commandExit(result: Record<string, unknown>, status: TranscriptEntry['status']): number | null {
  const output = result.output;
  if (typeof output !== 'string') return null;
  const said = /^Command exited with code: (-?\d{1,9})$/.exec(output);
  if (said) return Number(said[1]);
  return output === '' && status === 'ok' ? 0 : null;
}

/** A unified diff from the call's arguments: replace's old and new text; write_file's content (its old content is not in the stream). */
function editDiff(tool: string, file: string, params: Record<string, unknown>): string | undefined {
  const lines = (text: string, mark: string) =>
    text === ''
      ? []
      : text
          .replace(/\n$/, '')
          .split('\n')
          .map((l) => mark + l);
  const header = [`--- a/${file}`, `+++ b/${file}`];
  const oldText = str(params.old_string);
  const newText = str(params.new_string);
  if (oldText !== undefined && newText !== undefined) {
    const removed = lines(oldText, '-');
    const added = lines(newText, '+');
    return [...header, `@@ -1,${removed.length} +1,${added.length} @@`, ...removed, ...added].join('\n');
  }
  const content = str(params.content);
  if (tool === 'write_file' && content !== undefined) {
    const added = lines(content, '+');
    return [...header, `@@ -0,0 +1,${added.length} @@`, ...added].join('\n');
  }
  return undefined;
}

function statsUsage(stats: Record<string, unknown>, initModel: string | undefined, startedAt: number): Usage {
  const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.min(Number.MAX_SAFE_INTEGER, Math.floor(v)) : 0);
  const cached = count(stats.cached);
  // `input_tokens` is the whole prompt, `input` the part not served from the cache.
  const input = 'input' in stats ? count(stats.input) : Math.max(0, count(stats.input_tokens) - cached);
  // `output_tokens` counts the answer alone; the total also holds the thoughts, which are billed as output.
  const output = Math.max(count(stats.output_tokens), count(stats.total_tokens) - count(stats.input_tokens));
  const usage: Usage = { input_tokens: input, output_tokens: output };
  if (cached) usage.cache_read_tokens = cached;
  const model = mainModel(stats.models) ?? (initModel && initModel !== 'auto' ? initModel : undefined);
  if (model) usage.model = cut(model, 200);
  usage.duration_ms = count(stats.duration_ms) || Math.max(0, Math.floor(Date.now() - startedAt));
  return usage;
}

/** The model that used the most tokens: with routing, the router's small model is also listed. */
function mainModel(models: unknown): string | undefined {
  if (!isObject(models)) return undefined;
  let best: string | undefined;
  let most = -1;
  for (const [name, m] of Object.entries(models)) {
    const total = isObject(m) && typeof m.total_tokens === 'number' ? m.total_tokens : 0;
    if (total > most) [best, most] = [name, total];
  }
  return best;
}

/** A line the parser does not know: kept whole (capped) as a tool of kind other. */
function otherEntry(line: string, at = new Date().toISOString()): TranscriptEntry {
  return { type: 'tool', tool: 'gemini', kind: 'other', status: 'unknown', output: cutText(line), at };
}

/** An assistant message's deltas, kept up to the entry cap and counted beyond it. */
class TextBuffer {
  private parts: string[] = [];
  private kept = 0;
  private dropped = 0;
  constructor(readonly at: string) {}
  add(text: string): void {
    const taken = text.slice(0, Math.max(0, MAX_ENTRY_TEXT - this.kept));
    // Past the cap only the count grows: a flood of deltas holds no memory.
    if (taken) this.parts.push(taken);
    this.kept += taken.length;
    this.dropped += text.length - taken.length;
  }
  text(): string {
    const text = this.parts.join('');
    return this.dropped ? `${text}\n[… ${this.dropped} more characters not kept]` : text;
  }
}

function oneLine(text: string): string {
  return cut(text.replace(/\s+/g, ' ').trim(), 500);
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
