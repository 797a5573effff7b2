import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, startTestServer } from './helpers.js';

// The OpenAPI document at /docs/json, as a new user reads it: every operation says what it does,
// and the schemas carry their fields' documentation and their enums.

interface Operation {
  summary?: string;
  tags?: string[];
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}
interface Schema {
  description?: string;
  properties?: Record<string, Schema>;
  anyOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  items?: Schema;
}
type Spec = { paths: Record<string, Record<string, Operation>> };

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

test('every operation in the OpenAPI document has a summary and a tag', async (t) => {
  const server = await startTestServer(t);
  const spec = (await api<Spec>(server, 'GET', '/docs/json', undefined, { token: null })).body;
  const operations = Object.entries(spec.paths).flatMap(([p, ops]) =>
    Object.entries(ops).flatMap(([m, op]) => (METHODS.includes(m) ? [[`${m.toUpperCase()} ${p}`, op] as const] : [])),
  );
  assert.ok(operations.length > 40, `${operations.length} operations`);
  const unsummarized = operations.filter(([, op]) => !op.summary?.trim()).map(([name]) => name);
  assert.deepEqual(unsummarized, [], 'operations without a summary');
  const untagged = operations.filter(([, op]) => !op.tags?.length).map(([name]) => name);
  assert.deepEqual(untagged, [], 'operations without a tag');
});

test("the OpenAPI document carries the fields' descriptions and enums", async (t) => {
  const server = await startTestServer(t);
  const spec = (await api<Spec>(server, 'GET', '/docs/json', undefined, { token: null })).body;
  const answer = (p: string, method = 'get') => spec.paths[p]![method]!.responses['200']!.content!['application/json']!.schema;
  const values = (s: Schema): unknown[] => s.enum ?? (s.const !== undefined ? [s.const] : (s.anyOf ?? []).flatMap(values));

  const jobs = answer('/api/jobs');
  assert.match(jobs.properties!.total!.description ?? '', /all items matching/i);
  assert.match(answer('/api/runners').properties!.total!.description ?? '', /all items matching/i);
  assert.match(answer('/api/repos').properties!.total!.description ?? '', /all items matching/i);
  const job = jobs.properties!.jobs!.items!.properties!;
  assert.match(job.parent_job_id!.description ?? '', /follows up/);
  assert.deepEqual(values(job.end_reason!).sort(), ['cancelled', 'failed', 'lost', 'no_runner', 'returned', 'succeeded', 'timeout', null].sort());
  assert.deepEqual(values(job.status!).sort(), ['cancelled', 'failed', 'queued', 'running', 'succeeded']);
  const runner = answer('/api/runners').properties!.runners!.items!.properties!;
  assert.deepEqual(values(runner.status!).sort(), ['busy', 'draining', 'idle', 'offline']);
  const completed = answer('/api/runners/attempts/{attempt_id}/complete', 'post').properties!;
  assert.deepEqual(values(completed.job_status!).sort(), ['cancelled', 'failed', 'queued', 'running', 'succeeded']);
  const assignment = answer('/api/runners/poll', 'post').properties!;
  assert.match(assignment.job_token!.description ?? '', /password for git/i);
});
