import { isAgentCredential, isSecretName, secretsOf, tooShortForSecret } from '../shared/agents/credentials.js';

/**
 * What every agent may get besides its own variables: the way out to its API through a proxy,
 * and the certificates a TLS-intercepting proxy or a private gateway needs.
 */
export const COMMON_AGENT_SETTINGS = [
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
  'NO_PROXY',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
] as const;

/**
 * The credentials and endpoint settings one job of an agent receives: of `names` (the adapter's
 * list) and the common settings, those the server holds: in its environment, or stored with
 * `lazyaf secrets set` (`stored`: `StoredSecrets.valuesFor(repo)`). A stored value wins over the
 * environment's: storing one is the later, deliberate act, and works without a restart.
 */
export function agentCredentials(
  names: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  stored: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [...names, ...COMMON_AGENT_SETTINGS]) {
    const value = Object.hasOwn(stored, name) ? stored[name] : env[name];
    if (value !== undefined && value !== '') out[name] = value;
  }
  return out;
}

const COMMON: ReadonlySet<string> = new Set(COMMON_AGENT_SETTINGS);

/**
 * Whether `name` is an agent's setting rather than a secret (a gateway's URL, a region, a proxy,
 * `CLAUDE_CODE_USE_BEDROCK`): an agent's variable or a common setting whose name does not say
 * it holds a secret. Its value stays readable in logs (but a URL's password is still hidden).
 */
export function isAgentSetting(name: string): boolean {
  return (isAgentCredential(name) || COMMON.has(name)) && !isSecretName(name);
}

/** The values in the server's environment that an agent job could receive: what the server hides from what it stores and shows. */
export function environmentCredentialValues(env: NodeJS.ProcessEnv = process.env): string[] {
  return secretsOf(Object.entries(env).filter(([name]) => isAgentCredential(name) || COMMON.has(name))).map(([, value]) => value);
}

/** What the server says at its start of an agent's key in its environment too short to be hidden from job logs (it is still handed out). */
export function shortCredentialWarnings(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.entries(env)
    .filter(([name, value]) => value && isAgentCredential(name) && tooShortForSecret(name, value))
    .map(([name, value]) => `${name} in the server's environment has ${value!.length} characters: too short for a key, and never hidden from job logs`);
}

/** The names of every agent credential and setting the server holds (its environment, its stored secrets): what a template agent gets. */
export function agentCredentialNames(env: NodeJS.ProcessEnv, stored: Readonly<Record<string, string>>): string[] {
  return [...new Set([...Object.keys(env), ...Object.keys(stored)])].filter(isAgentCredential);
}
