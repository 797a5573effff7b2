import type { AgentAdapter } from './adapter.js';
import { claude } from './claude.js';
import { codexAdapter } from './codex.js';
import { gemini } from './gemini.js';

/**
 * The agents lazyaf runs through an adapter: their own command line, environment, stream parser
 * and session files. An agent not listed here (aider, one from `<data>/agents.json`) runs its
 * command template under `sh -c`. One line per adapter.
 */
// One adapter a line, so that adding one is a one-line change.
// prettier-ignore
export const AGENT_ADAPTERS: ReadonlyMap<string, AgentAdapter> = new Map<string, AgentAdapter>([
  [claude.name, claude],
  [codexAdapter.name, codexAdapter],
  [gemini.name, gemini],
]);
