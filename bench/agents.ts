/**
 * Agents part of `npm run bench` (A1): for claude, codex and gemini, a job created → the agent's
 * first request at its scripted model server (test/agents/*-server.ts), on a warm runner, against
 * the same CLI started by hand in the same wall (bubblewrap on the job's network, the same
 * environment, a fresh HOME made the same way) → its first request.
 *
 * Two `lazyaf runner` processes take the jobs, told apart by a label: one runs agents as every
 * runner does (stdout parsed into the transcript), the other with LAZYAF_BENCH_NO_TRANSCRIPT=1
 * (stdout to the log only): their difference is what the parser and the transcript's batches
 * cost before the first request. Each round runs one job on each runner and one start by hand,
 * per agent, interleaved so that a busy moment of the machine falls on all of them alike; the
 * first round (clones, cold CLI files) is left out.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { spawn } from 'node:child_process';
import { agentCliBinDir } from '../scripts/agent-clis.js';
import { agentLaunch, prepareAgentHome } from '../src/runner/agent-run.js';
import { jobEnv } from '../src/runner/env.js';
import { runCommand } from '../src/runner/execute.js';
import { JobNetwork } from '../src/runner/job-network.js';
import { Sandbox } from '../src/runner/sandbox.js';
import { AGENT_ADAPTERS } from '../src/shared/agents/index.js';
import type { TestedAgent } from '../src/shared/agents/versions.js';
import { isFinished, type Job, type RunnerList } from '../src/shared/api.js';
import { defaultJobLimits } from '../src/shared/job-limits.js';
import type { Assignment } from '../src/shared/protocol.js';
import { startAnthropicServer } from '../test/agents/anthropic-server.js';
import { startGeminiServer } from '../test/agents/gemini-server.js';
import { startOpenAIServer } from '../test/agents/openai-server.js';
import { median, run, track } from './lib/proc.js';
import type { BenchContext, BenchPart, Figure, PartResult } from './lib/report.js';
import { ROOT } from './lib/servers.js';
import { ADMIN, call, setup, teardown, type Setup } from './queue.js';

const ALL_AGENTS: readonly TestedAgent[] = ['claude', 'codex', 'gemini'];

/** BENCH_AGENTS=claude,codex measures only those (default: all three). */
function selectedAgents(): TestedAgent[] {
  const names = (process.env.BENCH_AGENTS ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(ALL_AGENTS as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`BENCH_AGENTS: unknown agent ${unknown.join(', ')} (known: ${ALL_AGENTS.join(', ')})`);
  return names.length > 0 ? (names as TestedAgent[]) : [...ALL_AGENTS];
}
const TARGET_MS: Partial<Record<TestedAgent, number>> = { claude: 1500 };
const TARGET_RATIO = 1.2;

/** A scripted model API, timing each request's arrival (Date.now(), the bench's clock, as the job's creation). */
interface ModelApi {
  agent: TestedAgent;
  port: number;
  /** What the lazyaf server holds for the agent (in its environment): what it sends with the job. */
  credentials: Record<string, string>;
  arrivals: number[];
  close(): Promise<void>;
}

/**
 * Times every request the server records, with no change to it: its `requests` array is the one
 * its handler pushes to (after the body is read, for the runner's jobs and by hand alike).
 */
function timeArrivals(requests: unknown[]): number[] {
  const arrivals: number[] = [];
  const push = requests.push.bind(requests);
  requests.push = (...items: unknown[]) => {
    for (let i = 0; i < items.length; i++) arrivals.push(Date.now());
    return push(...items);
  };
  return arrivals;
}

/** One short turn each: the agent answers at once, so a job is mostly its start. */
async function startModelApi(agent: TestedAgent): Promise<ModelApi> {
  const key = `bench-${agent}-key`;
  if (agent === 'claude') {
    const s = await startAnthropicServer({ script: [[{ type: 'text', text: 'Done.' }]] });
    return { agent, port: s.port, credentials: { ANTHROPIC_API_KEY: key, ANTHROPIC_BASE_URL: s.url }, arrivals: timeArrivals(s.requests), close: s.close };
  }
  if (agent === 'codex') {
    const s = await startOpenAIServer({ script: [{ items: [{ type: 'message', text: 'Done.' }] }] });
    return { agent, port: s.port, credentials: { OPENAI_API_KEY: key, OPENAI_BASE_URL: s.baseUrl }, arrivals: timeArrivals(s.requests), close: s.close };
  }
  const s = await startGeminiServer({ script: [] });
  return { agent, port: s.port, credentials: { GEMINI_API_KEY: key, GOOGLE_GEMINI_BASE_URL: s.url }, arrivals: timeArrivals(s.requests), close: s.close };
}

/** Resolves with the time of the first request after `before` requests (bounded). */
async function firstRequestAfter(api: ModelApi, before: number, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (api.arrivals.length <= before) {
    if (Date.now() > deadline) throw new Error(`${api.agent} sent no model request within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return api.arrivals[before]!;
}

type Mode = 'parsed' | 'unparsed';

interface Bench {
  s: Setup;
  apis: Map<TestedAgent, ModelApi>;
  /** The runner's HOME, whose agent config each run copies into a fresh HOME. */
  runnerHome: string;
  env: NodeJS.ProcessEnv;
  workdirs: string[];
}

/** A small config of each agent in the runner's HOME, as a machine set up for them holds, for the runs to copy. */
function seedAgentConfig(home: string): void {
  const files: Record<string, string> = {
    '.claude.json': JSON.stringify({ numStartups: 3, hasCompletedOnboarding: true, projects: {} }),
    '.claude/settings.json': '{}\n',
    '.codex/config.toml': '# bench\n',
    '.gemini/settings.json': '{}\n',
  };
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(home, rel)), { recursive: true });
    fs.writeFileSync(path.join(home, rel), content);
  }
}

function startRunner(b: Bench, mode: Mode): void {
  const workdir = path.join(b.s.dir, `runner-${mode}`);
  b.workdirs.push(workdir);
  const env: NodeJS.ProcessEnv = { ...b.env, LAZYAF_TOKEN: b.s.registrationToken, ...(mode === 'unparsed' ? { LAZYAF_BENCH_NO_TRANSCRIPT: '1' } : {}) };
  const args = ['runner', '--server', b.s.server.url, '--name', mode, '--labels', mode, '--workdir', workdir, '--sandbox', 'require'];
  const log = fs.openSync(path.join(b.s.dir, `runner-${mode}.log`), 'a');
  track(spawn(process.execPath, [path.join(ROOT, 'dist', 'cli', 'main.js'), ...args], { env, stdio: ['ignore', log, log] }));
  fs.closeSync(log);
}

async function runnersReady(b: Bench, names: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const list = (await call<RunnerList>(`${b.s.server.url}/api/runners`, 'GET', ADMIN)).body;
    const ready = names.every((n) => list.runners.some((r) => r.name === n && r.status !== 'offline' && [...b.apis.keys()].every((a) => r.agents.includes(a))));
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`runners not ready with every agent: ${JSON.stringify(list.runners.map((r) => [r.name, r.status, r.agents]))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Job created (before its POST) → the agent's first model request, on the runner labelled `mode`. */
async function viaRunner(b: Bench, agent: TestedAgent, mode: Mode, i: number): Promise<number> {
  const api = b.apis.get(agent)!;
  const before = api.arrivals.length;
  const created = Date.now();
  const r = await call<Job>(`${b.s.server.url}/api/jobs`, 'POST', ADMIN, { repo_id: b.s.repoId, title: `${agent} ${mode} ${i}`, agent, labels: [mode] });
  if (r.status !== 201) throw new Error(`submit: ${r.status} ${JSON.stringify(r.body)}`);
  const first = await firstRequestAfter(api, before);
  let job = r.body;
  const deadline = Date.now() + 120_000;
  while (!isFinished(job.status)) {
    if (Date.now() > deadline) throw new Error(`${agent} job ${job.id} still ${job.status}`);
    await new Promise((res) => setTimeout(res, 50));
    job = (await call<Job>(`${b.s.server.url}/api/jobs/${job.id}`, 'GET', ADMIN)).body;
  }
  if (job.status !== 'succeeded') throw new Error(`${agent} job ${job.status}: ${job.error}`);
  return first - created;
}

/**
 * The same CLI started by hand in the same wall: the runner's sandbox (its hidden folders, tmpfs
 * size) on a job network open to the model's port, in a checkout of the repo, with the job's
 * environment and a fresh HOME made as the runner makes it, before the clock starts.
 */
async function byHand(b: Bench, agent: TestedAgent, checkoutDir: string, i: number): Promise<number> {
  const api = b.apis.get(agent)!;
  const adapter = AGENT_ADAPTERS.get(agent)!;
  const network = JobNetwork.locate([...b.apis.values()].map((m) => m.port));
  if (!(network instanceof JobNetwork)) throw new Error(`no job network: ${network.problem}`);
  const sandbox = withPath(
    b.env,
    () => new Sandbox({ hide: [...b.workdirs, path.join(b.s.dir, 'data')], network, tmpfsBytes: defaultJobLimits().tmpfsBytes, home: b.runnerHome }),
  );
  const jobDir = path.join(b.s.dir, 'by-hand', `${agent}-${i}`);
  fs.mkdirSync(jobDir, { recursive: true });
  const promptFile = path.join(jobDir, 'prompt.md');
  const prompt = `# Task: ${agent} by hand ${i}\n`;
  fs.writeFileSync(promptFile, prompt);
  const a = { job_id: `by-hand-${i}`, title: 'by hand', description: '', branch: 'lazyaf/x', base_branch: 'main', prompt } as Assignment;
  const run = { name: agent, model: null, env: api.credentials, resume: null };
  const home = prepareAgentHome(adapter, { jobDir }, () => {}, b.runnerHome);
  const launch = agentLaunch(adapter, { ...a, agent_run: run }, { dir: checkoutDir, promptFile }, home, { resumeSessionId: null, prompt });
  const command = sandbox.wrap(launch.argv, { workspace: checkoutDir, readOnly: [promptFile], network: true, home: launch.home });
  const env = withPath(b.env, () => ({ ...jobEnv(a, promptFile), ...sandbox.jobEnv, ...launch.env }));
  const before = api.arrivals.length;
  const started = Date.now();
  let said = '';
  const output = new PassThrough().on('data', (c: Buffer) => (said = (said + c.toString('utf8')).slice(-2000)));
  const result = await runCommand({ command, cwd: checkoutDir, env, timeoutMs: 120_000, output, stdin: launch.stdin });
  if (result.exitCode !== 0) throw new Error(`${agent} by hand exited with ${result.exitCode ?? result.signal}: ${said}`);
  return (await firstRequestAfter(api, before)) - started;
}

/** The sandbox (what it shows) and jobEnv read this process's PATH: the runner's (with the CLIs) for the time of the call. */
function withPath<T>(env: NodeJS.ProcessEnv, fn: () => T): T {
  const saved = process.env.PATH;
  process.env.PATH = env.PATH;
  try {
    return fn();
  } finally {
    process.env.PATH = saved;
  }
}

interface AgentFigures {
  parsed: number[];
  unparsed: number[];
  byHand: number[];
}

async function measure(ctx: BenchContext, agents: TestedAgent[]): Promise<Map<TestedAgent, AgentFigures>> {
  const apis = new Map<TestedAgent, ModelApi>();
  for (const agent of agents) apis.set(agent, await startModelApi(agent));
  const credentials = Object.assign({}, ...[...apis.values()].map((a) => a.credentials)) as Record<string, string>;
  const pathValue = [process.env.PATH, ...agents.map((a) => agentCliBinDir(a))].join(':');
  const s = await setup(ctx, 'agents', { ...credentials, PATH: pathValue });
  const runnerHome = path.join(s.dir, 'runner-home');
  seedAgentConfig(runnerHome);
  const ports = [...apis.values()].map((a) => a.port).join(',');
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: pathValue, HOME: runnerHome, LAZYAF_JOB_HOST_PORTS: ports };
  const b: Bench = { s, apis, runnerHome, env, workdirs: [] };
  try {
    const modes: Mode[] = ['parsed', 'unparsed'];
    for (const mode of modes) startRunner(b, mode);
    await runnersReady(b, modes);
    const checkoutDir = path.join(s.dir, 'by-hand-checkout');
    await run('git', ['clone', '-q', path.join(s.dir, 'src'), checkoutDir], { env: { ...process.env, HOME: runnerHome } });
    const out = new Map<TestedAgent, AgentFigures>(agents.map((a) => [a, { parsed: [], unparsed: [], byHand: [] }]));
    for (let i = 0; i <= ctx.runs; i++) {
      for (const agent of agents) {
        const parsed = await viaRunner(b, agent, 'parsed', i);
        const unparsed = await viaRunner(b, agent, 'unparsed', i);
        const hand = await byHand(b, agent, checkoutDir, i);
        ctx.log(`${i === 0 ? 'warm-up ' : ''}round ${i}: ${agent}: runner ${parsed} ms, without parsing ${unparsed} ms, by hand ${hand} ms`);
        if (i === 0) continue;
        const m = out.get(agent)!;
        m.parsed.push(parsed);
        m.unparsed.push(unparsed);
        m.byHand.push(hand);
      }
    }
    return out;
  } finally {
    await teardown(s);
    for (const api of apis.values()) await api.close();
  }
}

export const agentsPart: BenchPart = {
  name: 'agents',
  description: 'A1: agent job created → its first model request (claude, codex, gemini), against the CLI started by hand in the same wall',
  async run(ctx: BenchContext): Promise<PartResult> {
    if (process.getuid?.() !== 0) throw new Error('the agents part runs claude as root in the sandbox: run it as root');
    if (os.platform() !== 'linux') throw new Error('the agents part needs bubblewrap and pasta (Linux)');
    const measured = await measure({ ...ctx, runs: Math.max(ctx.runs, 5) }, selectedAgents());
    const figures: Figure[] = [];
    const ms = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    for (const [agent, m] of measured) {
      const [parsed, unparsed, hand] = [median(m.parsed), median(m.unparsed), median(m.byHand)];
      figures.push({
        metric: `A1 ${agent}: job created → first model request, median`,
        value: parsed,
        unit: 'ms',
        target: TARGET_MS[agent],
        raw: `${ms(m.parsed)} ms`,
      });
      figures.push({
        metric: `A1 ${agent}: runner / by hand in the same wall`,
        value: parsed / hand,
        unit: 'x',
        target: agent === 'claude' ? TARGET_RATIO : undefined,
        raw: `runner ${parsed.toFixed(0)} ms / by hand ${hand.toFixed(0)} ms (${ms(m.byHand)})`,
      });
      figures.push({
        metric: `A1 ${agent}: runner without parsing / by hand`,
        value: unparsed / hand,
        unit: 'x',
        raw: `runner without the transcript ${unparsed.toFixed(0)} ms (${ms(m.unparsed)}) / by hand ${hand.toFixed(0)} ms`,
      });
    }
    return { part: 'agents', figures, details: { measured: Object.fromEntries(measured) } };
  },
};
