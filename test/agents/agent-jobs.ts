// A built-in agent for real as lazyaf jobs: a server in this process holding the agent's
// credentials as stored secrets, a sandboxed root runner (bubblewrap, the job's own network) whose
// PATH has the pinned CLI as `npm install --prefix` leaves it, and what a test asks of the jobs it
// runs there: the log, the transcript, the branch, and every place a credential must not reach.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { TestContext } from 'node:test';
import { JobNetwork } from '../../src/runner/job-network.js';
import type { TestedAgent } from '../../src/shared/agents/versions.js';
import type { Job, LiveEvent, Repo, Transcript, UsageReport } from '../../src/shared/api.js';
import { agentCliBinDir } from '../../scripts/agent-clis.js';
import { api, authUrl, git, setEnv, startTestServer, tempDir, type TestServer } from '../helpers.js';
import { inProcessRunners, logOf, runJob, seedRepo, type InProcessRunner } from '../queue-helpers.js';

export interface AgentStack {
  server: TestServer;
  runner: InProcessRunner;
  repo: Repo;
  /** Every live event the server emitted since it started. */
  events: LiveEvent[];
  dir: string;
}

/** Whether a root runner with a job network can run here; skips the test when not (fails in CI). */
export function jobNetworkOrSkip(t: TestContext, agent: string): boolean {
  if (process.getuid?.() !== 0) {
    t.skip(`${agent} as root in the sandbox: the runner must be root`);
    return false;
  }
  const network = JobNetwork.locate([]);
  if (!('problem' in network)) return true;
  if (process.env.CI) throw new Error(`no job network: ${network.problem}`);
  t.skip(`no job network here (${network.problem})`);
  return false;
}

/**
 * A server (its env: `serverEnv`), a repo holding `files`, and one sandboxed runner as root that
 * may reach `hostPorts` on the host's loopback, with `agent`'s pinned CLI on its PATH.
 */
export async function startAgentStack(
  t: TestContext,
  agent: TestedAgent,
  opts: { hostPorts: number[]; files: Record<string, string>; serverEnv?: NodeJS.ProcessEnv },
): Promise<AgentStack> {
  const runnerFor = inProcessRunners(t);
  const dir = tempDir(t, `lazyaf-${agent}-e2e-`);
  // The runner's PATH: the CLI in a folder ending in node_modules/.bin, as `npm install --prefix` leaves it.
  setEnv(t, { PATH: `${process.env.PATH}:${agentCliBinDir(agent)}` });
  const server = await startTestServer(t, { LAZYAF_JOB_HOST_PORTS: opts.hostPorts.join(','), ...opts.serverEnv });
  const events: LiveEvent[] = [];
  t.after(server.ctx.events.subscribe((e) => events.push(e)));
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo', opts.files);
  const runner = runnerFor(server, `${agent}-runner`, { sandbox: 'require', jobHostPorts: opts.hostPorts, killGraceMs: 1000 });
  await runner.registered;
  return { server, runner, repo, events, dir };
}

/** Stores a secret on the server (`lazyaf secrets set`), or deletes it (`value` null). */
export async function setSecret(server: TestServer, name: string, value: string | null): Promise<void> {
  const r = value === null ? await api(server, 'DELETE', `/api/secrets/${name}`) : await api(server, 'PUT', `/api/secrets/${name}`, { value });
  assert.ok(r.status < 300 || (value === null && r.status === 404), `secret ${name}: ${r.status} ${JSON.stringify(r.body)}`);
}

/** Runs a job on the stack's repo (runJob), with when it was submitted and how long it took to end (ms). */
export async function runTimedJob(stack: AgentStack, body: Record<string, unknown>): Promise<{ job: Job; ms: number; created: number }> {
  const created = Date.now();
  const job = await runJob(stack.server, { repo_id: stack.repo.id, ...body });
  return { job, ms: Date.now() - created, created };
}

