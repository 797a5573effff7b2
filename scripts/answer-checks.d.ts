/** The source of a module exporting `answerChecks` (as src/runner/answer-checks.ts does), generated from its ANSWER_SCHEMAS. */
export function answerChecksModule(): Promise<string>;
