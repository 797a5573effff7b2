// A scripted OpenAI Responses API server, as `codex exec` talks to it: POST /v1/responses with a
// JSON body (`input`: the conversation so far, `stream: true`), answered with server-sent events
// (response.created, output_item.added/done per item, response.completed with usage). Each
// request plays the next turn of a script; every request is recorded. The only fake in the codex
// tests: the CLI itself is the real one.
import type http from 'node:http';
import { parseJson, sendJson, startScriptedServer } from './scripted-server.js';

/** One output item of a response, as the Responses API streams it. */
export type OutputItem =
  | { type: 'message'; text: string }
  | { type: 'reasoning'; text: string }
  /** A JSON tool (codex's exec_command): `args` is sent as the arguments string. */
  | { type: 'function_call'; name: string; args: unknown }
  /** A freeform tool (codex's apply_patch, code mode's exec): `input` is raw text. */
  | { type: 'custom_tool_call'; name: string; input: string };

export interface Turn {
  items: OutputItem[];
  usage?: { input_tokens: number; cached_tokens?: number; output_tokens: number; reasoning_tokens?: number };
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The body as text (decompressed); `json` when it parsed. */
  body: string;
  json: Record<string, unknown> | undefined;
}

/**
 * `script`: one turn per model request, in order; past the end, the last turn repeats.
 * `fail`: every request is answered so (`401`, `500`) or the connection is closed unanswered.
 */
export interface OpenAIServerOptions {
  script?: Turn[];
  fail?: 401 | 500 | 'close';
  /** Called as each request arrives, before it is answered. */
  onRequest?: (request: RecordedRequest) => void;
}

export interface OpenAIServer {
  url: string;
  /** The base URL a client is given (`<url>/v1`), as OPENAI_BASE_URL would be. */
  baseUrl: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const HELLO_PATCH = '*** Begin Patch\n*** Update File: hello.txt\n@@\n-hello\n+hello from codex\n*** End Patch\n';

/**
 * The conversation the codex tests play with codex's default model, which 0.171 runs in code mode:
 * its one tool, `exec`, takes JavaScript that calls the real tools (`tools.exec_command`,
 * `tools.apply_patch`). It reads `README.md`, replaces the line of `hello.txt`, runs
 * `git status --short` (exit code 0), then answers.
 */
export const DEFAULT_CODEX_SCRIPT: Turn[] = [
  {
    items: [
      { type: 'reasoning', text: 'Look at the README first.' },
      { type: 'custom_tool_call', name: 'exec', input: 'const r = await tools.exec_command({ cmd: "cat README.md" });\ntext(r.output);' },
    ],
    usage: { input_tokens: 1000, cached_tokens: 200, output_tokens: 20 },
  },
  {
    items: [{ type: 'custom_tool_call', name: 'exec', input: `await tools.apply_patch(${JSON.stringify(HELLO_PATCH)});\ntext("patched");` }],
    usage: { input_tokens: 1100, cached_tokens: 900, output_tokens: 30 },
  },
  {
    items: [{ type: 'custom_tool_call', name: 'exec', input: 'const r = await tools.exec_command({ cmd: "git status --short" });\ntext(r.output);' }],
    usage: { input_tokens: 1200, cached_tokens: 1000, output_tokens: 10 },
  },
  {
    items: [{ type: 'message', text: 'I changed hello.txt as the README asks.' }],
    usage: { input_tokens: 1300, cached_tokens: 1100, output_tokens: 12 },
  },
];

/**
 * The same conversation with the tools codex 0.171 gives a model of its classic tool mode
 * (`gpt-5.5`): exec_command as a JSON function, apply_patch as a freeform tool.
 */
export const CLASSIC_CODEX_SCRIPT: Turn[] = [
  {
    items: [
      { type: 'reasoning', text: 'Look at the README first.' },
      { type: 'function_call', name: 'exec_command', args: { cmd: 'cat README.md' } },
    ],
  },
  { items: [{ type: 'custom_tool_call', name: 'apply_patch', input: HELLO_PATCH }] },
  { items: [{ type: 'function_call', name: 'exec_command', args: { cmd: 'git status --short' } }] },
  { items: [{ type: 'message', text: 'I changed hello.txt as the README asks.' }] },
];

function wireItem(item: OutputItem, n: string): Record<string, unknown> {
  switch (item.type) {
    case 'message':
      return { type: 'message', id: `msg_${n}`, role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: item.text, annotations: [] }] };
    case 'reasoning':
      return { type: 'reasoning', id: `rs_${n}`, summary: [{ type: 'summary_text', text: item.text }] };
    case 'function_call':
      return { type: 'function_call', id: `fc_${n}`, call_id: `call_${n}`, name: item.name, arguments: JSON.stringify(item.args), status: 'completed' };
    case 'custom_tool_call':
      return { type: 'custom_tool_call', id: `ctc_${n}`, call_id: `call_${n}`, name: item.name, input: item.input, status: 'completed' };
  }
}

