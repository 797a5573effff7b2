import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { JobDurations } from '../src/server/metrics/durations.js';
import { escapeLabelValue, formatFamily } from '../src/server/metrics/format.js';
import { MetricsStore } from '../src/server/store/metrics.js';
import { api, authUrl, git, startTestServer, tempDir } from './helpers.js';
import { inProcessRunners, runJob, seedRepo, submit } from './queue-helpers.js';

/** The samples of a scrape, by their full series text (name and labels). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+(?:\{.*\})?) (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    out.set(m[1]!, m[2] === '+Inf' ? Infinity : Number(m[2]));
  }
  return out;
}

async function scrape(url: string, token?: string): Promise<Response> {
  return fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

test('the formatter follows the text format: HELP and TYPE once, escaped label values, cumulative buckets to +Inf', () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  const gauge = formatFamily({ name: 'x_total', help: 'line one\nback\\slash', type: 'counter', samples: [{ labels: { agent: 'we"ird\n' }, value: 3 }] });
  assert.equal(gauge, '# HELP x_total line one\\nback\\\\slash\n# TYPE x_total counter\nx_total{agent="we\\"ird\\n"} 3\n');
  const h = formatFamily({ name: 'd_seconds', help: 'd', type: 'histogram', histograms: [{ buckets: [0.1, 1], counts: [2, 1], sum: 1.5, count: 4 }] });
  assert.equal(
    h,
    [
      '# HELP d_seconds d',
      '# TYPE d_seconds histogram',
      'd_seconds_bucket{le="0.1"} 2',
      'd_seconds_bucket{le="1"} 3',
      'd_seconds_bucket{le="+Inf"} 4',
      'd_seconds_sum 1.5',
      'd_seconds_count 4',
      '',
    ].join('\n'),
  );
  assert.throws(() => formatFamily({ name: 'bad-name', help: '', type: 'gauge', samples: [] }));
  assert.throws(() => formatFamily({ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'bad label': 'x' }, value: 1 }] }));
});

test('GET /metrics: admin or metrics token only; jobs, durations, runners, pool, logs, git traffic and usage', async (t) => {
  const runners = inProcessRunners(t);
  const metricsToken = 'metrics-token-for-the-test-0123456789';
  const server = await startTestServer(t, { LAZYAF_METRICS_TOKEN: metricsToken });

  assert.equal((await scrape(server.url)).status, 401);
  assert.equal((await scrape(server.url, 'wrong')).status, 401);
  // The metrics token reads the metrics and nothing else.
  assert.equal((await api(server, 'GET', '/api/repos', undefined, { token: metricsToken })).status, 401);

  const repo = await seedRepo(server, path.join(tempDir(t), 'src'), 'demo');
  const clone = path.join(tempDir(t), 'clone');
  await git(['clone', '-q', authUrl(repo.clone_url, server.token), clone]);
  runners(server, 'r1');
  const done = await runJob(server, { repo_id: repo.id, title: 'echo', command: 'echo hello from the job' });
  assert.equal(done.status, 'succeeded');
  // Usage as an agent's runner reports it, on the job's attempt.
  server.ctx.db
    .prepare(`UPDATE attempts SET usage = ? WHERE job_id = ?`)
    .run(JSON.stringify({ input_tokens: 120, output_tokens: 30, cost_usd: 0.25 }), done.id);
  server.ctx.db.prepare(`UPDATE jobs SET agent = 'we"ird' WHERE id = ?`).run(done.id);

  const res = await scrape(server.url, metricsToken);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const text = await res.text();
  assert.equal((await scrape(server.url, server.token)).status, 200);
  const s = samples(text);

  assert.equal(s.get('lazyaf_jobs{status="succeeded"}'), 1);
  for (const family of ['lazyaf_job_queue_wait_seconds', 'lazyaf_job_run_seconds']) {
    assert.match(text, new RegExp(`^# TYPE ${family} histogram$`, 'm'));
    assert.equal(s.get(`${family}_count`), 1);
    assert.equal(s.get(`${family}_bucket{le="+Inf"}`), 1);
    const buckets = [...s].filter(([k]) => k.startsWith(`${family}_bucket`)).map(([, v]) => v);
    assert.ok(
      buckets.every((v, i) => i === 0 || v >= buckets[i - 1]!),
      'cumulative',
    );
    assert.ok(s.get(`${family}_sum`)! >= 0);
  }
  assert.equal(s.get('lazyaf_runners{state="idle"}'), 1);
  assert.equal(s.get('lazyaf_pool_desired_runners'), 0);
  assert.equal(s.get('lazyaf_pool_running_runners'), 0);
  assert.equal(s.get('lazyaf_log_bytes'), done.log_bytes);
  assert.ok(done.log_bytes > 0);
  // The seed's push (refs, receive-pack), the test's clone and the runner's fetch (refs, upload-pack).
  assert.ok(s.get('lazyaf_git_requests_total{service="receive-pack",code="200"}')! >= 1);
  assert.ok(s.get('lazyaf_git_requests_total{service="upload-pack",code="200"}')! >= 2);
  assert.ok(s.get('lazyaf_git_bytes_total{service="receive-pack",direction="in"}')! > 100, 'the pushed pack');
  assert.ok(s.get('lazyaf_git_bytes_total{service="upload-pack",direction="out"}')! > 100, 'the cloned pack');
  assert.equal(s.get('lazyaf_agent_tokens_total{agent="we\\"ird",kind="input"}'), 120);
  assert.equal(s.get('lazyaf_agent_tokens_total{agent="we\\"ird",kind="output"}'), 30);
  assert.equal(s.get('lazyaf_agent_cost_usd_total{agent="we\\"ird"}'), 0.25);

  await submit(server, { repo_id: repo.id, title: 'queued', command: 'true', labels: ['nowhere'] });
  // A finished job told of again (a land, a comment) is not counted twice.
  server.ctx.events.emit({ type: 'job.updated', job_id: done.id, repo_id: repo.id, status: 'succeeded' });
  const again = samples(await (await scrape(server.url, server.token)).text());
  assert.equal(again.get('lazyaf_jobs{status="queued"}'), 1);
  assert.equal(again.get('lazyaf_job_run_seconds_count'), 1);

  // After a restart the histograms are read from the database: the same job, counted once.
  const restarted = new JobDurations(new MetricsStore(server.ctx.db), server.ctx.store.jobs);
  restarted.finished(done.id);
  assert.equal(restarted.runDuration().count, 1);
  assert.equal(restarted.queueWait().count, 1);
  // julianday() keeps milliseconds to within a few microseconds.
  assert.ok(Math.abs(restarted.runDuration().sum - s.get('lazyaf_job_run_seconds_sum')!) < 0.001);
});
