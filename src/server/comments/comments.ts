import crypto from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { CommentSide, DiffFile, JobDiff, NewComment, SendComments } from '../../shared/api.js';
import { isFinished, SHELL_AGENT } from '../../shared/job-status.js';
import { ApiError } from '../errors.js';
import type { Emit } from '../events.js';
import { bareRepoPath } from '../git/bare.js';
import { jobDiff } from '../git/diff.js';
import { diffHunks, FILE_READ_MAX_BYTES, fileLinesAt } from '../git/review-reads.js';
import type { Queue } from '../queue/queue.js';
import { followUpJob, type SubmitSources } from '../queue/submit.js';
import type { CommentRow, CommentStore } from '../store/comments.js';
import type { JobRow, JobStore } from '../store/jobs.js';
import { linesAround, REVIEW_PROMPT_MAX_CHARS, reviewPrompt, type CodeAround } from './prompt.js';
import { mapOldLine, touches, type Hunk, type Span } from './touched.js';

export interface CommentsDeps {
  store: CommentStore;
  jobs: JobStore;
  queue: Queue;
  /** What a follow-up is submitted with (the follow-up route's own sources). */
  sources: SubmitSources;
  reposDir: string;
  emit: Emit;
  log: FastifyBaseLogger;
  now?: () => number;
}

/** A job's diff as comments need it: its commit and base, and its files by name. */
type Place = Pick<JobDiff, 'files' | 'files_truncated'> & { commit: string; base_commit: string };

/**
 * Review comments on a job's diff: added where the diff has the line, listed, resolved, deleted,
 * sent to the agent as one follow-up, and marked touched once that follow-up's diff changed their
 * lines. The routes speak HTTP; this checks places against the bare repo and keeps the rules.
 */
export class Comments {
  private readonly now: () => number;
  /** A send in progress per job: two at once would hand the same comments to two follow-ups. */
  private readonly sending = new Map<string, Promise<unknown>>();
  /** Touch checks run one after another (each runs git a few times). */
  private checks: Promise<void> = Promise.resolve();

  constructor(private readonly deps: CommentsDeps) {
    this.now = deps.now ?? Date.now;
  }

  private changed(jobId: string): void {
    this.deps.emit({ type: 'comments.changed', job_id: jobId });
  }

  private repoPath(job: JobRow): string {
    return bareRepoPath(this.deps.reposDir, job.repo_id);
  }

  /** The job's diff's files, commit and base, or a 409 for a job with no commit to comment on. */
  private async place(job: JobRow): Promise<Place> {
    if (!job.commit_sha)
      throw new ApiError(
        409,
        `job ${job.id.slice(0, 8)} has no commit (it is ${job.status}${isFinished(job.status) ? ' and changed nothing' : ''}): there is no diff to comment on`,
      );
    // The list of names alone is capped (DIFF_LIST_MAX_BYTES); the count of files is not what a comment needs.
    const diff = await jobDiff(this.repoPath(job), job, { stat: true, maxFiles: Number.MAX_SAFE_INTEGER, maxBytes: 1024 });
    return { ...diff, commit: diff.commit ?? job.commit_sha, base_commit: diff.base_commit ?? job.commit_sha };
  }

  /** Adds a comment where the job's diff has its file and its side of that file has its line; else a 422 that says why. */
  async add(job: JobRow, input: NewComment): Promise<CommentRow> {
    const side = input.side ?? 'new';
    refuseOddPath(input.path);
    const place = await this.place(job);
    const file = fileOnSide(place.files, input.path, side);
    const short = job.id.slice(0, 8);
    if (!file) {
      const cut = place.files_truncated ? ` (it changed more files than lazyaf lists: ${place.files.length})` : '';
      throw new ApiError(422, `${JSON.stringify(input.path)} is not a file of job ${short}'s diff${side === 'old' ? ' on its old side' : ''}${cut}`);
    }
    if (file.binary) throw new ApiError(422, `${JSON.stringify(input.path)} is a binary file: it has no lines to comment on`);
    if (side === 'new' && file.status === 'D')
      throw new ApiError(422, `job ${short} deleted ${JSON.stringify(input.path)}: comment on its old side (side "old")`);
    if (side === 'old' && file.status === 'A') throw new ApiError(422, `job ${short} added ${JSON.stringify(input.path)}: it has no old side (side "new")`);
    const at = side === 'new' ? place.commit : place.base_commit;
    const name = side === 'new' ? file.path : (file.old_path ?? file.path);
    const read = await fileLinesAt(this.repoPath(job), at, name);
    if (!read) throw new ApiError(422, `${JSON.stringify(name)} cannot be read as a file at ${at.slice(0, 12)} (a submodule?)`);
    if (input.line > read.lines.length) {
      throw new ApiError(
        422,
        read.complete
          ? `line ${input.line} is past the end of ${JSON.stringify(name)} on the ${side} side: it has ${read.lines.length} line${read.lines.length === 1 ? '' : 's'}`
          : `line ${input.line} of ${JSON.stringify(name)} lies past its first ${FILE_READ_MAX_BYTES / 1024 / 1024} MiB (${read.lines.length} lines), as far as lazyaf reads a file`,
      );
    }
    const row = this.deps.store.insert({
      id: crypto.randomUUID(),
      job_id: job.id,
      path: input.path,
      line: input.line,
      side,
      body: input.body,
      created_ms: this.now(),
    });
    this.changed(job.id);
    return row;
  }

