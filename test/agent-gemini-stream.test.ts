// The gemini adapter's stream-json parser on lines the CLI writes (as recorded from 0.61) and on
// hostile ones: it never throws, and what it does not know it keeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gemini } from '../src/shared/agents/gemini.js';
import { MAX_ENTRY_TEXT, TranscriptEntry as EntrySchema, type TranscriptEntry } from '../src/shared/transcript.js';
import { Value } from 'typebox/value';

const WS = '/work/checkout';
const parser = () => gemini.parser({ workspace: WS, startedAt: Date.now() - 1000 });
const at = '2026-01-01T00:00:00.000Z';
const line = (o: Record<string, unknown>) => JSON.stringify({ timestamp: at, ...o });

function feed(lines: string[]): { entries: TranscriptEntry[]; p: ReturnType<typeof parser> } {
  const p = parser();
  const entries = lines.flatMap((l) => p.line(l));
  entries.push(...p.end());
  for (const e of entries) assert.ok(Value.Check(EntrySchema, e), `entry fits the schema: ${JSON.stringify(e).slice(0, 300)}`);
  return { entries, p };
}

test('a recorded run: deltas make one message, tools their kinds, the result its usage', () => {
  const { entries, p } = feed([
    line({ type: 'init', session_id: '50a86de1-9e05-4e2b-b4ad-81fc2f92b38e', model: 'auto' }),
    line({ type: 'message', role: 'user', content: 'Do it.' }),
    line({ type: 'message', role: 'assistant', content: 'Reading th', delta: true }),
    line({ type: 'message', role: 'assistant', content: 'e notes.', delta: true }),
    line({ type: 'tool_use', tool_name: 'read_file', tool_id: 'r1', parameters: { file_path: `${WS}/notes.txt` } }),
    line({ type: 'tool_use', tool_name: 'write_file', tool_id: 'w1', parameters: { file_path: 'new.txt', content: 'a\nb\n' } }),
    line({ type: 'tool_result', tool_id: 'r1', status: 'success', output: '' }),
    line({ type: 'tool_result', tool_id: 'w1', status: 'success' }),
    line({ type: 'tool_use', tool_name: 'run_shell_command', tool_id: 's1', parameters: { command: 'make' } }),
    line({ type: 'tool_result', tool_id: 's1', status: 'success', output: 'Command exited with code: 2' }),
    line({ type: 'tool_use', tool_name: 'run_shell_command', tool_id: 's2', parameters: { command: 'true' } }),
    line({ type: 'tool_result', tool_id: 's2', status: 'success', output: '' }),
    line({ type: 'tool_use', tool_name: 'run_shell_command', tool_id: 's3', parameters: { command: 'ls' } }),
    line({ type: 'tool_result', tool_id: 's3', status: 'success', output: 'a\nb' }),
    line({ type: 'tool_use', tool_name: 'grep_search', tool_id: 'g1', parameters: { pattern: 'x', dir_path: '/etc' } }),
    line({ type: 'tool_result', tool_id: 'g1', status: 'error', error: { type: 'x', message: 'no access' } }),
    line({ type: 'tool_use', tool_name: 'google_web_search', tool_id: 'web', parameters: { query: 'q' } }),
    line({ type: 'tool_use', tool_name: 'write_todos', tool_id: 'todo', parameters: { todos: [] } }),
    line({ type: 'tool_use', tool_name: 'update_topic', tool_id: 'other', parameters: {} }),
    line({ type: 'error', severity: 'warning', message: 'Loop detected, stopping execution' }),
    line({ type: 'message', role: 'assistant', content: 'Done.', delta: true }),
    line({
      type: 'result',
      status: 'success',
      stats: {
        total_tokens: 600,
        input_tokens: 400,
        output_tokens: 80,
        cached: 100,
        input: 300,
        duration_ms: 438,
        tool_calls: 3,
        models: { 'gemini-3.5-flash-lite': { total_tokens: 2 }, 'gemini-2.5-pro': { total_tokens: 598 } },
      },
    }),
  ]);
  const brief = entries.map((e) => [e.type, e.role ?? e.kind, e.path ?? e.text ?? e.command, e.status, e.exit_code]);
  assert.deepEqual(brief, [
    ['message', 'user', 'Do it.', undefined, undefined],
    ['message', 'assistant', 'Reading the notes.', undefined, undefined],
    ['tool', 'read', 'notes.txt', 'ok', undefined],
    ['tool', 'file_edit', 'new.txt', 'ok', undefined],
    ['tool', 'command', 'make', 'ok', 2],
    ['tool', 'command', 'true', 'ok', 0],
    ['tool', 'command', 'ls', 'ok', null],
    ['tool', 'search', '/etc', 'error', undefined],
    ['error', undefined, 'warning: Loop detected, stopping execution', undefined, undefined],
    ['message', 'assistant', 'Done.', undefined, undefined],
    ['result', undefined, 'Done.', 'ok', undefined],
    ['tool', 'web', undefined, 'unknown', undefined],
    ['tool', 'todo', undefined, 'unknown', undefined],
    ['tool', 'other', undefined, 'unknown', undefined],
  ]);
  assert.equal(entries[3]?.diff, '--- a/new.txt\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+a\n+b');
  assert.equal(entries[7]?.output, 'no access');
  assert.equal(p.sessionId(), '50a86de1-9e05-4e2b-b4ad-81fc2f92b38e');
  assert.deepEqual(p.usage(), { input_tokens: 300, output_tokens: 200, cache_read_tokens: 100, model: 'gemini-2.5-pro', duration_ms: 438 });
  assert.equal(p.failure(), undefined, 'a warning is not a failure');
});

