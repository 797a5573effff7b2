// The runner hides the credentials it was handed in what an agent's job sends back, by itself:
// the server's own net (it redacts every value it holds) cannot catch a value it no longer holds,
// such as a key rotated away while the job runs. Claude Code for real, against the scripted API.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { JobLogs, LiveEvent, Transcript } from '../src/shared/api.js';
import { agentCliBinDir } from '../scripts/agent-clis.js';
import { startAnthropicServer } from './agents/anthropic-server.js';
import { api, startTestServer, tempDir, type TestServer } from './helpers.js';
import { inProcessRunners, seedRepo, submit, waitForJob } from './queue-helpers.js';

const BIN_DIR = agentCliBinDir('claude');
const PACKAGE_DIR = path.dirname(path.dirname(fs.realpathSync(path.join(BIN_DIR, 'claude'))));
const KEY = 'sk-ant-rotated-away-0123456789';

test('a credential the server no longer holds is still hidden by the runner in the log and the transcript', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('claude as root in the sandbox: the runner must be root');
  let server: TestServer | undefined;
  // The agent prints its key with its Bash tool once it has been handed the job; by then the key
  // is gone from the server (deleted when the first model request arrives).
  const model = await startAnthropicServer({
    script: [
      [{ type: 'tool_use', name: 'Read', input: { file_path: 'README.md' } }],
      [{ type: 'tool_use', name: 'Bash', input: { command: 'printf "key=%s\\n" "$ANTHROPIC_API_KEY"', description: 'Print the key' } }],
      [{ type: 'text', text: 'Printed it.' }],
    ],
    onRequest: async (request) => {
      if (request.path.startsWith('/v1/messages') && model.conversation().length === 1) {
        const gone = await api(server!, 'DELETE', '/api/secrets/ANTHROPIC_API_KEY');
        assert.equal(gone.status, 204, JSON.stringify(gone.body));
      }
    },
  });
  t.after(() => model.close());
  const saved = { PATH: process.env.PATH, ANTHROPIC_BASE_URL: process.env.ANTHROPIC_BASE_URL };
  process.env.PATH = `${process.env.PATH}:${BIN_DIR}`;
  process.env.ANTHROPIC_BASE_URL = model.url;
  t.after(() => Object.assign(process.env, saved));
  const s = (server = await startTestServer(t, { LAZYAF_JOB_HOST_PORTS: String(model.port) }));
  const set = await api(s, 'PUT', '/api/secrets/ANTHROPIC_API_KEY', { value: KEY });
  assert.ok(set.status === 201 || set.status === 200, JSON.stringify(set.body));
  const events: LiveEvent[] = [];
  t.after(s.ctx.events.subscribe((e) => events.push(e)));
  const repo = await seedRepo(s, path.join(tempDir(t), 'src'), 'demo');
  const runner = inProcessRunners(t)(s, 'r1', { sandbox: 'require', sandboxShare: [PACKAGE_DIR], jobHostPorts: [model.port] });
  await runner.registered;

  const job = await waitForJob(s, (await submit(s, { repo_id: repo.id, title: 'Print the key', agent: 'claude' })).id, undefined, 60_000);
  const log = (await api<JobLogs>(s, 'GET', `/api/jobs/${job.id}/logs`)).body.content;
  assert.equal(job.status, 'succeeded', `${job.error}\n${log}`);
  assert.equal(model.conversation()[0]?.headers['x-api-key'], KEY, 'the key reached the agent with its assignment');
  const transcript = (await api<Transcript>(s, 'GET', `/api/jobs/${job.id}/transcript`)).body;
  const command = transcript.entries.find((e) => e.kind === 'command');
  assert.match(command?.output ?? '', /key=\[redacted\]/, 'the command ran and printed the key, hidden');
  for (const [where, text] of [
    ['log', log],
    ['transcript', JSON.stringify(transcript)],
    ['events', JSON.stringify(events)],
    ['job', JSON.stringify((await api(s, 'GET', `/api/jobs/${job.id}`)).body)],
  ] as const)
    assert.ok(!text.includes(KEY), `the key is not in the ${where}`);
});
