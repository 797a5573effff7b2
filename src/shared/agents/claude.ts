import path from 'node:path';
import { cutText, type ToolKind, type TranscriptEntry, type Usage } from '../transcript.js';
import type { AgentAdapter, Launch, LaunchContext, ParseContext, StreamParser } from './adapter.js';
import { arr, count, obj, own, parseObject, sessionIdOf, replacementDiff, showPath, str, text, type Json } from './stream-helpers.js';
import { AGENT_CLI_VERSIONS } from './versions.js';

/**
 * Claude Code (`claude -p --output-format stream-json --verbose`), as 2.1.x speaks it: one JSON
 * object a line: `system` (init with the session id and model; api_retry), `assistant` (one content
 * block a line: text, thinking, tool_use), `user` (tool_result, with the tool's own structured
 * result in `tool_use_result`), and a final `result` with usage and cost.
 */

/**
 * Quiet and quick headless, and failing fast: no updater, no telemetry or other traffic besides
 * the API, and 2 retries instead of 10, so an API that cannot be reached or refuses the key fails
 * the job in about 3 s (measured with 2.1.332), not after minutes of backoff. The server's
 * settings may raise the retries (CLAUDE_CODE_MAX_RETRIES is among the credentials).
 */
const QUIET_ENV: Record<string, string> = {
  // Claude Code refuses --dangerously-skip-permissions as root unless told it runs in a sandbox: our wall is one.
  IS_SANDBOX: '1',
  DISABLE_AUTOUPDATER: '1',
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  DISABLE_TELEMETRY: '1',
  DISABLE_ERROR_REPORTING: '1',
  CLAUDE_CODE_MAX_RETRIES: '2',
};

/** Longest escaped project folder name Claude Code uses as is; longer ones get a hash of its own. */
const MAX_PROJECT_DIR = 200;

const TOOL_KINDS: Record<string, ToolKind> = {
  Bash: 'command',
  Edit: 'file_edit',
  MultiEdit: 'file_edit',
  Write: 'file_edit',
  NotebookEdit: 'file_edit',
  Read: 'read',
  NotebookRead: 'read',
  Grep: 'search',
  Glob: 'search',
  LS: 'search',
  WebFetch: 'web',
  WebSearch: 'web',
  TodoWrite: 'todo',
};

/** Tool calls waiting for their result; past this many (a stream that never answers them) the oldest end as `unknown`. */
const MAX_PENDING = 1000;

