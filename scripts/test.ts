// The test suite's runner (`npm test` after the build, type-check and lint): every test file in a
// `node --test` process of its own, several files at once, with the files that compete for one
// thing kept in a lane where they run one at a time. One file at a time took 1,076 s of tests on
// the 2-core CI machine, keeping at most about one core busy and less while it waited on
// containers, browsers, leases and child servers, which another file can use.
//
//   node --import tsx scripts/test.ts [FILE...]          all of test/*.test.ts unless files are given
//   node --import tsx scripts/test.ts --lanes [FILE...]  which lane each file is in, in the order they start
//
// --checks also runs `npm run typecheck` and `npm run lint`, as two more files (`npm test` does).
// LAZYAF_TEST_JOBS: how many files run at once (default: twice the cores; 1 runs them one after
// another). Each file's output is printed whole when it ends; at the end, a summary with the
// slowest files (wall time and the CPU their processes used). A file that fails, or outlives
// LAZYAF_TEST_FILE_TIMEOUT_S (default 1200), fails the run, named in the summary.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentCliBinDir } from './agent-clis.js';
import { AGENT_CLI_VERSIONS, type TestedAgent } from '../src/shared/agents/versions.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TIMES_FILE = path.join(ROOT, 'test-results', 'test-times.json');

/**
 * A lane runs its files one at a time, beside the other lanes. `shared` is every file no rule
 * or list puts elsewhere: it runs as many at once as there are slots. A file is in the first
 * lane whose `uses` matches its source, or that lists it.
 */
interface Lane {
  name: string;
  why: string;
  uses?: RegExp;
  files?: string[];
}

const LANES: Lane[] = [
  {
    name: 'docker',
    why: "the one Docker engine: the test images (built, tagged and pruned by docker-helpers.ts), the engine's CPU and disk; and the files that a change of this host's network addresses fails, which the engine's bridges and veths make. Chromium is one: it aborts the requests it has in flight when an address comes or goes (net::ERR_NETWORK_CHANGED), and it is the heaviest CPU of the suite",
    uses: /from '\.\/(docker|browser)-helpers\.js'/,
    // Each lists the host's addresses and connects to every one: a veth a container took away meanwhile fails it (EINVAL).
    files: ['runner-network.test.ts', 'container-network.test.ts'],
  },
  {
    name: 'agents',
    why: 'the real agent CLIs: large Node programs started per job, from the one CLI cache',
    uses: /agentCliBinDir|from '\.\/agents\/(agent-jobs|codex-run)\.js'/,
  },
  {
    name: 'pool',
    why: 'servers that start and stop runner processes, kill and restart each other, and read their memory',
    files: ['pool.test.ts', 'pool-durable.test.ts', 'pool-lean.test.ts', 'e2e-crash.test.ts'],
  },
  {
    name: 'timing',
    why: 'leases of 1-3 s, kill graces and retry delays of a few hundred ms: a runner starved of CPU by a neighbour would lose its lease',
    files: [
      'attempt-ends.test.ts',
      'cli-transcript.test.ts',
      'e2e-jobs.test.ts',
      'edge.test.ts',
      'live-events.test.ts',
      'no-runner.test.ts',
      'push-lease.test.ts',
      'queue-protocol.test.ts',
      'runner-drain.test.ts',
      'runner-execute.test.ts',
      'runner-keeps-work.test.ts',
      'runner-loop.test.ts',
      'runner-registry.test.ts',
      'webhooks.test.ts',
    ],
  },
];

/** Files that run with nothing beside them (none yet: a file flaky beside others goes here). */
const ALONE: string[] = [];

interface TestFile {
  /** The test file, or the npm script of a check. */
  file: string;
  lane: string;
  /** Its wall time in the last run, if known: the longest start first. */
  estimateMs: number;
  /** What runs it, when it is not a test file (`--checks`). */
  command?: string[];
}

interface Result {
  file: string;
  lane: string;
  ok: boolean;
  why?: string;
  wallMs: number;
  cpuMs?: number;
  tests?: number;
  failedTests?: number;
}

function laneOf(file: string): string {
  const name = path.basename(file);
  if (ALONE.includes(name)) return 'alone';
  const source = fs.readFileSync(file, 'utf8');
  for (const lane of LANES) if (lane.files?.includes(name) || lane.uses?.test(source)) return lane.name;
  return 'shared';
}

function listed(): void {
  const all = new Set(fs.readdirSync(path.join(ROOT, 'test')));
  for (const name of [...LANES.flatMap((l) => l.files ?? []), ...ALONE])
    if (!all.has(name)) throw new Error(`scripts/test.ts lists ${name}, which is not in test/: remove it from its lane`);
}

