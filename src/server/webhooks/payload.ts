import { createHmac } from 'node:crypto';
import type { Job, WebhookEventName, WebhookFormat } from '../../shared/api.js';
import type { TaskSubject } from '../store/notify-subjects.js';

/** What a delivery tells, fixed when the event happens. */
export interface DeliveryFacts {
  id: string;
  event: WebhookEventName;
  created_at: string;
  job?: Job;
  task?: TaskSubject;
}

/** The exact body a delivery sends: lazyaf's JSON, or Slack's `{"text": ...}`. */
export function deliveryBody(format: WebhookFormat, facts: DeliveryFacts): string {
  if (format === 'slack') return JSON.stringify({ text: summaryLine(facts) });
  return JSON.stringify({
    id: facts.id,
    event: facts.event,
    created_at: facts.created_at,
    ...(facts.job ? { job: facts.job } : {}),
    ...(facts.task ? { task: facts.task } : {}),
  });
}

/** `sha256=` and the hex HMAC-SHA256 of the raw body under the webhook's secret, as GitHub signs. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * One line for a person. Titles come from whoever submitted the job (or an agent's prompt): one
 * line, bounded, and with Slack's control characters escaped, so a title cannot mention
 * `<!channel>` or make a link.
 */
export function summaryLine(facts: DeliveryFacts): string {
  const { job, task } = facts;
  const jobName = job ? `job ${job.id.slice(0, 8)} "${plain(job.title)}"` : 'a job';
  const taskName = task ? `task ${task.id.slice(0, 8)} "${plain(task.title)}"` : 'a task';
  switch (facts.event) {
    case 'job.finished': {
      if (!job) return `lazyaf: ${jobName} finished`;
      const where = job.repo_name ? ` in ${plain(job.repo_name)}` : '';
      const exit = job.status === 'failed' && job.exit_code !== null ? ` (exit code ${job.exit_code})` : '';
      const branch = job.status === 'succeeded' && job.branch ? `, branch ${plain(job.branch)}` : '';
      return `lazyaf: ${jobName}${where} ${job.status}${exit}${branch}`;
    }
    case 'job.landed':
      return `lazyaf: ${jobName} landed${job?.branch ? ` from ${plain(job.branch)}` : ''}`;
    case 'task.finished': {
      const counts = new Map<string, number>();
      for (const j of task?.jobs ?? []) counts.set(j.status, (counts.get(j.status) ?? 0) + 1);
      const said = [...counts].map(([status, n]) => `${n} ${status}`).join(', ');
      return `lazyaf: ${taskName} finished${said ? `: ${said}` : ''}`;
    }
    case 'task.picked':
      return `lazyaf: ${taskName}: ${task?.picked_job_id ? `job ${task.picked_job_id.slice(0, 8)}` : 'a job'} picked`;
  }
}

const TITLE_MAX = 100;

function plain(text: string): string {
  const line = text.replace(/[\s\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  const cut = line.length > TITLE_MAX ? `${line.slice(0, TITLE_MAX - 1)}…` : line;
  return cut.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
