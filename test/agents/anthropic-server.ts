// A scripted Anthropic Messages API on 127.0.0.1 for the tests that run the real Claude Code CLI:
// it records every request and plays a conversation, one scripted turn per model request of the
// main conversation (SSE, as the API streams), so the CLI reads files, edits, runs commands and
// answers as it would against the real API. The only fake in those tests.
import type http from 'node:http';
import { parseJson, sendJson, startScriptedServer, type IncomingRequest } from './scripted-server.js';

export type ScriptBlock =
  { type: 'text'; text: string } | { type: 'thinking'; thinking: string } | { type: 'tool_use'; name: string; input: Record<string, unknown>; id?: string };

/** One assistant turn: the content blocks streamed for one model request. */
export type ScriptTurn = ScriptBlock[];

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The JSON body, or undefined when there was none or it was not JSON. */
  body: unknown;
  at: number;
}

/** `ok`: play the script; `unauthorized`/`error`: answer every model request 401/500; `close`: drop the connection. */
export type ServerMode = 'ok' | 'unauthorized' | 'error' | 'close';

export interface AnthropicServerOptions {
  /** The conversation; default: read a file, edit another, run a command, answer. */
  script?: ScriptTurn[];
  mode?: ServerMode;
  model?: string;
  /** Usage reported per turn. */
  usage?: { input_tokens: number; output_tokens: number; cache_read_input_tokens?: number; cache_creation_input_tokens?: number };
  /** Awaited before a request is answered: a test acts at a known point of the conversation. */
  onRequest?: (request: RecordedRequest) => Promise<void> | void;
}

export interface AnthropicServer {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** The model requests of the main conversation (those that offer tools), in order. */
  conversation(): RecordedRequest[];
  mode: ServerMode;
  close(): Promise<void>;
}

/** The conversation most tests play: Read `README.md`, Write `hello.txt`, Bash `echo ran > ran.txt`, then text (paths in the CLI's working directory). */
export function defaultScript(): ScriptTurn[] {
  return [
    [
      { type: 'thinking', thinking: 'Let me read the README first.' },
      { type: 'tool_use', name: 'Read', input: { file_path: 'README.md' } },
    ],
    [{ type: 'tool_use', name: 'Write', input: { file_path: 'hello.txt', content: 'hello from claude\n' } }],
    [{ type: 'tool_use', name: 'Bash', input: { command: 'echo ran > ran.txt && echo done', description: 'Write ran.txt' } }],
    [{ type: 'text', text: 'I wrote hello.txt and ran.txt.' }],
  ];
}

/**
 * Claude Code wants absolute paths for its file tools: a relative `file_path` in a script is taken
 * from the working directory the CLI names in its first message ("Primary working directory: X").
 */
