/**
 * Which runner may take which job: every label the job asks for, and the job's agent (`shell`
 * runs everywhere). The claim's SQL (`store/jobs.ts` nextFor) says the same for the queue;
 * this is the rule for the wake-ups and for telling a person why no runner takes a job.
 */
import { SHELL_AGENT } from '../../shared/job-status.js';

export interface RunnerOffer {
  labels: ReadonlySet<string>;
  agents: ReadonlySet<string>;
}

export interface JobNeeds {
  labels: readonly string[];
  agent: string;
}

export function canTake(runner: RunnerOffer, job: JobNeeds): boolean {
  return (job.agent === SHELL_AGENT || runner.agents.has(job.agent)) && job.labels.every((l) => runner.labels.has(l));
}

/** A stored runner's offer (labels and agents are JSON arrays in its row). */
export function offerOf(row: { labels: string; agents: string }): RunnerOffer {
  return { labels: new Set(JSON.parse(row.labels) as string[]), agents: new Set(JSON.parse(row.agents) as string[]) };
}

/** A stored job's needs. */
export function needsOf(row: { labels: string; agent: string }): JobNeeds {
  return { labels: JSON.parse(row.labels) as string[], agent: row.agent };
}

/**
 * Why none of `offers` (the registered runners') can take a job with these needs, as a sentence
 * for a person, or null when one can.
 */
export function whyNoRunner(job: JobNeeds, offers: readonly RunnerOffer[]): string | null {
  if (offers.length === 0) return 'no runner is registered';
  if (offers.some((o) => canTake(o, job))) return null;
  const labels = job.labels.join(',');
  const withAgent = offers.filter((o) => canTake(o, { labels: [], agent: job.agent }));
  const withLabels = offers.filter((o) => canTake(o, { labels: job.labels, agent: SHELL_AGENT }));
  if (withAgent.length === 0) {
    const offered = [...new Set(offers.flatMap((o) => [...o.agents]))].sort();
    // A runner offers an agent whose CLI it finds on its PATH; its start says why it skipped one.
    return `no registered runner offers the agent ${job.agent} (runners offer: ${offered.length ? offered.join(', ') : 'only shell'}): install its CLI where a runner finds it (each runner says at start why it skipped an agent), or declare it with --agents`;
  }
  if (withLabels.length === 0) return `no registered runner has the labels ${labels}`;
  return `no registered runner has both the labels ${labels} and the agent ${job.agent}`;
}
