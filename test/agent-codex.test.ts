// The codex adapter against the real pinned codex CLI (scripts/agent-clis.ts) and a scripted
// OpenAI Responses API server: the CLI edits a real git checkout, its JSONL becomes the
// transcript, usage and thread id, a follow-up resumes the thread from the saved session files
// alone, and an API it cannot use fails the run within seconds with codex's reason. Then the
// parser alone, on hostile lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { makeRepo, tempDir } from './helpers.js';
import { CLASSIC_CODEX_SCRIPT, startOpenAIServer, type OpenAIServer, type RecordedRequest } from './agents/openai-server.js';
import { groupCommandLines, runCodex, type CodexRun } from './agents/codex-run.js';
import { codexAdapter } from '../src/shared/agents/codex.js';
import { AGENT_ADAPTERS } from '../src/shared/agents/index.js';
import { MAX_ENTRY_TEXT, type TranscriptEntry } from '../src/shared/transcript.js';

const KEY = 'sk-test-codex-5f1d0c9a7e3b';
const PROMPT = 'Do what README.md says to hello.txt.';

async function checkout(t: Parameters<typeof tempDir>[0]): Promise<string> {
  return makeRepo(path.join(tempDir(t, 'lazyaf-codex-ws-'), 'ws'), { 'README.md': 'Change hello.txt\n', 'hello.txt': 'hello\n' });
}

async function openAI(t: Parameters<typeof tempDir>[0], opts: Parameters<typeof startOpenAIServer>[0] = {}): Promise<OpenAIServer> {
  const server = await startOpenAIServer(opts);
  t.after(() => server.close());
  return server;
}

/** The text items of a request's input, in order. */
function inputTexts(request: RecordedRequest | undefined): string[] {
  const input = request?.json?.input;
  if (!Array.isArray(input)) return [];
  return input.flatMap((item: { content?: unknown }) => (Array.isArray(item.content) ? item.content.map((c: { text?: unknown }) => String(c.text ?? '')) : []));
}

function tools(run: CodexRun, kind: TranscriptEntry['kind']): TranscriptEntry[] {
  return run.entries.filter((e) => e.type === 'tool' && e.kind === kind);
}

function assertEditedAndTranscribed(run: CodexRun, workspace: string): void {
  assert.equal(run.code, 0, `codex failed: ${run.stderr}\n${run.stdout.join('\n')}`);
  assert.equal(run.parser.failure(), undefined);
  assert.equal(fs.readFileSync(path.join(workspace, 'hello.txt'), 'utf8'), 'hello from codex\n');
  const messages = run.entries.filter((e) => e.type === 'message');
  assert.deepEqual(
    messages.map((m) => [m.role, m.text]),
    [['assistant', 'I changed hello.txt as the README asks.']],
  );
  assert.deepEqual(
    tools(run, 'file_edit').map((e) => [e.tool, e.path, e.status]),
    [['apply_patch', 'hello.txt', 'ok']],
  );
  const commands = tools(run, 'command');
  assert.equal(commands.length, 2, JSON.stringify(commands));
  assert.match(commands[0]!.command!, /cat README\.md/);
  assert.equal(commands[0]!.output, 'Change hello.txt\n');
  assert.match(commands[1]!.command!, /git status --short/);
  assert.deepEqual([commands[1]!.exit_code, commands[1]!.status, commands[1]!.output], [0, 'ok', ' M hello.txt\n']);
  assert.equal(run.entries.at(-1)?.type, 'result');
  assert.ok(run.entries.some((e) => e.type === 'thinking' && e.text === 'Look at the README first.'));
  assert.ok(!run.entries.some((e) => e.type === 'tool' && e.kind === 'other'), JSON.stringify(run.entries));
}

