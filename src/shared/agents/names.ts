/**
 * The coding agents lazyaf knows by name: the server holds a command template for each
 * (server/queue/agents.ts), and a runner looks for an executable of each name on its jobs' PATH
 * to say which of them it can run. `shell` (a job's own command) runs on every runner.
 */
export const BUILTIN_AGENT_NAMES = ['claude', 'gemini', 'codex', 'aider'] as const;
export type BuiltinAgentName = (typeof BUILTIN_AGENT_NAMES)[number];
