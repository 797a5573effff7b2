/**
 * D3, for the docker runners' environment cache: what a job pays to start with what setup left
 * (`node_modules`), kept the two ways a docker runner could keep it.
 * - The cache (what lazyaf does): the runner's container holds a copy per repo and key and a spare
 *   copy made beforehand, which it moves into the job's checkout (a rename); without a spare it
 *   copies (`cp -a`). Both are timed inside the running container.
 * - A prepared image per repo and key: the container in which setup ran is committed once, and each
 *   job then needs a container of that image. Its per-job cost is at least one `docker run` of the
 *   image to its exit (the runner inside would still start and register: D1 measures that).
 * Both at two sizes of a synthetic node_modules (files of 2 KiB in 100 directories), medians of
 * `runs`; the commit and the image's extra size, which only the prepared image pays, are reported.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { median } from './lib/proc.js';
import type { BenchContext, Figure } from './lib/report.js';

const exec = promisify(execFile);
const SIZES = [2_000, 20_000];

async function docker(...args: string[]): Promise<string> {
  return (await exec('docker', args, { maxBuffer: 1 << 20 })).stdout.trim();
}

/** Milliseconds of `script` in the container, measured inside it (no `docker exec` overhead). */
async function timedInside(container: string, script: string): Promise<number> {
  const out = await docker('exec', container, 'sh', '-c', `s=$(date +%s%N); ${script}; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))`);
  return Number(out.split('\n').pop());
}

const FILL = `const fs = require('fs'); const n = Number(process.argv[1]); const body = 'x'.repeat(2048);
for (let i = 0; i < n; i++) { const d = '/cache/node_modules/p' + (i % 100); fs.mkdirSync(d, { recursive: true }); fs.writeFileSync(d + '/f' + i + '.js', body); }`;

export interface PreparedImageFigures {
  figures: Figure[];
  details: Record<string, unknown>;
}

export async function preparedImageVsCache(ctx: BenchContext, image: string): Promise<PreparedImageFigures> {
  const figures: Figure[] = [];
  const details: Record<string, unknown> = {};
  for (const files of SIZES) {
    const container = await docker('run', '-d', '--network', 'none', '--entrypoint', 'sleep', image, 'infinity');
    const tag = `lazyaf-bench-prepared:${files}`;
    try {
      await docker('exec', container, 'node', '-e', FILL, String(files));
      const copy: number[] = [];
      const spare: number[] = [];
      for (let i = 0; i < ctx.runs; i++) {
        await docker('exec', container, 'sh', '-c', 'rm -rf /job /spare && mkdir -p /job && cp -a /cache/node_modules /spare');
        copy.push(await timedInside(container, 'cp -a /cache/node_modules /job/'));
        await docker('exec', container, 'rm', '-rf', '/job/node_modules');
        spare.push(await timedInside(container, 'mv /spare /job/node_modules'));
      }
      await docker('exec', container, 'rm', '-rf', '/job', '/spare');
      const committing = Date.now();
      await docker('commit', container, tag);
      const commitMs = Date.now() - committing;
      const run: number[] = [];
      for (let i = 0; i < ctx.runs; i++) {
        const started = Date.now();
        await docker('run', '--rm', '--init', '--network', 'none', '--entrypoint', 'true', tag);
        run.push(Date.now() - started);
      }
      const layer =
        Number(await docker('image', 'inspect', '--format', '{{.Size}}', tag)) - Number(await docker('image', 'inspect', '--format', '{{.Size}}', image));
      const [c, r, m] = [median(copy), median(run), median(spare)];
      details[`d3_${files}`] = { copyMs: copy, spareMs: spare, runMs: run, commitMs, imageExtraBytes: layer };
      figures.push({
        metric: `D3 node_modules of ${files} files: a spare copy moved in (what lazyaf does) ÷ one run of a prepared image, p50`,
        value: m / r,
        unit: 'x',
        raw: `rename ${m} ms / docker run ${r} ms`,
      });
      figures.push({
        metric: `D3 node_modules of ${files} files: copied (no spare) ÷ one run of a prepared image, p50`,
        value: c / r,
        unit: 'x',
        raw: `copy ${c} ms / docker run ${r} ms; the image: commit ${commitMs} ms, +${(layer / 2 ** 20).toFixed(0)} MiB per repo and key`,
      });
      ctx.log(`D3 ${files} files: spare moved in ${m} ms, copy ${c} ms, docker run ${r} ms, commit ${commitMs} ms`);
    } finally {
      await docker('rm', '-f', container).catch(() => '');
      await docker('rmi', '-f', tag).catch(() => '');
    }
  }
  return { figures, details };
}
