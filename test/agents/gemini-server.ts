// A scripted Gemini API server for the tests that run the real gemini CLI: it speaks what Gemini
// CLI 0.61 sends with GOOGLE_GEMINI_BASE_URL set (recorded by hand from the pinned CLI):
//   POST /v1beta/models/<model>:streamGenerateContent?alt=sse   the chat turns (SSE of
//        GenerateContentResponse chunks: candidates[0].content.parts + usageMetadata)
//   POST /v1beta/models/<model>:generateContent                 the model router's classifier
//        when no model is given (a JSON answer), and other one-shot calls
//   POST /v1beta/models/<model>:countTokens                     token counts, when asked
// It records every request and plays a script: each chat request takes the next turn; once the
// script is spent it answers with a closing text, so a CLI that asks again never hangs.
import type http from 'node:http';
import { parseJson, sendJson, startScriptedServer } from './scripted-server.js';

export type GeminiPart = { text: string; thought?: boolean } | { functionCall: { name: string; args: Record<string, unknown> } };

export interface GeminiTurn {
  parts: GeminiPart[];
  /** Token counts reported with the turn's last chunk (defaults derived from the parts). */
  usage?: { promptTokenCount: number; candidatesTokenCount: number; thoughtsTokenCount?: number; cachedContentTokenCount?: number };
}

/**
 * `script`: play the turns. The failure modes answer every model request the same way:
 * `unauthorized` a 401 with Google's error body (an invalid key), `server-error` a 500,
 * `closed` destroys the connection before any answer.
 */
export type GeminiServerMode = 'script' | 'unauthorized' | 'server-error' | 'closed';

export interface RecordedRequest {
  method: string;
  /** The path and query as sent. */
  url: string;
  /** The model named in the path, and the method after its colon (streamGenerateContent, ...). */
  model: string | undefined;
  action: string | undefined;
  headers: http.IncomingHttpHeaders;
  /** The parsed JSON body, or the raw text when it is not JSON. */
  body: unknown;
}

export interface GeminiServer {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** The chat turns asked for (streamGenerateContent), in order. */
  chatRequests(): RecordedRequest[];
  close(): Promise<void>;
}

export interface GeminiServerOptions {
  script?: GeminiTurn[];
  mode?: GeminiServerMode;
}

/** What the CLI's router classifier expects back from a one-shot generateContent (a low score: the default model). */
const ROUTER_ANSWER = JSON.stringify({ complexity_reasoning: 'scripted', complexity_score: 10 });
const CLOSING_TURN: GeminiTurn = { parts: [{ text: 'Nothing more to do.' }] };

export async function startGeminiServer(options: GeminiServerOptions = {}): Promise<GeminiServer> {
  const script = options.script ?? [];
  const mode = options.mode ?? 'script';
  const requests: RecordedRequest[] = [];
  let turn = 0;
  const server = await startScriptedServer((req, res) => {
    const match = /^\/v1beta\/models\/([^:/?]+):([A-Za-z]+)/.exec(req.url);
    const recorded: RecordedRequest = {
      method: req.method,
      url: req.url,
      model: match?.[1],
      action: match?.[2],
      headers: req.headers,
      body: parseJson(req.text) ?? req.text,
    };
    requests.push(recorded);
    if (mode === 'closed') return req.drop();
    if (mode === 'unauthorized') return sendError(res, 401, 'API key not valid. Please pass a valid API key.', 'UNAUTHENTICATED');
    if (mode === 'server-error') return sendError(res, 500, 'Internal error encountered.', 'INTERNAL');
    switch (recorded.action) {
      case 'streamGenerateContent':
        return streamTurn(res, script[turn++] ?? CLOSING_TURN);
      case 'generateContent':
        return sendJson(res, 200, response({ parts: [{ text: ROUTER_ANSWER }] }, true));
      case 'countTokens':
        return sendJson(res, 200, { totalTokens: Math.ceil(req.text.length / 4) });
      default:
        return sendError(res, 404, `no such method: ${req.method} ${req.url}`, 'NOT_FOUND');
    }
  });
  return { ...server, requests, chatRequests: () => requests.filter((r) => r.action === 'streamGenerateContent') };
}