function sse(res: http.ServerResponse, event: Record<string, unknown>): void {
  res.write(`event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`);
}

function playTurn(res: http.ServerResponse, turn: Turn, requestNo: number, model: string): void {
  const id = `resp_${requestNo}`;
  const usage = turn.usage ?? { input_tokens: 100, output_tokens: 10 };
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  sse(res, { type: 'response.created', response: { id, object: 'response', status: 'in_progress', model, output: [] } });
  const done: Record<string, unknown>[] = [];
  turn.items.forEach((item, index) => {
    const wire = wireItem(item, `${requestNo}_${index}`);
    sse(res, { type: 'response.output_item.added', output_index: index, item: { ...wire, status: 'in_progress' } });
    if (item.type === 'message') {
      sse(res, { type: 'response.output_text.delta', item_id: wire.id, output_index: index, content_index: 0, delta: item.text });
    }
    sse(res, { type: 'response.output_item.done', output_index: index, item: wire });
    done.push(wire);
  });
  sse(res, {
    type: 'response.completed',
    response: {
      id,
      object: 'response',
      status: 'completed',
      model,
      output: done,
      usage: {
        input_tokens: usage.input_tokens,
        input_tokens_details: { cached_tokens: usage.cached_tokens ?? 0 },
        output_tokens: usage.output_tokens,
        output_tokens_details: { reasoning_tokens: usage.reasoning_tokens ?? 0 },
        total_tokens: usage.input_tokens + usage.output_tokens,
      },
    },
  });
  res.end();
}

export async function startOpenAIServer(opts: OpenAIServerOptions = {}): Promise<OpenAIServer> {
  const script = opts.script ?? DEFAULT_CODEX_SCRIPT;
  const requests: RecordedRequest[] = [];
  let turnNo = 0;
  const server = await startScriptedServer((req, res) => {
    const json = parseJson(req.text);
    const recorded: RecordedRequest = {
      method: req.method,
      path: req.url,
      headers: req.headers,
      body: req.text,
      json: typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined,
    };
    requests.push(recorded);
    opts.onRequest?.(recorded);
    if (opts.fail === 'close') return req.drop();
    if (opts.fail !== undefined) {
      const message = opts.fail === 401 ? 'Incorrect API key provided' : 'The server had an error';
      return sendJson(res, opts.fail, {
        error: { message, type: opts.fail === 401 ? 'invalid_request_error' : 'server_error', code: opts.fail === 401 ? 'invalid_api_key' : null },
      });
    }
    if (req.method !== 'POST' || !req.url.endsWith('/responses')) return sendJson(res, 404, { error: { message: `no route ${req.method} ${req.url}` } });
    const turn = script[Math.min(turnNo, script.length - 1)];
    turnNo += 1;
    const model = typeof recorded.json?.model === 'string' ? recorded.json.model : 'unknown';
    playTurn(res, turn ?? { items: [{ type: 'message', text: 'done' }] }, requests.length, model);
  });
  return { ...server, baseUrl: `${server.url}/v1`, requests };
}
