/**
 * Hostile part of `npm run bench`: R4 and R6 of DESIGN.md. A real `lazyaf server` (no pool,
 * short lease TTL, small log cap) is attacked from every token tier, BENCH_RUNS rounds with fresh
 * tokens and attempts each: malformed, mistyped, huge and deep bodies, traversal and prototype
 * ids, odd runner-protocol messages, bad git requests and pushes to refs a token may not move.
 * Each answer is classified (server error, unauthorised success, hostile input accepted, ...);
 * a server that dies or stops answering is counted and restarted. Then one job must still go
 * the whole way, a silent runner's lease must still expire, and /api/health is timed while
 * 1,000 connections trickle request bodies (for BENCH_SLOW_SECONDS, default 20).
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { removeTempDir } from './lib/proc.js';
import { wholeNumberFromEnv, type BenchContext, type BenchPart, type Figure, type PartResult } from './lib/report.js';
import { runAttack, type Attack } from './hostile/attack.js';
import { agentQueries, agentValues, secretAttacks, secretsRace, STORED_SECRET_VALUE, transcriptAttacks } from './hostile/cases-agents.js';
import { authorizationMatrix, hostileBodies, hostileIds, hostilePaths, hostileQueries, hostileValues, oddAuthHeaders } from './hostile/cases-api.js';
import { cancelledAttempt, gitAttacks, protocolOddities } from './hostile/cases-runner.js';
import { hostileCookies } from './hostile/cases-session.js';
import { registrationFlood, type FloodResult } from './hostile/flood.js';
import { leaseStillExpires, queueStillWorks, type CheckResult } from './hostile/queue-check.js';
import { slowClients, type SlowResult } from './hostile/slow.js';
import { redactTokens, Tally, Target } from './hostile/target.js';
import { honest, makeWorld, seedRepo, type World } from './hostile/world.js';

const ADMIN = 'lzadm_bench_hostile_admin_token';
const TTL_SECONDS = 3;
const SLOW_CONNECTIONS = 1000;
const SLOW_HOLD_SECONDS = wholeNumberFromEnv('BENCH_SLOW_SECONDS', 20, 1, 600);

function attacksOf(w: World, gzipBomb: Buffer): [string, Attack[]][] {
  return [
    ['authorization matrix', authorizationMatrix(w)],
    ['auth headers', oddAuthHeaders(w)],
    ['session cookies', hostileCookies(w)],
    ['paths', hostilePaths()],
    ['ids', hostileIds(w)],
    ['queries', hostileQueries(w)],
    ['bodies', hostileBodies(w)],
    ['values', hostileValues(w)],
    // After the authorization matrix: its admin request deleted the spare repo, a scope that must be refused now.
    ['secrets', secretAttacks(w)],
    // Before the runner-protocol group, which ends the attempt.
    ['transcripts', transcriptAttacks(w)],
    ['agent queries', agentQueries(w)],
    ['agent values', agentValues(w)],
    ['git', gitAttacks(w, gzipBomb)],
    ['cancelled job', cancelledAttempt(w)],
    ['runner protocol', protocolOddities(w)],
  ];
}

/** How often each token appears in the server's log: every one must be 0. */
function secretsInLog(logFile: string, secrets: Set<string>): number {
  const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
  let found = 0;
  for (const s of secrets) found += text.split(s).length - 1;
  return found;
}

/** The server's own account of its 500s: message → count, from its JSON log lines. */
function loggedErrors(logFile: string): Record<string, number> {
  const out: Record<string, number> = {};
  const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
  for (const line of text.split('\n')) {
    if (!line.includes('"level":50')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; err?: { message?: string } };
      const key = redactTokens(`${entry.msg ?? ''}: ${entry.err?.message ?? ''}`.slice(0, 200));
      out[key] = (out[key] ?? 0) + 1;
    } catch {
      // A line cut off by a crash.
    }
  }
  return out;
}

