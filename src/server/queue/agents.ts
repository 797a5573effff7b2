import fs from 'node:fs';
import path from 'node:path';
import type { BuiltinAgentName } from '../../shared/agents/names.js';
import { SHELL_AGENT } from '../../shared/job-status.js';
import { AGENT_NAME_RE } from '../../shared/names.js';

/**
 * Named command templates. `shell` runs the job's own command; the others run a coding agent
 * headless in the workspace. The prompt reaches the agent through the environment
 * (LAZYAF_PROMPT, LAZYAF_PROMPT_FILE), never spliced into the command line.
 * `<data>/agents.json` ({"name": "command", ...}) adds templates or replaces these.
 */
// One template for each name runners look for on their PATH (shared/agents/names.ts), no more, no fewer.
export const BUILTIN_AGENTS: Readonly<Record<BuiltinAgentName, string>> = {
  claude: 'claude -p "$LAZYAF_PROMPT" --dangerously-skip-permissions',
  gemini: 'gemini --yolo -p "$LAZYAF_PROMPT"',
  codex: 'codex exec --full-auto "$LAZYAF_PROMPT"',
  aider: 'aider --yes-always --no-auto-commits --no-check-update --message-file "$LAZYAF_PROMPT_FILE"',
};

/** A Map, not an object: a job names its agent, and `constructor` or `__proto__` must be no agent at all. */
export type Agents = ReadonlyMap<string, string>;

export function loadAgents(dataDir: string): Agents {
  const agents = new Map(Object.entries(BUILTIN_AGENTS));
  const file = path.join(dataDir, 'agents.json');
  if (!fs.existsSync(file)) return agents;
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`${file}: expected an object of name → command`);
  for (const [name, command] of Object.entries(parsed)) {
    if (!AGENT_NAME_RE.test(name) || name === SHELL_AGENT || typeof command !== 'string' || !command.trim()) {
      throw new Error(`${file}: invalid agent ${JSON.stringify(name)} (names: lowercase letters, digits, - and _; commands: non-empty strings)`);
    }
    agents.set(name, command);
  }
  return agents;
}

/** The prompt an agent gets: the job's title and description, then the repo's README for context. */
export function renderPrompt(
  job: { title: string; description: string },
  readme: string | undefined,
  checks: readonly { name: string; command: string }[] = [],
): string {
  const parts = [`# Task: ${job.title}`];
  if (job.description.trim()) parts.push(job.description.trim());
  parts.push(
    'Work in the current directory, which is a checkout of the repository. Leave your changes in the working tree; they will be committed for review.',
  );
  if (checks.length > 0) {
    const list = checks.map((c) => `${c.name} (\`${c.command}\`)`).join(', ');
    parts.push(`When you are done, the repository's checks run on your changes: ${list}. Leave them passing; you may run them yourself first.`);
  }
  if (readme?.trim()) parts.push(`## The repository's README\n\n${readme.trim()}`);
  return parts.join('\n\n') + '\n';
}
