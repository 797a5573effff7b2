import type { Static, TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { Assignment, CompleteResponse, HeartbeatResponse, LogAck, RegisterResponse } from '../shared/protocol.js';

/** The protocol's answers the client checks, by the name `answerChecks` gives each check. */
export const ANSWER_SCHEMAS = {
  register: RegisterResponse,
  heartbeat: HeartbeatResponse,
  assignment: Assignment,
  logAck: LogAck,
  complete: CompleteResponse,
} as const;

export type AnswerChecks = { readonly [K in keyof typeof ANSWER_SCHEMAS]: (value: unknown) => value is Static<(typeof ANSWER_SCHEMAS)[K]> };

const checkOf =
  <S extends TSchema>(schema: S) =>
  (value: unknown): value is Static<S> =>
    Value.Check(schema, value);

/**
 * Whether an answer of the server matches the protocol. The runner's bundle replaces this module
 * with checks that typebox generated from these same schemas at build time
 * (scripts/answer-checks.js), so that an idle runner neither loads typebox nor builds the
 * protocol's schemas (6 MiB of its memory; ARCHITECTURE.md, "A lean runner").
 */
export const answerChecks: AnswerChecks = {
  register: checkOf(RegisterResponse),
  heartbeat: checkOf(HeartbeatResponse),
  assignment: checkOf(Assignment),
  logAck: checkOf(LogAck),
  complete: checkOf(CompleteResponse),
};
