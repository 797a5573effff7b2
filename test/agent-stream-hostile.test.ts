// Every adapter's stream parser fed what a hostile agent run could print, in any agent's dialect:
// huge and deep lines, prototype keys, numbers out of range, ids that are paths, calls never
// answered. A parser never throws, keeps a bounded number of calls open, and gives entries, usage
// and a session id the server takes (a refused batch loses up to 200 entries; a refused
// completion loses the job's result).
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';
import type { AgentAdapter, StreamParser } from '../src/shared/agents/adapter.js';
import { AGENT_ADAPTERS } from '../src/shared/agents/index.js';
import { CompleteRequest } from '../src/shared/protocol.js';
import { TranscriptEntry, Usage } from '../src/shared/transcript.js';

const WS = '/work/checkout';
const j = (v: unknown) => JSON.stringify(v);
const SESSION_ID = CompleteRequest.properties.session_id;
/** Calls a parser may keep open at once: more is a leak, a stream that never answers grows it for ever. */
const MAX_OPEN = 1000;
// Compiled: a million entries are checked.
const ENTRY = Compile(TranscriptEntry);
let checked = 0;

function check(adapter: AgentAdapter, p: StreamParser, entries: TranscriptEntry[], what: string): void {
  for (const e of entries) {
    assert.ok(ENTRY.Check(e), `${adapter.name}, ${what}: not a valid entry: ${j(e)?.slice(0, 300)}`);
    // What the server sees is the JSON (one entry in 100 of a flood: the round trip is the slow part).
    if (checked++ % 100 === 0) assert.ok(ENTRY.Check(JSON.parse(j(e))), `${adapter.name}, ${what}: not valid as JSON: ${j(e)?.slice(0, 300)}`);
  }
  const usage = p.usage();
  if (usage !== undefined) {
    assert.ok(Value.Check(Usage, usage), `${adapter.name}, ${what}: usage not valid: ${j(usage)}`);
    for (const [k, v] of Object.entries(usage))
      if (typeof v === 'number') assert.ok(v <= Number.MAX_SAFE_INTEGER, `${adapter.name}, ${what}: usage ${k} ${v} past 2^53 (the server sums them)`);
  }
  const session = p.sessionId();
  if (session !== undefined) {
    assert.ok(Value.Check(SESSION_ID, session), `${adapter.name}, ${what}: session id the completion would be refused for: ${session.slice(0, 80)}`);
    // A follow-up puts it on the agent's command line: one that starts with a dash is an option there.
    assert.match(session, /^[A-Za-z0-9]/, `${adapter.name}, ${what}: a session id a follow-up would pass as an option`);
  }
  const failure = p.failure();
  if (failure !== undefined) assert.ok(typeof failure === 'string' && failure.length <= 4000, `${adapter.name}, ${what}: failure too long`);
}

/** Feeds `lines` to a fresh parser of `adapter`, checking every entry as it comes (nothing is kept). */
function feed(adapter: AgentAdapter, lines: Iterable<string>, what: string): { count: number; atEnd: number; p: StreamParser } {
  const p = adapter.parser({ workspace: WS, startedAt: Date.now() - 1000 });
  let count = 0;
  for (const line of lines) {
    let out: TranscriptEntry[];
    try {
      out = p.line(line);
    } catch (err) {
      assert.fail(`${adapter.name}, ${what}: line() threw ${(err as Error).stack}`);
    }
    count += out.length;
    check(adapter, p, out, what);
  }
  let last: TranscriptEntry[];
  try {
    last = p.end();
  } catch (err) {
    assert.fail(`${adapter.name}, ${what}: end() threw ${(err as Error).stack}`);
  }
  check(adapter, p, last, what);
  return { count: count + last.length, atEnd: last.length, p };
}

function* repeat(n: number, make: (i: number) => string): Generator<string> {
  for (let i = 0; i < n; i++) yield make(i);
}

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
const HUGE_NUMBERS: unknown[] = [-5, 1.5, 1e308, -1e308, 5e18, 2 ** 53 + 2, '12', 'NaN', null, true, { n: 1 }, [1]];

/** Session ids the server would refuse, in each dialect's init event. */
const BAD_SESSIONS = ['../../etc/passwd', 'a/b', 'x'.repeat(10_000), 'a b', 'a\nb', '\u00e9t\u00e9', '', '--help', 'a'.repeat(201)];
function sessionLines(id: unknown): string[] {
  return [
    j({ type: 'system', subtype: 'init', session_id: id, model: 'm' }),
    j({ type: 'thread.started', thread_id: id }),
    j({ type: 'init', session_id: id, model: 'm', timestamp: '2026-01-01T00:00:00.000Z' }),
  ];
}

