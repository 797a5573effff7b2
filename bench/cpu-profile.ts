/**
 * `node --import tsx bench/cpu-profile.ts FILE.cpuprofile [N] [LAST_S]`: the top N frames of a V8 CPU profile
 * (written by `node --cpu-prof`, e.g. a bench server's under BENCH_SERVER_CPU_PROF) by self time,
 * then the self time by module (a package under node_modules, a file of ours, or node's own
 * internals), as shares of the profile's sampled time; then our own frames (dist/) by total time,
 * callees included, which names the code behind a native frame (a syscall, a SQLite statement).
 * With LAST_S, only the samples of the profile's last LAST_S seconds count: the measured run
 * without the server's start (module loading, schema compilation) and the bench's set-up.
 */
import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  endTime: number;
  startTime: number;
}

function moduleOf(url: string): string {
  if (url === '') return '(native / VM)';
  if (url.startsWith('node:')) return url;
  const file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = file.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const dist = file.indexOf('/dist/');
  return dist >= 0 ? file.slice(dist + 1) : path.basename(file);
}

function main(): void {
  const [file, n = '25', lastS] = process.argv.slice(2);
  if (!file) throw new Error('usage: bench/cpu-profile.ts FILE.cpuprofile [N] [LAST_S]');
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  // Sample times are the start time plus the running sum of the deltas (µs).
  const from = lastS === undefined ? -Infinity : profile.endTime - Number(lastS) * 1e6;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at >= from) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const frames = new Map<string, number>();
  const modules = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const key = `${functionName || '(anonymous)'} ${url ? `${moduleOf(url)}:${lineNumber + 1}` : ''}`.trim();
    frames.set(key, (frames.get(key) ?? 0) + us);
    modules.set(moduleOf(url), (modules.get(moduleOf(url)) ?? 0) + us);
  }
  // Total time: each sample counts once for every distinct frame on its stack.
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const ours = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const { functionName, url, lineNumber } = byId.get(at)!.callFrame;
      if (!url.includes('/dist/')) continue;
      seen.add(`${functionName || '(anonymous)'} ${moduleOf(url)}:${lineNumber + 1}`);
    }
    for (const key of seen) ours.set(key, (ours.get(key) ?? 0) + us);
  }
  const share = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms`;
  const top = (m: Map<string, number>, count: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([k, us]) => `${share(us)}  ${k}`)
      .join('\n');
  process.stdout.write(
    `${(total / 1000).toFixed(0)} ms sampled\n\nself time by frame:\n${top(frames, Number(n))}\n\nself time by module:\n${top(modules, 20)}\n\nour frames by total time:\n${top(ours, Number(n))}\n`,
  );
}

main();
