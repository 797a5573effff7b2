import type { AgentAdapter } from './adapter.js';
import { gemini } from './gemini.js';

/** The built-in agents' adapters, by the name jobs use. */
export const AGENT_ADAPTERS: ReadonlyMap<string, AgentAdapter> = new Map<string, AgentAdapter>([[gemini.name, gemini]]);
