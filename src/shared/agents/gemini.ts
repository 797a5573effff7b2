import path from 'node:path';
import type { AgentAdapter, Launch, LaunchContext } from './adapter.js';
import { AGENT_CLI_VERSIONS } from './versions.js';
import { geminiParser } from './gemini-stream.js';

/**
 * The settings of the run, as the user's settings under the job's HOME. Not as system settings
 * (GEMINI_CLI_SYSTEM_SETTINGS_PATH, which would leave the user's own in place): the CLI skips a
 * system settings file when any folder above it is writable by others, as /tmp is.
 */
export const GEMINI_SETTINGS_FILE = '.gemini/settings.json';

/**
 * The project name Gemini CLI files the run's chats under (`.gemini/tmp/<name>/chats`). It
 * derives one from the workspace's folder name and a registry of paths (`projects.json`), so a
 * workspace at another path on another runner would get another name and not find the
 * conversation to resume. Pinning the registry to one fixed name keeps the chats' place known
 * (sessionFiles) and valid wherever the follow-up runs.
 */
const PROJECT_NAME = 'lazyaf';

/**
 * How many times Gemini CLI sends one model request. Its default, 10 with 5 s to 30 s between
 * (ECONNREFUSED counts as worth retrying), keeps a job whose API is unreachable waiting for
 * about four minutes; at 2 it retries one blip (a 429, a 503) and fails within about 10 s.
 */
const MAX_ATTEMPTS = 2;

export const gemini: AgentAdapter = {
  name: 'gemini',
  bin: 'gemini',
  npmPackage: AGENT_CLI_VERSIONS.gemini.package,
  credentials: [
    'GEMINI_API_KEY',
    'GOOGLE_API_KEY',
    'GOOGLE_GEMINI_BASE_URL',
    'GOOGLE_VERTEX_BASE_URL',
    'GOOGLE_GENAI_USE_VERTEXAI',
    'GOOGLE_CLOUD_PROJECT',
    'GOOGLE_CLOUD_LOCATION',
    'GOOGLE_APPLICATION_CREDENTIALS',
  ],
  // The login and the user's instructions, commands and extensions; not the chats and history of
  // earlier runs (tmp/, history/), nor settings.json, which each run writes afresh.
  homeEntries: [
    '.gemini/oauth_creds.json',
    '.gemini/google_accounts.json',
    '.gemini/installation_id',
    '.gemini/GEMINI.md',
    '.gemini/commands',
    '.gemini/extensions',
    '.gemini/policies',
    '.gemini/skills',
  ],
  loginFiles: ['.gemini/oauth_creds.json', '.gemini/google_accounts.json'],
  launch: geminiLaunch,
  parser: geminiParser,
  sessionFiles: () => [`.gemini/tmp/${PROJECT_NAME}/chats`],
  // 0.61 on stderr, exit code 42: "Error resuming session: No previous sessions found for this project." (or an unknown id).
  sessionNotFound: /Error resuming session/,
};

/**
 * `gemini -o stream-json --yolo --skip-trust`: headless (stdin is not a terminal), every tool
 * allowed (our wall is the sandbox), the checkout trusted without the prompt that otherwise
 * ends the run with exit 55. The prompt goes on stdin: an argument is limited to 128 KiB by
 * Linux, stdin to 8 MiB by the CLI. No credential reaches argv.
 */
function geminiLaunch(ctx: LaunchContext): Launch {
  const argv = ['gemini', '-o', 'stream-json', '--yolo', '--skip-trust'];
  if (ctx.model) argv.push('-m', ctx.model);
  // The id came from the agent's own output: joined to its flag, it cannot pass for another flag.
  if (ctx.resumeSessionId) argv.push(`--resume=${ctx.resumeSessionId}`);
  const creds = ctx.credentials;
  // What the server sent is already only this agent's variables and the common ones (proxy, CA).
  const env: Record<string, string> = { ...creds };
  const vertex = /^(true|1)$/i.test(creds.GOOGLE_GENAI_USE_VERTEXAI ?? '');
  // The CLI reads its Gemini API key only from GEMINI_API_KEY; GOOGLE_API_KEY is the Vertex
  // express key, and a Gemini key to the Google AI SDKs.
  if (!vertex && !env.GEMINI_API_KEY && env.GOOGLE_API_KEY) env.GEMINI_API_KEY = env.GOOGLE_API_KEY;
  if (vertex) env.GOOGLE_GENAI_USE_VERTEXAI = 'true';
  Object.assign(env, {
    // Its own sandbox (docker, podman, sandbox-exec) cannot run inside ours; the env wins over settings.
    GEMINI_SANDBOX: 'false',
    // Colour codes would land in the transcript's command output.
    NO_COLOR: '1',
    // The CLI starts itself again in a child node with a heap of half the machine's memory; in
    // our sandbox, under its memory limit, that buys nothing and costs a second start: from
    // spawn to the first model request, median of 5, 1.4 s with it and 0.9 s without (2 cores).
    GEMINI_CLI_NO_RELAUNCH: 'true',
  });
  const workspace = path.resolve(ctx.workspace);
  return {
    argv,
    env,
    stdin: ctx.prompt,
    homeFiles: {
      [GEMINI_SETTINGS_FILE]: JSON.stringify(geminiSettings(env, vertex), null, 2),
      '.gemini/projects.json': JSON.stringify({ projects: { [workspace]: PROJECT_NAME } }, null, 2),
      [`.gemini/tmp/${PROJECT_NAME}/.project_root`]: workspace,
      [`.gemini/history/${PROJECT_NAME}/.project_root`]: workspace,
    },
  };
}

/**
 * The settings of one run: nothing that phones home, updates itself or waits for an IDE, its
 * sandbox off, few retries; and the auth type pinned, since in headless mode a base URL alone
 * selects the "gateway" type, which it refuses ("Invalid auth method selected"). Without a key
 * or the Vertex switch, the runner's Google login (oauth_creds.json, a home entry) is the way.
 */
function geminiSettings(env: Record<string, string>, vertex: boolean): Record<string, unknown> {
  const settings: Record<string, unknown> = {
    general: { enableAutoUpdate: false, enableAutoUpdateNotification: false, maxAttempts: MAX_ATTEMPTS },
    privacy: { usageStatisticsEnabled: false },
    telemetry: { enabled: false },
    ide: { enabled: false },
    tools: { sandbox: false, shell: { showColor: false } },
  };
  const selectedType = vertex ? 'vertex-ai' : env.GEMINI_API_KEY ? 'gemini-api-key' : 'oauth-personal';
  return { ...settings, security: { auth: { selectedType } } };
}