export const claude: AgentAdapter = {
  name: 'claude',
  bin: 'claude',
  npmPackage: AGENT_CLI_VERSIONS.claude.package,
  credentials: [
    'ANTHROPIC_API_KEY',
    'ANTHROPIC_AUTH_TOKEN',
    'CLAUDE_CODE_OAUTH_TOKEN',
    'ANTHROPIC_BASE_URL',
    'ANTHROPIC_MODEL',
    'ANTHROPIC_SMALL_FAST_MODEL',
    'ANTHROPIC_CUSTOM_HEADERS',
    'API_TIMEOUT_MS',
    'CLAUDE_CODE_MAX_RETRIES',
    'CLAUDE_CODE_USE_BEDROCK',
    'ANTHROPIC_BEDROCK_BASE_URL',
    'CLAUDE_CODE_SKIP_BEDROCK_AUTH',
    'AWS_REGION',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_BEARER_TOKEN_BEDROCK',
    'CLAUDE_CODE_USE_VERTEX',
    'ANTHROPIC_VERTEX_PROJECT_ID',
    'ANTHROPIC_VERTEX_BASE_URL',
    'CLOUD_ML_REGION',
    'CLAUDE_CODE_SKIP_VERTEX_AUTH',
  ],
  // Its config and login, not its history (`.claude/projects` grows with every conversation).
  homeEntries: [
    '.claude.json',
    '.claude/settings.json',
    '.claude/.credentials.json',
    '.claude/CLAUDE.md',
    '.claude/agents',
    '.claude/commands',
    '.claude/skills',
    '.claude/plugins',
    '.claude/output-styles',
  ],
  // Where a subscription login (claude /login) keeps its refreshable token on Linux.
  loginFiles: ['.claude/.credentials.json'],

  launch(ctx: LaunchContext): Launch {
    const argv = ['claude', '-p', '--output-format', 'stream-json', '--verbose', '--dangerously-skip-permissions'];
    if (ctx.model) argv.push('--model', ctx.model);
    // Glued to its flag: an id that starts with a dash is still the flag's value, never an option of its own.
    if (ctx.resumeSessionId) argv.push(`--resume=${ctx.resumeSessionId}`);
    // The prompt on stdin: an argument is limited to 128 KiB on Linux, and would show in `ps`.
    return { argv, env: { ...QUIET_ENV, ...ctx.credentials }, stdin: ctx.prompt };
  },

  parser: (ctx) => new ClaudeParser(ctx),
  // 2.1.332, in its result's `errors`, exit code 1.
  sessionNotFound: /No conversation found with session ID/,

  sessionFiles({ workspace, sessionId }) {
    // Claude Code keeps a conversation at ~/.claude/projects/<cwd, each character but [A-Za-z0-9] as ->/<id>.jsonl,
    // and what its subagents and large tool results left in a folder of the same name.
    const project = path.resolve(workspace).replace(/[^a-zA-Z0-9]/g, '-');
    // `..` is no id: it would name the folder of every conversation.
    if (project.length > MAX_PROJECT_DIR || sessionIdOf(sessionId) === undefined) return [];
    const dir = path.join('.claude', 'projects', project);
    return [path.join(dir, `${sessionId}.jsonl`), path.join(dir, sessionId)];
  },
};

interface PendingCall {
  name: string;
  input: Json;
  at: string;
}

class ClaudeParser implements StreamParser {
  private readonly pending = new Map<string, PendingCall>();
  private session: string | undefined;
  private model: string | undefined;
  private reported: Usage | undefined;
  private failed: string | undefined;
  /** The last API error the CLI said it would retry: the reason when it gives up without a result. */
  private lastRetry: string | undefined;

  constructor(private readonly ctx: ParseContext) {}

  line(line: string): TranscriptEntry[] {
    if (!line.trim()) return [];
    const event = parseObject(line);
    if (!event) return [this.other('output', line)];
    try {
      switch (event.type) {
        case 'system':
          return this.system(event, line);
        case 'assistant':
          return this.assistant(event);
        case 'user':
          return this.user(event);
        case 'result':
          return this.result(event);
        default:
          return [this.other(str(event.type) ?? 'event', line)];
      }
    } catch {
      // A shape nobody foresaw: kept as it came.
      return [this.other(str(event.type) ?? 'event', line)];
    }
  }

  end(): TranscriptEntry[] {
    const open = [...this.pending.keys()].map((id) => this.finish(id, undefined));
    return open.filter((e): e is TranscriptEntry => e !== undefined);
  }

  usage(): Usage | undefined {
    return this.reported;
  }

  sessionId(): string | undefined {
    return this.session;
  }

  failure(): string | undefined {
    return this.failed ?? this.lastRetry;
  }

  private system(event: Json, line: string): TranscriptEntry[] {
    if (event.subtype === 'init') {
      this.session = sessionIdOf(event.session_id) ?? this.session;
      this.model = str(event.model)?.slice(0, 200) ?? this.model;
      return [];
    }
    // Claude Code's own estimate while the model thinks: no news for a reader.
    if (event.subtype === 'thinking_tokens') return [];
    if (event.subtype === 'api_retry') {
      const status = count(event.error_status);
      const why = `${str(event.error) ?? 'API error'}${status ? ` (HTTP ${status})` : ''}`;
      this.lastRetry = `the API request failed: ${why}`.slice(0, 1000);
      return [
        { type: 'error', text: cutText(`API request failed (${why}); retry ${count(event.attempt) ?? '?'} of ${count(event.max_retries) ?? '?'}`), at: now() },
      ];
    }
    return [this.other(`system:${str(event.subtype) ?? '?'}`, line)];
  }

