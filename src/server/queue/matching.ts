/**
 * Which runner may take which job: every label the job asks for, and the job's agent (`shell`
 * runs everywhere). The claim's SQL (`store/jobs.ts` nextFor) says the same for the queue;
 * this is the rule for the wake-ups and for telling a person why no runner takes a job.
 */
export interface RunnerOffer {
  labels: ReadonlySet<string>;
  agents: ReadonlySet<string>;
}

export interface JobNeeds {
  labels: readonly string[];
  agent: string;
}

export const SHELL_AGENT = 'shell';

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