async function attackRounds(
  ctx: BenchContext,
  target: Target,
  tally: Tally,
  setup: Parameters<typeof makeWorld>[2],
  gitEnv: NodeJS.ProcessEnv,
  secrets: Set<string>,
): Promise<string[]> {
  const problems: string[] = [];
  const gzipBomb = zlib.gzipSync(Buffer.alloc(100 * 1024 * 1024, '0'));
  for (let round = 1; round <= ctx.runs; round++) {
    let w: World;
    try {
      w = await makeWorld(target, tally, setup, round);
    } catch (err) {
      problems.push(`round ${round} could not be set up: ${redactTokens((err as Error).message)}`);
      await target.ensureAlive(`setting up round ${round}`);
      continue;
    }
    for (const token of w.secrets) secrets.add(token);
    for (const [group, attacks] of attacksOf(w, gzipBomb)) {
      const started = performance.now();
      for (const a of attacks) {
        await runAttack(target, tally, w.tokens, a, gitEnv);
        if (target.exited()) await target.ensureAlive(`${a.group}: ${a.name}`);
      }
      await target.ensureAlive(`the ${group} group`);
      ctx.log(`round ${round}: ${group}, ${attacks.length} requests × tiers in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    await honest(target, tally, 'runner', 'deregister (end of round)', 'POST', RunnerRoutes.deregister, w.tokens.runner);
    await w.finish(tally);
  }
  return problems;
}

export const hostilePart: BenchPart = {
  name: 'hostile',
  description: 'R4 hostile input from every token tier, R6 1,000 slow clients',
  async run(ctx: BenchContext): Promise<PartResult> {
    const { target, dir, gitEnv } = await Target.inTempDir('lazyaf-bench-hostile-', ADMIN, {
      LAZYAF_LEASE_TTL: String(TTL_SECONDS),
      LAZYAF_LOG_CAP: String(64 * 1024),
      LAZYAF_LONG_POLL: '2',
    });
    const dataDir = target.dataDir;
    const logFile = path.join(dir, 'lazyaf-server.log');
    try {
      const registration = fs.readFileSync(path.join(dataDir, 'registration_token'), 'utf8').trim();
      const secrets = new Set([ADMIN, registration, STORED_SECRET_VALUE]);
      const setup = {
        admin: ADMIN,
        registration,
        repo: await seedRepo(target, 'hostile', dir, gitEnv),
        other: await seedRepo(target, 'elsewhere', dir, gitEnv),
      };
      ctx.log(`server ${target.url}; ${ctx.runs} rounds of attacks`);
      const tally = new Tally();
      const problems = await attackRounds(ctx, target, tally, setup, gitEnv, secrets);
      problems.push(...(await secretsRace(target, tally)));
      const queue = await queueStillWorks(target, tally, setup, dir, gitEnv);
      const lease = await leaseStillExpires(target, tally, setup, TTL_SECONDS);
      ctx.log(`slow clients: ${SLOW_CONNECTIONS} connections held for ${SLOW_HOLD_SECONDS} s`);
      const slow = await slowClients(target, registration, SLOW_CONNECTIONS, SLOW_HOLD_SECONDS);
      await target.ensureAlive('the slow clients');
      const flood = await registrationFlood(target, tally, registration, 1000);
      await target.ensureAlive('the registration flood');

      const report = [...tally.report(), ...problems, ...target.crashes.map((c) => `crash after ${c.after}: ${c.how}`)];
      const errors = loggedErrors(logFile);
      for (const [message, n] of Object.entries(errors)) report.push(`server log, error ×${n}: ${message}`);
      report.push('slowest answers:', ...tally.slowest.map((s) => `  ${s.ms.toFixed(0)} ms  ${s.what}`));
      for (const line of report) ctx.log(line);

      return {
        part: 'hostile',
        figures: figures(tally, target, queue, lease, slow, flood, secretsInLog(logFile, secrets)),
        details: {
          requests: tally.requests,
          problems,
          crashes: target.crashes,
          serverLogErrors: errors,
          slowest: tally.slowest,
          queue,
          lease,
          slow,
          flood,
          requestsByCase: tally.toJSON(),
        },
      };
    } finally {
      await target.stop();
      removeTempDir(dir);
    }
  },
};

function figures(tally: Tally, target: Target, queue: CheckResult, lease: CheckResult, slow: SlowResult, flood: FloodResult, leaked: number): Figure[] {
  const count = (metric: string, value: number, raw?: string): Figure => ({ metric, value, unit: 'count', target: 0, raw });
  const check = (metric: string, r: CheckResult): Figure => ({
    metric,
    value: r.seconds,
    unit: 's',
    check: r.ok,
    ...(r.ok ? { raw: `${r.seconds.toFixed(1)} s` } : { error: r.error }),
  });
  return [
    count('R4 server errors (5xx)', tally.count('server error'), `${tally.requests} requests`),
    count('R4 crashes or hangs', target.crashes.length),
    count('R4 unauthorised successes', tally.count('unauthorised success')),
    count('R4 hostile inputs accepted', tally.count('hostile input accepted'), 'a 2xx (or a moved ref) for input that must be refused'),
    count('R4 bodies read before the token check', tally.count('body read before the token check'), '400/413 where the caller has no right to the route'),
    count('R4 requests without an answer', tally.count('no answer')),
    count('R4 tokens in the server log', leaked),
    check('R4 a job still goes the whole way after the attack', queue),
    check("R4 a silent runner's lease still expires", lease),
    {
      metric: `R6 /api/health p99, ${slow.connections} slow connections`,
      value: slow.p99,
      unit: 'ms',
      target: 100,
      raw: `p50 ${slow.p50.toFixed(1)} ms (idle ${slow.baselineP50.toFixed(1)} ms), max ${slow.max.toFixed(0)} ms, ${slow.probes} probes over ${slow.holdSeconds} s`,
    },
    count('R6 /api/health failures', slow.failures, slow.refused > 0 ? `${slow.refused} slow connections could not be opened` : undefined),
    count(
      'R6 slow connections without a valid token still held',
      slow.stillOpenWithoutToken,
      `of ${Math.round((slow.connections * 2) / 3)}, after ${slow.holdSeconds} s`,
    ),
    {
      metric: 'R6 slow connections held, longest',
      value: slow.heldMaxSeconds,
      unit: 's',
      raw: `${slow.stillOpen}/${slow.connections} still open when let go; median ${slow.heldMedianSeconds.toFixed(1)} s; answers ${JSON.stringify(slow.answers)}`,
    },
    {
      metric: `R4 registrations accepted, a burst of ${flood.sent}`,
      value: flood.accepted,
      unit: 'count',
      raw: `in ${flood.seconds.toFixed(1)} s, statuses ${JSON.stringify(flood.statuses)}; GET /api/runners then ${(flood.runnerListBytes / 1024).toFixed(0)} KiB`,
    },
  ];
}