function previousTimes(): Record<string, number> {
  try {
    return JSON.parse(fs.readFileSync(TIMES_FILE, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

/**
 * The files in the order they start: the alone ones, then the docker lane (the longest chain of
 * one-at-a-time files), then the longest first, by their time in the last run here
 * (test-results/test-times.json), else by their size.
 */
function plan(files: string[]): TestFile[] {
  const times = previousTimes();
  const rank = (lane: string) => (lane === 'alone' ? 0 : lane === 'docker' ? 1 : 2);
  return files
    .map((file) => ({ file, lane: laneOf(file), estimateMs: times[file] ?? fs.statSync(file).size }))
    .sort((a, b) => rank(a.lane) - rank(b.lane) || b.estimateMs - a.estimateMs);
}

const TIMEOUT_MS = Number(process.env.LAZYAF_TEST_FILE_TIMEOUT_S || 1200) * 1000;
const running = new Map<string, ChildProcess>();

/**
 * One file in `node --test`, in a process group of its own (so that a timeout or a ^C ends the
 * servers and runners it started too), under `sh` whose `times` reports the CPU of the whole tree.
 */
function runFile(tf: TestFile): Promise<Result> {
  const started = Date.now();
  const command = tf.command ?? [process.execPath, '--import', 'tsx', '--test', '--test-reporter=spec', '--test-timeout=600000', tf.file];
  const child = spawn('sh', ['-c', '"$@"; code=$?; times >&3; exit $code', 'sh', ...command], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  running.set(tf.file, child);
  let output = '';
  let times = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (c: Buffer) => (times += c.toString('utf8')));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child, 'SIGKILL');
  }, TIMEOUT_MS);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(tf.file);
      const result: Result = { file: tf.file, lane: tf.lane, ok: code === 0, wallMs: Date.now() - started, cpuMs: childCpuMs(times), ...counts(output) };
      if (timedOut) result.why = `did not end within ${TIMEOUT_MS / 1000} s (LAZYAF_TEST_FILE_TIMEOUT_S)`;
      else if (code !== 0) result.why = signal ? `killed by ${signal}` : `exit ${code}`;
      const cpu = result.cpuMs === undefined ? '' : `, ${seconds(result.cpuMs)} s of CPU`;
      const head = `# ${tf.file} (${tf.lane}): ${result.ok ? 'ok' : `FAILED, ${result.why}`}, ${tf.command ? '' : `${result.tests ?? '?'} tests, `}${seconds(result.wallMs)} s${cpu}`;
      process.stdout.write(`${head}\n${withoutTotals(output).replace(/\n?$/, '\n')}`);
      resolve(result);
    });
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // Already gone.
  }
}

/** The children's user and system time from `times` (its second line: "0m12.340000s 0m1.200000s"). */
function childCpuMs(times: string): number | undefined {
  const line = times.trim().split('\n')[1];
  const parts = line?.match(/(\d+)m([\d.]+)s/g);
  if (!parts || parts.length < 2) return undefined;
  return parts.reduce((sum, p) => {
    const m = /(\d+)m([\d.]+)s/.exec(p)!;
    return sum + (Number(m[1]) * 60 + Number(m[2])) * 1000;
  }, 0);
}

/** The counts of the spec reporter's summary ("ℹ tests 8", "ℹ fail 0"). */
function counts(output: string): { tests?: number; failedTests?: number } {
  const num = (word: string) => {
    const m = new RegExp(`^\\S+ ${word} (\\d+)$`, 'm').exec(output);
    return m ? Number(m[1]) : undefined;
  };
  return { tests: num('tests'), failedTests: num('fail') };
}

/** The file's output without the reporter's closing totals, which the line above it and the summary give. */
function withoutTotals(output: string): string {
  return output.replace(/^\S+ (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) [\d.]+\n/gm, '');
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);