export async function transcriptOf(server: TestServer, id: string): Promise<Transcript> {
  const r = await api<Transcript>(server, 'GET', `/api/jobs/${id}/transcript`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** A clone of the job's branch. */
export async function cloneBranch(stack: AgentStack, job: Job): Promise<string> {
  const clone = fs.mkdtempSync(path.join(stack.dir, 'clone-'));
  await git(['clone', '-q', '--branch', job.branch!, authUrl(stack.repo.clone_url, stack.server.token), clone]);
  return clone;
}

/**
 * Holds that no value in `secrets` reached anything a person or another job can read of `job`:
 * its log, its transcript, the live events, the API's answers (the job, the list, the transcript,
 * the usage) and its branch (every commit and file).
 */
export async function assertNothingLeaked(stack: AgentStack, job: Job, secrets: string[]): Promise<void> {
  const { server } = stack;
  const branch = job.commit ? await git(['log', '-p', '--all', '--format=%H %an %ae %s%n%b'], await cloneBranch(stack, job)) : '';
  const places: Record<string, string> = {
    log: await logOf(server, job.id),
    transcript: JSON.stringify(await transcriptOf(server, job.id)),
    events: JSON.stringify(stack.events),
    job: JSON.stringify((await api<Job>(server, 'GET', `/api/jobs/${job.id}`)).body),
    list: JSON.stringify((await api<Job[]>(server, 'GET', '/api/jobs')).body),
    usage: JSON.stringify((await api<UsageReport>(server, 'GET', '/api/usage')).body),
    branch,
  };
  for (const secret of secrets) for (const [where, text] of Object.entries(places)) assert.ok(!text.includes(secret), `a credential is in the ${where}`);
}

const DUMP_BEGIN = 'lazyaf-dump-begin';
const DUMP_END = 'lazyaf-dump-end';

/**
 * A shell job on the stack's runner reads what it can: its environment, every process's
 * environment and command line under /proc, and every small file under its HOME and /tmp. It
 * prints them gzipped in base64 (the server redacts a value it sees in a log, which would hide a
 * leak), and the test looks for `secrets` in them.
 */
export async function assertShellJobSeesNone(stack: AgentStack, secrets: string[]): Promise<void> {
  const command = [
    `echo ${DUMP_BEGIN}`,
    `{ env; cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline; find "$HOME" /tmp -xdev -type f -size -1M -exec cat {} +; } 2>/dev/null | gzip | base64 -w0`,
    `echo; echo ${DUMP_END}`,
  ].join('; ');
  const { job } = await runTimedJob(stack, { title: 'look around', agent: 'shell', command });
  const log = await logOf(stack.server, job.id);
  assert.equal(job.status, 'succeeded', log);
  const encoded = log.slice(log.indexOf(`${DUMP_BEGIN}\n`) + DUMP_BEGIN.length + 1, log.indexOf(`\n${DUMP_END}`)).trim();
  const seen = zlib.gunzipSync(Buffer.from(encoded, 'base64')).toString('latin1');
  assert.match(seen, /^PATH=/m, 'the dump holds the job environment');
  for (const secret of secrets) assert.ok(!seen.includes(secret), 'another job sees a credential');
}

/** Runs an agent job whose agent changes nothing: it succeeds without a commit, and its log says so. */
export async function runQuietJob(stack: AgentStack, body: Record<string, unknown>): Promise<Job> {
  const { job } = await runTimedJob(stack, body);
  assert.equal(job.status, 'succeeded', job.error ?? '');
  assert.equal(job.commit, null);
  assert.match(await logOf(stack.server, job.id), /succeeded, no changes/);
  return job;
}

/** Runs an agent job that cannot work: it fails within 30 s, with `reason` (the CLI's own words) as its one-line error. */
export async function assertFailsFast(t: TestContext, stack: AgentStack, what: string, body: Record<string, unknown>, reason: RegExp): Promise<Job> {
  const { job, ms } = await runTimedJob(stack, body);
  t.diagnostic(`${what}: failed after ${ms} ms: ${job.error}`);
  assert.equal(job.status, 'failed', what);
  assert.match(job.error ?? '', reason, `${what}: the CLI's reason is the error`);
  assert.ok(!(job.error ?? '').includes('\n'), `${what}: in one line`);
  assert.ok(ms < 30_000, `${what}: failed after ${ms} ms`);
  return job;
}
