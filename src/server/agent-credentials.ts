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
 * list) and the common settings, those the server holds. The server's environment is the source.
 */
export function agentCredentials(names: readonly string[], env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [...names, ...COMMON_AGENT_SETTINGS]) {
    const value = env[name];
    if (value !== undefined && value !== '') out[name] = value;
  }
  return out;
}
