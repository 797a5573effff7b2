// The real gemini CLI at its pinned version, started as the runner starts it (argv, env, stdin
// and HOME files from the adapter's launch) in a git checkout with a HOME of its own, against the
// scripted Gemini API; its stdout goes through the adapter's parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { agentCliBinDir } from '../scripts/agent-clis.js';
import { isAgentCredential } from '../src/shared/agents/credentials.js';
import { gemini } from '../src/shared/agents/gemini.js';
import type { LaunchContext } from '../src/shared/agents/adapter.js';
import type { TranscriptEntry, Usage } from '../src/shared/transcript.js';
import { closedPort } from './agents/scripted-server.js';
import { COLOUR_CONVERSATION, COLOUR_FILES, defaultGeminiScript, startGeminiServer, type GeminiServer, type GeminiServerMode } from './agents/gemini-server.js';
import { makeRepo, tempDir } from './helpers.js';

const KEY = 'gemini-test-key-6f1d2c';
const BIN_DIR = agentCliBinDir('gemini');
const PROMPT = 'Make the change that notes.txt asks for, then check it.';
const CONVERSATION = COLOUR_CONVERSATION;

interface AgentRun {
  code: number | null;
  ms: number;
  argv: string[];
  entries: TranscriptEntry[];
  usage: Usage | undefined;
  sessionId: string | undefined;
  failure: string | undefined;
  stderr: string;
}

async function checkout(t: TestContext): Promise<string> {
  const dir = path.join(tempDir(t, 'lazyaf-gemini-ws-'), 'project');
  return makeRepo(dir, COLOUR_FILES);
}

/** Runs gemini once as the runner would (no shell, only the launch's env and a PATH), to its exit. */
async function runGemini(opts: {
  workspace: string;
  home: string;
  api: string;
  model?: string | null;
  resume?: string | null;
  env?: Record<string, string>;
  prompt?: string;
}): Promise<AgentRun> {
  const ctx: LaunchContext = {
    prompt: opts.prompt ?? PROMPT,
    promptFile: path.join(opts.home, 'prompt.txt'),
    home: opts.home,
    workspace: opts.workspace,
    model: opts.model === undefined ? 'gemini-2.5-pro' : opts.model,
    resumeSessionId: opts.resume ?? null,
    credentials: { GEMINI_API_KEY: KEY, GOOGLE_GEMINI_BASE_URL: opts.api },
  };
  const launch = gemini.launch(ctx);
  for (const [rel, content] of Object.entries(launch.homeFiles ?? {})) {
    fs.mkdirSync(path.dirname(path.join(opts.home, rel)), { recursive: true });
    fs.writeFileSync(path.join(opts.home, rel), content);
  }
  const [bin, ...args] = launch.argv;
  assert.equal(bin, gemini.bin);
  const env = { PATH: `${BIN_DIR}:${process.env.PATH}`, HOME: opts.home, ...opts.env, ...launch.env };
  const parser = gemini.parser({ workspace: opts.workspace, startedAt: Date.now() });
  const entries: TranscriptEntry[] = [];
  const started = Date.now();
  const child = spawn(path.join(BIN_DIR, gemini.bin), args, { cwd: opts.workspace, env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => {});
  child.stdin.end(launch.stdin ?? '');
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) entries.push(...parser.line(line));
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  if (pending) entries.push(...parser.line(pending));
  entries.push(...parser.end());
  return {
    code,
    ms: Date.now() - started,
    argv: launch.argv,
    entries,
    usage: parser.usage(),
    sessionId: parser.sessionId(),
    failure: parser.failure(),
    stderr,
  };
}

async function scriptedApi(t: TestContext, mode: GeminiServerMode = 'script'): Promise<GeminiServer> {
  const server = await startGeminiServer({ mode, script: defaultGeminiScript(CONVERSATION) });
  t.after(() => server.close());
  return server;
}

/** The text the model was sent in a request's contents (every part, in order). */
function sentText(body: unknown): string {
  const contents = (body as { contents?: { parts?: { text?: string }[] }[] }).contents ?? [];
  return contents.flatMap((c) => (c.parts ?? []).map((p) => p.text ?? JSON.stringify(p))).join('\n');
}

/** A proxy that answers nothing and records the first line of each connection (`CONNECT host:443 ...`). */
async function recordingProxy(t: TestContext): Promise<{ url: string; asked: string[] }> {
  const asked: string[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', (d: Buffer) => {
      asked.push(d.toString('latin1').split('\r\n')[0] ?? '');
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked };
}

