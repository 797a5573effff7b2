import { setTimeout as sleep } from 'node:timers/promises';
import { percentile } from '../lib/proc.js';
import { jsonRequest, rawRequest } from '../lib/raw-http.js';
import type { Target } from './target.js';
import type { SeededRepo } from './world.js';

/**
 * R9 and R10 of DESIGN.md, with the job's command as the attacker: a real server with sandboxed
 * pool runners runs jobs that
 * - commit a tree of many entries under deep, long directory names, whose diff is then asked for
 *   (its file list alone once ran to 564 MB of git output and ended the server);
 * - leave a README of hundreds of MB of zeros, on which an agent follow-up is then claimed (the
 *   assignment once read it whole, at every claim, after every restart);
 * - open thousands of connections to the server's port, fork without end and fill their tmpfs,
 *   while another job must still succeed and /api/health and the admin API are timed.
 * Every job must end (none lost), and the server must neither stop nor answer a 5xx.
 */

export interface JobAttackResult {
  /** Jobs that did not end as they should within their bound: what each was and where it stood. */
  lost: string[];
  /** Answers with a 5xx status, or none at all, to the requests this phase made. */
  serverErrors: string[];
  diff: { ok: boolean; detail: string };
  followup: { ok: boolean; detail: string };
  bystander: { ok: boolean; detail: string };
  /** What the attacking job printed of its own attempts. */
  attacker: { connected: number; refused: number; tmpfsMiB: number; status: string };
  health: Probe;
  admin: Probe;
}

export interface Probe {
  p50: number;
  p99: number;
  max: number;
  probes: number;
  failures: number;
}

const DEEP_DIRS = 14;
const NAME_LENGTH = 250;
const TREE_ENTRIES = 160_000;
const README_MIB = 600;
const CONNECTIONS = 2000;
/** How long the noisy job keeps at it; its timeout ends it a little later. */
const ATTACK_SECONDS = 25;

type Json = Record<string, any>;

/** A job's command that commits, without a checkout, a tree of `entries` files under `depth` nested long names. */
function hugeTreeCommand(entries: number, depth: number, nameLength: number): string {
  return [
    'set -e',
    'blob=$(echo x | git hash-object -w --stdin)',
    `tree=$(seq 1 ${entries} | awk -v b="$blob" '{ printf "100644 blob %s\\tf%06d\\n", b, $1 }' | git mktree)`,
    `name=$(head -c ${nameLength} /dev/zero | tr '\\0' d)`,
    `for i in $(seq 1 ${depth}); do tree=$(printf '040000 tree %s\\t%s\\n' "$tree" "$name" | git mktree); done`,
    'commit=$(git commit-tree "$tree" -p HEAD -m "a huge tree")',
    // The index and HEAD agree and no file is checked out: the runner finds nothing to add.
    'git read-tree "$commit" && git ls-files -z | git update-index -z --skip-worktree --stdin && git update-ref HEAD "$commit"',
    'echo committed a huge tree',
  ].join('\n');
}

/** A job's command that leaves a README of `mib` MiB of zeros (a few hundred KB as a pack). */
function hugeReadmeCommand(mib: number): string {
  return `head -c ${mib}M /dev/zero > README.md && git add README.md && git commit -q -m 'a huge README' && echo committed a huge README`;
}

/**
 * The noisy neighbour: connections to the server's port (held while they last), a fork loop and a
 * tmpfs filled to its end, all at once, then a summary line for the bench.
 */
function noisyCommand(port: number): string {
  const connect = [
    `const net = require('node:net'); let ok = 0, bad = 0, done = 0; const held = [];`,
    `for (let i = 0; i < ${CONNECTIONS}; i++) { const s = net.connect(${port}, '127.0.0.1');`,
    `s.on('connect', () => { ok++; held.push(s); }); s.on('error', () => bad++); s.on('close', () => done++); }`,
    `setTimeout(() => { console.log('connections ' + ok + ' ' + bad); process.exit(0); }, ${(ATTACK_SECONDS - 5) * 1000});`,
  ].join(' ');
  return [
    `node -e "${connect}" &`,
    // Each child lives on; the loop never stops by itself: only the job's limits hold it.
    `( end=$(( $(date +%s) + ${ATTACK_SECONDS - 5} )); while [ $(date +%s) -lt $end ]; do sleep ${ATTACK_SECONDS} & done ) 2>/dev/null &`,
    `dd if=/dev/zero of=/tmp/fill bs=1M 2>/dev/null; echo "tmpfs $(( $(stat -c %s /tmp/fill) / 1048576 ))"`,
    'wait',
  ].join('\n');
}

/** Times `path` over fresh connections until `until` resolves. */
async function probe(target: Target, path: string, token: string | undefined, until: Promise<unknown>): Promise<Probe> {
  let stop = false;
  void until.finally(() => (stop = true));
  const times: number[] = [];
  let failures = 0;
  while (!stop) {
    const r = await rawRequest(target.url, { method: 'GET', path, headers: token ? { authorization: `Bearer ${token}` } : {}, timeoutMs: 5000 });
    if (r.status === 200) times.push(r.ms);
    else failures++;
    await sleep(50);
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99), max: Math.max(0, ...times), probes: times.length, failures };
}

