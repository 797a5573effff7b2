import { MIN_REDACTED_CHARS } from '../redact.js';

/**
 * The variables that carry an agent's credentials or choose its account and endpoint: the server
 * holds them and hands them to one job with its assignment (`AgentRun.env`), and a runner keeps
 * them out of every job's environment (`runner/env.ts`), so a job gets them only that way. One
 * list, so the server and the runner agree on it.
 */
export const AGENT_CREDENTIAL_PREFIXES = ['ANTHROPIC_', 'OPENAI_', 'AZURE_OPENAI_', 'AWS_'] as const;

export const AGENT_CREDENTIAL_NAMES = [
  'CLAUDE_CODE_OAUTH_TOKEN',
  'CLAUDE_CODE_USE_BEDROCK',
  'CLAUDE_CODE_USE_VERTEX',
  'ANTHROPIC_VERTEX_PROJECT_ID',
  'CLOUD_ML_REGION',
  'CODEX_API_KEY',
  'GEMINI_API_KEY',
  'GOOGLE_API_KEY',
  'GOOGLE_GEMINI_BASE_URL',
  'GOOGLE_VERTEX_BASE_URL',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'GOOGLE_CLOUD_PROJECT',
  'GOOGLE_CLOUD_LOCATION',
  'GOOGLE_GENAI_USE_VERTEXAI',
  'OPENROUTER_API_KEY',
  'MISTRAL_API_KEY',
  'DEEPSEEK_API_KEY',
  'GROQ_API_KEY',
  'XAI_API_KEY',
] as const;

const NAMES: ReadonlySet<string> = new Set(AGENT_CREDENTIAL_NAMES);

/** Whether `name` is one of an agent's credentials or account settings. */
export function isAgentCredential(name: string): boolean {
  return NAMES.has(name) || AGENT_CREDENTIAL_PREFIXES.some((p) => name.startsWith(p));
}

/** A variable whose name says it holds a secret: a word of it is KEY, TOKEN, SECRET or PASSWORD. */
export function isSecretName(name: string): boolean {
  return /(^|_)(KEY|TOKEN|SECRET|PASSWORD)(_|$)/.test(name);
}

/**
 * The secrets among `settings` (name → value), each with its variable's name: the values of
 * variables named as one, and the password inside a URL (a proxy's `http://user:pass@host`), as
 * written and decoded. What is hidden from a job's log and transcript and refused in its branch.
 * The other settings (a gateway URL, `NO_PROXY=localhost`, a CA file's path, a region) are no
 * secret: hiding them would blank every `localhost` of a log and fail honest work that names them.
 */
export function secretsOf(settings: Iterable<readonly [string, string | undefined]>): [name: string, value: string][] {
  const out: [string, string][] = [];
  for (const [name, value] of settings) {
    if (!value) continue;
    if (isSecretName(name)) out.push([name, value]);
    const password = urlPassword(value);
    if (password) for (const form of new Set([password, safeDecode(password)])) out.push([name, form]);
  }
  return out;
}

function urlPassword(value: string): string | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return undefined;
  try {
    return new URL(value).password || undefined;
  } catch {
    return undefined;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Why `value` cannot be stored as the secret `name`, or undefined: a key shorter than
 * MIN_REDACTED_CHARS would never be hidden from a job's log (nor is it a key). Short values of
 * settings (`CLAUDE_CODE_USE_BEDROCK=1`) are fine: they hide nothing.
 */
export function tooShortForSecret(name: string, value: string): string | undefined {
  if (!isSecretName(name) || value.length >= MIN_REDACTED_CHARS) return undefined;
  return `the value of ${name} is too short for a secret (${value.length} characters, at least ${MIN_REDACTED_CHARS}): a log could not hide it; nothing stored`;
}