function tools(entries: TranscriptEntry[], kind: string): TranscriptEntry[] {
  return entries.filter((e) => e.type === 'tool' && e.kind === kind);
}

test('gemini reads a file, edits another and runs a command; the transcript, usage and session say so', async (t) => {
  const api = await scriptedApi(t);
  const workspace = await checkout(t);
  const home = tempDir(t, 'lazyaf-gemini-home-');
  // Everything but the API goes through this proxy: the CLI's usage statistics would (to play.googleapis.com).
  const proxy = await recordingProxy(t);
  const env = { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' };
  const run = await runGemini({ workspace, home, api: api.url, env });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(proxy.asked, [], 'nothing phones home');

  assert.match(fs.readFileSync(path.join(workspace, 'src/app.txt'), 'utf8'), /colour = "blue"/);
  const e = run.entries;
  assert.deepEqual(
    e.filter((x) => x.type === 'message').map((x) => [x.role, x.text]),
    [
      ['user', PROMPT],
      ['assistant', 'Reading the notes. '],
      ['assistant', 'Now the edit.'],
      ['assistant', CONVERSATION.answer],
    ],
    'one entry per assistant message, not one per delta',
  );
  const [read] = tools(e, 'read');
  assert.equal(read?.path, 'notes.txt');
  assert.equal(read?.status, 'ok');
  const [edit] = tools(e, 'file_edit');
  assert.equal(edit?.tool, 'replace');
  assert.equal(edit?.path, 'src/app.txt');
  assert.match(edit?.diff ?? '', /^-colour = "red"\n\+colour = "blue"$/m);
  const [command] = tools(e, 'command');
  assert.equal(command?.command, CONVERSATION.command);
  assert.equal(command?.exit_code, 1);
  const result = e.at(-1);
  assert.equal(result?.type, 'result');
  assert.equal(result?.status, 'ok');
  assert.equal(result?.text, CONVERSATION.answer);
  assert.equal(run.failure, undefined);

  assert.ok(run.usage && run.usage.input_tokens > 0 && run.usage.output_tokens > 0, JSON.stringify(run.usage));
  assert.match(run.sessionId ?? '', /^[0-9a-f-]{36}$/);

  const chats = api.chatRequests();
  assert.equal(chats.length, 4);
  assert.equal(chats[0]?.model, 'gemini-2.5-pro');
  assert.match(sentText(chats[0]?.body), new RegExp(PROMPT.replace(/[.]/g, '\\.')));
  assert.equal(chats[0]?.headers['x-goog-api-key'], KEY, 'the key reaches the API through the environment');
  assert.ok(!run.argv.join(' ').includes(KEY), 'no key in argv');
  assert.ok(!Object.values(gemini.launch(launchCtx(home, workspace, api.url)).homeFiles ?? {}).some((c) => c.includes(KEY)), 'no key in the files written');

  // The conversation is kept where sessionFiles says, under its id.
  const [folder] = gemini.sessionFiles({ home, workspace, sessionId: run.sessionId ?? '' });
  const files = fs.readdirSync(path.join(home, folder ?? ''));
  assert.ok(
    files.some((f) => f.endsWith('.jsonl') && fs.readFileSync(path.join(home, folder ?? '', f), 'utf8').includes(run.sessionId ?? '-')),
    `${files.join(', ')} holds session ${run.sessionId}`,
  );
});

function launchCtx(home: string, workspace: string, api: string): LaunchContext {
  return {
    prompt: PROMPT,
    promptFile: path.join(home, 'p'),
    home,
    workspace,
    model: null,
    resumeSessionId: null,
    credentials: { GEMINI_API_KEY: KEY, GOOGLE_GEMINI_BASE_URL: api },
  };
}

test('a follow-up in another checkout and HOME, given only the session files, resumes the conversation', async (t) => {
  const api = await scriptedApi(t);
  const first = { workspace: await checkout(t), home: tempDir(t, 'lazyaf-gemini-home-') };
  const run1 = await runGemini({ ...first, api: api.url });
  assert.equal(run1.code, 0, run1.stderr);
  const sessionId = run1.sessionId ?? '';

  // Another runner: another workspace path, a fresh HOME holding only what sessionFiles named.
  const second = { workspace: await checkout(t), home: tempDir(t, 'lazyaf-gemini-home-') };
  for (const rel of gemini.sessionFiles({ home: first.home, workspace: first.workspace, sessionId })) {
    fs.cpSync(path.join(first.home, rel), path.join(second.home, rel), { recursive: true });
  }
  const before = api.chatRequests().length;
  const run2 = await runGemini({ ...second, api: api.url, resume: sessionId });
  assert.equal(run2.code, 0, run2.stderr);
  assert.equal(run2.sessionId, sessionId);
  const resumed = api.chatRequests()[before];
  assert.ok(resumed, 'the follow-up asked the model');
  const sent = sentText(resumed.body);
  assert.match(sent, /Reading the notes/, "the first conversation is in the follow-up's first request");
  assert.ok(sent.includes(CONVERSATION.answer));
});

test('without a model the CLI routes (one classifier request), and a prompt too long for an argument reaches the model whole', async (t) => {
  const api = await scriptedApi(t);
  // 300 KiB: more than Linux lets one argument hold (128 KiB), less than the CLI reads from stdin (8 MiB).
  const prompt = `${PROMPT}\n${'0123456789abcdef'.repeat(300 * 64)}\nThe end of the prompt.`;
  const run = await runGemini({ workspace: await checkout(t), home: tempDir(t, 'lazyaf-gemini-home-'), api: api.url, model: null, prompt });
  assert.equal(run.code, 0, run.stderr);
  assert.ok(!run.argv.includes('-m'));
  assert.equal(api.requests[0]?.action, 'generateContent', 'the router asks first');
  const sent = sentText(api.chatRequests()[0]?.body);
  assert.ok(sent.includes(prompt), 'the whole prompt, in the first chat request');
  assert.ok(run.usage?.model, 'usage names the model the router chose');
});

for (const [what, mode, reason] of [
  ['an unreachable API (a closed port)', undefined, /fetch failed/],
  ['an API that refuses the key (401)', 'unauthorized', /API key not valid/],
  ['an API that fails (500)', 'server-error', /Internal error|500/],
] as const) {
  test(`${what} ends the run within seconds with the CLI's reason in one line`, async (t) => {
    const url = mode ? (await scriptedApi(t, mode)).url : `http://127.0.0.1:${await closedPort()}`;
    const run = await runGemini({ workspace: await checkout(t), home: tempDir(t, 'lazyaf-gemini-home-'), api: url });
    assert.notEqual(run.code, 0);
    assert.ok(run.ms < 25_000, `took ${run.ms} ms`);
    assert.match(run.failure ?? '', reason, run.stderr.slice(-2000));
    assert.ok(!run.failure?.includes('\n'));
    assert.equal(run.entries.at(-1)?.status, 'error');
    assert.ok(!run.failure?.includes(KEY));
  });
}

test('launch maps the credentials as the CLI reads them and pins the matching auth type', () => {
  const launch = (credentials: Record<string, string>) => {
    const l = gemini.launch({ ...launchCtx('/home/job', '/work/project', ''), credentials, model: 'm', resumeSessionId: 'abc' });
    const settings = JSON.parse(l.homeFiles?.['.gemini/settings.json'] ?? '{}') as { security?: { auth?: { selectedType?: string } } };
    return { env: l.env, auth: settings.security?.auth?.selectedType, argv: l.argv };
  };
  const google = launch({ GOOGLE_API_KEY: 'g' });
  assert.equal(google.env.GEMINI_API_KEY, 'g', 'the CLI reads a Gemini key only from GEMINI_API_KEY');
  assert.equal(google.auth, 'gemini-api-key');
  assert.deepEqual(google.argv.slice(-3), ['-m', 'm', '--resume=abc']);
  const hostile = gemini.launch({ ...launchCtx('/home/job', '/work/project', ''), resumeSessionId: '-d --sandbox' }).argv;
  assert.equal(hostile.at(-1), '--resume=-d --sandbox', "a session id from the stream stays the flag's value");
  const vertex = launch({ GOOGLE_GENAI_USE_VERTEXAI: '1', GOOGLE_API_KEY: 'v', GOOGLE_CLOUD_PROJECT: 'p', GOOGLE_CLOUD_LOCATION: 'l' });
  assert.equal(vertex.auth, 'vertex-ai');
  assert.equal(vertex.env.GOOGLE_GENAI_USE_VERTEXAI, 'true');
  assert.equal(vertex.env.GEMINI_API_KEY, undefined);
  assert.equal(vertex.env.GOOGLE_CLOUD_PROJECT, 'p');
  assert.equal(launch({}).auth, 'oauth-personal', "no key: the runner's Google login");
  for (const name of gemini.credentials) assert.ok(isAgentCredential(name), `${name} is kept from jobs' environment and redacted`);
  assert.equal(launch({ HTTPS_PROXY: 'http://proxy:3128' }).env.HTTPS_PROXY, 'http://proxy:3128', 'the common settings pass');
});