function absolutePaths(blocks: ScriptTurn, request: unknown): ScriptTurn {
  const cwd = /Primary working directory: ([^\s"\\]+)/.exec(JSON.stringify((request as { messages?: unknown } | undefined)?.messages ?? ''))?.[1];
  if (!cwd) return blocks;
  return blocks.map((block) => {
    if (block.type !== 'tool_use' || typeof block.input.file_path !== 'string' || block.input.file_path.startsWith('/')) return block;
    return { ...block, input: { ...block.input, file_path: `${cwd}/${block.input.file_path}` } };
  });
}

export async function startAnthropicServer(opts: AnthropicServerOptions = {}): Promise<AnthropicServer> {
  const requests: RecordedRequest[] = [];
  const script = opts.script ?? defaultScript();
  const model = opts.model ?? 'claude-sonnet-4-5';
  const usage = opts.usage ?? { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 50, cache_creation_input_tokens: 10 };
  const state = { mode: opts.mode ?? ('ok' as ServerMode) };
  let ids = 0;

  const server = await startScriptedServer((req, res) => {
    const body = parseJson(req.text);
    const path = req.url;
    const recorded: RecordedRequest = { method: req.method, path, headers: req.headers, body, at: req.at };
    requests.push(recorded);
    void Promise.resolve(opts.onRequest?.(recorded)).then(() => answer(req, res, path, body));
  });
  const answer = (req: IncomingRequest, res: http.ServerResponse, path: string, body: unknown): void => {
    if (req.method !== 'POST' || !/^\/v1\/messages(\?|$)/.test(path)) {
      // count_tokens and anything else: a plain answer the CLI can live with.
      if (/^\/v1\/messages\/count_tokens/.test(path)) return sendJson(res, 200, { input_tokens: 100 });
      return sendJson(res, 404, { type: 'error', error: { type: 'not_found_error', message: `no route ${path}` } });
    }
    if (state.mode === 'close') return req.drop();
    if (state.mode === 'unauthorized') return sendJson(res, 401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
    if (state.mode === 'error') return sendJson(res, 500, { type: 'error', error: { type: 'api_error', message: 'Internal server error' } });
    const request = (body ?? {}) as { stream?: boolean; messages?: { role?: string }[]; tools?: unknown[] };
    // The main conversation offers tools; its turn is how many times the assistant spoke before.
    const main = Array.isArray(request.tools) && request.tools.length > 0;
    const turnIndex = main ? (request.messages ?? []).filter((m) => m.role === 'assistant').length : -1;
    const scripted: ScriptTurn = turnIndex >= 0 ? (script[turnIndex] ?? [{ type: 'text', text: 'Done.' }]) : [{ type: 'text', text: 'ok' }];
    const blocks = absolutePaths(scripted, body);
    const id = `msg_${String(++ids).padStart(6, '0')}`;
    const content = blocks.map((b, i) => materialize(b, `${id}_${i}`));
    const stopReason = content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn';
    if (!request.stream) {
      return sendJson(res, 200, { id, type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: null, usage });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': `req_${id}` });
    streamMessage(res, id, model, content, stopReason, usage);
  };
  return {
    url: server.url,
    port: server.port,
    requests,
    conversation: () =>
      requests.filter((r) => Array.isArray((r.body as { tools?: unknown } | undefined)?.tools) && (r.body as { tools: unknown[] }).tools.length > 0),
    get mode() {
      return state.mode;
    },
    set mode(m: ServerMode) {
      state.mode = m;
    },
    close: server.close,
  };
}

type Block =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

function materialize(b: ScriptBlock, id: string): Block {
  if (b.type === 'tool_use') return { type: 'tool_use', id: b.id ?? `toolu_${id}`, name: b.name, input: b.input };
  if (b.type === 'thinking') return { type: 'thinking', thinking: b.thinking, signature: `sig_${id}` };
  return b;
}

function streamMessage(
  res: http.ServerResponse,
  id: string,
  model: string,
  content: Block[],
  stopReason: string,
  usage: NonNullable<AnthropicServerOptions['usage']>,
): void {
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  send('message_start', {
    type: 'message_start',
    message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } },
  });
  content.forEach((block, index) => {
    if (block.type === 'text') {
      send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: block.text } });
    } else if (block.type === 'thinking') {
      send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } });
      send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: block.thinking } });
      send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: block.signature } });
    } else {
      send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
      send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } });
    }
    send('content_block_stop', { type: 'content_block_stop', index });
  });
  send('message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
  send('message_stop', { type: 'message_stop' });
  res.end();
}

/** The text the user sent in a model request (every text block of its user messages, joined): where a prompt shows up. */
export function userText(request: RecordedRequest): string {
  const messages = (request.body as { messages?: { role?: string; content?: unknown }[] } | undefined)?.messages ?? [];
  const texts: string[] = [];
  for (const m of messages) {
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') texts.push(m.content);
    else if (Array.isArray(m.content))
      for (const c of m.content as { type?: string; text?: unknown }[]) if (c.type === 'text' && typeof c.text === 'string') texts.push(c.text);
  }
  return texts.join('\n');
}