test('codex with its default model edits the checkout, and its stream is the transcript, usage and thread id', async (t) => {
  const home = tempDir(t, 'lazyaf-codex-home-');
  const workspace = await checkout(t);
  let pgid = 0;
  let argvAtFirstRequest: string[] = [];
  const server = await openAI(t, {
    onRequest: () => {
      if (argvAtFirstRequest.length === 0) argvAtFirstRequest = groupCommandLines(pgid);
    },
  });
  const run = await runCodex({ home, workspace, prompt: PROMPT, credentials: { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: server.baseUrl } }, (pid) => (pgid = pid));
  assertEditedAndTranscribed(run, workspace);

  const usage = run.parser.usage();
  // The four responses' usage, cache reads apart: 4600 in, 3200 of them cached.
  assert.deepEqual([usage?.input_tokens, usage?.cache_read_tokens, usage?.output_tokens, usage?.turns], [1400, 3200, 72, 1]);
  assert.ok((usage?.duration_ms ?? -1) >= 0);

  assert.equal(server.requests.length, 4);
  const first = server.requests[0]!;
  assert.equal(first.path, '/v1/responses');
  assert.equal(first.headers.authorization, `Bearer ${KEY}`);
  assert.ok(inputTexts(first).includes(PROMPT), 'the first request carries the prompt');
  const threadId = run.parser.sessionId();
  assert.match(threadId ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(first.headers['thread-id'], threadId);

  // The key reaches codex through its environment only: never its argv, which `ps` shows anyone.
  assert.ok(
    argvAtFirstRequest.some((cmd) => cmd.includes('exec --json')),
    argvAtFirstRequest.join('\n'),
  );
  for (const cmd of [...argvAtFirstRequest, run.launch.argv.join(' ')]) assert.ok(!cmd.includes(KEY), `key in argv: ${cmd}`);
  assert.equal(run.launch.env.CODEX_API_KEY, KEY);
  assert.equal(run.launch.env.OPENAI_API_KEY, undefined);

  // The thread is one rollout file under the folder sessionFiles names.
  const [sessions] = codexAdapter.sessionFiles({ home, workspace, sessionId: threadId! });
  const rollouts = fs.readdirSync(path.join(home, sessions!), { recursive: true }).map(String);
  assert.ok(
    rollouts.some((f) => f.endsWith(`-${threadId}.jsonl`)),
    rollouts.join('\n'),
  );
  assert.equal(AGENT_ADAPTERS.get('codex'), codexAdapter);
});

test('codex with --model runs its classic tools, takes a prompt larger than an argument can be, and CODEX_API_KEY first', async (t) => {
  const workspace = await checkout(t);
  const server = await openAI(t, { script: CLASSIC_CODEX_SCRIPT });
  const prompt = `${PROMPT}\n${'Context line.\n'.repeat(20_000)}`;
  const run = await runCodex({
    home: tempDir(t, 'lazyaf-codex-home-'),
    workspace,
    prompt,
    model: 'gpt-5.5',
    credentials: { CODEX_API_KEY: KEY, OPENAI_API_KEY: 'sk-not-this-one', OPENAI_BASE_URL: server.baseUrl },
  });
  assertEditedAndTranscribed(run, workspace);
  assert.equal(server.requests[0]!.json?.model, 'gpt-5.5');
  assert.equal(server.requests[0]!.headers.authorization, `Bearer ${KEY}`);
  assert.ok(inputTexts(server.requests[0]).includes(prompt), 'the whole prompt reached the model');
});

test('a follow-up on a fresh HOME holding only the saved session files resumes the thread', async (t) => {
  const workspace = await checkout(t);
  const server = await openAI(t);
  const home = tempDir(t, 'lazyaf-codex-home-');
  const first = await runCodex({ home, workspace, prompt: PROMPT, credentials: { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: server.baseUrl } });
  assert.equal(first.code, 0, first.stderr);
  const threadId = first.parser.sessionId()!;

  const otherHome = tempDir(t, 'lazyaf-codex-home-');
  for (const rel of codexAdapter.sessionFiles({ home, workspace, sessionId: threadId })) {
    fs.cpSync(path.join(home, rel), path.join(otherHome, rel), { recursive: true });
  }
  const second = await openAI(t, { script: [{ items: [{ type: 'message', text: 'Still hello from codex.' }] }] });
  const followUp = await runCodex({
    home: otherHome,
    workspace,
    prompt: 'Say it again.',
    resumeSessionId: threadId,
    credentials: { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: second.baseUrl },
  });
  assert.equal(followUp.code, 0, followUp.stderr);
  assert.deepEqual(followUp.launch.argv.slice(-3), ['resume', threadId, '-']);
  assert.equal(followUp.parser.sessionId(), threadId);
  const texts = inputTexts(second.requests[0]);
  assert.ok(texts.includes(PROMPT), 'the follow-up carries the first conversation');
  assert.ok(texts.includes('I changed hello.txt as the README asks.'));
  assert.equal(texts.at(-1), 'Say it again.');
});

test('an API codex cannot reach, or one that refuses the key, fails the run within seconds with its reason in one line', async (t) => {
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const refusing = await openAI(t, { fail: 401 });
  for (const [what, baseUrl, reason] of [
    ['closed port', `http://127.0.0.1:${port}/v1`, /Connection failed/],
    ['401', refusing.baseUrl, /401 Unauthorized: Incorrect API key provided/],
  ] as const) {
    const run = await runCodex({
      home: tempDir(t, 'lazyaf-codex-home-'),
      workspace: await checkout(t),
      prompt: PROMPT,
      credentials: { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: baseUrl },
      timeoutMs: 30_000,
    });
    assert.ok(run.ms < 15_000, `${what}: took ${run.ms} ms`);
    assert.notEqual(run.code, 0, `${what}: codex exits non-zero`);
    assert.equal(run.stoppedOnFailure, false, `${what}: codex ended by itself`);
    const failure = run.parser.failure();
    assert.match(failure ?? '', reason, what);
    assert.ok(!failure!.includes('\n'));
    assert.ok(run.entries.some((e) => e.type === 'error'));
  }
});

test('the launch: codex sandbox off, prompt on stdin, a base URL that cannot break out of its TOML string, no thread id that is not one', () => {
  const ctx = { prompt: 'p', promptFile: '/tmp/p', home: '/h', workspace: '/w', model: null, resumeSessionId: null, credentials: {} };
  const plain = codexAdapter.launch(ctx);
  assert.deepEqual(plain.argv.slice(0, 7), ['codex', 'exec', '--json', '--dangerously-bypass-approvals-and-sandbox', '--skip-git-repo-check', '-C', '/w']);
  assert.equal(plain.argv.at(-1), '-');
  assert.equal(plain.stdin, 'p');
  assert.ok(!plain.argv.some((a) => a.includes('model_provider')), 'no base URL: codex keeps its own provider');
  assert.deepEqual(plain.env, {});

  const hostile = codexAdapter.launch({ ...ctx, credentials: { OPENAI_BASE_URL: 'http://x/"}\nmodel_provider="evil', HTTPS_PROXY: 'http://proxy:3128' } });
  const table = hostile.argv.find((a) => a.startsWith('model_providers.lazyaf='))!;
  assert.ok(table.includes(String.raw`base_url="http://x/\"}\nmodel_provider=\"evil"`), table);
  assert.deepEqual(hostile.env, { HTTPS_PROXY: 'http://proxy:3128' });

  assert.throws(() => codexAdapter.launch({ ...ctx, resumeSessionId: '--help' }), /not a codex thread id/);
  assert.deepEqual(codexAdapter.launch({ ...ctx, model: 'gpt-5.5' }).argv.slice(-3), ['--model', 'gpt-5.5', '-']);
});

test('the parser never throws and never drops a line, whatever codex prints', () => {
  const parser = codexAdapter.parser({ workspace: '/w', startedAt: Date.now() });
  const huge = 'x'.repeat(5 * 1024 * 1024);
  const lines = [
    'not json at all',
    '{"type": "item.completed", "item": ',
    '[1,2,3]',
    'null',
    '"a string"',
    `{"type":"item.completed","item":{"id":"1","type":"agent_message","text":"${'y'.repeat(100_000)}"}}`,
    huge,
    `{"type":"item.completed","item":{"id":"2","type":"agent_message","text":"${huge}"}}`,
    '{"type":"thread.started","thread_id":"--help"}',
    '{"type":"thread.started","thread_id":42}',
    '{"type":"item.completed","item":{"id":"3","type":"command_execution","command":["rm"],"exit_code":"0","aggregated_output":{}}}',
    '{"type":"item.completed","item":{"id":"4","type":"file_change","changes":"everything"}}',
    '{"type":"item.completed","item":{"id":"5","type":"file_change","changes":[{"path":"/w/a.txt","kind":"add"},{"path":"/etc/passwd","kind":"update"},null,{"path":7}]}}',
    '{"type":"item.completed","item":{"id":"6","type":"mcp_tool_call","server":"s","tool":"t","arguments":{"a":1},"error":{"message":"boom"}}}',
    '{"type":"item.completed","item":{"id":"7","type":"web_search","query":"lazyaf"}}',
    '{"type":"item.completed","item":{"id":"8","type":"todo_list","items":[{"text":"one","completed":true},{"text":"two"},"three"]}}',
    '{"type":"item.completed","item":{"id":"9","type":"brand_new_item","x":1}}',
    '{"type":"item.completed","item":null}',
    '{"type":"item.started","item":{"id":"10","type":"command_execution","command":"sleep 100","status":"in_progress"}}',
    '{"type":"something.new","payload":{"deep":[1,{"x":2}]}}',
    '{"type":"turn.completed","usage":{"input_tokens":-5,"cached_input_tokens":1e400,"output_tokens":"many"}}',
    '{"type":"error","message":"Reconnecting... 1/5 (oops)"}',
  ];
  const entries: TranscriptEntry[] = [];
  for (const line of lines) entries.push(...parser.line(line));
  entries.push(...parser.end());

  const textOf = (e: TranscriptEntry): string => e.text ?? e.input ?? e.output ?? '';
  for (const e of entries) {
    for (const field of [e.text, e.input, e.output, e.command, e.diff]) assert.ok((field ?? '').length <= MAX_ENTRY_TEXT + 100, `an entry field over the cap`);
  }
  // Every line that is not a known, complete event is kept as an `other` row.
  const others = entries.filter((e) => e.kind === 'other');
  for (const kept of ['not json at all', '{"type": "item.completed", "item":', '[1,2,3]', 'null', '"a string"', 'brand_new_item', 'something.new']) {
    assert.ok(
      others.some((e) => e.tool === kept || textOf(e).includes(kept)),
      `kept: ${kept}`,
    );
  }
  assert.ok(others.some((e) => textOf(e).startsWith('xxxx') && textOf(e).includes('more characters not kept')));
  assert.equal(entries.filter((e) => e.type === 'message').length, 1, 'a line too long to parse is kept as text');
  assert.equal(parser.sessionId(), undefined, 'a thread id that could be an option is never taken');
  const command = entries.find((e) => e.kind === 'command' && e.status !== 'unknown')!;
  assert.deepEqual([command.command, command.exit_code], ['', null]);
  assert.deepEqual(
    entries.filter((e) => e.kind === 'file_edit').map((e) => e.path ?? null),
    [null, 'a.txt', '/etc/passwd', null],
  );
  assert.deepEqual(
    entries.filter((e) => e.kind === 'web' || e.kind === 'todo').map((e) => e.output ?? e.input),
    ['lazyaf', '[x] one\n[ ] two'],
  );
  assert.equal(entries.find((e) => e.tool === 's.t')?.status, 'error');
  const open = entries.find((e) => e.kind === 'command' && e.status === 'unknown');
  assert.equal(open?.command, 'sleep 100', 'a call still open at the end is kept, unknown');
  assert.deepEqual(parser.usage(), { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, turns: 1, duration_ms: parser.usage()!.duration_ms });
  assert.equal(parser.failure(), undefined, 'a retry is not a failure');

  const waiting = codexAdapter.parser({ workspace: '/w', startedAt: Date.now() });
  waiting.line('{"type":"error","message":"Reconnecting... waiting for network (Connection failed: error sending request)"}');
  assert.match(waiting.failure() ?? '', /^cannot reach the model API: .*Connection failed/);
  const cut = codexAdapter.parser({ workspace: '/w', startedAt: Date.now() });
  cut.line('{"type":"turn.started"}');
  cut.end();
  assert.equal(cut.failure(), 'codex stopped before its turn completed');
});
