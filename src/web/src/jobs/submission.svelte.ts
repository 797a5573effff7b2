import type { Job } from '../../../shared/api.js';
import { seg } from '../lib/api.js';
import { router } from '../lib/router.svelte.js';
import { messageOf } from '../lib/format.js';

/**
 * A form that creates a job (New job, Follow up): one request at a time, and then the new job's
 * page; a refusal stays in `error` for the form's role="alert", and the form keeps its values.
 */
export class JobSubmission {
  sending = $state(false);
  error = $state<string | null>(null);

  async send(post: () => Promise<Job>): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    this.error = null;
    try {
      const job = await post();
      router.navigate(`/jobs/${seg(job.id)}`);
    } catch (err) {
      this.error = messageOf(err);
    } finally {
      this.sending = false;
    }
  }
}
