import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { run, write } from './lib/proc.js';

/**
 * A deterministic test repository: an initial commit with `files` files, then `commits - 1`
 * commits that each rewrite a block of lines in `filesPerCommit` files, all from a seeded PRNG.
 * Lines are a mix of random base64-ish runs (hard to compress, like minified code or data) and
 * words from a seeded vocabulary (compressible, like source), so the packed size is steered by
 * `avgFileBytes` and `randomLinePct`. Written with `git fast-import`, then repacked once the way
 * a server's repo would be (`git repack -adf`, no bitmaps).
 */
export interface GenParams {
  seed: number;
  files: number;
  commits: number;
  filesPerCommit: number;
  avgFileBytes: number;
  /** Share of lines (percent) that are random characters rather than vocabulary words. */
  randomLinePct: number;
  /** Share of a file's lines (percent) an edit replaces with new lines. */
  editPct: number;
  /** Extra branches, each pointing at the commit of that (1-based) number on main. */
  branches: Record<string, number>;
}

export const DEFAULT_PARAMS: GenParams = {
  seed: 20240531,
  files: 3000,
  commits: 300,
  filesPerCommit: 10,
  avgFileBytes: 15_200,
  randomLinePct: 55,
  editPct: 20,
  branches: { 'release/1.0': 100, 'release/2.0': 200, 'feature/search': 250, 'feature/ui': 290 },
};

/** Bumped whenever the generator's output for the same parameters changes. */
const GENERATOR_VERSION = 1;

export interface GeneratedRepo {
  path: string;
  params: GenParams;
  packBytes: number;
  objects: number;
  generatedSeconds: number;
  cached: boolean;
}

/** sfc32 seeded through splitmix32: small, fast and the same on every machine. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const splitmix = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = splitmix();
    this.b = splitmix();
    this.c = splitmix();
    this.d = splitmix();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
}

const ALPHABET = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');
const JOINERS = [' ', ' ', ', ', '.', '(', ') ', ' = ', '_', ' + ', ': '].map((s) => Buffer.from(s));
const EXTS = ['ts', 'js', 'py', 'go', 'rs', 'md', 'json', 'c', 'h', 'txt'];

class ContentGen {
  private readonly vocab: Buffer[];

  constructor(
    private readonly rng: Rng,
    private readonly randomLinePct: number,
  ) {
    this.vocab = Array.from({ length: 4096 }, () => {
      const len = rng.range(3, 12);
      const word = Buffer.alloc(len);
      for (let i = 0; i < len; i++) word[i] = ALPHABET[rng.int(i === 0 ? 52 : 62)]!;
      return word;
    });
  }

  line(): Buffer {
    const rng = this.rng;
    const indent = rng.int(5) * 2;
    if (rng.int(100) < this.randomLinePct) {
      const len = rng.range(24, 96);
      const buf = Buffer.alloc(indent + len + 1, 0x20);
      for (let i = indent; i < indent + len; i++) buf[i] = ALPHABET[rng.u32() & 63]!;
      buf[indent + len] = 0x0a;
      return buf;
    }
    const parts: Buffer[] = [Buffer.alloc(indent, 0x20)];
    const words = rng.range(3, 10);
    for (let i = 0; i < words; i++) {
      if (i > 0) parts.push(JOINERS[rng.int(JOINERS.length)]!);
      parts.push(this.vocab[rng.int(this.vocab.length)]!);
    }
    parts.push(Buffer.from(rng.int(4) === 0 ? ';\n' : '\n'));
    return Buffer.concat(parts);
  }

  lines(bytes: number): Buffer[] {
    const out: Buffer[] = [];
    let n = 0;
    while (n < bytes) {
      const l = this.line();
      out.push(l);
      n += l.length;
    }
    return out;
  }
}

export function paramsKey(params: GenParams): string {
  const json = JSON.stringify({ v: GENERATOR_VERSION, ...params });
  return crypto.createHash('sha256').update(json).digest('hex').slice(0, 12);
}

/** Writes the fast-import stream for `params` to `out`, with backpressure. */
async function writeStream(params: GenParams, out: NodeJS.WritableStream): Promise<void> {
  const rng = new Rng(params.seed);
  const gen = new ContentGen(rng, params.randomLinePct);
  const paths: string[] = [];
  const contents: Buffer[][] = [];
  for (let i = 0; i < params.files; i++) {
    const dir = `src/mod${String(rng.int(40)).padStart(2, '0')}/part${String(rng.int(6))}`;
    paths.push(`${dir}/file${String(i).padStart(4, '0')}.${EXTS[rng.int(EXTS.length)]!}`);
    const size = Math.round(params.avgFileBytes * (0.2 + 1.6 * (rng.u32() / 4294967296)));
    contents.push(gen.lines(size));
  }

  let mark = 0;
  const blob = async (lines: Buffer[]): Promise<number> => {
    const data = Buffer.concat(lines);
    mark += 1;
    await write(out, `blob\nmark :${mark}\ndata ${data.length}\n`);
    await write(out, data);
    await write(out, '\n');
    return mark;
  };
  const commitMarks: number[] = [];
  const baseTime = 1_700_000_000;
  for (let c = 0; c < params.commits; c++) {
    const changed: [number, number][] = [];
    if (c === 0) {
      for (let i = 0; i < params.files; i++) changed.push([i, await blob(contents[i]!)]);
    } else {
      const picked = new Set<number>();
      while (picked.size < Math.min(params.filesPerCommit, params.files)) picked.add(rng.int(params.files));
      for (const i of picked) {
        const lines = contents[i]!;
        const count = Math.max(1, Math.round((lines.length * params.editPct) / 100));
        const start = rng.int(Math.max(1, lines.length - count));
        const bytes = lines.slice(start, start + count).reduce((n, l) => n + l.length, 0);
        lines.splice(start, count, ...gen.lines(Math.round(bytes * (0.8 + rng.int(41) / 100))));
        changed.push([i, await blob(lines)]);
      }
    }
    mark += 1;
    commitMarks.push(mark);
    const when = `${baseTime + c * 3600} +0000`;
    const message = Buffer.from(c === 0 ? 'Initial import\n' : `Change ${c}: update ${changed.length} files\n`);
    let header = `commit refs/heads/main\nmark :${mark}\nauthor Bench Author <author@example.test> ${when}\ncommitter Bench Author <author@example.test> ${when}\ndata ${message.length}\n`;
    await write(out, header);
    await write(out, message);
    header = c > 0 ? `from :${commitMarks[c - 1]!}\n` : '';
    for (const [i, m] of changed) header += `M 100644 :${m} ${paths[i]!}\n`;
    await write(out, header + '\n');
  }
  for (const [branch, n] of Object.entries(params.branches)) {
    const target = commitMarks[Math.min(n, params.commits) - 1]!;
    await write(out, `reset refs/heads/${branch}\nfrom :${target}\n\n`);
  }
  await write(out, 'done\n');
  out.end();
}

