import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { runCommand } from '../src/runner/execute.js';
import { LogStream } from '../src/runner/log-stream.js';
import type { LogChunk } from '../src/shared/protocol.js';
import { secretsOf } from '../src/shared/agents/credentials.js';
import { REDACTED, Redactor } from '../src/shared/redact.js';
import { tempDir } from './helpers.js';

// Credential values never leave the runner in what a job prints: the redactor alone, its stream
// form over every way of cutting the text, and the runner's log stream fed by a real process.

const KEY = 'sk-ant-api03-Xy9_redaction-test-key';
const TOKEN = 'oauth-token-0123456789';

test('every occurrence becomes [redacted]; the longer value wins; short values and JSON-escaped ones', () => {
  const r = new Redactor([KEY, 'sk-ant-api03', '1', 'http://gateway.internal:4000', 'quote"back\\slash']);
  assert.equal(r.redact(`a ${KEY} b sk-ant-api03 c ${KEY}`), `a ${REDACTED} b ${REDACTED} c ${REDACTED}`);
  assert.equal(r.redact('1 and 11'), '1 and 11', 'a value shorter than 8 characters is left alone');
  assert.equal(r.redact('GET http://gateway.internal:4000/v1'), `GET ${REDACTED}/v1`);
  assert.equal(r.redact(JSON.stringify({ k: 'quote"back\\slash' })), `{"k":"${REDACTED}"}`);
  assert.equal(r.redact('a+b*(c)? [x]'), 'a+b*(c)? [x]', 'no value: nothing changes, whatever the text');
  assert.equal(new Redactor([]).redact(KEY), KEY);

  const entry = { type: 'tool', input: { command: `curl -H "x-api-key: ${KEY}"` }, output: [`${TOKEN}\n`], exit_code: 0, ok: true, none: null };
  assert.deepEqual(new Redactor([KEY, TOKEN]).redactEntry(entry), {
    type: 'tool',
    input: { command: `curl -H "x-api-key: ${REDACTED}"` },
    output: [`${REDACTED}\n`],
    exit_code: 0,
    ok: true,
    none: null,
  });
});

test('a value cut across writes, at every place, is still hidden; nothing else is lost or held for ever', () => {
  const r = new Redactor([KEY, TOKEN, `${TOKEN}-longer-one`]);
  const text = `start ${KEY}${KEY} mid ${TOKEN}-longer-one and ${TOKEN} sk-ant-api03-Xy9 end ${KEY.slice(0, 20)}`;
  const expected = r.redact(text);
  assert.ok(!expected.includes(KEY) && !expected.includes(TOKEN) && expected.endsWith(KEY.slice(0, 20)));
  for (let i = 0; i <= text.length; i++) {
    for (const j of [i, i + 1, i + 7, text.length]) {
      if (j > text.length) continue;
      const s = r.stream();
      const out = s.write(text.slice(0, i)) + s.write(text.slice(i, j)) + s.write(text.slice(j)) + s.end();
      assert.equal(out, expected, `cut at ${i} and ${j}`);
    }
  }
  // One character at a time too.
  const s = r.stream();
  let out = '';
  for (const ch of text) out += s.write(ch);
  assert.equal(out + s.end(), expected);
  // Text that cannot begin a value is passed on at once.
  assert.equal(r.stream().write('plain output line\n'), 'plain output line\n');
  assert.equal(r.stream().write('ends with sk-ant'), 'ends with ', 'the possible start of a value waits');
});

test('a value that begins in one stored piece and ends in the next is found, with how much of each it covers', () => {
  const r = new Redactor([KEY, TOKEN]);
  for (let i = 1; i < KEY.length; i++)
    assert.deepEqual(r.spanning(`x ${KEY.slice(0, i)}`, `${KEY.slice(i)} y`), { before: i, after: KEY.length - i }, `cut at ${i}`);
  assert.equal(r.spanning(`x ${KEY}`, ` y ${TOKEN}`), undefined, 'whole values on either side are for redact()');
  assert.equal(r.spanning('x sk-ant', 'nothing'), undefined);
  assert.equal(new Redactor([]).spanning('a', 'b'), undefined);
});