  private assistant(event: Json): TranscriptEntry[] {
    const message = obj(event.message);
    this.model ??= str(message.model)?.slice(0, 200);
    const out: TranscriptEntry[] = [];
    // A message Claude Code made up itself to say the API failed ("Invalid API key", "Connection refused").
    const apiError = event.is_api_error_message === true || typeof event.error === 'string';
    for (const block of arr(message.content).map(obj)) {
      if (block.type === 'text') {
        const t = str(block.text) ?? '';
        if (apiError) {
          this.failed = oneLine(t);
          out.push({ type: 'error', text: cutText(t), at: now() });
        } else out.push({ type: 'message', role: 'assistant', text: cutText(t), at: now() });
      } else if (block.type === 'thinking') out.push({ type: 'thinking', text: cutText(str(block.thinking) ?? ''), at: now() });
      else if (block.type === 'redacted_thinking') out.push({ type: 'thinking', text: '[redacted]', at: now() });
      else if (block.type === 'tool_use') {
        const id = str(block.id);
        const call: PendingCall = { name: str(block.name)?.slice(0, 200) ?? '?', input: obj(block.input), at: now() };
        if (id === undefined) out.push(this.toolEntry(call, undefined, undefined));
        else {
          if (this.pending.size >= MAX_PENDING) {
            const oldest = this.pending.keys().next().value as string;
            const ended = this.finish(oldest, undefined);
            if (ended) out.push(ended);
          }
          this.pending.set(id, call);
        }
      } else out.push(this.other(`assistant:${str(block.type) ?? '?'}`, text(block)));
    }
    return out;
  }

  private user(event: Json): TranscriptEntry[] {
    const out: TranscriptEntry[] = [];
    const content = obj(event.message).content;
    if (typeof content === 'string') return [{ type: 'message', role: 'user', text: cutText(content), at: now() }];
    for (const block of arr(content).map(obj)) {
      if (block.type === 'tool_result') {
        const id = str(block.tool_use_id);
        const entry = id !== undefined ? this.finish(id, { block, structured: event.tool_use_result }) : undefined;
        if (entry) out.push(entry);
        else out.push(this.other('tool_result', text(block.content)));
      } else if (block.type === 'text') out.push({ type: 'message', role: 'user', text: cutText(str(block.text) ?? ''), at: now() });
      else out.push(this.other(`user:${str(block.type) ?? '?'}`, text(block)));
    }
    return out;
  }

  private result(event: Json): TranscriptEntry[] {
    const usage = obj(event.usage);
    const reported: Usage = { input_tokens: count(usage.input_tokens) ?? 0, output_tokens: count(usage.output_tokens) ?? 0 };
    const model = this.model ?? Object.keys(obj(event.modelUsage))[0]?.slice(0, 200);
    if (model) reported.model = model;
    const optional: [keyof Usage, unknown][] = [
      ['cache_read_tokens', usage.cache_read_input_tokens],
      ['cache_write_tokens', usage.cache_creation_input_tokens],
      ['turns', event.num_turns],
      ['duration_ms', event.duration_ms],
    ];
    for (const [key, value] of optional) {
      const n = count(value);
      if (n !== undefined) (reported as Record<string, unknown>)[key] = n;
    }
    const cost = event.total_cost_usd;
    // Capped as the counts are: the server sums costs over every attempt.
    if (typeof cost === 'number' && Number.isFinite(cost) && cost >= 0) reported.cost_usd = Math.min(cost, Number.MAX_SAFE_INTEGER);
    this.reported = reported;
    const isError = event.is_error === true || (typeof event.subtype === 'string' && event.subtype.startsWith('error'));
    const said = str(event.result) ?? (Array.isArray(event.errors) ? event.errors.map((e) => text(e)).join('; ') : undefined) ?? str(event.subtype) ?? '';
    if (isError) this.failed = oneLine(said) || this.failed || `claude ended with ${str(event.subtype) ?? 'an error'}`;
    return [{ type: 'result', text: cutText(said), status: isError ? 'error' : 'ok', at: now() }];
  }

