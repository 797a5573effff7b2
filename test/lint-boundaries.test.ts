import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ESLint } from 'eslint';
import { ROOT } from './helpers.js';

const eslint = new ESLint({ cwd: ROOT });

/** ESLint's verdict on `source` as if it were the file `file` of the tree (nothing is written). */
async function lint(file: string, source: string): Promise<{ code: number; out: string }> {
  const [result] = await eslint.lintText(source, { filePath: path.join(ROOT, file) });
  const errors = result?.messages.filter((m) => m.severity === 2) ?? [];
  return { code: errors.length > 0 ? 1 : 0, out: errors.map((m) => `${m.ruleId}: ${m.message}`).join('\n') };
}

test('npm run lint holds the import boundaries of ARCHITECTURE.md', async () => {
  const refused: [string, string, RegExp][] = [
    [
      'src/runner/x.ts',
      "import { buildApp } from '../server/app.js';\nexport const x = buildApp;\n",
      /the runner runs on other machines: it never imports the server/,
    ],
    [
      'src/cli/commands/x.ts',
      "import { Pool } from '../../server/pool/pool.js';\nexport const x = Pool;\n",
      /the CLI reaches the server only through the lazy import/,
    ],
    ['src/shared/x.ts', "import { Command } from 'commander';\nexport const x = Command;\n", /shared\/ imports only Node, typebox and shared\//],
    [
      'src/server/x.ts',
      "import { startRunner } from '../runner/runner.js';\nexport const x = startRunner;\n",
      /the server and the runner meet only in shared\//,
    ],
    ['src/server/x.ts', "import { tempDir } from '../../test/helpers.js';\nexport const x = tempDir;\n", /nothing in src\/ imports the tests/],
  ];
  for (const [file, source, why] of refused) {
    const r = await lint(file, source);
    assert.equal(r.code, 1, `${file} must be refused:\n${r.out}`);
    assert.match(r.out, why);
  }
  const allowed: [string, string][] = [
    ['src/cli/commands/server.ts', "export const load = () => import('../../server/main.js');\n"],
    ['src/runner/x.ts', "import { PROTOCOL_VERSION } from '../shared/protocol.js';\nexport const x = PROTOCOL_VERSION;\n"],
  ];
  for (const [file, source] of allowed) {
    const r = await lint(file, source);
    assert.equal(r.code, 0, `${file} is allowed:\n${r.out}`);
  }
});

test('npm run lint covers the web UI: its components and modules keep to shared/, and a component renders no raw HTML', async () => {
  const refused: [string, string, RegExp][] = [
    [
      'src/web/src/x/X.svelte',
      '<script lang="ts">\n  import { buildApp } from \'../../../server/app.js\';\n  export const x = buildApp;\n</script>\n',
      /the web UI imports only shared\//,
    ],
    ['src/web/src/lib/x.ts', "import { startRunner } from '../../../runner/runner.js';\nexport const x = startRunner;\n", /the web UI imports only shared\//],
    ['src/web/src/x/X.svelte', '<script lang="ts">\n  let { title }: { title: string } = $props();\n</script>\n\n{@html title}\n', /svelte\/no-at-html-tags/],
  ];
  for (const [file, source, why] of refused) {
    const r = await lint(file, source);
    assert.equal(r.code, 1, `${file} must be refused:\n${r.out}`);
    assert.match(r.out, why);
  }
  // Typed props destructured with `let`, as Svelte's docs write them, are no prefer-const error.
  const ok = await lint(
    'src/web/src/x/X.svelte',
    '<script lang="ts">\n  import type { SessionState } from \'../../../shared/api.js\';\n  let { state }: { state: SessionState } = $props();\n</script>\n\n<p>{state.signed_in}</p>\n',
  );
  assert.equal(ok.code, 0, ok.out);
});
