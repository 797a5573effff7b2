import type { Comment, SendComments } from '../../../shared/api.js';
import { ApiFailure } from '../lib/api.js';
import { commentsApi } from '../lib/comments-api.js';
import { live } from '../lib/live.svelte.js';
import { Resource } from '../lib/resource.svelte.js';

/** A comment's place: its file, side and line. */
export const placeKey = (path: string, side: 'new' | 'old', line: number): string => `${path}\0${side}\0${line}`;

/**
 * A job's review comments, kept live (`comments.changed`, and a refetch on reconnect). A server
 * without the comments routes answers 404: that is no comments, not an error, and the view
 * offers no commenting (`available`).
 */
export class JobComments {
  private readonly resource: Resource<Comment[] | null>;
  readonly all = $derived.by(() => this.resource.value ?? []);
  /** False while the first answer is awaited, and on a server without the routes. */
  readonly available = $derived.by(() => this.resource.value !== undefined && this.resource.value !== null);
  readonly error = $derived.by(() => this.resource.error?.message ?? null);
  /** The comments by place, each place's in the order they were written. */
  readonly byPlace = $derived.by(() => {
    // Built anew from each answer, never changed after: a plain map.
    // eslint-disable-next-line svelte/prefer-svelte-reactivity
    const map = new Map<string, Comment[]>();
    for (const c of this.all) {
      const key = placeKey(c.path, c.side, c.line);
      const list = map.get(key);
      if (list) list.push(c);
      else map.set(key, [c]);
    }
    return map;
  });
  /** What "Send to the agent" sends: the unresolved comments not sent yet. */
  readonly unsent = $derived.by(() => this.all.filter((c) => c.resolved_at === null && c.sent_in_job_id === null));

  constructor(private readonly jobId: string) {
    this.resource = new Resource(async (signal) => {
      try {
        return (await commentsApi.list(jobId, signal)).comments;
      } catch (err) {
        if (err instanceof ApiFailure && err.status === 404) return null;
        throw err;
      }
    });
  }

  /** Loads them and follows their changes until the returned function is called (return it from an `$effect`). */
  follow(): () => void {
    this.resource.refresh();
    const offLive = live.onLive('comments', (event) => {
      if (event.job_id === this.jobId) this.resource.refresh();
    });
    const offConnected = live.onConnected(() => this.resource.refresh());
    return () => {
      offLive();
      offConnected();
      this.resource.stop();
    };
  }

  async add(path: string, side: 'new' | 'old', line: number, body: string): Promise<void> {
    const comment = await commentsApi.add(this.jobId, { path, side, line, body });
    this.resource.replace([...this.all.filter((c) => c.id !== comment.id), comment]);
  }

  async resolve(id: string): Promise<void> {
    const comment = await commentsApi.resolve(this.jobId, id);
    this.resource.replace(this.all.map((c) => (c.id === id ? comment : c)));
  }

  async remove(id: string): Promise<void> {
    await commentsApi.remove(this.jobId, id);
    this.resource.replace(this.all.filter((c) => c.id !== id));
  }

  /** Starts the follow-up holding the unsent comments; answers its id. */
  async send(body: SendComments = {}): Promise<string> {
    const job = await commentsApi.send(this.jobId, body);
    this.resource.refresh();
    return job.id;
  }
}
