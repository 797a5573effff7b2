import path from 'node:path';
import { cutText, type TranscriptEntry, type Usage } from '../transcript.js';
import type { AgentAdapter, LaunchContext, Launch, ParseContext, StreamParser } from './adapter.js';
import { addCounts, isObject, str, type Json } from './stream-helpers.js';
import { AGENT_CLI_VERSIONS } from './versions.js';

/**
 * OpenAI's Codex CLI, driven as `codex exec --json` (tested with 0.171).
 *
 * - Its own sandbox is off (`--dangerously-bypass-approvals-and-sandbox`): it fails inside our
 *   wall, which is the sandbox, and there is nobody to approve anything.
 * - The prompt goes on stdin (`-`): a prompt as an argument is capped by the kernel at 128 KiB.
 * - `codex exec` ignores OPENAI_BASE_URL and reads its key from CODEX_API_KEY: a base URL
 *   becomes a provider of our own in `-c` overrides (no file under HOME, so the user's own
 *   config.toml stays as it is), and the key goes only through the environment (argv is public).
 * - A model API it cannot connect to makes 0.171 wait for the network for ever
 *   ("Reconnecting... waiting for network"): `unbounded_connection_retries` is off, and our
 *   provider retries little (1 request retry, 2 stream retries: an unreachable API fails the
 *   run in about 1.5 s instead of 25 s). The parser also reports the wait as a failure, so a
 *   CLI that still waits is ended by the runner within seconds.
 */
const PROVIDER = 'lazyaf';

/** A thread id as codex names them (a UUID); anything else never reaches an argv. */
const THREAD_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

function providerArgs(baseUrl: string): string[] {
  // JSON string escapes are TOML basic-string escapes: the URL cannot close the string.
  const table = `{name=${JSON.stringify(PROVIDER)}, base_url=${JSON.stringify(baseUrl)}, env_key="CODEX_API_KEY", wire_api="responses", request_max_retries=1, stream_max_retries=2}`;
  return ['-c', `model_provider=${JSON.stringify(PROVIDER)}`, '-c', `model_providers.${PROVIDER}=${table}`];
}

function launch(ctx: LaunchContext): Launch {
  const { OPENAI_API_KEY, CODEX_API_KEY, OPENAI_BASE_URL, ...rest } = ctx.credentials;
  const argv = ['codex', 'exec', '--json', '--dangerously-bypass-approvals-and-sandbox', '--skip-git-repo-check', '-C', ctx.workspace];
  argv.push('-c', 'features.unbounded_connection_retries=false', '-c', 'analytics.enabled=false', '-c', 'check_for_update_on_startup=false');
  if (OPENAI_BASE_URL) argv.push(...providerArgs(OPENAI_BASE_URL));
  if (ctx.model !== null) argv.push('--model', ctx.model);
  if (ctx.resumeSessionId !== null) {
    if (!THREAD_ID_RE.test(ctx.resumeSessionId)) throw new Error(`not a codex thread id: ${JSON.stringify(ctx.resumeSessionId.slice(0, 200))}`);
    argv.push('resume', ctx.resumeSessionId);
  }
  argv.push('-');
  const env: Record<string, string> = { ...rest };
  const key = CODEX_API_KEY ?? OPENAI_API_KEY;
  if (key) env.CODEX_API_KEY = key;
  return { argv, env, stdin: ctx.prompt };
}

/** Items kept waiting for their completion; past this many (a stream that never completes them) the oldest ends as `unknown`. */
const MAX_OPEN_ITEMS = 256;

/** The most of one stdout line parsed as JSON: a longer line is kept as text, cut. */
const MAX_PARSED_LINE = 4 * 1024 * 1024;

function count(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0;
}
function json(v: unknown): string {
  try {
    return cutText(JSON.stringify(v) ?? String(v));
  } catch {
    return '[not serializable]';
  }
}
function oneLine(text: string): string {
  return cutText(text.replace(/\s+/g, ' ').trim(), 500);
}

/**
 * Turns `codex exec --json` into transcript entries. Its events: `thread.started` (the thread id,
 * for resume), `turn.started`, `item.started` / `item.updated` / `item.completed` (agent_message,
 * reasoning, command_execution, file_change, mcp_tool_call, web_search, todo_list, error),
 * `turn.completed` (usage of the turn), `turn.failed`, and `error` (a retry, or the fatal reason).
 * An item becomes an entry once completed; one still open when the stream ends is `unknown`.
 */
