import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Task } from '../src/shared/api.js';
import { api, assertCliFailure, cli, startTestServer, tempDir } from './helpers.js';
import { inProcessRunners, seedRepo } from './queue-helpers.js';

test('jobs submit --count makes a task and --wait waits for every job; tasks show, list and pick; diff of two jobs', async (t) => {
  const start = inProcessRunners(t);
  const server = await startTestServer(t);
  await seedRepo(server, path.join(tempDir(t), 'src'));
  start(server, 'r1');
  start(server, 'r2');

  const submitted = await cli(
    ['jobs', 'submit', '--repo', 'demo', '--title', 'answer', '--command', 'echo "$LAZYAF_JOB_ID" > answer.txt', '--count', '2', '--wait'],
    {
      server,
    },
  );
  assert.equal(submitted.code, 0, submitted.stderr);
  assert.match(submitted.stderr, /Submitted task [0-9a-f-]{36} of 2 jobs/);
  const taskId = /Submitted task ([0-9a-f-]{36})/.exec(submitted.stderr)![1]!;
  // The candidates side by side once all have finished: one row each, with their changes.
  assert.match(submitted.stdout, new RegExp(`^task ${taskId.slice(0, 8)} finished: answer \\(demo\\)$`, 'm'));
  assert.match(submitted.stdout, /^JOB\s+AGENT\s+STATUS\s+CHECKS\s+FILES\s+\+\s+-\s+USAGE\s+DURATION\s+CHOICE$/m);
  const rows = submitted.stdout.split('\n').filter((l) => /^[0-9a-f]{8}\s+shell\s+succeeded\s+-\s+1\s+\+1\s+-0\s+-\s+\d+\.\d s\s+-$/.test(l));
  assert.equal(rows.length, 2, submitted.stdout);
  const [a, b] = rows.map((r) => r.slice(0, 8)) as [string, string];

  const show = await cli(['tasks', 'show', taskId.slice(0, 6)], { server });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, new RegExp(`^${a}\\s+shell\\s+succeeded`, 'm'));
  const json = JSON.parse((await cli(['tasks', 'show', taskId, '--json'], { server })).stdout) as Task;
  assert.equal(json.jobs.length, 2);

  const list = await cli(['tasks', 'list', '--repo', 'demo'], { server });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^${taskId.slice(0, 8)}\\s+finished\\s+2/2 finished\\s+-\\s+demo\\s+answer$`, 'm'));

  // Two candidates compared: each wrote its own id.
  const diff = await cli(['diff', a, b], { server });
  assert.equal(diff.code, 0, diff.stderr);
  assert.match(diff.stdout, new RegExp(`^-${json.jobs.find((c) => c.job.id.startsWith(a))!.job.id}$`, 'm'));
  const stat = await cli(['diff', a, b, '--stat'], { server });
  assert.match(stat.stdout, /^ M answer\.txt\s+\+1 -1$/m);
  assert.match(stat.stdout, /1 file changed, 1 insertion\(\+\), 1 deletion\(-\)/);

  const picked = await cli(['tasks', 'pick', taskId.slice(0, 8), b], { server });
  assert.equal(picked.code, 0, picked.stderr);
  assert.match(picked.stdout, new RegExp(`^${b}\\s.*\\spicked$`, 'm'));
  assert.match(picked.stdout, new RegExp(`^${a}\\s.*\\sdiscarded \\(branch until \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\)$`, 'm'));
  assertCliFailure(await cli(['tasks', 'pick', taskId, a], { server }), /has its pick already/, 'a second pick');
  // Landing from the server answers in words whatever it can do; the pick stands.
  const again = await cli(['tasks', 'pick', taskId, b, '--land'], { server });
  assert.notEqual(again.code, 0);
  assert.equal((await api<Task>(server, 'GET', `/api/tasks/${taskId}`)).body.picked_job_id, json.jobs.find((c) => c.job.id.startsWith(b))!.job.id);

  assertCliFailure(await cli(['tasks', 'show', 'nope'], { server }), /task not found: nope/, 'an unknown task');
  assertCliFailure(await cli(['tasks', 'pick', taskId, a, '--pr'], { server }), /pass --land too/, '--pr without --land');
  assertCliFailure(
    await cli(['jobs', 'submit', '--repo', 'demo', '--title', 'x', '--agent', 'claude,codex', '--count', '2'], { server }),
    /pass one of/,
    'a list and a count',
  );
  assertCliFailure(
    await cli(['jobs', 'submit', '--repo', 'demo', '--title', 'x', '--agents', 'claude:0'], { server }),
    /--agents takes names with an optional count/,
    'a count of 0',
  );
  assertCliFailure(
    await cli(['jobs', 'submit', '--repo', 'demo', '--title', 'x', '--agents', 'claude:2,nosuch'], { server }),
    /unknown agent "nosuch"/,
    'an unknown agent',
  );
});

test('jobs submit --agent a,b and --agents a:2,b: one job per agent named, without waiting', async (t) => {
  const server = await startTestServer(t);
  await seedRepo(server, path.join(tempDir(t), 'src'));
  const listed = await cli(['jobs', 'submit', '--repo', 'demo', '--title', 'try', '--agent', 'claude,codex'], { server });
  assert.equal(listed.code, 0, listed.stderr);
  const lines = listed.stdout.trim().split('\n');
  assert.match(lines[0]!, /^task [0-9a-f-]{36}$/);
  assert.deepEqual(
    lines.slice(1).map((l) => l.replace(/^job [0-9a-f-]{36} /, '')),
    ['claude', 'codex'],
  );
  const repeated = await cli(['jobs', 'submit', '--repo', 'demo', '--title', 'try', '--agents', 'claude:2,gemini', '--json'], { server });
  assert.equal(repeated.code, 0, repeated.stderr);
  const created = JSON.parse(repeated.stdout) as { id: string; jobs: { agent: string; task_id: string }[] };
  assert.deepEqual(
    created.jobs.map((j) => j.agent),
    ['claude', 'claude', 'gemini'],
  );
  assert.ok(created.jobs.every((j) => j.task_id === created.id));
});