async function packStats(repo: string, env: NodeJS.ProcessEnv): Promise<{ packBytes: number; objects: number }> {
  const { stdout } = await run('git', ['count-objects', '-v'], { cwd: repo, env });
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(stdout)?.[1] ?? NaN);
  return { packBytes: field('size-pack') * 1024, objects: field('in-pack') };
}

/**
 * The generated repo for `params`, from the cache under `cacheDir` if an earlier run made it
 * (a `.json` beside it is written last, so a half-made repo is never reused).
 */
export async function generatedRepo(cacheDir: string, params: GenParams, env: NodeJS.ProcessEnv, log: (msg: string) => void): Promise<GeneratedRepo> {
  const key = paramsKey(params);
  const repoPath = path.join(cacheDir, `repo-${key}.git`);
  const metaPath = path.join(cacheDir, `repo-${key}.json`);
  if (fs.existsSync(metaPath) && fs.existsSync(repoPath)) {
    const meta = JSON.parse(fs.readFileSync(metaPath, 'utf8')) as Omit<GeneratedRepo, 'path' | 'cached'>;
    return { ...meta, path: repoPath, cached: true };
  }
  fs.mkdirSync(cacheDir, { recursive: true });
  const building = `${repoPath}.tmp-${process.pid}`;
  fs.rmSync(building, { recursive: true, force: true });
  log(`generating the test repo (${params.files} files, ${params.commits} commits, seed ${params.seed}) into ${path.relative(process.cwd(), repoPath)}`);
  const started = performance.now();
  try {
    await run('git', ['init', '--bare', '--quiet', '--initial-branch=main', building], { env });
    await run('git', ['fast-import', '--quiet', '--done'], { cwd: building, env, input: (stdin) => writeStream(params, stdin) });
    await run('git', ['-c', 'repack.writeBitmaps=false', 'repack', '-a', '-d', '-f', '-q'], { cwd: building, env });
    await run('git', ['prune-packed'], { cwd: building, env });
    fs.rmSync(repoPath, { recursive: true, force: true });
    fs.renameSync(building, repoPath);
  } catch (err) {
    fs.rmSync(building, { recursive: true, force: true });
    throw err;
  }
  const stats = await packStats(repoPath, env);
  const meta = { params, ...stats, generatedSeconds: (performance.now() - started) / 1000 };
  fs.writeFileSync(metaPath, JSON.stringify(meta, null, 2) + '\n');
  return { ...meta, path: repoPath, cached: false };
}