/** Usage events of every dialect with `v` in every count. */
function usageLines(v: unknown): string[] {
  return [
    j({
      type: 'result',
      subtype: 'success',
      result: 'done',
      num_turns: v,
      duration_ms: v,
      total_cost_usd: v,
      usage: { input_tokens: v, output_tokens: v, cache_read_input_tokens: v, cache_creation_input_tokens: v },
      modelUsage: { [String(v)]: {} },
    }),
    j({ type: 'turn.completed', usage: { input_tokens: v, cached_input_tokens: v, output_tokens: v, cache_write_input_tokens: v } }),
    j({
      type: 'result',
      status: 'success',
      stats: { input_tokens: v, output_tokens: v, total_tokens: v, cached: v, input: v, duration_ms: v, models: { m: { total_tokens: v } } },
    }),
  ];
}

/** Tool calls and items of every dialect with name/kind `name` and id `id`, and their answers. */
function callLines(name: string, id: string, input: unknown = {}): string[] {
  return [
    j({ type: 'assistant', message: { content: [{ type: 'tool_use', id, name, input }] } }),
    j({ type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: id, content: 'ok' }] }, tool_use_result: input }),
    j({ type: 'item.started', item: { id, type: name, command: 'x' } }),
    j({ type: 'item.completed', item: { id, type: name, command: 'x', exit_code: 1e308, changes: [{ path: '/x', kind: name }] } }),
    j({ type: 'tool_use', tool_name: name, tool_id: id, parameters: input, timestamp: '2026-01-01T00:00:00.000Z' }),
    j({ type: 'tool_result', tool_id: id, status: 'success', output: 'ok' }),
  ];
}

const HOSTILE_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'x'.repeat(10_000), '', '\ud800'];

/** Small hostile lines, each checked alone and all in one stream. */
function smallCases(): [string, string[]][] {
  const cases: [string, string[]][] = [];
  for (const id of BAD_SESSIONS) cases.push([`session id ${j(id.slice(0, 20))} (${id.length} chars)`, sessionLines(id)]);
  for (const v of [...HUGE_NUMBERS, 12]) cases.push([`usage ${j(v)}`, usageLines(v)]);
  cases.push(['usage twice with 2^53 - 1', [...usageLines(Number.MAX_SAFE_INTEGER), ...usageLines(Number.MAX_SAFE_INTEGER)]]);
  for (const name of HOSTILE_NAMES) cases.push([`tool and item named ${j(name.slice(0, 20))}`, callLines(name, 'c1', { file_path: name, command: name })]);
  for (const id of ['__proto__', 'constructor', '']) cases.push([`call id ${j(id)}`, callLines('Bash', id)]);
  cases.push([
    'answers to calls never made',
    [
      j({ type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 'nobody', content: 'x', is_error: true }] } }),
      j({ type: 'item.completed', item: { id: 'nobody', type: 'command_execution' } }),
      j({ type: 'tool_result', tool_id: 'nobody', status: 'error', error: { message: 'x' } }),
    ],
  ]);
  cases.push([
    'prototype keys',
    [
      '{"__proto__":{"type":"result"},"type":"x"}',
      '{"type":"result","usage":{"__proto__":{"input_tokens":5}},"__proto__":{"is_error":true}}',
      '{"constructor":{"prototype":{"type":"result"}},"type":"assistant","message":{"constructor":1,"content":{"__proto__":[]}}}',
      '{"type":"init","session_id":{"__proto__":"x"},"timestamp":{"toString":1}}',
      '{"type":"item.started","item":{"id":"__proto__","type":"__proto__"}}',
    ],
  ]);
  cases.push([
    'numbers as strings and wrong types everywhere',
    [
      j({ type: 'tool_use', tool_name: 7, tool_id: 7, parameters: 'x', timestamp: 7 }),
      j({ type: 'tool_result', tool_id: 7, status: 7, output: 7, error: 7 }),
      j({ type: 'message', role: 'assistant', content: 7, delta: 'true' }),
      j({ type: 'assistant', message: { content: 'text', model: 7 } }),
      j({ type: 'item.completed', item: { id: 1, type: 'command_execution', exit_code: '1', aggregated_output: 1 } }),
      j({ type: 'item.completed', item: { id: 'f', type: 'file_change', changes: [{ path: 1, kind: 2, diff: 3 }] } }),
      j({ type: 'error', message: 7, severity: 7 }),
      j({ type: 7 }),
    ],
  ]);
  cases.push([
    'timestamps and text out of bounds',
    [
      j({ type: 'message', role: 'user', content: 'x', timestamp: 'y'.repeat(10_000) }),
      j({ type: 'error', severity: 'error', message: 'm', timestamp: '2026-01-01T00:00:00.000Z'.repeat(3) }),
      j({ type: 'tool_use', tool_name: 'run_shell_command', tool_id: 's', parameters: { command: 'x' }, timestamp: 'z'.repeat(41) }),
      j({ type: 'tool_result', tool_id: 's', status: 'error', output: `Command exited with code: ${'9'.repeat(400)}` }),
      j({ type: 'tool_use', tool_name: 'run_shell_command', tool_id: 't', parameters: { command: 'x' } }),
      j({ type: 'tool_result', tool_id: 't', status: 'error', output: 'Command exited with code: 99999999999999999999' }),
      j({ type: 'assistant', message: { content: [{ type: 'tool_use', id: 'b', name: 'Bash', input: { command: 'x' } }] } }),
      j({ type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 'b', content: 'Exit code 999999999999\nboom', is_error: true }] } }),
    ],
  ]);
  cases.push([
    'lone surrogates, NUL and invalid UTF-8 as decoded',
    [
      '{"type":"assistant","message":{"content":[{"type":"text","text":"\\ud800 \\udfff \\u0000"}]}}',
      '{"type":"message","role":"assistant","content":"\\ud800"}',
      j({ type: 'item.completed', item: { id: 'a', type: 'agent_message', text: '\ud800\u0000' } }),
      Buffer.from([0x7b, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]).toString('utf8'),
      Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x82]).toString('utf8'),
      '\ud800{"type":"result"}',
    ],
  ]);
  cases.push(['not JSON objects', ['null', '[]', '"x"', '1e999', '{', '}', '{"type":', 'true', '\u0000', ' ', '\r']]);
  return cases;
}