export function parseCodexStream(ctx: ParseContext): StreamParser {
  const open = new Map<string, Json>();
  let sessionId: string | undefined;
  let failure: string | undefined;
  let usage: Usage | undefined;
  let lastMessage: string | undefined;
  let turnEnded = false;
  const at = (): string => new Date().toISOString();

  const relative = (p: string): string => {
    const rel = path.relative(ctx.workspace, p);
    const shown = path.isAbsolute(p) && rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
    return shown.slice(0, 4096);
  };

  const other = (tool: string, input: string): TranscriptEntry => ({ type: 'tool', tool: tool.slice(0, 200), kind: 'other', status: 'ok', input, at: at() });

  function itemEntries(item: Json, done: boolean): TranscriptEntry[] {
    const itemStatus = str(item.status);
    const failed = itemStatus === 'failed' || itemStatus === 'declined';
    const status = !done ? 'unknown' : failed ? 'error' : 'ok';
    switch (item.type) {
      case 'agent_message': {
        const text = str(item.text) ?? '';
        lastMessage = text;
        return [{ type: 'message', role: 'assistant', text: cutText(text), at: at() }];
      }
      case 'reasoning':
        return [{ type: 'thinking', text: cutText(str(item.text) ?? ''), at: at() }];
      case 'command_execution': {
        const exitCode = typeof item.exit_code === 'number' && Number.isInteger(item.exit_code) ? item.exit_code : null;
        return [
          {
            type: 'tool',
            tool: 'exec_command',
            kind: 'command',
            command: cutText(str(item.command) ?? ''),
            output: cutText(str(item.aggregated_output) ?? ''),
            exit_code: exitCode,
            status: done && (failed || (exitCode !== null && exitCode !== 0)) ? 'error' : status,
            at: at(),
          },
        ];
      }
      case 'file_change': {
        const changes = Array.isArray(item.changes) ? item.changes.filter(isObject) : [];
        if (changes.length === 0) return [{ type: 'tool', tool: 'apply_patch', kind: 'file_edit', status, input: json(item.changes), at: at() }];
        return changes.map((change): TranscriptEntry => {
          const entry: TranscriptEntry = { type: 'tool', tool: 'apply_patch', kind: 'file_edit', status, at: at() };
          const file = str(change.path);
          if (file !== undefined) entry.path = relative(file);
          const kind = str(change.kind);
          if (kind !== undefined) entry.input = cutText(kind);
          const diff = str(change.diff) ?? str(change.unified_diff);
          if (diff !== undefined) entry.diff = cutText(diff);
          return entry;
        });
      }
      case 'mcp_tool_call': {
        const name = [str(item.server), str(item.tool)].filter((s) => s !== undefined).join('.') || 'mcp_tool_call';
        const entry: TranscriptEntry = { type: 'tool', tool: name.slice(0, 200), kind: 'other', status, input: json(item.arguments ?? null), at: at() };
        const error = isObject(item.error) ? str(item.error.message) : str(item.error);
        if (error !== undefined) entry.status = 'error';
        if (item.result !== undefined || error !== undefined) entry.output = error !== undefined ? cutText(error) : json(item.result);
        return [entry];
      }
      case 'web_search':
        return [{ type: 'tool', tool: 'web_search', kind: 'web', status, input: cutText(str(item.query) ?? json(item)), at: at() }];
      case 'todo_list': {
        const items = Array.isArray(item.items) ? item.items.filter(isObject) : [];
        const text = items.map((t) => `[${t.completed === true ? 'x' : ' '}] ${str(t.text) ?? ''}`).join('\n');
        return [{ type: 'tool', tool: 'todo_list', kind: 'todo', status, output: cutText(text), at: at() }];
      }
      case 'error':
        return [{ type: 'error', text: cutText(str(item.message) ?? json(item)), at: at() }];
      default:
        return [other(str(item.type) ?? 'item', json(item))];
    }
  }

  function addUsage(raw: unknown): void {
    const u = isObject(raw) ? raw : {};
    const input = count(u.input_tokens);
    const cached = Math.min(count(u.cached_input_tokens), input);
    const written = Math.min(count(u.cache_write_input_tokens), input - cached);
    const prev = usage ?? { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, turns: 0 };
    // OpenAI counts cache reads and writes inside input_tokens; Usage keeps them apart, as Anthropic reports them.
    usage = {
      input_tokens: addCounts(prev.input_tokens, input - cached - written),
      output_tokens: addCounts(prev.output_tokens, count(u.output_tokens)),
      cache_read_tokens: addCounts(prev.cache_read_tokens ?? 0, cached),
      turns: addCounts(prev.turns ?? 0, 1),
      duration_ms: Math.max(0, Date.now() - ctx.startedAt),
    };
    if (written > 0 || prev.cache_write_tokens !== undefined) usage.cache_write_tokens = addCounts(prev.cache_write_tokens ?? 0, written);
  }

  function event(ev: Json): TranscriptEntry[] {
    switch (ev.type) {
      case 'thread.started': {
        const id = str(ev.thread_id);
        if (id !== undefined && THREAD_ID_RE.test(id)) sessionId = id;
        return [];
      }
      case 'turn.started':
        return [];
      case 'item.started':
      case 'item.updated': {
        const item = isObject(ev.item) ? ev.item : undefined;
        const id = str(item?.id);
        if (item === undefined || id === undefined) return [other(String(ev.type), json(ev))];
        open.delete(id);
        open.set(id, item);
        if (open.size <= MAX_OPEN_ITEMS) return [];
        const [oldestId, oldest] = open.entries().next().value as [string, Json];
        open.delete(oldestId);
        return itemEntries(oldest, false);
      }
      case 'item.completed': {
        const item = isObject(ev.item) ? ev.item : undefined;
        if (item === undefined) return [other('item.completed', json(ev))];
        const id = str(item.id);
        if (id !== undefined) open.delete(id);
        return itemEntries(item, true);
      }
      case 'turn.completed':
        turnEnded = true;
        addUsage(ev.usage);
        return [{ type: 'result', status: 'ok', text: cutText(lastMessage ?? ''), at: at() }];
      case 'turn.failed': {
        turnEnded = true;
        const message = (isObject(ev.error) ? str(ev.error.message) : undefined) ?? json(ev.error ?? ev);
        failure = oneLine(message);
        return [{ type: 'error', text: cutText(message), at: at() }];
      }
      case 'error': {
        const message = str(ev.message) ?? json(ev);
        // A retry is news, not the end; a wait for the network would be for ever.
        if (message.includes('waiting for network')) failure ??= oneLine(`cannot reach the model API: ${message}`);
        else if (!message.startsWith('Reconnecting')) failure ??= oneLine(message);
        return [{ type: 'error', text: cutText(message), at: at() }];
      }
      default:
        return [other(str(ev.type) ?? 'event', json(ev))];
    }
  }

  return {
    line(line) {
      try {
        const trimmed = line.trim();
        if (trimmed === '') return [];
        if (trimmed.length > MAX_PARSED_LINE || !trimmed.startsWith('{')) return [other('stdout', cutText(trimmed))];
        let ev: unknown;
        try {
          ev = JSON.parse(trimmed);
        } catch {
          return [other('stdout', cutText(trimmed))];
        }
        return isObject(ev) ? event(ev) : [other('stdout', cutText(trimmed))];
      } catch (err) {
        return [{ type: 'error', text: cutText(`unreadable codex event: ${String(err)}`), at: at() }];
      }
    },
    end() {
      const left = [...open.values()].flatMap((item) => {
        try {
          return itemEntries(item, false);
        } catch {
          return [];
        }
      });
      open.clear();
      if (!turnEnded) failure ??= 'codex stopped before its turn completed';
      return left;
    },
    usage: () => usage,
    sessionId: () => sessionId,
    failure: () => failure,
  };
}

export const codexAdapter: AgentAdapter = {
  name: 'codex',
  bin: 'codex',
  npmPackage: AGENT_CLI_VERSIONS.codex.package,
  credentials: ['OPENAI_API_KEY', 'CODEX_API_KEY', 'OPENAI_BASE_URL'],
  // Its config, instructions and ChatGPT login, not its history: a follow-up's thread comes from
  // the server, and the job's sessions folder (what sessionFiles sends) holds only this job's.
  homeEntries: ['.codex/config.toml', '.codex/auth.json', '.codex/AGENTS.md', '.codex/prompts'],
  loginFiles: ['.codex/auth.json'],
  launch,
  parser: parseCodexStream,
  // A thread is one rollout file, sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl, dated in local
  // time: the folder is named, not the file (the adapter does no I/O). 0.171 resumes from the
  // rollout alone, without its sqlite indexes.
  sessionFiles: () => ['.codex/sessions'],
  // 0.171 on stderr: "thread/resume failed: no rollout found for thread id <id>".
  sessionNotFound: /no rollout found for thread id/,
};
