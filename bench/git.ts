/**
 * P3: lazyaf's git server against `git http-backend` and a `--no-local` file clone, on a
 * generated ~40 MiB-pack repository (3,000 files, 300 commits, 5 branches).
 *
 * Both servers run as child processes of the bench, so their RSS is sampled from /proc apart from
 * the bench's own. Each measurement is repeated `runs` times, alternating which server goes first,
 * and the median is reported as a ratio against the reference measured in the same run.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isolatedGitEnv } from './lib/git-env.js';
import { childrenReaped, makeTempDir, median, removeTempDir, run, totalCpu, withRss, type RssWindow } from './lib/proc.js';
import type { BenchContext, BenchPart, Figure, PartResult } from './lib/report.js';
import { startHttpBackend, startLazyaf, type ServerProcess } from './lib/servers.js';
import { DEFAULT_PARAMS, generatedRepo } from './repo-gen.js';

type Refs = Record<string, string>;
interface Sample {
  seconds: number;
  /** CPU seconds used by the git clients (and a file clone's server side) and by the server process tree. */
  cpu: { client: number; server: number };
  rss?: RssWindow;
  /** Parallel clones: the last one's finishing time over the first one's. */
  spread?: number;
}
type Series = Record<string, Sample[]>;

const PARALLEL = 4;
/**
 * P3's targets. "4 parallel clones not serialised": the wall-time ratio is bounded below by CPU on
 * a 2-core machine (one clone keeps about one core busy in git alone), so the bench also reports
 * the spread of finishing times, which tells "served together" (~1) from "one at a time" (4).
 */
const TARGET = { cloneVsBackend: 1.1, cloneVsFile: 1.3, pushVsBackend: 1.1, rssMiB: 10, parallel: 3, spread: 2 };

async function heads(repo: string, env: NodeJS.ProcessEnv): Promise<Refs> {
  const { stdout } = await run('git', ['for-each-ref', '--format=%(refname:strip=2) %(objectname)', 'refs/heads/'], { cwd: repo, env });
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ') as [string, string]),
  );
}

function sameRefs(what: string, got: Refs, want: Refs): void {
  const a = JSON.stringify(Object.entries(got).sort());
  const b = JSON.stringify(Object.entries(want).sort());
  if (a !== b) throw new Error(`${what}: refs differ from the source repo\n got ${a}\nwant ${b}`);
}

