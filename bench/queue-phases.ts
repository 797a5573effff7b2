/**
 * `npx tsx bench/queue-phases.ts ARM...`: the server's CPU per request of each kind a no-op job
 * makes, for one or more builds side by side (ARM: `this`, or another build's `dist/cli/main.js`):
 * 2,000 submits, then 2,000 polls that each claim one, 2,000 log chunks, 2,000 completions and
 * 2,000 polls that find nothing, each kind from 20 clients; four rounds, the builds' servers up at
 * once and taking turns, medians printed. Where P2's CPU a job goes, request by request.
 */
import { ADMIN, call, setup, teardown } from './queue.js';
import { totalCpu } from './lib/proc.js';
import type { BenchContext } from './lib/report.js';
import { PROTOCOL_VERSION, RunnerRoutes, type Assignment, type RegisterResponse } from '../src/shared/protocol.js';

const N = 2000;
const CLIENTS = 20;
const ROUNDS = 4;

async function main(): Promise<void> {
  const arms = process.argv.slice(2);
  if (arms.length === 0) throw new Error('usage: bench/queue-phases.ts this|PATH/dist/cli/main.js ...');
  const ctx: BenchContext = { root: '', cacheDir: '', runs: 1, log: () => {} };
  const servers = [];
  for (const arm of arms) {
    if (arm === 'this') delete process.env.BENCH_SERVER_CLI;
    else process.env.BENCH_SERVER_CLI = arm;
    servers.push(await setup(ctx, 'phases', {}));
  }
  const results = arms.map(() => new Map<string, number[]>());
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, s] of servers.entries()) {
        const register = (k: number) =>
          call<RegisterResponse>(`${s.server.url}${RunnerRoutes.register}`, 'POST', s.registrationToken, {
            name: `r${round}-${k}`,
            protocol_version: PROTOCOL_VERSION,
          });
        const runners = (await Promise.all(Array.from({ length: CLIENTS }, (_, k) => register(k)))).map((r) => r.body);
        const phase = async (name: string, fn: (client: number) => Promise<unknown>) => {
          let n = 0;
          const cpu0 = totalCpu(s.server.pid);
          await Promise.all(
            Array.from({ length: CLIENTS }, async (_, client) => {
              while (n < N) {
                n += 1;
                await fn(client);
              }
            }),
          );
          const perRequestUs = ((totalCpu(s.server.pid) - cpu0) * 1e6) / N;
          results[i]!.set(name, [...(results[i]!.get(name) ?? []), perRequestUs]);
        };
        await phase('submit', () => call(`${s.server.url}/api/jobs`, 'POST', ADMIN, { repo_id: s.repoId, title: 'x', command: 'true' }));
        const claimed: Assignment[] = [];
        await phase('poll, claiming', async (client) => {
          const r = await call<Assignment>(`${s.server.url}${RunnerRoutes.poll}`, 'POST', runners[client]!.token, { wait_ms: 0 });
          if (r.status === 200) claimed.push(r.body);
        });
        let logs = 0;
        await phase('log chunk', () => {
          const a = claimed[logs % claimed.length]!;
          const seq = 1 + Math.floor(logs++ / claimed.length);
          return call(`${s.server.url}${RunnerRoutes.logs(a.attempt_id)}`, 'POST', a.job_token, { seq, data: 'ok\n' });
        });
        let completed = 0;
        await phase('complete', () => {
          const a = claimed[completed++]!;
          return call(`${s.server.url}${RunnerRoutes.complete(a.attempt_id)}`, 'POST', a.job_token, { outcome: 'succeeded', exit_code: 0, commit: null });
        });
        await phase('poll, empty', (client) => call(`${s.server.url}${RunnerRoutes.poll}`, 'POST', runners[client]!.token, { wait_ms: 0 }));
      }
    }
  } finally {
    for (const s of servers) await teardown(s);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  process.stdout.write(`server CPU a request, median of ${ROUNDS} rounds of ${N}\n`);
  for (const name of results[0]!.keys()) {
    process.stdout.write(`${name.padEnd(16)}${arms.map((arm, i) => `${median(results[i]!.get(name)!).toFixed(0).padStart(5)} µs  ${arm}`).join('   ')}\n`);
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
