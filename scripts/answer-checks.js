// The runner's checks of the server's answers (src/runner/answer-checks.ts) as a module of plain
// functions that typebox's Code() generates from the protocol's schemas: the runner's bundle
// (bundle-runner.js) takes it in place of the module that builds the schemas and checks with
// typebox at run time, which cost an idle runner 6 MiB. The generated code needs only typebox's
// small guard and hashing helpers.
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { build } from 'esbuild';

/** The source of a module exporting `answerChecks` (as answer-checks.ts does), generated from ANSWER_SCHEMAS. */
export async function answerChecksModule() {
  // The schemas and Code(), bundled and loaded here: this script runs under plain node, without TypeScript.
  const generator = await build({
    stdin: {
      contents: [
        "import { Code } from 'typebox/compile';",
        "import { ANSWER_SCHEMAS } from './src/runner/answer-checks.ts';",
        'export const generated = Object.entries(ANSWER_SCHEMAS).map(([name, schema]) => ({ name, ...Code(schema) }));',
      ].join('\n'),
      resolveDir: process.cwd(),
      loader: 'ts',
    },
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    logLevel: 'warning',
  });
  const { generated } = await import(`data:text/javascript;base64,${Buffer.from(generator.outputFiles[0].text).toString('base64')}`);
  const lines = ['import { Hashing } from "typebox/system";', 'import { Guard } from "typebox/guard";'];
  for (const { name, Code: code, External: external } of generated) {
    // Each generated module holds its check in check_N functions and takes its externals (the
    // schemas' patterns) at run time; here each becomes a function scope of its own, with its
    // patterns written out as regular expressions.
    const externals = external.variables.map((v) => {
      if (!(v instanceof RegExp)) throw new Error(`answer-checks: the ${name} check needs an external value that is not a RegExp`);
      return `new RegExp(${JSON.stringify(v.source)}, ${JSON.stringify(v.flags)})`;
    });
    const imports = code.split('\n').filter((line) => /^import /.test(line));
    const unknown = imports.filter((line) => !/^import \{ (Hashing|Guard) \} from "typebox\/(system|guard)"$/.test(line));
    if (unknown.length > 0) throw new Error(`answer-checks: the ${name} check imports what this generator does not provide: ${unknown.join('; ')}`);
    const body = code
      .split('\n')
      .filter((line) => !/^import /.test(line) && !/^export function SetExternal/.test(line))
      .join('\n')
      .replace(`let ${external.identifier} = []`, `const ${external.identifier} = [${externals.join(', ')}]`)
      .replace('export function Check(value)', 'return function check(value)');
    lines.push(`const ${name} = (() => {\n${body}\n})();`);
  }
  lines.push('void Hashing; void Guard;');
  lines.push(`export const answerChecks = { ${generated.map((g) => g.name).join(', ')} };`);
  return lines.join('\n');
}