  list(job: JobRow, query: { resolved?: boolean; sent_to?: boolean }): CommentRow[] {
    const rows = query.sent_to ? this.deps.store.sentTo(job.id) : this.deps.store.forJob(job.id, query.resolved);
    return query.sent_to && query.resolved !== undefined ? rows.filter((c) => (c.resolved_ms !== null) === query.resolved) : rows;
  }

  /** Resolves (or unresolves) one of the job's comments; a comment of another job is not found. */
  resolve(job: JobRow, commentId: string, resolved: boolean): CommentRow {
    const existing = this.mustFind(job, commentId);
    if ((existing.resolved_ms !== null) === resolved) return existing;
    const row = this.deps.store.setResolved(job.id, commentId, resolved ? this.now() : null);
    if (!row) throw notFound(commentId, job);
    this.changed(job.id);
    return row;
  }

  remove(job: JobRow, commentId: string): void {
    if (!this.deps.store.remove(job.id, commentId)) throw notFound(commentId, job);
    this.changed(job.id);
  }

  private mustFind(job: JobRow, commentId: string): CommentRow {
    const row = this.deps.store.get(job.id, commentId);
    if (!row) throw notFound(commentId, job);
    return row;
  }

  /**
   * One follow-up of `job` whose prompt holds every unresolved comment not sent yet, with its file,
   * line and code; those comments are marked sent to it in the transaction that queues it. By
   * default the job's own agent, continuing its conversation (followUpJob's rule).
   */
  async send(job: JobRow, body: SendComments): Promise<JobRow> {
    // One send per job at a time; the next waits and then finds what this one left.
    const before = this.sending.get(job.id) ?? Promise.resolve();
    const mine = before.catch(() => {}).then(() => this.sendNow(job.id, body));
    this.sending.set(job.id, mine);
    try {
      return await mine;
    } finally {
      if (this.sending.get(job.id) === mine) this.sending.delete(job.id);
    }
  }

  private async sendNow(jobId: string, body: SendComments): Promise<JobRow> {
    const job = this.deps.jobs.get(jobId);
    if (!job) throw new ApiError(404, `job not found: ${jobId}`);
    const short = job.id.slice(0, 8);
    const unsent = this.deps.store.unsent(job.id);
    if (unsent.length === 0) throw new ApiError(409, `job ${short} has no comment to send: each unresolved comment was sent already, or there are none`);
    this.deps.sources.queue.mustBeFinished(job, 'send comments to');
    const agent = body.agent ?? (job.agent === SHELL_AGENT ? undefined : job.agent);
    if (!agent)
      throw new ApiError(
        409,
        `job ${short} ran a command, not an agent: name the agent to send its comments to (lazyaf review --send --agent NAME; the API's "agent")`,
      );
    const code = await this.codeAround(job, unsent);
    let description = reviewPrompt(job, unsent, code);
    if (description.length > REVIEW_PROMPT_MAX_CHARS) description = reviewPrompt(job, unsent, code, false);
    if (description.length > REVIEW_PROMPT_MAX_CHARS) {
      throw new ApiError(
        422,
        `the ${unsent.length} comments to send come to ${description.length} characters, more than the ${REVIEW_PROMPT_MAX_CHARS} a follow-up's prompt holds: resolve or delete some, and send the rest`,
      );
    }
    const ids = unsent.map((c) => c.id);
    const { queue } = this.deps;
    const title = body.title ?? `Address ${unsent.length === 1 ? 'a review comment' : `${unsent.length} review comments`} on job ${short}`;
    const followup = await followUpJob(
      job,
      { title, description, agent, model: body.model },
      {
        ...this.deps.sources,
        queue: {
          mustBeFinished: (j, action) => queue.mustBeFinished(j, action),
          transaction: (fn) => queue.transaction(fn),
          emit: (event) => queue.emit(event),
          submit: (input) =>
            queue.transaction(() => {
              const row = queue.submit(input);
              // Resolved or deleted while the follow-up was being checked: its prompt would say what is no longer asked.
              if (this.deps.store.markSent(ids, row.id) !== ids.length)
                throw new ApiError(409, `job ${short}'s comments changed while they were being sent; send again`);
              return row;
            }),
        },
      },
    );
    this.changed(job.id);
    return followup;
  }

