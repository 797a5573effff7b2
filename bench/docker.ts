/**
 * Docker part of `npm run bench`: D1 from `PUT /api/pool` to every runner container registered and
 * idle, against the same number of bare `docker run` of the runner image with a no-op command, in
 * the same run; D2 job received → command started in a warm runner container (as P4); D3 a repo's
 * environment cache restored by copy against a prepared image per key (env-image.ts). Skipped, with
 * a line that says why, when no Docker engine answers or the runner image is missing.
 */
import fs from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import { resolveServerConfig } from '../src/server/config.js';
import { DockerLauncher, SERVER_LABEL } from '../src/server/pool/docker.js';
import { LauncherError } from '../src/server/pool/launcher.js';
import type { RunnerList } from '../src/shared/api.js';
import { preparedImageVsCache } from './env-image.js';
import { median } from './lib/proc.js';
import type { BenchContext, BenchPart, Figure, PartResult } from './lib/report.js';
import { ADMIN, call, setup, teardown, warmStarts, type Setup } from './queue.js';

const SCALES = [1, 8];

/** Polls until `check` holds; a bench that never settles fails instead of hanging. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function scale(s: Setup, desired: number): Promise<void> {
  const r = await call(`${s.server.url}/api/pool`, 'PUT', ADMIN, { desired });
  if (r.status !== 200) throw new Error(`PUT /api/pool: ${r.status}`);
}

async function idleRunners(s: Setup): Promise<number> {
  const list = (await call<RunnerList>(`${s.server.url}/api/runners`, 'GET', ADMIN)).body;
  return list.runners.filter((r) => r.status === 'idle').length;
}

/** The server of `s`'s containers, by the label its launcher puts on them. */
function containersOf(s: Setup, docker: Docker): Promise<Docker.ContainerInfo[]> {
  const id = fs.readFileSync(path.join(s.dir, 'data', 'server_id'), 'utf8').trim();
  return docker.listContainers({ all: true, filters: { label: [`${SERVER_LABEL}=${id}`] } });
}

/** Stops the server and removes the containers its drain left (the stop cuts the drain short). */
async function stop(s: Setup, docker: Docker): Promise<void> {
  const left = await containersOf(s, docker);
  await teardown(s);
  for (const c of left)
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => {});
}

/** Seconds from `PUT /api/pool {desired: n}` (from none) to n idle runners; then back to none. */
async function scaleUp(s: Setup, docker: Docker, n: number): Promise<number> {
  const t0 = performance.now();
  await scale(s, n);
  await until(`${n} idle pool runners`, async () => (await idleRunners(s)) === n);
  const seconds = (performance.now() - t0) / 1000;
  await scale(s, 0);
  await until('the pool containers to be removed', async () => (await containersOf(s, docker)).length === 0 && (await idleRunners(s)) === 0);
  return seconds;
}

/**
 * Seconds for `n` concurrent `docker run --init --network NETWORK IMAGE` with a no-op command
 * (`/bin/true` unless told), to their exit. On the pool's own network (a bridge by default), since
 * that is most of what a container costs to start: 8 at once took 1.3 s on the host's network and
 * 4-5 s on the default bridge on this machine (load 25), the engine setting up each one's network.
 */
