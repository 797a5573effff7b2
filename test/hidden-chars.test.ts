import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonForTerminal, printable, TerminalLogFilter } from '../src/shared/terminal.js';
import { PLAIN, segments } from '../src/web/src/jobs/ansi.js';
import { LogLines } from '../src/web/src/jobs/log-buffer.js';
import { hasBidi, revealedText, revealHidden } from '../src/web/src/lib/hidden-chars.js';

// Characters that change how text reads without being seen, one class shared by the CLI (escapes)
// and the web UI (markers); the browser test shows them on the page.

const BIDI = 'bidirectional control';
const INVISIBLE = 'invisible character';

/** Each with its marker and kind: bidi embeddings, overrides, isolates and marks; invisible ones; controls. */
const HIDDEN: [string, string, string][] = [
  ['\u202a', '<U+202A>', BIDI],
  ['\u202e', '<U+202E>', BIDI],
  ['\u2066', '<U+2066>', BIDI],
  ['\u2069', '<U+2069>', BIDI],
  ['\u200e', '<U+200E>', BIDI],
  ['\u200f', '<U+200F>', BIDI],
  ['\u061c', '<U+061C>', BIDI],
  ['\u200b', '<U+200B>', INVISIBLE],
  ['\u2060', '<U+2060>', INVISIBLE],
  ['\ufeff', '<U+FEFF>', INVISIBLE],
  ['\u2028', '<U+2028>', INVISIBLE],
  ['\u2029', '<U+2029>', INVISIBLE],
  ['\x1b', '<U+001B>', 'control character'],
  ['\x85', '<U+0085>', 'control character'],
];

test('the web UI shows each hidden character as a marker piece and leaves everything else as it is', () => {
  for (const [c, marker, kind] of HIDDEN) {
    assert.deepEqual(revealHidden(`a${c}b`), [{ text: 'a' }, { text: marker, hidden: kind }, { text: 'b' }], JSON.stringify(c));
    assert.equal(revealedText(`a${c}b`), `a${marker}b`);
  }
  assert.deepEqual(revealHidden('invoice\u202etxt.sh'), [{ text: 'invoice' }, { text: '<U+202E>', hidden: BIDI }, { text: 'txt.sh' }]);
  assert.deepEqual(revealHidden('\u2066\u2069'), [
    { text: '<U+2066>', hidden: BIDI },
    { text: '<U+2069>', hidden: BIDI },
  ]);
  // Tabs, newlines and carriage returns (a CRLF file's lines), emoji joiners, scripts that read right to left: untouched.
  for (const plain of ['a\tb\nc\r', '👩\u200d💻', 'ab\u200cc', 'שלום עולם', 'مرحبا', '']) {
    assert.deepEqual(revealHidden(plain), [{ text: plain }], JSON.stringify(plain));
    assert.equal(revealedText(plain), plain);
  }
  assert.equal(hasBidi('if (x != "user\u202e \u2066// admin\u2069 \u2066") {'), true);
  assert.equal(hasBidi('\u200f'), true);
  assert.equal(hasBidi('zero\u200bwidth, שלום'), false, 'invisible but not bidirectional: a marker, no warning');
});

test('a log line shows hidden characters as markers in their own segments, keeping its colours; the log knows when it holds bidi text', () => {
  const line = segments('\x1b[31mred \u202eevil\x1b[0m plain\u200b', PLAIN);
  assert.deepEqual(
    line.map((s) => [s.text, s.classes]),
    [
      ['red ', 'fg1'],
      ['<U+202E>', 'fg1 hidden-char'],
      ['evil', 'fg1'],
      [' plain', ''],
      ['<U+200B>', 'hidden-char'],
    ],
  );
  const lines = new LogLines();
  lines.append('plain\nzero\u200bwidth\n');
  assert.equal(lines.bidi, false);
  lines.append('x\u2067y');
  assert.equal(lines.bidi, true);
  assert.ok(lines.width >= 'zero<U+200B>width'.length, 'a marker is counted at its shown width');
});

test('the CLI shows the same characters escaped, in values, JSON and logs', () => {
  for (const [c] of HIDDEN) {
    const code = c.charCodeAt(0);
    const escaped = code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
    assert.equal(printable(`a${c}b`), `a${escaped}b`);
    assert.ok(!jsonForTerminal({ v: `a${c}b` }).includes(c), JSON.stringify(c));
    if (c !== '\x1b') assert.equal(new TerminalLogFilter().write(`a${c}b\n`), `a${escaped}b\n`, JSON.stringify(c));
  }
});
