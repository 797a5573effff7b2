import { AGENT_ADAPTERS } from '../shared/agents/index.js';
import { MODEL_RE } from '../shared/names.js';

/**
 * LAZYAF_AGENT_MODELS (`claude=claude-sonnet-4-5,codex=gpt-5.5`): the model each built-in agent
 * runs when a job names none. Only agents with an adapter take a model (a template from
 * agents.json has no place for one). Throws on anything else, in words a person can act on.
 */
export function parseAgentModels(raw: string | undefined): Readonly<Record<string, string>> {
  const models: Record<string, string> = {};
  for (const item of (raw ?? '').split(',')) {
    const pair = item.trim();
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const agent = eq < 0 ? pair : pair.slice(0, eq).trim();
    const model = eq < 0 ? '' : pair.slice(eq + 1).trim();
    if (!AGENT_ADAPTERS.has(agent))
      throw new Error(`LAZYAF_AGENT_MODELS: "${agent.slice(0, 100)}" is not a built-in agent (one of ${[...AGENT_ADAPTERS.keys()].join(', ')})`);
    if (!MODEL_RE.test(model)) throw new Error(`LAZYAF_AGENT_MODELS: "${model.slice(0, 100)}" is not a model name (for ${agent}; expected ${agent}=MODEL)`);
    if (Object.hasOwn(models, agent)) throw new Error(`LAZYAF_AGENT_MODELS: ${agent} is named twice`);
    models[agent] = model;
  }
  return models;
}
