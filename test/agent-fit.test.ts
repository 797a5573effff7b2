// The runner's boundary between an agent's parser and the server: whatever a parser gives (its
// own slip, or text redaction made longer) leaves the runner in a shape the server takes. A
// refused batch loses up to 200 entries; a refused completion loses the job's result.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Value } from 'typebox/value';
import type { AgentAdapter, StreamParser } from '../src/shared/agents/adapter.js';
import { claude } from '../src/shared/agents/claude.js';
import { CompleteRequest, TranscriptBatch, type Assignment } from '../src/shared/protocol.js';
import { Redactor } from '../src/shared/redact.js';
import { MAX_ENTRY_TEXT, type TranscriptEntry, type Usage } from '../src/shared/transcript.js';
import { AgentOutput } from '../src/runner/agent-run.js';
import type { RunnerClient } from '../src/runner/client.js';

const SECRET = 'sk-12345';

/** An adapter whose parser gives what it is told: the slips a parser could make. */
function adapterGiving(entries: TranscriptEntry[], usage: unknown, sessionId: string | undefined): AgentAdapter {
  const parser: StreamParser = {
    line: () => entries,
    end: () => [],
    usage: () => usage as Usage,
    sessionId: () => sessionId,
    failure: () => `boom ${SECRET} `.repeat(1000),
  };
  return { ...claude, parser: () => parser };
}

function output(adapter: AgentAdapter): { out: AgentOutput; batches: TranscriptBatch[]; said: string[] } {
  const batches: TranscriptBatch[] = [];
  const said: string[] = [];
  const client = {
    transcript: async (_id: string, _token: string, batch: TranscriptBatch) => {
      batches.push(batch);
      return { accepted: true, truncated: false };
    },
  } as unknown as RunnerClient;
  const redactor = new Redactor([SECRET]);
  const a = { attempt_id: 'att-1', job_token: 'lzjob_x', prompt: 'do it' } as Assignment;
  const out = new AgentOutput(adapter, a, '/work/checkout', {
    client,
    say: (l) => said.push(l),
    onLeaseLost: () => undefined,
    redact: (v) => redactor.redactEntry(v),
    prompt: a.prompt,
  });
  return { out, batches, said };
}

test('entries a parser got wrong, or that redaction made too long, go out fitting the schema', async () => {
  const slips = [
    { type: 'message', role: 'assistant', text: SECRET.repeat(MAX_ENTRY_TEXT / SECRET.length) },
    { type: 'tool', tool: SECRET.repeat(25), kind: 'command', command: SECRET.repeat(2048), path: SECRET.repeat(512), status: 'ok', exit_code: 0 },
    { type: 'tool', tool: '__proto__', kind: {}, status: 'running', at: 'y'.repeat(100), exit_code: Infinity },
    { type: 'tool', kind: 'other', exit_code: 1.5, extra: 'field', role: 'system' },
    { type: 'nonsense', text: 7 },
  ] as unknown as TranscriptEntry[];
  const { out, batches } = output(adapterGiving(slips, undefined, undefined));
  out.write('one line\n');
  out.end();
  await out.transcript.finish();
  const sent = batches.flatMap((b) => b.entries);
  assert.equal(sent.length, 1 + slips.length, 'the prompt and every entry, none dropped');
  for (const b of batches)
    assert.ok(Value.Check(TranscriptBatch, JSON.parse(JSON.stringify(b))), `a batch the server refuses: ${JSON.stringify(b).slice(0, 400)}`);
  assert.ok(!JSON.stringify(sent).includes(SECRET), 'redacted before it was cut');
  assert.equal(sent[3]?.kind, undefined, 'a kind that is none is left out');
  assert.equal(sent[3]?.exit_code, null);
  assert.equal(sent[4]?.exit_code, null);
  assert.equal(sent[5]?.type, 'error', 'an unknown type is kept as an error entry');
});

test('the completion carries usage and a session id the server takes, whatever the parser gave', () => {
  const cases: [unknown, string | undefined, string | null][] = [
    [{ input_tokens: -5, output_tokens: 1.5, turns: 1e308, duration_ms: Number.NaN, cost_usd: -1, model: `${SECRET}-`.repeat(30) }, '../../x', null],
    [{ input_tokens: '12', output_tokens: null, cache_read_tokens: Infinity, cost_usd: Infinity, extra: 1 }, 'a'.repeat(201), null],
    [{ input_tokens: 5e18, output_tokens: 7, model: '' }, `sess-${SECRET}`, null],
    ['not usage', 'sess-1', 'sess-1'],
    [undefined, undefined, null],
  ];
  for (const [usage, id, kept] of cases) {
    const { out, said } = output(adapterGiving([], usage, id));
    const report = out.report({ outcome: 'failed', exit_code: 1 });
    assert.ok(Value.Check(CompleteRequest, report), `a completion the server refuses: ${JSON.stringify(report).slice(0, 400)}`);
    assert.equal(report.session_id, kept);
    assert.equal(said.length, id !== undefined && kept === null ? 1 : 0, 'a session id not kept is said');
    if (report.usage) {
      assert.ok(!JSON.stringify(report.usage).includes(SECRET));
      for (const v of Object.values(report.usage)) if (typeof v === 'number') assert.ok(Number.isSafeInteger(v) || v < 1);
    }
  }
  const { out } = output(adapterGiving([], { input_tokens: 10, output_tokens: 2, turns: 3, model: 'm' }, 'abc-1'));
  assert.deepEqual(out.report({ outcome: 'succeeded', exit_code: 0 }), {
    outcome: 'succeeded',
    exit_code: 0,
    usage: { input_tokens: 10, output_tokens: 2, turns: 3, model: 'm' },
    session_id: 'abc-1',
  });
});
