/**
 * The agents' own credentials. The server passes those it holds (its environment) to the runners
 * it starts, and names them in the generated `docker run` command, so an agent in a runner
 * container can sign in. Nothing else of the server's environment reaches a runner container.
 */
export const AGENT_KEY_VARS = ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'OPENAI_API_KEY', 'GEMINI_API_KEY', 'GOOGLE_API_KEY'] as const;

/** The agent keys set (non-empty) in `env`, by name. */
export function agentKeysFrom(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const name of AGENT_KEY_VARS) {
    const value = env[name];
    if (value) keys[name] = value;
  }
  return keys;
}