const adapters = [...AGENT_ADAPTERS.values()];

test('the registry holds the three agents this test attacks', () => {
  assert.deepEqual(adapters.map((a) => a.name).sort(), ['claude', 'codex', 'gemini']);
});

test('a session id shaped like an option or a path reaches an agent’s command line only as a flag’s value, its session files never as a folder above it', () => {
  for (const adapter of adapters) {
    for (const id of ['--version', '-c', '--continue']) {
      let argv: string[];
      try {
        argv = adapter.launch({ prompt: 'p', promptFile: '/p', home: '/h', workspace: WS, model: null, resumeSessionId: id, credentials: {} }).argv;
      } catch {
        continue; // refused: as good
      }
      assert.ok(!argv.includes(id), `${adapter.name} puts ${id} on its command line alone: ${JSON.stringify(argv)}`);
    }
    for (const id of ['..', '.', '-x', '../x']) {
      const files = adapter.sessionFiles({ home: '/h', workspace: WS, sessionId: id });
      for (const f of files)
        assert.ok(!path.relative('.', f).split(path.sep).includes('..') && !f.endsWith(`${path.sep}.`), `${adapter.name} saves ${f} for session ${id}`);
      if (adapter.name === 'claude')
        assert.deepEqual(files, [], `claude saves ${JSON.stringify(files)} for session ${id}: a folder that is not one conversation`);
    }
  }
});

for (const adapter of adapters) {
  test(`${adapter.name}: small hostile lines of every dialect, alone and together`, () => {
    const cases = smallCases();
    for (const [what, lines] of cases) feed(adapter, lines, what);
    feed(
      adapter,
      cases.flatMap(([, lines]) => lines),
      'all together',
    );
  });

  test(`${adapter.name}: a 10 MB line, a line 100,000 deep, 100,000 tool calls never answered`, () => {
    const tenMb = 'x'.repeat(10 * 1024 * 1024);
    feed(
      adapter,
      [tenMb, j({ type: 'message', role: 'assistant', content: tenMb }), j({ type: 'assistant', message: { content: [{ type: 'text', text: tenMb }] } })],
      '10 MB lines',
    );
    const nested = deep(100_000);
    feed(
      adapter,
      [
        nested,
        `{"type":"assistant","message":{"content":[{"type":"tool_use","id":"d","name":"Bash","input":{"command":${nested}}}]}}`,
        `{"type":"tool_use","tool_name":"x","tool_id":"d","parameters":{"a":${nested}}}`,
        `{"type":"item.completed","item":{"id":"d","type":"mcp_tool_call","arguments":${nested},"result":${nested}}}`,
        `{"type":"result","usage":${nested},"stats":{"models":${nested}}}`,
        '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000),
      ],
      'deep nesting',
    );
    const calls = 100_000;
    const unanswered = [
      (i: number) => j({ type: 'assistant', message: { content: [{ type: 'tool_use', id: `t${i}`, name: 'Bash', input: { command: 'x' } }] } }),
      (i: number) => j({ type: 'item.started', item: { id: `t${i}`, type: 'command_execution', command: 'x' } }),
      (i: number) => j({ type: 'tool_use', tool_name: 'run_shell_command', tool_id: `t${i}`, parameters: { command: 'x' } }),
    ];
    for (const make of unanswered) {
      const { atEnd } = feed(adapter, repeat(calls, make), 'calls never answered');
      assert.ok(atEnd <= MAX_OPEN, `${adapter.name} kept ${atEnd} calls open until the end (no cap: a stream that never answers grows it for ever)`);
    }
  });

  test(`${adapter.name}: 1,000,000 tiny lines and 100,000 message deltas past the cap`, () => {
    const started = performance.now();
    feed(
      adapter,
      repeat(1_000_000, (i) => (i % 2 ? '{}' : 'x')),
      'a million tiny lines',
    );
    feed(
      adapter,
      repeat(100_000, () => j({ type: 'message', role: 'assistant', content: 'abcdefgh', delta: true })),
      'deltas',
    );
    assert.ok(performance.now() - started < 60_000);
  });
}
