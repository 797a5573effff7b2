import type { Assignment } from '../shared/protocol.js';

/** Credentials that would let a job push to a real remote behind the reviewer's back. */
const FORGE_CREDENTIALS = new Set([
  'GITHUB_TOKEN',
  'GH_TOKEN',
  'GH_ENTERPRISE_TOKEN',
  'GITHUB_ENTERPRISE_TOKEN',
  'GITLAB_TOKEN',
  'GL_TOKEN',
  'CI_JOB_TOKEN',
  'BITBUCKET_TOKEN',
  'SSH_AUTH_SOCK',
]);

/** Environment variables that must never reach a job or git: the runner's own secrets, forge credentials, git config from outside. */
function isPrivate(name: string): boolean {
  return name.startsWith('LAZYAF_') || FORGE_CREDENTIALS.has(name) || /^GIT_CONFIG_(COUNT|KEY_\d+|VALUE_\d+)$/.test(name);
}

/**
 * What `npm start`/`npm run` adds to a process it starts (the server, and through it the pool's
 * runners): its settings (`npm_config_*`, `npm_package_*`, `npm_lifecycle_*`, ...), and the
 * package's `node_modules/.bin` folders first on PATH. A job must see the machine's tools, not
 * this package's, nor npm's settings (a registry token can sit in `npm_config_//host/:_authToken`).
 */
function isFromNpm(name: string): boolean {
  return name.startsWith('npm_') || name === 'INIT_CWD';
}

/**
 * PATH without what npm put first on it, when npm started this process (or its parent): a
 * `node_modules/.bin` of the user's own further on (`npm install --prefix DIR` of an agent CLI) stays.
 */
function withoutNpmBins(pathValue: string, startedByNpm: boolean): string {
  if (!startedByNpm) return pathValue;
  const dirs = pathValue.split(':');
  const npmBin = (dir: string) => /\/node_modules\/\.bin\/?$|\/node_modules\/@npmcli\/run-script\/lib\/node-gyp-bin\/?$/.test(dir);
  let first = 0;
  while (first < dirs.length && npmBin(dirs[first]!)) first++;
  return dirs.slice(first).join(':');
}

/**
 * The runner's environment without its secrets. Every LAZYAF_* variable goes (LAZYAF_TOKEN is the
 * registration token), and so do the usual forge tokens: nothing reaches a real remote until a
 * person lands it. An agent's own credentials (ANTHROPIC_API_KEY, OPENAI_API_KEY,
 * CLAUDE_CODE_OAUTH_TOKEN, ...) are passed on on purpose: the agent needs them.
 */
export function scrubbedEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) if (!isPrivate(name) && !isFromNpm(name)) out[name] = value;
  if (out.PATH !== undefined) out.PATH = withoutNpmBins(out.PATH, Object.keys(env).some(isFromNpm));
  return out;
}

/** Config every git command of the runner gets: no hooks a previous job may have left, nothing interactive. */
const SAFE_GIT_CONFIG: [string, string][] = [
  ['core.hooksPath', '/dev/null'],
  ['core.fsmonitor', 'false'],
  ['commit.gpgSign', 'false'],
  ['credential.helper', ''],
  // A detached auto-gc could still hold locks when the next job's checkout starts.
  ['gc.autoDetach', 'false'],
  // Inside the runner image the runner is root and a job's checkout belongs to the job user while
  // the job runs: git's ownership check would refuse it. That check guards against config planted
  // in a repository, which the runner never reads: each checkout gets a fresh .git from the
  // runner, and a job's result is read by upload-pack behind the job's wall.
  ['safe.directory', '*'],
];

/**
 * What the runner's git must not read from anything a job could have written: replace refs and
 * grafts (they would swap the content it pushes), and the user's global config (an unsandboxed
 * job can write ~/.gitconfig: `url.*.insteadOf` would send the job token elsewhere).
 */
const UNTRUSTING_GIT_ENV = { GIT_NO_REPLACE_OBJECTS: '1', GIT_GRAFT_FILE: '/dev/null', GIT_CONFIG_GLOBAL: '/dev/null' } as const;

/**
 * Environment for the runner's own git commands. With `auth`, git sends the job token as a bearer
 * header to the lazyaf server only, set through GIT_CONFIG_* variables: never in argv (visible in
 * `ps`), in a remote URL or in .git/config.
 */
export function gitEnv(auth?: { url: string; token: string }): NodeJS.ProcessEnv {
  const entries = [...SAFE_GIT_CONFIG];
  if (auth) entries.push([`http.${new URL(auth.url).origin}/.extraHeader`, `Authorization: Bearer ${auth.token}`]);
  const env: NodeJS.ProcessEnv = {
    ...scrubbedEnv(),
    ...UNTRUSTING_GIT_ENV,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '',
    SSH_ASKPASS: '',
    GIT_TRACE_REDACT: '1',
    GIT_CONFIG_COUNT: String(entries.length),
  };
  // Traces of HTTP traffic would carry the header into git's stderr, which the runner reads.
  delete env.GIT_TRACE_CURL;
  delete env.GIT_CURL_VERBOSE;
  entries.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

/** Who commits for a job: the runner's own commit, and the command's unless the environment names someone. */
export const AGENT_IDENTITY = { name: 'lazyaf agent', email: 'agent@lazyaf.invalid' } as const;

export function agentIdentityEnv(): NodeJS.ProcessEnv {
  const { name, email } = AGENT_IDENTITY;
  return { GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_NAME: name, GIT_COMMITTER_EMAIL: email };
}

/** An env var holds at most 128 KiB on Linux; the whole prompt is always in LAZYAF_PROMPT_FILE. */
const MAX_PROMPT_ENV_CHARS = 64 * 1024;

/** The environment of a job's command: the runner's (scrubbed) plus the job's context. Never the job token. */
export function jobEnv(a: Assignment, promptFile: string): NodeJS.ProcessEnv {
  const prompt =
    a.prompt.length > MAX_PROMPT_ENV_CHARS ? `${a.prompt.slice(0, MAX_PROMPT_ENV_CHARS)}\n[prompt truncated: read LAZYAF_PROMPT_FILE]\n` : a.prompt;
  return {
    ...agentIdentityEnv(),
    ...scrubbedEnv(),
    LAZYAF_JOB_ID: a.job_id,
    LAZYAF_JOB_TITLE: a.title,
    LAZYAF_JOB_DESCRIPTION: a.description,
    LAZYAF_PROMPT: prompt,
    LAZYAF_PROMPT_FILE: promptFile,
    LAZYAF_BRANCH: a.branch,
    LAZYAF_BASE_BRANCH: a.base_branch,
  };
}
