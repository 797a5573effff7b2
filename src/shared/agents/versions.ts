/**
 * The agent CLIs lazyaf is tested with: the one place their versions are pinned. `.ci/run` and
 * the tests install these (`scripts/agent-clis.ts`), and the runner image installs them for
 * `AGENTS=claude,codex,gemini`. The README says which versions are tested.
 */
export const AGENT_CLI_VERSIONS = {
  claude: { package: '@anthropic-ai/claude-code', version: '2.1.332' },
  codex: { package: '@openai/codex', version: '0.171.0' },
  gemini: { package: '@google/gemini-cli', version: '0.61.0' },
} as const;
export type TestedAgent = keyof typeof AGENT_CLI_VERSIONS;
