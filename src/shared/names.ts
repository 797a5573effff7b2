import { SHELL_AGENT } from './job-status.js';

/**
 * The rules for the names both sides check: the server through its schemas (a `pattern` is the
 * RegExp's `source`), the runner and the CLI before they send.
 */

/** A repo or runner name: letters, digits, ".", "_" and "-", at most 100, starting with a letter or digit. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** A runner label a job can ask for (`gpu`, `os=linux`, `region:eu`). */
export const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._:=-]{0,62}$/;
export const MAX_LABELS = 32;

/**
 * A job as a person names it: its id (a UUID) or a prefix of it of at least JOB_PREFIX_MIN hex
 * characters, which the server takes when it is unique. The server and the CLI check the same rule.
 */
export const JOB_PREFIX_MIN = 4;
export const JOB_REF_RE = new RegExp(`^[0-9a-f]{${JOB_PREFIX_MIN}}[0-9a-f-]{0,${36 - JOB_PREFIX_MIN}}$`);

/** The id the pool launcher gives each of its runners. */
export const POOL_ID_RE = /^[A-Za-z0-9._-]{1,100}$/;

/** A named agent: built in (`claude`, ...) or from the server's agents.json. */
export const AGENT_NAME_RE = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * A model name as agents take it on their command line (`--model`): claude-sonnet-4-5,
 * gpt-5.1-codex, gemini-2.5-pro, us.anthropic.claude-...-v1:0, models/x@latest. It becomes one
 * argument, never a shell word, but must not start with `-` (an option) or hold a control character.
 */
export const MODEL_RE = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/;
/** The name of a stored secret, as an environment variable's: the name a job's agent reads it by. */
export const SECRET_NAME_RE = /^[A-Z_][A-Z0-9_]{0,127}$/;
/** The longest secret value: what one environment variable of a job's agent comfortably holds. */
export const MAX_SECRET_CHARS = 64 * 1024;

/** The most agents a runner may name when it registers. */
export const MAX_AGENTS = 64;

/** Labels given as `a,b` (spaces around each dropped, each once), or why they are refused. */
export function parseLabels(csv: string): { labels: string[] } | { error: string } {
  const labels = csv
    .split(',')
    .map((l) => l.trim())
    .filter(Boolean);
  const bad = labels.find((l) => !LABEL_RE.test(l));
  if (bad !== undefined) return { error: `invalid label: ${bad} (letters, digits and . _ : = -, up to 63)` };
  if (labels.length > MAX_LABELS) return { error: `too many labels (at most ${MAX_LABELS})` };
  return { labels: [...new Set(labels)] };
}

/** Agents given as `claude,aider` (each once; `shell` runs everywhere and is left out), or why they are refused. */
export function parseAgents(csv: string): { agents: string[] } | { error: string } {
  const agents = [...new Set(csv.split(',').map((a) => a.trim()))].filter((a) => a && a !== SHELL_AGENT);
  const bad = agents.find((a) => !AGENT_NAME_RE.test(a));
  if (bad !== undefined) return { error: `invalid agent name: ${bad} (lowercase letters, digits, - and _, up to 32, starting with a letter)` };
  if (agents.length > MAX_AGENTS) return { error: `too many agents (at most ${MAX_AGENTS})` };
  return { agents };
}