async function main(): Promise<void> {
  listed();
  const options = new Set<string>();
  while (process.argv[2]?.startsWith('--')) options.add(process.argv.splice(2, 1)[0]!);
  const listOnly = options.has('--lanes');
  const given = process.argv.slice(2);
  const files = given.length
    ? given.map((f) => path.relative(ROOT, path.resolve(f)))
    : fs
        .readdirSync(path.join(ROOT, 'test'))
        .filter((f) => f.endsWith('.test.ts'))
        .map((f) => path.join('test', f));
  for (const f of files) if (!fs.existsSync(path.join(ROOT, f))) throw new Error(`no test file ${f}`);
  const slots = Math.max(1, Number(process.env.LAZYAF_TEST_JOBS) || os.availableParallelism() * 2);
  const queue = plan(files);
  // The type-check and the lint beside the first files rather than before them all: the first
  // files spend much of their time waiting on the Docker engine and on child processes.
  if (options.has('--checks'))
    for (const script of ['typecheck', 'lint'])
      queue.unshift({ file: `npm run ${script}`, lane: 'shared', estimateMs: 0, command: ['npm', 'run', '--silent', script] });

  if (listOnly) {
    for (const f of queue) process.stdout.write(`${f.lane.padEnd(8)} ${f.file}\n`);
    return;
  }

  // The CLIs are installed once here if missing, not by two files at once into one cache folder.
  if (queue.some((f) => f.lane === 'agents' || f.lane === 'docker'))
    for (const agent of Object.keys(AGENT_CLI_VERSIONS) as TestedAgent[]) {
      try {
        agentCliBinDir(agent);
      } catch (err) {
        process.stdout.write(`# could not install the ${agent} CLI (its tests will say why): ${(err as Error).message}\n`);
      }
    }

  const lanes = new Map<string, number>();
  for (const f of queue) lanes.set(f.lane, (lanes.get(f.lane) ?? 0) + 1);
  process.stdout.write(`# ${queue.length} files, ${slots} at once; lanes: ${[...lanes].map(([l, n]) => `${l} ${n}`).join(', ')} (scripts/test.ts)\n`);

  const started = Date.now();
  const results: Result[] = [];
  const busy = new Set<string>();
  let active = 0;
  await new Promise<void>((done) => {
    const next = () => {
      if (queue.length === 0 && active === 0) return done();
      for (let i = 0; i < queue.length && active < slots;) {
        const tf = queue[i]!;
        const free = tf.lane === 'alone' ? active === 0 : !busy.has('alone') && (tf.lane === 'shared' || !busy.has(tf.lane));
        if (!free) {
          // An alone file waits for the others to end, and nothing starts before it meanwhile.
          if (tf.lane === 'alone') break;
          i++;
          continue;
        }
        queue.splice(i, 1);
        active++;
        if (tf.lane !== 'shared') busy.add(tf.lane);
        void runFile(tf).then((r) => {
          results.push(r);
          active--;
          busy.delete(tf.lane);
          next();
        });
      }
    };
    next();
  });

  summary(results, Date.now() - started, slots);
}

function summary(results: Result[], wallMs: number, slots: number): void {
  const times = { ...previousTimes(), ...Object.fromEntries(results.map((r) => [r.file, r.wallMs])) };
  fs.mkdirSync(path.dirname(TIMES_FILE), { recursive: true });
  fs.writeFileSync(TIMES_FILE, `${JSON.stringify(times, null, 1)}\n`);

  const sum = (f: (r: Result) => number | undefined) => results.reduce((s, r) => s + (f(r) ?? 0), 0);
  const failed = results.filter((r) => !r.ok);
  const out = [
    '',
    `# ${results.length} files, ${sum((r) => r.tests)} tests, ${sum((r) => r.failedTests)} failed: ${seconds(wallMs)} s with ${slots} files at once; ` +
      `${seconds(sum((r) => r.wallMs))} s of files, ${seconds(sum((r) => r.cpuMs))} s of CPU (load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')})`,
    '# slowest files: wall s, CPU s, lane',
  ];
  for (const r of [...results].sort((a, b) => b.wallMs - a.wallMs).slice(0, 15))
    out.push(`#   ${seconds(r.wallMs).padStart(6)} ${(r.cpuMs === undefined ? '?' : seconds(r.cpuMs)).padStart(6)}  ${r.lane.padEnd(7)} ${r.file}`);
  const byLane = new Map<string, number>();
  for (const r of results) byLane.set(r.lane, (byLane.get(r.lane) ?? 0) + r.wallMs);
  out.push(`# wall s per lane: ${[...byLane].map(([l, ms]) => `${l} ${seconds(ms)}`).join(', ')}`);
  for (const r of failed) out.push(`# FAILED ${r.file}: ${r.why}${r.failedTests ? ` (${r.failedTests} tests failed)` : ''}`);
  out.push(failed.length ? `# ${failed.length} of ${results.length} files failed` : '# all files passed');
  process.stdout.write(`${out.join('\n')}\n`);
  process.exitCode = failed.length ? 1 : 0;
}

// A ^C reaches only this process (each file has a process group of its own): pass it on, and
// kill what is left a few seconds later.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    for (const child of running.values()) killGroup(child, 'SIGTERM');
    setTimeout(() => {
      for (const child of running.values()) killGroup(child, 'SIGKILL');
      process.exit(130);
    }, 5000).unref();
  });

main().catch((err: Error) => {
  process.stderr.write(`test runner: ${err.message}\n`);
  process.exit(1);
});
