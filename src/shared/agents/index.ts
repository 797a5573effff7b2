import type { AgentAdapter } from './adapter.js';
import { codexAdapter } from './codex.js';
import { gemini } from './gemini.js';

/** The built-in agents' adapters by name. */
export const AGENT_ADAPTERS: ReadonlyMap<string, AgentAdapter> = new Map<string, AgentAdapter>([
  [codexAdapter.name, codexAdapter],
  [gemini.name, gemini],
]);