test("the runner's log stream hides a value of the job's environment that the job prints in two writes", async (t) => {
  const chunks: LogChunk[] = [];
  const logs = new LogStream({
    send: async (chunk) => {
      chunks.push(chunk);
      return { accepted: true, truncated: false };
    },
    redact: new Redactor([KEY]),
    flushMs: 10,
  });
  // The halves come 300 ms apart: the first is sent on its own chunk unless the stream holds it back.
  const command = 'echo "key: $KEY"; printf "%s" "${KEY%redaction*}"; sleep 0.3; printf "%s\\n" "redaction${KEY#*redaction}"; echo done';
  const result = await runCommand({ command, cwd: tempDir(t), env: { PATH: process.env.PATH, KEY }, timeoutMs: 0, output: logs });
  await logs.finish();
  assert.equal(result.exitCode, 0);
  assert.ok(chunks.length >= 2, 'the output went in several chunks');
  const text = chunks.map((c) => c.data).join('');
  assert.equal(text, `key: ${REDACTED}\n${REDACTED}\ndone\n`);
  assert.ok(!chunks.some((c) => c.data.includes('sk-ant-api03-Xy9')), JSON.stringify(chunks));
});

/** A log stream that keeps what it sends. */
function recordingLog(redact?: Redactor): { logs: LogStream; chunks: LogChunk[] } {
  const chunks: LogChunk[] = [];
  const send = async (chunk: LogChunk) => {
    chunks.push(chunk);
    return { accepted: true, truncated: false };
  };
  return { chunks, logs: new LogStream({ send, redact, flushMs: 10 }) };
}

test('a character cut between two writes of a process reaches the log whole, and a non-ASCII value cut inside a character is hidden', async () => {
  const secret = 'clé-secrète-€-0123';
  const { logs, chunks } = recordingLog(new Redactor([secret]));
  // The bytes of "é" and of the value's "€" arrive in two writes, 300 ms apart: each half is a chunk of its own unless held.
  const bytes = Buffer.from(`café ${secret}!\n`);
  const cuts = [bytes.indexOf(0xa9), bytes.indexOf(0x82) + 1];
  const parts = [bytes.subarray(0, cuts[0]), bytes.subarray(cuts[0], cuts[1]), bytes.subarray(cuts[1])];
  const script = `const parts = ${JSON.stringify(parts.map((p) => p.toString('hex')))}; (function next(i) { if (i < parts.length) process.stdout.write(Buffer.from(parts[i], 'hex'), () => setTimeout(() => next(i + 1), 300)); })(0);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.pipe(logs);
  await once(child, 'close');
  await logs.finish();
  assert.ok(chunks.length >= 2, JSON.stringify(chunks));
  assert.equal(chunks.map((c) => c.data).join(''), `café ${REDACTED}!\n`);
});

test("a command's stdout and stderr, each cut inside a character, interleave in the log without breaking either", async (t) => {
  const { logs, chunks } = recordingLog();
  const command = "printf 'a\\303'; printf 'x\\342\\202' >&2; sleep 0.3; printf '\\251b\\n'; printf '\\254y\\n' >&2";
  const result = await runCommand({ command, cwd: tempDir(t), env: { PATH: process.env.PATH }, timeoutMs: 0, output: logs });
  await logs.finish();
  assert.equal(result.exitCode, 0);
  const text = chunks.map((c) => c.data).join('');
  assert.ok(!text.includes('\ufffd'), JSON.stringify(text));
  // How the two interleave is the kernel's affair; every character is there, whole.
  assert.equal([...text].sort().join(''), [...'aéb\nx€y\n'].sort().join(''), JSON.stringify(text));
});

test('only secrets are hidden: keys, tokens and a proxy password, not a gateway URL, NO_PROXY or a CA path', () => {
  const settings: [string, string][] = [
    ['ANTHROPIC_API_KEY', 'sk-ant-0123456789'],
    ['CLAUDE_CODE_OAUTH_TOKEN', 'oauth-abcdefghij'],
    ['ANTHROPIC_BASE_URL', 'https://gateway.example.com'],
    ['HTTPS_PROXY', 'http://me:p%40ssw0rd-long@proxy.example.com:3128'],
    ['NO_PROXY', 'localhost,127.0.0.1'],
    ['NODE_EXTRA_CA_CERTS', '/etc/ssl/certs/ca-certificates.crt'],
    ['AWS_REGION', 'us-east-1-long'],
  ];
  assert.deepEqual(secretsOf(settings), [
    ['ANTHROPIC_API_KEY', 'sk-ant-0123456789'],
    ['CLAUDE_CODE_OAUTH_TOKEN', 'oauth-abcdefghij'],
    ['HTTPS_PROXY', 'p%40ssw0rd-long'],
    ['HTTPS_PROXY', 'p@ssw0rd-long'],
  ]);
  const redactor = new Redactor(secretsOf(settings).map(([, v]) => v));
  assert.equal(
    redactor.redact('key sk-ant-0123456789 via https://gateway.example.com, no proxy for localhost, pass p@ssw0rd-long'),
    'key [redacted] via https://gateway.example.com, no proxy for localhost, pass [redacted]',
  );
});