export interface DefaultConversation {
  /** The file the agent reads, and the one it edits (relative to the workspace). */
  readPath: string;
  editPath: string;
  /** The edit: `oldText` in editPath becomes `newText`. */
  oldText: string;
  newText: string;
  command: string;
  /** The closing answer. */
  answer: string;
}

/** The conversation the gemini tests play, in a checkout holding `COLOUR_FILES`. */
export const COLOUR_CONVERSATION: DefaultConversation = {
  readPath: 'notes.txt',
  editPath: 'src/app.txt',
  oldText: 'colour = "red"',
  newText: 'colour = "blue"',
  // Prints nothing and exits 1 once the file changed: the transcript then has a command's exit code that is not 0.
  command: 'git diff --quiet',
  answer: 'Done: the colour is blue now.',
};
export const COLOUR_FILES = { 'notes.txt': 'Make the colour blue.\n', 'src/app.txt': 'name = "app"\ncolour = "red"\n' };

/** The conversation every agent test plays: think, read a file, edit another, run a command, answer. */
export function defaultGeminiScript(c: DefaultConversation): GeminiTurn[] {
  return [
    {
      parts: [
        { text: 'The task needs the notes first.', thought: true },
        { text: 'Reading the notes. ' },
        { functionCall: { name: 'read_file', args: { file_path: c.readPath } } },
      ],
    },
    {
      parts: [
        { text: 'Now the edit.' },
        {
          functionCall: {
            name: 'replace',
            args: { file_path: c.editPath, instruction: 'Apply the change.', old_string: c.oldText, new_string: c.newText },
          },
        },
      ],
    },
    { parts: [{ functionCall: { name: 'run_shell_command', args: { command: c.command, description: 'Check the result.' } } }] },
    { parts: [{ text: c.answer }] },
  ];
}

/**
 * One turn as an SSE stream: each text part in two chunks (so the CLI sees deltas), each other
 * part in a chunk of its own, usage and finishReason on the last chunk, as the real API does.
 */
function streamTurn(res: http.ServerResponse, turn: GeminiTurn): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const pieces: GeminiPart[] = [];
  for (const part of turn.parts) {
    if ('text' in part && part.text.length > 1) {
      const half = Math.ceil(part.text.length / 2);
      pieces.push({ ...part, text: part.text.slice(0, half) }, { ...part, text: part.text.slice(half) });
    } else {
      pieces.push(part);
    }
  }
  pieces.forEach((piece, i) => {
    const last = i === pieces.length - 1;
    const chunk = response({ parts: [piece] }, last, last ? turn : undefined);
    res.write(`data: ${JSON.stringify(chunk)}\r\n\r\n`);
  });
  res.end();
}

function response(content: { parts: GeminiPart[] }, last: boolean, turn?: GeminiTurn): Record<string, unknown> {
  const candidate: Record<string, unknown> = { content: { role: 'model', parts: content.parts }, index: 0 };
  if (last) candidate.finishReason = 'STOP';
  const out: Record<string, unknown> = { candidates: [candidate], modelVersion: 'gemini-scripted' };
  if (last) {
    const usage = turn?.usage ?? { promptTokenCount: 100, candidatesTokenCount: 20 };
    out.usageMetadata = {
      ...usage,
      totalTokenCount: usage.promptTokenCount + usage.candidatesTokenCount + (usage.thoughtsTokenCount ?? 0),
    };
  }
  return out;
}

/** Google's error body: {error: {code, message, status}}. */
function sendError(res: http.ServerResponse, code: number, message: string, status: string): void {
  sendJson(res, code, { error: { code, message, status } });
}