/** Rotates the order of the variants from one run to the next, so none always goes first (warm caches, drift). */
function rotated<T>(items: T[], i: number): T[] {
  const k = i % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

class LazyafApi {
  constructor(
    private readonly server: ServerProcess,
    private readonly token: string,
  ) {}

  private async call(method: string, url: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.server.url}${url}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status} ${text}`);
    return JSON.parse(text) as unknown;
  }

  async createRepo(name: string): Promise<string> {
    return ((await this.call('POST', '/api/repos', { name })) as { id: string }).id;
  }

  async branches(id: string): Promise<Refs> {
    const list = (await this.call('GET', `/api/repos/${id}/branches`)) as { branches: { name: string; commit: string }[] };
    return Object.fromEntries(list.branches.map((b) => [b.name, b.commit]));
  }

  gitUrl(id: string): string {
    return `${this.server.url.replace('http://', `http://x:${this.token}@`)}/git/${id}.git`;
  }
}

async function run_(ctx: BenchContext): Promise<PartResult> {
  const tmp = makeTempDir('lazyaf-bench-git-');
  const home = path.join(tmp, 'home');
  const backendRoot = path.join(tmp, 'backend');
  const clonesDir = path.join(tmp, 'clones');
  for (const d of [home, backendRoot, clonesDir]) fs.mkdirSync(d);
  const env = isolatedGitEnv(home);
  const servers: ServerProcess[] = [];
  try {
    const repo = await generatedRepo(ctx.cacheDir, DEFAULT_PARAMS, env, ctx.log);
    const packMiB = repo.packBytes / 1048576;
    ctx.log(
      `test repo: pack ${packMiB.toFixed(1)} MiB, ${repo.objects} objects, ${repo.params.files} files, ${repo.params.commits} commits` +
        (repo.cached ? ' (cached)' : ` (generated in ${repo.generatedSeconds.toFixed(1)} s)`),
    );
    const sourceHeads = await heads(repo.path, env);

    const token = `lzadm_bench_${crypto.randomBytes(16).toString('hex')}`;
    const [lazyaf, backend] = await Promise.all([startLazyaf(path.join(tmp, 'lazyaf-data'), token, env), startHttpBackend(backendRoot, env)]);
    servers.push(lazyaf, backend);
    const api = new LazyafApi(lazyaf, token);
    ctx.log(`lazyaf server pid ${lazyaf.pid} at ${lazyaf.url}; http-backend wrapper pid ${backend.pid} at ${backend.url}`);

    const gitRun = (args: string[], cwd?: string) => run('git', args, { cwd, env, timeoutMs: 5 * 60_000 });
    /**
     * Times `op` and counts the CPU it cost: the bench's own children (git clients, and for a file
     * clone also git's server side) and the server with its git children. With a server, its RSS is
     * sampled meanwhile.
     */
    const timed = async (server: ServerProcess | undefined, op: () => Promise<unknown>): Promise<Sample> => {
      const clientCpu = totalCpu('self');
      const serverCpu = server ? totalCpu(server.pid) : 0;
      const started = performance.now();
      let rss: RssWindow | undefined;
      if (server) rss = (await withRss(server.pid, op)).rss;
      else await op();
      const seconds = (performance.now() - started) / 1000;
      if (server) await childrenReaped(server.pid);
      const cpu = { client: totalCpu('self') - clientCpu, server: server ? totalCpu(server.pid) - serverCpu : 0 };
      return { seconds, cpu, ...(rss ? { rss } : {}) };
    };
    const describe = (x: Sample) =>
      `${x.seconds.toFixed(2)}s [cpu client ${x.cpu.client.toFixed(2)}s${x.rss ? `, server ${x.cpu.server.toFixed(2)}s, rss +${x.rss.growthMiB.toFixed(1)} MiB` : ''}` +
      `${x.spread ? `, last/first ${x.spread.toFixed(2)}` : ''}]`;

    let lazyafRepo = '';
    let backendRepo = '';
    /** Pushes every branch into a fresh, empty repo on one server; the repo is then the clone source. */
    const pushOnce = async (variant: 'lazyaf' | 'backend', name: string, config: string[]): Promise<Sample> => {
      if (variant === 'lazyaf') {
        const id = await api.createRepo(name);
        const sample = await timed(lazyaf, () => gitRun([...config, 'push', '--quiet', '--all', api.gitUrl(id)], repo.path));
        sameRefs('push through lazyaf', await api.branches(id), sourceHeads);
        lazyafRepo = id;
        return sample;
      }
      const dir = path.join(backendRoot, `${name}.git`);
      await gitRun(['init', '--bare', '--quiet', '--initial-branch=main', dir]);
      // The settings lazyaf gives its repos, plus what http-backend needs to accept a push.
      for (const [k, v] of [
        ['receive.denyNonFastForwards', 'true'],
        ['core.logAllRefUpdates', 'true'],
        ['http.receivepack', 'true'],
      ])
        await gitRun(['config', k!, v!], dir);
      const sample = await timed(backend, () => gitRun([...config, 'push', '--quiet', '--all', `${backend.url}/${name}.git`], repo.path));
      sameRefs('push through http-backend', await heads(dir, env), sourceHeads);
      backendRepo = dir;
      return sample;
    };

    // The first push to each server uses git's defaults: a pack larger than http.postBuffer (1 MiB)
    // goes as a "0000" probe request, then the pack chunked. If lazyaf cannot take that, say so
    // and time both servers with a postBuffer above the pack size instead (one request with a
    // Content-Length). It is also each server process's first large upload, so it counts for RSS.
    const firstPush: Series = { lazyaf: [], backend: [] };
    const plainPush: Figure = { metric: 'plain git push through lazyaf (probe + chunked)', value: NaN, unit: 's', check: true };
    let pushConfig: string[] = [];
    try {
      firstPush.lazyaf!.push(await pushOnce('lazyaf', 'bench-first-push', []));
      plainPush.value = firstPush.lazyaf![0]!.seconds;
    } catch (err) {
      plainPush.error = (err as Error).message.split('\n').slice(1).join(' | ').slice(0, 120);
      pushConfig = ['-c', `http.postBuffer=${Math.ceil((repo.packBytes * 1.5) / 1048576)}m`];
      ctx.log(`a plain push through lazyaf FAILED: ${(err as Error).message}`);
      ctx.log(`timing the pushes of both servers with ${pushConfig.join(' ')} instead`);
    }
    firstPush.backend!.push(await pushOnce('backend', 'first-push', []));
    ctx.log(`first (plain) push: lazyaf ${firstPush.lazyaf![0] ? describe(firstPush.lazyaf![0]) : 'failed'}, http-backend ${describe(firstPush.backend![0]!)}`);

    // (a) push of every branch into a fresh, empty repo.
    const push: Series = { lazyaf: [], backend: [] };
    for (let i = 0; i < ctx.runs; i++) {
      for (const variant of rotated(['lazyaf', 'backend'] as const, i)) push[variant]!.push(await pushOnce(variant, `bench-push-${i}`, pushConfig));
      ctx.log(`push ${i + 1}/${ctx.runs}: lazyaf ${describe(push.lazyaf!.at(-1)!)}, http-backend ${describe(push.backend!.at(-1)!)}`);
    }

    // (b) full (bare) clone of what was pushed: both servers hold the same pack, and the file clone reads the reference's copy.
    const sources = {
      lazyaf: { url: api.gitUrl(lazyafRepo), server: lazyaf as ServerProcess | undefined },
      backend: { url: `${backend.url}/${path.basename(backendRepo)}`, server: backend as ServerProcess | undefined },
      file: { url: backendRepo, server: undefined },
    };
    let cloneSeq = 0;
    /** Runs `count` clones at once; the sample is the wall time of all, with the spread of their finishing times. */
    const clones = async (variant: keyof typeof sources, count: number): Promise<Sample> => {
      const dests = Array.from({ length: count }, () => path.join(clonesDir, `${variant}-${cloneSeq++}.git`));
      const finished: number[] = [];
      const started = performance.now();
      const sample = await timed(sources[variant].server, () =>
        Promise.all(
          dests.map(async (dest) => {
            await gitRun(['clone', '--quiet', '--bare', ...(variant === 'file' ? ['--no-local'] : []), sources[variant].url, dest]);
            finished.push((performance.now() - started) / 1000);
          }),
        ),
      );
      for (const dest of dests) {
        sameRefs(`clone through ${variant}`, await heads(dest, env), sourceHeads);
        fs.rmSync(dest, { recursive: true, force: true });
      }
      return count > 1 ? { ...sample, spread: Math.max(...finished) / Math.min(...finished) } : sample;
    };
    const clone: Series = { lazyaf: [], backend: [], file: [] };
    for (let i = 0; i < ctx.runs; i++) {
      for (const variant of rotated(['lazyaf', 'backend', 'file'] as const, i)) clone[variant]!.push(await clones(variant, 1));
      ctx.log(
        `clone ${i + 1}/${ctx.runs}: lazyaf ${describe(clone.lazyaf!.at(-1)!)}, http-backend ${describe(clone.backend!.at(-1)!)}, file --no-local ${describe(clone.file!.at(-1)!)}`,
      );
    }

    // (c) four clones at once: wall time of all four against one clone alone, and how far apart
    // they finish (a server that serves one at a time finishes them at 1, 2, 3 and 4 times one clone).
    const parallel: Series = { lazyaf: [], backend: [] };
    for (let i = 0; i < ctx.runs; i++) {
      for (const variant of rotated(['lazyaf', 'backend'] as const, i)) parallel[variant]!.push(await clones(variant, PARALLEL));
      ctx.log(
        `${PARALLEL} parallel clones ${i + 1}/${ctx.runs}: lazyaf ${describe(parallel.lazyaf!.at(-1)!)}, http-backend ${describe(parallel.backend!.at(-1)!)}`,
      );
    }

    const sec = (x: number) => `${x.toFixed(2)}s`;
    const med = (xs: Sample[]) => median(xs.map((x) => x.seconds));
    const t = {
      push: { lazyaf: med(push.lazyaf!), backend: med(push.backend!) },
      clone: { lazyaf: med(clone.lazyaf!), backend: med(clone.backend!), file: med(clone.file!) },
      parallel: { lazyaf: med(parallel.lazyaf!), backend: med(parallel.backend!) },
    };
    const cpu = (xs: Sample[], side: 'client' | 'server') => median(xs.map((x) => x.cpu[side]));
    const cpuFigure = (what: string, mine: Sample[], ref: Sample[]): Figure => ({
      metric: `${what} server CPU lazyaf / http-backend`,
      value: cpu(mine, 'server') / cpu(ref, 'server'),
      unit: 'x',
      raw: `${sec(cpu(mine, 'server'))} / ${sec(cpu(ref, 'server'))} (node + git children); git client ${sec(cpu(mine, 'client'))} / ${sec(cpu(ref, 'client'))}`,
    });
    const spread = { lazyaf: median(parallel.lazyaf!.map((x) => x.spread ?? NaN)), backend: median(parallel.backend!.map((x) => x.spread ?? NaN)) };
    const growth = (xs: Sample[]) => xs.map((x) => x.rss?.growthMiB ?? 0);
    const rssFigure = (what: string, mine: Sample[], ref: Sample[]): Figure => ({
      metric: `lazyaf RSS growth, ${what}`,
      value: Math.max(...growth(mine)),
      unit: 'MiB',
      target: TARGET.rssMiB,
      raw: `worst run; runs ${growth(mine)
        .map((g) => g.toFixed(1))
        .join(', ')}; http-backend wrapper ${growth(ref)
        .map((g) => g.toFixed(1))
        .join(', ')}`,
    });
    // What the wall-time ratio cannot go below when the clones are CPU-bound: their CPU over the cores, against one clone's wall time.
    const cores = os.availableParallelism();
    const parallelFigure = (variant: 'lazyaf' | 'backend', metric: string): Figure => {
      const floor = median(parallel[variant]!.map((x) => x.cpu.client + x.cpu.server)) / cores / t.clone[variant];
      return {
        metric,
        value: t.parallel[variant] / t.clone[variant],
        unit: 'x',
        target: TARGET.parallel,
        raw: `${sec(t.parallel[variant])} / ${sec(t.clone[variant])}; ${PARALLEL}x = serialised, CPU floor on ${cores} cores ${floor.toFixed(2)}x`,
      };
    };
    const figures: Figure[] = [
      {
        metric: 'test repo pack size',
        value: packMiB,
        unit: 'MiB',
        raw: `${repo.objects} objects, ${repo.params.files} files, ${repo.params.commits} commits, ${Object.keys(sourceHeads).length} branches`,
      },
      {
        metric: 'clone lazyaf / http-backend',
        value: t.clone.lazyaf / t.clone.backend,
        unit: 'x',
        target: TARGET.cloneVsBackend,
        raw: `${sec(t.clone.lazyaf)} / ${sec(t.clone.backend)}`,
      },
      {
        metric: 'clone lazyaf / file --no-local',
        value: t.clone.lazyaf / t.clone.file,
        unit: 'x',
        target: TARGET.cloneVsFile,
        raw: `${sec(t.clone.lazyaf)} / ${sec(t.clone.file)}`,
      },
      {
        metric: 'clone http-backend / file --no-local (ref)',
        value: t.clone.backend / t.clone.file,
        unit: 'x',
        raw: `${sec(t.clone.backend)} / ${sec(t.clone.file)}`,
      },
      cpuFigure('clone', clone.lazyaf!, clone.backend!),
      plainPush,
      {
        metric: 'push lazyaf / http-backend',
        value: t.push.lazyaf / t.push.backend,
        unit: 'x',
        target: TARGET.pushVsBackend,
        raw: `${sec(t.push.lazyaf)} / ${sec(t.push.backend)}${pushConfig.length ? ` (both with ${pushConfig[1]!})` : ''}`,
      },
      cpuFigure('push', push.lazyaf!, push.backend!),
      rssFigure('clone', clone.lazyaf!, clone.backend!),
      rssFigure('push (first = plain push)', [...firstPush.lazyaf!, ...push.lazyaf!], [...firstPush.backend!, ...push.backend!]),
      rssFigure(`${PARALLEL} parallel clones`, parallel.lazyaf!, parallel.backend!),
      parallelFigure('lazyaf', `lazyaf ${PARALLEL} parallel / single clone`),
      parallelFigure('backend', `http-backend ${PARALLEL} parallel / single (ref)`),
      {
        metric: `${PARALLEL} parallel clones lazyaf / http-backend`,
        value: t.parallel.lazyaf / t.parallel.backend,
        unit: 'x',
        target: TARGET.cloneVsBackend,
        raw: `${sec(t.parallel.lazyaf)} / ${sec(t.parallel.backend)}`,
      },
      {
        metric: `lazyaf ${PARALLEL} parallel: last / first to finish`,
        value: spread.lazyaf,
        unit: 'x',
        target: TARGET.spread,
        raw: `~1 = served together, ${PARALLEL} = one at a time; http-backend ${spread.backend.toFixed(2)}x`,
      },
    ];
    return {
      part: 'git',
      figures,
      details: {
        repo: { params: repo.params, packBytes: repo.packBytes, packMiB: Number(packMiB.toFixed(2)), objects: repo.objects, cached: repo.cached },
        parallelClones: PARALLEL,
        pushClientConfig: pushConfig,
        medianSeconds: t,
        parallelFinishSpread: spread,
        cores,
        samples: { firstPush, push, clone, parallel },
      },
    };
  } catch (err) {
    for (const server of servers) process.stderr.write(`[bench] last output of server pid ${server.pid}:\n${server.output()}\n`);
    throw err;
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    removeTempDir(tmp);
  }
}

export const gitPart: BenchPart = {
  name: 'git',
  description: 'P3: push, clone and 4 parallel clones of a ~40 MiB-pack repo through lazyaf vs git http-backend vs a --no-local file clone',
  run: run_,
};
