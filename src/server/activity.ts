import type { FastifyBaseLogger } from 'fastify';
import { isFinished, type LiveEvent } from '../shared/api.js';
import type { LiveEvents } from './events.js';
import type { QueueStores } from './queue/queue.js';

/**
 * What a person watching the server wants to see happen, one log line each: runners joining and
 * leaving, jobs starting and ending (with their title, status and branch). Taken from the live
 * events, so it says only what was committed. Returns the function that stops it.
 */
export function logActivity(events: LiveEvents, store: Pick<QueueStores, 'jobs' | 'runners'>, log: FastifyBaseLogger): () => void {
  return events.subscribe((event) => {
    try {
      describe(event, store, log);
    } catch (err) {
      log.warn({ err }, 'could not describe a live event');
    }
  });
}

function describe(event: LiveEvent, store: Pick<QueueStores, 'jobs' | 'runners'>, log: FastifyBaseLogger): void {
  switch (event.type) {
    case 'runner.registered': {
      const runner = store.runners.get(event.runner_id);
      const agents = runner ? (JSON.parse(runner.agents) as string[]) : [];
      const sandbox = runner?.sandbox === 'none' ? 'UNSANDBOXED' : runner?.sandbox ? `${runner.sandbox} sandbox` : 'sandbox unknown';
      log.info(
        { runner_id: event.runner_id, runner_name: event.name },
        `runner ${event.name} joined (${sandbox}; ${agents.length ? `agents: ${agents.join(', ')}` : 'shell jobs only'})`,
      );
      return;
    }
    case 'runner.removed': {
      const name = store.runners.get(event.runner_id)?.name ?? event.runner_id;
      log.info({ runner_id: event.runner_id, runner_name: name }, `runner ${name} left`);
      return;
    }
    case 'attempt.started': {
      const job = store.jobs.summary(event.job_id);
      const runner = store.runners.get(event.runner_id)?.name ?? event.runner_id;
      if (!job) return;
      const again = event.number > 1 ? ` (attempt ${event.number})` : '';
      log.info({ job_id: job.id, runner_name: runner, title: job.title }, `job ${job.id.slice(0, 8)} started on ${runner}${again}: ${quoted(job.title)}`);
      return;
    }
    case 'attempt.ended':
      if (event.reason === 'lost') log.warn({ job_id: event.job_id, runner_id: event.runner_id }, `job ${event.job_id.slice(0, 8)} lost its runner`);
      return;
    case 'job.updated': {
      if (!isFinished(event.status)) return;
      const job = store.jobs.summary(event.job_id);
      if (!job) return;
      const exit = job.exit_code !== null && job.exit_code !== 0 ? ` (exit code ${job.exit_code})` : '';
      const branch = job.branch ? `; ${job.branch} at ${job.commit_sha?.slice(0, 12)}` : '';
      const error = job.status === 'failed' && job.error ? `; ${job.error.split('\n')[0]}` : '';
      log.info(
        { job_id: job.id, status: job.status, branch: job.branch, title: job.title },
        `job ${job.id.slice(0, 8)} ${job.status}${exit}: ${quoted(job.title)}${branch}${error}`,
      );
      return;
    }
    default:
      return;
  }
}

/** A title in quotes, cut to a line's worth (the pretty log escapes what it holds). */
function quoted(title: string): string {
  return JSON.stringify(title.length > 80 ? `${title.slice(0, 79)}…` : title);
}
