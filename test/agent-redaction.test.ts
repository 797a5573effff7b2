// The runner hides the credentials it was handed in what an agent's job sends back, by itself:
// the server's own net (it redacts every value it holds) cannot catch a value it no longer holds,
// such as a key rotated away while the job runs. Claude Code for real, against the scripted API.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Transcript } from '../src/shared/api.js';
import { jobNetworkOrSkip, runTimedJob, setSecret, startAgentStack, type AgentStack } from './agents/agent-jobs.js';
import { startAnthropicServer } from './agents/anthropic-server.js';
import { api, setEnv } from './helpers.js';
import { logOf } from './queue-helpers.js';

const KEY = 'sk-ant-rotated-away-0123456789';

test('a credential the server no longer holds is still hidden by the runner in the log and the transcript', async (t) => {
  if (!jobNetworkOrSkip(t, 'claude')) return;
  let stack: AgentStack | undefined;
  // The agent prints its key with its Bash tool once it has been handed the job; by then the key
  // is gone from the server (deleted when the first model request arrives).
  const model = await startAnthropicServer({
    script: [
      [{ type: 'tool_use', name: 'Read', input: { file_path: 'README.md' } }],
      [{ type: 'tool_use', name: 'Bash', input: { command: 'printf "key=%s\\n" "$ANTHROPIC_API_KEY"', description: 'Print the key' } }],
      [{ type: 'text', text: 'Printed it.' }],
    ],
    onRequest: async (request) => {
      if (request.path.startsWith('/v1/messages') && model.conversation().length === 1) await setSecret(stack!.server, 'ANTHROPIC_API_KEY', null);
    },
  });
  t.after(() => model.close());
  setEnv(t, { ANTHROPIC_BASE_URL: model.url });
  stack = await startAgentStack(t, 'claude', { hostPorts: [model.port], files: { 'README.md': '# demo\n' } });
  const { server, events } = stack;
  await setSecret(server, 'ANTHROPIC_API_KEY', KEY);

  const { job } = await runTimedJob(stack, { title: 'Print the key', agent: 'claude' });
  const log = await logOf(server, job.id);
  assert.equal(job.status, 'succeeded', `${job.error}\n${log}`);
  assert.equal(model.conversation()[0]?.headers['x-api-key'], KEY, 'the key reached the agent with its assignment');
  const transcript = (await api<Transcript>(server, 'GET', `/api/jobs/${job.id}/transcript`)).body;
  const command = transcript.entries.find((e) => e.kind === 'command');
  assert.match(command?.output ?? '', /key=\[redacted\]/, 'the command ran and printed the key, hidden');
  for (const [where, text] of [
    ['log', log],
    ['transcript', JSON.stringify(transcript)],
    ['events', JSON.stringify(events)],
    ['job', JSON.stringify((await api(server, 'GET', `/api/jobs/${job.id}`)).body)],
  ] as const)
    assert.ok(!text.includes(KEY), `the key is not in the ${where}`);
});
