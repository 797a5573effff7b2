// The claude adapter without a runner: its command line and environment, and its stream parser on
// what Claude Code 2.1.332 really printed (test/fixtures/claude-stream-*.jsonl, recorded against
// test/agents/anthropic-server.ts, the cwd written as /work/demo) and on hostile lines.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { claude } from '../src/shared/agents/claude.js';
import { AGENT_ADAPTERS } from '../src/shared/agents/index.js';
import { LineSplitter } from '../src/shared/agents/stream-helpers.js';
import { MAX_ENTRY_TEXT, TranscriptEntry, type TranscriptEntry as Entry } from '../src/shared/transcript.js';
import { Value } from 'typebox/value';
import { ROOT } from './helpers.js';

const fixture = (name: string) => fs.readFileSync(path.join(ROOT, 'test', 'fixtures', name), 'utf8').split('\n');

function parse(lines: string[]) {
  const parser = claude.parser({ workspace: '/work/demo', startedAt: Date.now() });
  const entries: Entry[] = [];
  for (const line of lines) entries.push(...parser.line(line));
  entries.push(...parser.end());
  for (const e of entries) assert.ok(Value.Check(TranscriptEntry, e), `not a valid entry: ${JSON.stringify(e).slice(0, 300)}`);
  return { parser, entries };
}

test('claude is registered and launches headless in stream-json, prompt on stdin, with its credentials', () => {
  assert.equal(AGENT_ADAPTERS.get('claude'), claude);
  const prompt = 'x'.repeat(300_000);
  const launch = claude.launch({
    prompt,
    promptFile: '/jobs/a/prompt.md',
    home: '/jobs/a/home',
    workspace: '/work/demo',
    model: 'claude-sonnet-4-5',
    resumeSessionId: null,
    credentials: { ANTHROPIC_API_KEY: 'sk-1', ANTHROPIC_BASE_URL: 'http://gw:1', CLAUDE_CODE_MAX_RETRIES: '5' },
  });
  assert.deepEqual(launch.argv, [
    'claude',
    '-p',
    '--output-format',
    'stream-json',
    '--verbose',
    '--dangerously-skip-permissions',
    '--model',
    'claude-sonnet-4-5',
  ]);
  assert.equal(launch.stdin, prompt, 'a prompt larger than an argument may be goes on stdin');
  assert.ok(!launch.argv.some((a) => a.includes('xxxx')));
  assert.equal(launch.env.IS_SANDBOX, '1');
  assert.equal(launch.env.ANTHROPIC_API_KEY, 'sk-1');
  assert.equal(launch.env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, '1');
  assert.equal(launch.env.CLAUDE_CODE_MAX_RETRIES, '5', "the server's setting wins over the default");
  const resumed = claude.launch({ ...{ prompt: 'p', promptFile: 'f', home: 'h', workspace: 'w', credentials: {} }, model: null, resumeSessionId: 'abc-1' });
  assert.deepEqual(resumed.argv.slice(-1), ['--resume=abc-1']);
  assert.ok(!resumed.argv.includes('--model'));
  assert.ok(claude.credentials.includes('CLAUDE_CODE_OAUTH_TOKEN') && claude.credentials.includes('CLAUDE_CODE_USE_BEDROCK'));
});

test('the session file is where Claude Code keeps it', () => {
  assert.deepEqual(claude.sessionFiles({ home: '/h', workspace: '/tmp/rec/a.b_c-d', sessionId: 'abc' }), [
    '.claude/projects/-tmp-rec-a-b-c-d/abc.jsonl',
    '.claude/projects/-tmp-rec-a-b-c-d/abc',
  ]);
  assert.deepEqual(claude.sessionFiles({ home: '/h', workspace: '/w', sessionId: '../../etc' }), []);
});