test("a failed result gives the API's refusal in one line", () => {
  const body = JSON.stringify({ error: { code: 401, message: 'API key not valid.\nPlease pass a valid API key.', status: 'UNAUTHENTICATED' } });
  const { entries, p } = feed([line({ type: 'result', status: 'error', error: { type: 'unknown', message: `[API Error: ${body}]` }, stats: {} })]);
  assert.equal(p.failure(), 'API error 401 UNAUTHENTICATED: API key not valid. Please pass a valid API key.');
  assert.equal(entries[0]?.status, 'error');
  const other = feed([line({ type: 'result', status: 'error', error: { message: '[API Error: exception TypeError: fetch failed sending request]' } })]);
  assert.equal(other.p.failure(), 'API error: exception TypeError: fetch failed sending request');
  assert.equal(feed([line({ type: 'result', status: 'cancelled' })]).p.failure(), 'gemini ended with status "cancelled"');
});

test('hostile lines never throw and are never dropped', () => {
  const huge = 'x'.repeat(2 * 1024 * 1024);
  const nested = '['.repeat(200_000) + ']'.repeat(200_000);
  const hostile = [
    'not json at all',
    huge,
    nested,
    '{"type":',
    '42',
    'null',
    '"a string"',
    '[1,2,3]',
    '{}',
    '{"type":"no-such-event","x":1}',
    '{"type":"message","role":"system","content":"?"}',
    '{"type":"message","role":"assistant","content":{"not":"text"}}',
    '{"type":"tool_use","tool_name":{"a":1},"tool_id":["x"],"parameters":"not an object"}',
    '{"type":"tool_result","tool_id":"never-used","status":"success","output":12}',
    '{"type":"tool_use","tool_name":"replace","tool_id":"__proto__","parameters":{"file_path":"../../etc/passwd","old_string":7}}',
    '{"type":"init","session_id":{"x":1},"model":[]}',
    '{"type":"result","status":"success","stats":{"input_tokens":-5,"output_tokens":1e400,"cached":"9","models":[1,2]}}',
    '{"type":"result","status":"success","stats":"garbage"}',
    '{"type":"error","severity":"error"}',
    '\u0000\u001b[31m\ud800',
  ];
  const p = parser();
  for (const l of hostile) {
    const out = p.line(l);
    for (const e of out) assert.ok(Value.Check(EntrySchema, e), `entry fits the schema for ${l.slice(0, 80)}: ${JSON.stringify(e).slice(0, 200)}`);
    // Only a tool call (kept at its result or the end) and a stream's own init and result come out later or not at all.
    const known = /"type":"(tool_use|init|result)"/.test(l);
    if (!known) assert.ok(out.length > 0, `kept: ${l.slice(0, 80)}`);
    for (const e of out) for (const v of Object.values(e)) if (typeof v === 'string') assert.ok(v.length <= MAX_ENTRY_TEXT + 100);
  }
  const end = p.end();
  assert.ok(end.some((e) => e.tool === 'replace' && e.status === 'unknown' && e.path === '../../etc/passwd'));
  assert.ok(
    end.some((e) => e.tool === 'unknown' && e.input === '"not an object"'),
    'parameters of any shape are kept',
  );
  assert.ok(p.usage(), 'usage from hostile stats is still numbers');
  assert.equal(p.usage()?.input_tokens, 0);
  assert.equal(p.sessionId(), undefined);
});

test('a flood of deltas is one capped message; calls never answered stay bounded', () => {
  const p = parser();
  const chunk = JSON.stringify({ type: 'message', role: 'assistant', content: 'y'.repeat(10_000), delta: true });
  for (let i = 0; i < 100; i++) assert.deepEqual(p.line(chunk), []);
  const [message] = p.line(JSON.stringify({ type: 'result', status: 'success' }));
  assert.equal(message?.type, 'message');
  assert.ok((message?.text?.length ?? 0) <= MAX_ENTRY_TEXT + 100);
  assert.match(message?.text ?? '', /\[… 983616 more characters not kept\]$/);

  const q = parser();
  let out = 0;
  for (let i = 0; i < 5000; i++) out += q.line(JSON.stringify({ type: 'tool_use', tool_name: 'glob', tool_id: `t${i}`, parameters: {} })).length;
  const rest = q.end().length;
  assert.equal(out + rest, 5000, 'every call comes out once, most of them before the end');
  assert.ok(rest <= 256);
});
