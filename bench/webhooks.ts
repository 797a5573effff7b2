/**
 * Webhooks part of `npm run bench`: how long after a job finishes its `job.finished` delivery
 * reaches a local receiver. The event's time is the payload's `created_at`, stamped inside the
 * transaction that finished the job (the outbox row); the receiver's clock is the same machine's.
 * Jobs go through the runner protocol by hand (poll, complete), one at a time, so each figure is
 * one delivery's latency and not a queue's.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PROTOCOL_VERSION, RunnerRoutes, type Assignment, type RegisterResponse } from '../src/shared/protocol.js';
import { percentile } from './lib/proc.js';
import type { BenchContext, BenchPart, PartResult } from './lib/report.js';
import { ADMIN, call, setup, teardown } from './queue.js';

const JOBS = 200;

export const webhooksPart: BenchPart = {
  name: 'webhooks',
  description: 'webhook delivery latency after a job finishes (job.finished to a local receiver)',
  run: async (ctx: BenchContext): Promise<PartResult> => {
    const arrivals = new Map<string, number>();
    let waiting: { jobId: string; resolve: () => void } | undefined;
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const at = Date.now();
        res.writeHead(204).end();
        const payload = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { created_at: string; job?: { id: string } };
        const jobId = payload.job?.id;
        if (!jobId) return;
        arrivals.set(jobId, at - Date.parse(payload.created_at));
        if (waiting?.jobId === jobId) waiting.resolve();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const s = await setup(ctx, 'webhooks', {});
    try {
      const base = s.server.url;
      const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const hook = await call(`${base}/api/webhooks`, 'POST', ADMIN, { url: hookUrl, events: ['job.finished'], secret: 'bench-secret-0123456789' });
      if (hook.status !== 201) throw new Error(`add webhook: ${hook.status}`);
      const runner = await call<RegisterResponse>(`${base}${RunnerRoutes.register}`, 'POST', s.registrationToken, {
        name: 'webhooks',
        protocol_version: PROTOCOL_VERSION,
      });
      if (runner.status !== 201) throw new Error(`register: ${runner.status}`);
      const samples: number[] = [];
      for (let i = 0; i < JOBS + 10; i++) {
        const job = await call<{ id: string }>(`${base}/api/jobs`, 'POST', ADMIN, { repo_id: s.repoId, title: `webhook ${i}`, command: 'true' });
        if (job.status !== 201) throw new Error(`submit: ${job.status}`);
        const a = await call<Assignment>(`${base}${RunnerRoutes.poll}`, 'POST', runner.body.token, { wait_ms: 10_000 });
        if (a.status !== 200) throw new Error(`poll: ${a.status}`);
        const delivered = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no delivery for job ${job.body.id} within 10 s`)), 10_000);
          waiting = { jobId: job.body.id, resolve: () => (clearTimeout(timer), resolve()) };
        });
        const done = await call(`${base}${RunnerRoutes.complete(a.body.attempt_id)}`, 'POST', a.body.job_token, {
          outcome: 'succeeded',
          exit_code: 0,
          commit: null,
        });
        if (done.status !== 200) throw new Error(`complete: ${done.status}`);
        if (!arrivals.has(job.body.id)) await delivered;
        // The first few warm the connections and the JIT.
        if (i >= 10) samples.push(arrivals.get(job.body.id)!);
      }
      const p50 = percentile(samples, 50);
      const p95 = percentile(samples, 95);
      ctx.log(`webhooks: ${samples.length} deliveries, p50 ${p50} ms, p95 ${p95} ms after the event`);
      return {
        part: 'webhooks',
        figures: [
          { metric: 'webhook delivery p95 after the event (job.finished, local receiver)', value: p95, unit: 'ms', raw: `p50 ${p50} ms, n ${samples.length}` },
        ],
        details: { samples, p50, p95 },
      };
    } finally {
      await teardown(s);
      receiver.closeAllConnections();
      receiver.close();
    }
  },
};