test('a recorded run becomes its transcript: thinking, read, edits with diffs, commands with exit codes, the result and usage', () => {
  const { parser, entries } = parse(fixture('claude-stream-ok.jsonl'));
  const brief = entries.map((e) => [e.type, e.tool ?? e.role, e.kind, e.status].filter(Boolean).join(' '));
  assert.deepEqual(brief, [
    'thinking',
    'tool Read read ok',
    'tool Edit file_edit ok',
    'tool Write file_edit ok',
    'tool Bash command error',
    'tool Bash command ok',
    'message assistant',
    'result ok',
  ]);
  const [thinking, read, edit, write, failed, fine, message, result] = entries as Entry[];
  assert.equal(thinking!.text, 'Read first.');
  assert.equal(read!.path, 'README.md');
  assert.match(read!.output!, /# demo/);
  assert.equal(edit!.path, 'hello.txt');
  assert.equal(edit!.diff, '--- a/hello.txt\n+++ b/hello.txt\n@@ -1,1 +1,1 @@\n-hello world\n+bye world\n');
  assert.equal(write!.path, 'new.txt');
  assert.equal(write!.diff, '--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+one\n+two\n');
  assert.equal(failed!.command, 'echo oops >&2; exit 3');
  assert.equal(failed!.exit_code, 3);
  assert.match(failed!.output!, /oops/);
  assert.equal(fine!.exit_code, 0);
  assert.equal(fine!.output, 'fine');
  assert.equal(message!.text, 'All done.');
  assert.equal(result!.text, 'All done.');
  assert.deepEqual(parser.usage(), {
    model: 'claude-opus-5-5',
    input_tokens: 600,
    output_tokens: 120,
    cache_read_tokens: 300,
    cache_write_tokens: 60,
    turns: 6,
    duration_ms: parser.usage()!.duration_ms,
    cost_usd: 0.00516,
  });
  assert.equal(parser.sessionId(), '7de4617c-9b7e-487d-93d1-2ba75119b535');
  assert.equal(parser.failure(), undefined);
});

test("an unreachable API: the retries are errors and claude's own reason is the failure", () => {
  const { parser, entries } = parse(fixture('claude-stream-unreachable.jsonl'));
  assert.ok(entries.some((e) => e.type === 'error' && /retry 1 of 1/.test(e.text ?? '')));
  assert.equal(entries.at(-1)!.type, 'result');
  assert.equal(entries.at(-1)!.status, 'error');
  assert.match(parser.failure()!, /^API Error: Connection refused/);
  assert.ok(!parser.failure()!.includes('\n'));
});

test('hostile lines: never a throw, never dropped, always capped', () => {
  const huge = 'y'.repeat(5 * MAX_ENTRY_TEXT);
  const lines = [
    'not json at all',
    '',
    '[1,2,3]',
    'null',
    '{"type":42}',
    '{"type":"assistant","message":"nope"}',
    '{"type":"assistant","message":{"content":[{"type":"tool_use","id":7,"name":{},"input":[]}]}}',
    '{"type":"assistant","message":{"content":[null,5,{"type":"text","text":' + JSON.stringify(huge) + '}]}}',
    '{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"never-seen","content":{"a":1}}]}}',
    '{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"Edit","input":{"file_path":"/etc/passwd","old_string":5}}]}}',
    '{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"ok"}]}]},"tool_use_result":{"structuredPatch":[{"lines":[1,"+x"],"oldStart":"a"}]}}',
    '{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t2","name":"Bash","input":{"command":"sleep 1"}}]}}',
    '{"type":"result","usage":{"input_tokens":-5,"output_tokens":1e400},"total_cost_usd":"free","num_turns":{},"is_error":true}',
    '{"type":"system","subtype":"init","session_id":"../../../etc/passwd"}',
    '{"type":"brand_new_event","x":1}',
    '{"__proto__":{"polluted":1},"type":"system","subtype":"init"}',
  ];
  const { parser, entries } = parse(lines);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  for (const e of entries) for (const v of Object.values(e)) if (typeof v === 'string') assert.ok(v.length <= MAX_ENTRY_TEXT + 100);
  assert.ok(
    entries.some((e) => e.kind === 'other' && e.output === 'not json at all'),
    'a line that is not JSON is kept',
  );
  assert.ok(
    entries.some((e) => e.tool === 'brand_new_event'),
    'an unknown event is kept as other',
  );
  const edit = entries.find((e) => e.tool === 'Edit')!;
  assert.equal(edit.path, '/etc/passwd', 'a path outside the workspace stays absolute');
  assert.equal(edit.diff, '--- a//etc/passwd\n+++ b//etc/passwd\n@@ -0,0 +0,0 @@\n+x\n');
  const open = entries.find((e) => e.tool === 'Bash')!;
  assert.equal(open.status, 'unknown', 'a call without a result when the stream ends');
  assert.equal(open.exit_code, null);
  assert.deepEqual(parser.usage(), { input_tokens: 0, output_tokens: 0 });
  assert.equal(parser.sessionId(), undefined, 'a session id that is not one is not kept');
  assert.ok(parser.failure(), 'an error result is a failure');
});

test('lines are split at newlines, a huge line cut with a marker', () => {
  const lines: string[] = [];
  const split = new LineSplitter((l) => lines.push(l), 10);
  split.write('ab\r\ncd');
  split.write('ef\n0123456789abcdef\nlast');
  split.end();
  assert.deepEqual(lines, ['ab', 'cdef', '0123456789[… 6 more characters of this line not kept]', 'last']);
});
