/**
 * Runners part of `npm run bench`: M1, the resident memory of an idle process runner, as the
 * server's pool starts it (`--runners 1`), against a bare `node -e 'setInterval(() => {}, 1e9)'`
 * started beside it. Both are read (VmRSS) after the runner has registered and then idled for a
 * few seconds, so what a start allocates and frees once has settled. PSS too: what each runner of a
 * pool really adds, the pages of the node binary being shared among them.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isolatedGitEnv } from './lib/git-env.js';
import { makeTempDir, median, readPssKiB, readRssKiB, removeTempDir, stopChild, track } from './lib/proc.js';
import type { BenchContext, BenchPart, PartResult } from './lib/report.js';
import { startLazyaf } from './lib/servers.js';
import { ADMIN, call } from './queue.js';

/** After registering: the long-poll is open and the first heartbeats have gone. */
const SETTLE_MS = 5000;

/** The pids whose parent is `parent`, from /proc. */
function childrenOf(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name in parentheses may hold spaces: the fields after its closing one are fixed.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One sample: the idle pool runner's RSS and PSS and the bare node's, in MiB, taken at the same moment. */
async function sample(ctx: BenchContext, i: number): Promise<{ runner: number; bare: number; runnerPss?: number; barePss?: number; argv: string }> {
  const dir = makeTempDir('lazyaf-bench-runners-');
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  const server = await startLazyaf(path.join(dir, 'data'), ADMIN, isolatedGitEnv(home), 1);
  const bare = track(spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' }));
  try {
    await waitFor('the pool runner to register', 30_000, async () => {
      const list = await call<{ runners: { status: string }[] }>(`${server.url}/api/runners`, 'GET', ADMIN);
      return list.body.runners.some((r) => r.status === 'idle') ? true : undefined;
    });
    const pid = await waitFor('the pool runner process', 5000, () => childrenOf(server.pid)[0]);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const runner = readRssKiB(pid);
    const bareRss = readRssKiB(bare.pid!);
    const runnerPss = readPssKiB(pid);
    const barePss = readPssKiB(bare.pid!);
    if (runner === undefined || bareRss === undefined) throw new Error('the runner or the bare node is gone');
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(1, 3).join(' ');
    const pss = runnerPss === undefined || barePss === undefined ? '' : `; PSS ${(runnerPss / 1024).toFixed(1)} and ${(barePss / 1024).toFixed(1)} MiB`;
    ctx.log(`runners: run ${i + 1}: idle pool runner ${(runner / 1024).toFixed(1)} MiB, bare node ${(bareRss / 1024).toFixed(1)} MiB${pss} (${argv} ...)`);
    return {
      runner: runner / 1024,
      bare: bareRss / 1024,
      ...(runnerPss === undefined || barePss === undefined ? {} : { runnerPss: runnerPss / 1024, barePss: barePss / 1024 }),
      argv,
    };
  } finally {
    await stopChild(bare, 500);
    await server.stop();
    removeTempDir(dir);
  }
}

export const runnersPart: BenchPart = {
  name: 'runners',
  description: 'M1: resident memory of an idle pool process runner, against a bare node',
  run: async (ctx: BenchContext): Promise<PartResult> => {
    const samples = [];
    for (let i = 0; i < ctx.runs; i++) samples.push(await sample(ctx, i));
    const runner = median(samples.map((s) => s.runner));
    const bare = median(samples.map((s) => s.bare));
    const pss = samples.every((s) => s.runnerPss !== undefined && s.barePss !== undefined)
      ? { runner: median(samples.map((s) => s.runnerPss!)), bare: median(samples.map((s) => s.barePss!)) }
      : undefined;
    return {
      part: 'runners',
      figures: [
        { metric: 'M1 idle process runner RSS', value: runner, unit: 'MiB', target: 40, raw: `bare node ${bare.toFixed(1)} MiB` },
        { metric: 'M1 idle process runner vs bare node', value: runner / bare, unit: 'x', raw: `${runner.toFixed(1)} / ${bare.toFixed(1)} MiB` },
        // What each runner of a pool adds to the machine: the node binary's pages are shared.
        ...(pss ? [{ metric: 'M1 idle process runner PSS', value: pss.runner, unit: 'MiB' as const, raw: `bare node ${pss.bare.toFixed(1)} MiB` }] : []),
      ],
      details: { samples },
    };
  },
};