async function bareRuns(docker: Docker, image: string, n: number, network: string, entrypoint = ['/bin/true']): Promise<number> {
  const t0 = performance.now();
  const containers = await Promise.all(
    Array.from({ length: n }, async () => {
      const c = await docker.createContainer({ Image: image, Entrypoint: entrypoint, HostConfig: { Init: true, NetworkMode: network } });
      await c.start();
      await c.wait();
      return c;
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(containers.map((c) => c.remove({ force: true })));
  return seconds;
}

async function run(ctx: BenchContext): Promise<PartResult> {
  const config = resolveServerConfig({}, process.env);
  const image = config.runnerImage;
  try {
    await new DockerLauncher({ ...config.docker, image, jobHostPorts: [] }, 'bench', () => {}).check();
  } catch (err) {
    if (!(err instanceof LauncherError)) throw err;
    ctx.log(`part docker skipped: ${err.message}`);
    return { part: 'docker', figures: [], details: { skipped: err.message } };
  }
  const docker = new Docker();
  // The bench's servers get a clean environment: the engine's address goes along.
  const env = {
    LAZYAF_LAUNCHER: 'docker',
    LAZYAF_RUNNER_IMAGE: image,
    LAZYAF_RUNNER_NETWORK: config.docker.network,
    ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
  };
  const figures: Figure[] = [];
  const details: Record<string, unknown> = { image };
  // BENCH_ONLY=D1 (or D2, D3, several comma-separated) runs just those measurements.
  const only = process.env.BENCH_ONLY?.split(',').map((x) => x.trim().toUpperCase());
  const wanted = (name: string) => !only || only.includes(name);

  if (wanted('D1')) await scaleUps(ctx, docker, image, config.docker.network, env, figures, details);
  if (wanted('D2')) await warmStart(ctx, docker, env, figures, details);
  if (wanted('D3')) {
    const prepared = await preparedImageVsCache(ctx, image);
    figures.push(...prepared.figures);
    Object.assign(details, prepared.details);
  }
  return { part: 'docker', figures, details };
}

/** D1: the pool's scale-up from none to each of SCALES against as many bare `docker run`s. */
async function scaleUps(
  ctx: BenchContext,
  docker: Docker,
  image: string,
  network: string,
  env: NodeJS.ProcessEnv,
  figures: Figure[],
  details: Record<string, unknown>,
) {
  const s = await setup(ctx, 'd1', env);
  try {
    for (const n of SCALES) {
      const pool: number[] = [];
      const bare: number[] = [];
      // The floor any Node runner has: the same containers starting node and exiting.
      const bareNode: number[] = [];
      // What the engine's network setup costs: the same no-op on the host's network.
      const bareHost: number[] = [];
      for (let i = 0; i < ctx.runs; i++) {
        bare.push(await bareRuns(docker, image, n, network));
        bareNode.push(await bareRuns(docker, image, n, network, ['node', '-e', '0']));
        if (network !== 'host') bareHost.push(await bareRuns(docker, image, n, 'host'));
        pool.push(await scaleUp(s, docker, n));
      }
      details[`scale_${n}`] = { network, pool, bare, bareNode, bareHost };
      figures.push({
        metric: `D1 PUT /api/pool → ${n} runner container(s) idle, vs ${n} bare docker run (network ${network})`,
        value: median(pool) / median(bare),
        unit: 'x',
        target: n === 8 ? 1.5 : undefined,
        raw: `lazyaf ${median(pool).toFixed(2)}s / docker run ${median(bare).toFixed(2)}s`,
      });
      figures.push({
        metric: `D1 PUT /api/pool → ${n} runner container(s) idle, vs ${n} bare docker run of node -e 0`,
        value: median(pool) / median(bareNode),
        unit: 'x',
        raw: `lazyaf ${median(pool).toFixed(2)}s / docker run node ${median(bareNode).toFixed(2)}s`,
      });
      if (bareHost.length > 0)
        figures.push({
          metric: `D1 PUT /api/pool → ${n} runner container(s) idle, vs ${n} bare docker run on the host's network`,
          value: median(pool) / median(bareHost),
          unit: 'x',
          raw: `lazyaf ${median(pool).toFixed(2)}s / docker run --network host ${median(bareHost).toFixed(2)}s`,
        });
    }
  } finally {
    await stop(s, docker);
  }
}

/** D2: a job's start in a warm runner container. */
async function warmStart(ctx: BenchContext, docker: Docker, env: NodeJS.ProcessEnv, figures: Figure[], details: Record<string, unknown>) {
  const w = await setup(ctx, 'd2', env, 500);
  try {
    await scale(w, 1);
    const v = await warmStarts(w, 'd2', 15);
    details.warmStart = v;
    figures.push({
      metric: 'D2 job received → command started (warm container), p50',
      value: v.p50,
      unit: 'ms',
      target: 100,
      raw: `max ${v.max} ms, ${v.n} jobs`,
    });
  } finally {
    await stop(w, docker);
  }
}

export const dockerPart: BenchPart = {
  name: 'docker',
  description: 'docker pool scale-up against bare docker run, warm job start in a container, environment cache against a prepared image',
  run,
};