  /** The code around each comment's line, read from the job's commit (new side) or its base (old side). */
  private async codeAround(job: JobRow, comments: readonly CommentRow[]): Promise<Map<string, CodeAround>> {
    const out = new Map<string, CodeAround>();
    let place: Place;
    try {
      place = await this.place(job);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      for (const c of comments) out.set(c.id, { missing: `the code cannot be read: ${err.message}` });
      return out;
    }
    const files = new Map<string, Awaited<ReturnType<typeof fileLinesAt>>>();
    for (const c of comments) {
      const file = fileOnSide(place.files, c.path, c.side);
      const at = c.side === 'new' ? place.commit : place.base_commit;
      const name = c.side === 'new' ? c.path : (file?.old_path ?? c.path);
      const key = `${at}:${name}`;
      if (!files.has(key)) files.set(key, await fileLinesAt(this.repoPath(job), at, name));
      const read = files.get(key);
      if (!read) out.set(c.id, { missing: `${name} is not in commit ${at.slice(0, 12)}` });
      else if (c.line > read.lines.length) out.set(c.id, { missing: `the line is past what lazyaf reads of the file` });
      else out.set(c.id, linesAround(read.lines, c.line));
    }
    return out;
  }

  // ---- what a follow-up touched ---------------------------------------------------------------

  /**
   * Records, for each comment sent to `followupId`, whether its diff touched the comment's line;
   * for its current commit, once it has finished with one. Queued behind the checks before it.
   */
  checkTouched(followupId: string): Promise<void> {
    this.checks = this.checks.then(() =>
      this.touchedNow(followupId).catch((err: unknown) =>
        this.deps.log.warn({ err, job_id: followupId }, "cannot tell which comments a follow-up's diff touched"),
      ),
    );
    return this.checks;
  }

  /** The follow-ups that finished while no one was looking (a restart): checked in the background. */
  checkUnchecked(): Promise<void> {
    for (const id of this.deps.store.uncheckedFollowups()) void this.checkTouched(id);
    return this.checks;
  }

  private async touchedNow(followupId: string): Promise<void> {
    // Every finished job comes here; most were sent no comments, and that is the cheaper read.
    const sent = this.deps.store.sentTo(followupId);
    if (sent.length === 0) return;
    const followup = this.deps.jobs.get(followupId);
    if (!followup?.commit_sha || !isFinished(followup.status)) return;
    const commit = followup.commit_sha;
    const pending = sent.filter((c) => c.touch_checked_commit !== commit);
    const byJob = new Map<string, CommentRow[]>();
    for (const c of pending) byJob.set(c.job_id, [...(byJob.get(c.job_id) ?? []), c]);
    for (const [jobId, comments] of byJob) {
      const job = this.deps.jobs.get(jobId);
      if (!job?.commit_sha) continue;
      const touched = await this.touchedBy(job, job.commit_sha, commit, comments);
      for (const c of comments) this.deps.store.setTouched(c.id, followupId, touched.has(c.id), commit);
      this.changed(jobId);
    }
    if (byJob.size > 0) this.changed(followupId);
  }

  /**
   * The ids of `comments` (on `job`'s diff) that the diff from `from` (the job's commit, where the
   * follow-up started) to `to` (the follow-up's commit) touched: a hunk whose old side covers the
   * comment's line, or comes within TOUCH_DISTANCE lines of it. An old-side comment is first
   * carried to the job's commit through the job's own diff (mapOldLine); a file the job deleted is
   * touched when the follow-up wrote it again.
   */
  private async touchedBy(job: JobRow, from: string, to: string, comments: readonly CommentRow[]): Promise<Set<string>> {
    const repo = this.repoPath(job);
    const followupHunks = new Map<string, Hunk[]>();
    const hunksAt = async (name: string): Promise<Hunk[]> => {
      if (!followupHunks.has(name)) followupHunks.set(name, await diffHunks(repo, from, to, [name], false));
      return followupHunks.get(name)!;
    };
    let place: Place | undefined;
    const touched = new Set<string>();
    for (const c of comments) {
      let target: { name: string; span: Span } = { name: c.path, span: { from: c.line, to: c.line } };
      if (c.side === 'old') {
        place ??= await this.place(job);
        const file = fileOnSide(place.files, c.path, 'old');
        if (file?.status === 'D') target = { name: c.path, span: { from: -Infinity, to: Infinity } };
        else if (file) {
          const oldName = file.old_path ?? file.path;
          const own = await diffHunks(repo, place.base_commit, from, [...new Set([oldName, file.path])], true);
          target = { name: file.path, span: mapOldLine(c.line, own) };
        }
      }
      if (touches(await hunksAt(target.name), target.span)) touched.add(c.id);
    }
    return touched;
  }
}

/** The file of a diff a comment on `side` names: on the old side, by its name before a rename too. */
function fileOnSide(files: readonly DiffFile[], path: string, side: CommentSide): DiffFile | undefined {
  if (side === 'new') return files.find((f) => f.path === path);
  return files.find((f) => (f.old_path ?? f.path) === path) ?? files.find((f) => f.path === path);
}

/** A path no diff names: git never writes an empty, `.` or `..` component, nor a leading or trailing slash. */
function refuseOddPath(path: string): void {
  if (path.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new ApiError(
      422,
      `${JSON.stringify(path)} is not a file of the job's diff: a path there has no empty, "." or ".." part and no leading or trailing "/"`,
    );
  }
}

function notFound(commentId: string, job: JobRow): ApiError {
  return new ApiError(404, `comment not found on job ${job.id.slice(0, 8)}: ${commentId}`);
}