export async function jobAttacks(target: Target, repo: SeededRepo, port: number): Promise<JobAttackResult> {
  const serverErrors: string[] = [];
  const lost: string[] = [];
  const call = async <T = Json>(method: string, path: string, body?: unknown) => {
    const r = await jsonRequest<T>(target.url, method, path, target.adminToken, body);
    if (r.status === 0 || r.status >= 500) serverErrors.push(`${method} ${path}: ${r.status || r.raw.error}`);
    return r;
  };
  const submit = async (title: string, extra: Json) => {
    const r = await call('POST', '/api/jobs', { repo_id: repo.id, title, timeout_s: 120, ...extra });
    if (r.status !== 201) throw new Error(`submit ${title}: ${r.status} ${r.raw.body.toString().slice(0, 200)}`);
    return (r.body as Json).id as string;
  };
  /** Waits for a job to end; one that does not within `seconds` is counted lost. */
  const ended = async (id: string, what: string, seconds: number): Promise<Json | undefined> => {
    const deadline = Date.now() + seconds * 1000;
    let job: Json = {};
    while (Date.now() < deadline) {
      await target.ensureAlive(what);
      job = (await call('GET', `/api/jobs/${id}`)).body as Json;
      if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
      await sleep(250);
    }
    lost.push(`${what}: still ${job.status ?? 'unknown'} after ${seconds} s`);
    return undefined;
  };

  // R9: a huge tree, then its diff as `lazyaf diff --stat` and `lazyaf diff` ask for it.
  let diff = { ok: false, detail: 'the job did not succeed' };
  const treeJob = await ended(await submit('a huge tree', { command: hugeTreeCommand(TREE_ENTRIES, DEEP_DIRS, NAME_LENGTH) }), 'the huge-tree job', 180);
  if (treeJob?.status === 'succeeded') {
    const stat = await call<Json>('GET', `/api/jobs/${treeJob.id}/diff?stat=true`);
    const full = await call<Json>('GET', `/api/jobs/${treeJob.id}/diff`);
    const alive = await target.ensureAlive('the diff of a huge tree');
    const files = (stat.body.files as unknown[] | undefined)?.length ?? 0;
    diff = {
      ok: alive && stat.status === 200 && full.status === 200,
      detail: `stat ${stat.status} (${files} files listed, files_truncated ${String(stat.body.files_truncated)}), diff ${full.status} (${full.raw.body.length} bytes)`,
    };
  }

  // R9: an agent follow-up on a branch with a huge README: the claim reads the README.
  let followup = { ok: false, detail: 'the job did not succeed' };
  const readmeJob = await ended(await submit('a huge README', { command: hugeReadmeCommand(README_MIB) }), 'the huge-README job', 180);
  if (readmeJob?.status === 'succeeded') {
    const r = await call<Json>('POST', `/api/jobs/${readmeJob.id}/followup`, { title: 'read the README', agent: 'claude' });
    const next = r.status === 201 ? await ended(r.body.id as string, 'the agent follow-up', 90) : undefined;
    const alive = await target.ensureAlive('the follow-up on a huge README');
    followup = {
      ok: alive && next !== undefined && (next.attempts as unknown[]).length > 0,
      detail: `followup ${r.status}, ended ${next?.status} (${next?.error ?? ''})`,
    };
  }

  // R10: the noisy job and a bystander side by side, with a person using the API meanwhile.
  const noisy = await submit('the noisy neighbour', { command: noisyCommand(port), timeout_s: ATTACK_SECONDS + 10 });
  await sleep(2000);
  const bystanderId = await submit('the bystander', { command: 'echo fine > bystander.txt' });
  const bystanderDone = ended(bystanderId, 'the bystander job', 60);
  const noisyDone = ended(noisy, 'the noisy job', ATTACK_SECONDS + 60);
  const watched = Promise.all([bystanderDone, noisyDone]);
  const [health, admin] = await Promise.all([
    probe(target, '/api/health', undefined, watched),
    probe(target, '/api/jobs?limit=20', target.adminToken, watched),
  ]);
  const [bystanderJob, noisyJob] = await watched;
  const log = noisyJob ? (((await call<Json>('GET', `/api/jobs/${noisy}/logs`)).body.content as string | undefined) ?? '') : '';
  const figure = (re: RegExp) => Number(re.exec(log)?.[1] ?? NaN);
  return {
    lost,
    serverErrors,
    diff,
    followup,
    bystander: { ok: bystanderJob?.status === 'succeeded', detail: `${bystanderJob?.status ?? 'not ended'} ${bystanderJob?.error ?? ''}`.trim() },
    attacker: {
      connected: figure(/connections (\d+) \d+/),
      refused: figure(/connections \d+ (\d+)/),
      tmpfsMiB: figure(/tmpfs (\d+)/),
      status: `${noisyJob?.status ?? 'not ended'} ${noisyJob?.end_reason ?? ''} ${noisyJob?.error ?? ''}`.trim(),
    },
    health,
    admin,
  };
}
