import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Comment, CommentList, CommentListQuery, ErrorBody, IdParams, Job, NewComment, SendComments } from '../../shared/api.js';
import type { Comments } from '../comments/comments.js';
import { findJob } from '../queue/core.js';
import type { QueueStores } from '../queue/queue.js';
import type { CommentRow } from '../store/comments.js';
import type { JobRow } from '../store/jobs.js';

export interface CommentRoutesOptions {
  comments: Comments;
  store: QueueStores;
  /** A job as `GET /api/jobs/{id}` shows it: the answer of a send. */
  jobView: (job: JobRow) => Job;
}

const CommentParams = Type.Object({ id: IdParams.properties.id, comment_id: Type.String({ minLength: 1, maxLength: 200 }) });

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody };

export function commentToApi(c: CommentRow): Comment {
  return {
    id: c.id,
    job_id: c.job_id,
    path: c.path,
    line: c.line,
    side: c.side,
    body: c.body,
    created_at: new Date(c.created_ms).toISOString(),
    resolved_at: c.resolved_ms === null ? null : new Date(c.resolved_ms).toISOString(),
    sent_in_job_id: c.sent_in_job_id,
    touched_by_job_id: c.touched_by_job_id,
  };
}

/** Review comments on a job's diff, and their send to the agent as a follow-up. */
export async function commentRoutes(fastify: FastifyInstance, opts: CommentRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { comments } = opts;
  const mustFind = (ref: string): JobRow => findJob(opts.store.jobs, ref);

  // A body of 20,000 characters, up to 6 bytes apiece as JSON escapes, and a path of 4,096.
  app.post(
    '/api/jobs/:id/comments',
    {
      bodyLimit: 256 * 1024,
      schema: {
        summary: "Comment on a line of a job's diff",
        tags: ['comments'],
        description:
          "A comment on a line of a file of the job's diff: `side` `new` (default) is the job's commit, `old` the commit it started from. The file must be in the diff and the line on that side of it (422 otherwise); a job without a commit is a 409.",
        params: IdParams,
        body: NewComment,
        response: { 201: Comment, ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(commentToApi(await comments.add(mustFind(req.params.id), req.body))),
  );

  app.get(
    '/api/jobs/:id/comments',
    {
      schema: {
        summary: "List the comments on a job's diff",
        tags: ['comments'],
        description:
          "The job's comments by path, then line: each says whether it was resolved, the follow-up it was sent to, and the follow-up whose diff touched its line. With `sent_to=true`, the comments sent to this job as a follow-up instead: what it was asked to address, and which of them its diff touched.",
        params: IdParams,
        querystring: CommentListQuery,
        response: { 200: CommentList, ...errors },
      },
    },
    async (req) => {
      const rows = comments.list(mustFind(req.params.id), req.query);
      return { comments: rows.map(commentToApi), total: rows.length };
    },
  );

  for (const [action, resolved] of [
    ['resolve', true],
    ['unresolve', false],
  ] as const) {
    app.post(
      `/api/jobs/:id/comments/:comment_id/${action}`,
      {
        schema: {
          summary: resolved ? 'Resolve a comment' : 'Mark a resolved comment unresolved again',
          tags: ['comments'],
          description: resolved
            ? 'A resolved comment stays listed but is not sent to the agent.'
            : 'An unresolved comment not sent yet goes with the next send.',
          params: CommentParams,
          response: { 200: Comment, ...errors },
        },
      },
      async (req) => commentToApi(comments.resolve(mustFind(req.params.id), req.params.comment_id, resolved)),
    );
  }

  app.delete(
    '/api/jobs/:id/comments/:comment_id',
    {
      schema: { summary: 'Delete a comment', tags: ['comments'], params: CommentParams, response: { 204: Type.Null(), ...errors } },
    },
    async (req, reply) => {
      comments.remove(mustFind(req.params.id), req.params.comment_id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/jobs/:id/comments/send',
    {
      schema: {
        summary: 'Send the comments to the agent as a follow-up',
        tags: ['comments'],
        description:
          "One follow-up on the job's branch whose prompt holds every unresolved comment not sent yet, with its file, line and the code around it; by default the job's own agent, continuing its conversation. Send `{}` for the defaults. Answers the new job; 409 when there is no comment to send or the job has not finished.",
        params: IdParams,
        body: SendComments,
        response: { 201: Job, ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(opts.jobView(await comments.send(mustFind(req.params.id), req.body))),
  );
}