  /** The entry of call `id` with its result (undefined: the stream ended without one); undefined for an id never seen. */
  private finish(id: string, result: { block: Json; structured: unknown } | undefined): TranscriptEntry | undefined {
    const call = this.pending.get(id);
    if (!call) return undefined;
    this.pending.delete(id);
    return this.toolEntry(call, result?.block, result?.structured);
  }

  private toolEntry(call: PendingCall, block: Json | undefined, structured: unknown): TranscriptEntry {
    const kind = own(TOOL_KINDS, call.name) ?? 'other';
    const input = call.input;
    const entry: TranscriptEntry = { type: 'tool', tool: call.name, kind, input: text(input), at: call.at };
    const isError = block?.is_error === true;
    entry.status = block === undefined ? 'unknown' : isError ? 'error' : 'ok';
    const output = block === undefined ? undefined : resultText(block.content);
    if (output !== undefined) entry.output = cutText(output);
    const file = str(input.file_path) ?? str(input.notebook_path) ?? (kind === 'search' ? str(input.path) : undefined);
    if (file !== undefined) entry.path = showPath(file, this.ctx.workspace);
    if (kind === 'command') {
      entry.command = cutText(str(input.command) ?? '');
      entry.exit_code = block === undefined ? null : isError ? exitCodeOf(output ?? '') : 0;
    } else if (kind === 'file_edit' && entry.path !== undefined && !isError && block !== undefined) {
      entry.diff = editDiff(call.name, input, structured, entry.path);
    }
    return entry;
  }

  private other(tool: string, line: string): TranscriptEntry {
    return { type: 'tool', tool: tool.slice(0, 200), kind: 'other', status: 'ok', output: cutText(line), at: now() };
  }
}

/** A tool result's content as text: a string, or the text of its blocks. */
function resultText(content: unknown): string | undefined {
  if (content === undefined) return undefined;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((c) => (obj(c).type === 'text' ? (str(obj(c).text) ?? '') : text(c))).join('\n');
  return text(content);
}

/** Claude Code reports a failed command as "Exit code N\n<output>"; other errors (the tool refused) have none. */
function exitCodeOf(output: string): number | null {
  const m = /^Exit code (-?\d{1,9})\b/.exec(output);
  return m ? Number(m[1]) : null;
}

/**
 * The diff of an edit: from Claude Code's own structured patch (with line numbers) where it gave
 * one, else from the call's input (old and new text, or a file's whole new content).
 */
function editDiff(tool: string, input: Json, structured: unknown, file: string): string | undefined {
  const result = obj(structured);
  const hunks = arr(result.structuredPatch).map(obj);
  if (hunks.length > 0) {
    const parts = [`--- a/${file}\n+++ b/${file}\n`];
    for (const h of hunks) {
      const lines = arr(h.lines).filter((l): l is string => typeof l === 'string');
      parts.push(`@@ -${count(h.oldStart) ?? 0},${count(h.oldLines) ?? 0} +${count(h.newStart) ?? 0},${count(h.newLines) ?? 0} @@\n`);
      parts.push(lines.map((l) => `${l}\n`).join(''));
    }
    return cutText(parts.join(''));
  }
  if (tool === 'Write') {
    const original = str(result.originalFile) ?? '';
    return replacementDiff(file, original, str(input.content) ?? '');
  }
  if (tool === 'Edit') return replacementDiff(file, str(input.old_string) ?? '', str(input.new_string) ?? '');
  if (tool === 'MultiEdit') {
    const edits = arr(input.edits).map(obj);
    return cutText(edits.map((e) => replacementDiff(file, str(e.old_string) ?? '', str(e.new_string) ?? '')).join(''));
  }
  if (tool === 'NotebookEdit') return replacementDiff(file, '', str(input.new_source) ?? '');
  return undefined;
}

function oneLine(s: string): string {
  return (
    s
      .split('\n')
      .map((l) => l.trim())
      .find(Boolean)
      ?.slice(0, 1000) ?? ''
  );
}

function now(): string {
  return new Date().toISOString();
}
