import { PROTOCOL_VERSION, RunnerRoutes } from '../../src/shared/protocol.js';
import type { Tally, Target } from './target.js';
import { honest } from './world.js';

export interface FloodResult {
  sent: number;
  accepted: number;
  statuses: Record<string, number>;
  seconds: number;
  /** The size of the admin's runner list afterwards. */
  runnerListBytes: number;
}

/** A registration token holder registers `count` runners as fast as 50 connections allow. */
export async function registrationFlood(target: Target, tally: Tally, registration: string, count: number): Promise<FloodResult> {
  const statuses: Record<string, number> = {};
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < count) {
        const i = next++;
        const r = await honest(target, tally, 'registration', 'register (a flood)', 'POST', RunnerRoutes.register, registration, {
          name: `flood-${i}`,
          protocol_version: PROTOCOL_VERSION,
        });
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const list = await honest(target, tally, 'admin', 'list runners (after the flood)', 'GET', '/api/runners', target.adminToken);
  return { sent: count, accepted: statuses[201] ?? 0, statuses, seconds, runnerListBytes: list.raw.body.length };
}
