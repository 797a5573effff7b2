// `npm run build` and `npm start`: the three parts of dist/, each from its own inputs: the node
// part (tsc), the runner's bundle (bundle-runner.js, esbuild) and the web UI (vite).
//
// `npm run build` builds all three. `npm start` passes --changed: a part is built again only when
// one of its inputs (a file, or a folder, whose time changes when an entry is added, removed or
// renamed) is newer than its last build, whose start time a stamp in dist/.built/ keeps. Building
// everything cost every start 12.7 s of CPU (tsc 9.5 of them); with nothing changed this check
// takes 0.06 s. A switch of branch, a pull or an edit makes the files it writes newer, so what
// they feed is built again; a part built by hand (tsc alone) leaves its stamp as it was, so at
// worst it is built once more.
//
// --dry-run: print the parts that would be built, build nothing.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';

const COMMON = ['package.json', 'package-lock.json', 'tsconfig.json', 'scripts/build.js'];

const PARTS = [
  {
    name: 'node',
    what: 'the server, runner and CLI (tsc)',
    inputs: ['src', ...COMMON, 'tsconfig.build.json'],
    skip: ['src/web'],
    output: 'dist/cli/main.js',
    command: ['node_modules/.bin/tsc', '-p', 'tsconfig.build.json'],
  },
  {
    name: 'bundle',
    what: "the runner image's bundle (esbuild)",
    inputs: ['src', ...COMMON, 'scripts/bundle-runner.js', 'scripts/answer-checks.js'],
    skip: ['src/web'],
    output: 'dist/bundle/runner.mjs',
    command: [process.execPath, 'scripts/bundle-runner.js'],
  },
  {
    name: 'web',
    what: 'the web UI (vite)',
    // The UI imports src/shared.
    inputs: ['src/web', 'src/shared', ...COMMON],
    skip: [],
    output: 'dist/web/index.html',
    command: ['node_modules/.bin/vite', 'build', '--config', 'src/web/vite.config.ts', '--logLevel', 'warn'],
  },
];

const STAMPS = 'dist/.built';

/** The newest modification time (ms) of `p` and everything under it, folders included, outside `skip`. */
function newest(p, skip) {
  if (skip.includes(p)) return 0;
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  let time = st.mtimeMs;
  if (st.isDirectory()) for (const entry of fs.readdirSync(p)) time = Math.max(time, newest(path.join(p, entry), skip));
  return time;
}

function isStale(part) {
  const stamp = fs.statSync(path.join(STAMPS, part.name), { throwIfNoEntry: false });
  if (!stamp || !fs.existsSync(part.output)) return true;
  return part.inputs.some((input) => newest(input, part.skip) >= stamp.mtimeMs);
}

function build(part) {
  const stamp = path.join(STAMPS, part.name);
  // Gone while the part builds: a build that fails half-way leaves no stamp that says it is fresh.
  fs.rmSync(stamp, { force: true });
  const started = new Date();
  const [command, ...args] = part.command;
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.error) throw result.error;
  if (result.status !== 0) process.exit(result.status ?? 1);
  fs.mkdirSync(STAMPS, { recursive: true });
  fs.writeFileSync(stamp, '');
  // Its start, not its end: a file changed while it built is newer, and builds again next time.
  fs.utimesSync(stamp, started, started);
}

const changedOnly = process.argv.includes('--changed');
const dryRun = process.argv.includes('--dry-run');
const parts = changedOnly ? PARTS.filter(isStale) : PARTS;
if (dryRun) {
  for (const part of parts) process.stdout.write(`${part.name}\n`);
} else {
  // A first build takes seconds in silence otherwise: say what is being built.
  if (!changedOnly || parts.length === PARTS.length) process.stdout.write(`build: ${PARTS.map((p) => p.what).join(', ')}\n`);
  else
    process.stdout.write(
      parts.length === 0 ? 'build: dist/ is up to date\n' : `build: only ${parts.map((p) => p.what).join(' and ')}; the rest is up to date\n`,
    );
  for (const part of parts) build(part);
}
