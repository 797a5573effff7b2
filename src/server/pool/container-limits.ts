import { JOB_LIMIT_VARS, type JobLimits } from '../../shared/job-limits.js';

/**
 * A runner container's own limits, from the job limits. A runner in a container cannot make
 * cgroups of its own (Docker mounts them read-only), so the container holds one runner and its one
 * job at a time under limits sized for both: the job's, plus what the runner itself needs (node is
 * about a dozen threads and 60 MiB; its git a few processes and up to a couple of hundred MiB for
 * a large fetch). Inside, the job runs first in line for the OOM killer, so the runner survives a
 * job that fills the container's memory and reports why it failed.
 */
const RUNNER_PIDS = 64;
const RUNNER_MEMORY = 256 * 1024 ** 2;

export interface ContainerLimits {
  /** Docker's PidsLimit, `--pids-limit`. */
  pids?: number;
  /** Docker's Memory, `--memory`: LAZYAF_RUNNER_MEMORY when set, else sized from the job's. */
  memoryBytes?: number;
  /** The job limits for the runner inside (its disk cap, and what it reports). */
  env: Record<string, string>;
}

export function containerLimits(job: JobLimits, runnerMemory: number | undefined): ContainerLimits {
  return {
    pids: job.pids > 0 ? job.pids + RUNNER_PIDS : undefined,
    memoryBytes: runnerMemory ?? (job.memoryBytes > 0 ? job.memoryBytes + RUNNER_MEMORY : undefined),
    env: Object.fromEntries(Object.entries(JOB_LIMIT_VARS).map(([key, name]) => [name, String(job[key as keyof JobLimits])])),
  };
}
