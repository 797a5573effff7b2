import { Type, type Static } from 'typebox';
import { AGENT_NAME_RE, MODEL_RE } from '../names.js';
import { ListTotal, Nullable, Time } from './common.js';

/** Which side of the diff a comment's line is on: `new` (the job's version) or `old` (the base's). */
export const CommentSide = Type.Union([Type.Literal('new'), Type.Literal('old')]);
export type CommentSide = Static<typeof CommentSide>;

export const MAX_COMMENT_CHARS = 20_000;

/** `POST /api/jobs/{id}/comments`. */
export const NewComment = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 4096, pattern: '^[^\\x00]*$', description: "A file of the job's diff, as the diff names it." }),
    line: Type.Integer({ minimum: 1, maximum: 10_000_000, description: "The line's number on its side." }),
    side: Type.Optional(CommentSide),
    body: Type.String({ minLength: 1, maxLength: MAX_COMMENT_CHARS }),
  },
  { additionalProperties: false },
);
export type NewComment = Static<typeof NewComment>;

export const Comment = Type.Object({
  id: Type.String(),
  job_id: Type.String(),
  path: Type.String(),
  line: Type.Integer(),
  side: CommentSide,
  body: Type.String(),
  created_at: Time(),
  resolved_at: Nullable(Time()),
  sent_in_job_id: Nullable(Type.String(), 'The follow-up job the comment was sent to, once sent.'),
  touched_by_job_id: Nullable(Type.String(), "A follow-up whose diff changed the comment's line (or the lines around it)."),
});
export type Comment = Static<typeof Comment>;

export const CommentList = Type.Object({ comments: Type.Array(Comment, { description: 'By path, then line.' }), total: ListTotal() });
export type CommentList = Static<typeof CommentList>;

export const CommentListQuery = Type.Object(
  {
    resolved: Type.Optional(Type.Boolean({ description: 'Only resolved (true) or unresolved (false) ones; all when absent.' })),
    sent_to: Type.Optional(
      Type.Boolean({
        description:
          "true: instead of the job's own comments, those sent to it as a follow-up (the ones it was asked to address, each on its own job's diff; `touched_by_job_id` says which its diff touched).",
      }),
    ),
  },
  { additionalProperties: false },
);

/** `POST /api/jobs/{id}/comments/send`: one follow-up holding every unresolved, unsent comment. */
export const SendComments = Type.Object(
  {
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    agent: Type.Optional(Type.String({ pattern: AGENT_NAME_RE.source, description: "Default: the job's own agent, resuming its conversation." })),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: MODEL_RE.source })),
  },
  { additionalProperties: false },
);
export type SendComments = Static<typeof SendComments>;
