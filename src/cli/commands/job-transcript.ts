import type { Job, StoredTranscriptEntry, Transcript } from '../../shared/api.js';
import { isFinished } from '../../shared/job-status.js';
import { jsonForTerminal, printable } from '../../shared/terminal.js';
import { usageLine } from '../../shared/usage-text.js';
import type { ApiClient } from '../client.js';
import { colourWanted, painter } from '../paint.js';
import { renderEntry, TRANSCRIPT_SGR } from '../transcript-view.js';

/** How often `logs -f` asks for new entries: a person reading sees them within half a second, at two small requests a second. */
const FOLLOW_POLL_MS = 500;

/** Where the entries go: readable lines on a terminal, or JSON lines. */
export interface TranscriptOutput {
  json: boolean;
}

const jobPath = (jobId: string) => `/api/jobs/${encodeURIComponent(jobId)}`;

/** Prints entries as they are meant to be read, or one JSON object per line. */
function writer(out: TranscriptOutput): (entries: StoredTranscriptEntry[]) => void {
  const paint = painter(!out.json && colourWanted(), TRANSCRIPT_SGR);
  const width = Math.max(40, Math.min(process.stdout.columns ?? 100, 120));
  return (entries) => {
    for (const e of entries) process.stdout.write(out.json ? jsonForTerminal(e, 0) + '\n' : renderEntry(e, width, paint));
  };
}

/** The closing line: what the agent used, when it said. */
function printUsage(job: Job, out: TranscriptOutput): void {
  if (out.json || !job.usage) return;
  process.stdout.write(painter(colourWanted(), TRANSCRIPT_SGR)(`usage: ${printable(usageLine(job.usage))}`, 'dim') + '\n');
}

/** Prints the transcript of the job's latest attempt; false when it has none (the caller shows the log instead). */
export async function printTranscript(client: ApiClient, job: Job, out: TranscriptOutput): Promise<boolean> {
  const transcript = await client.request<Transcript>('GET', `${jobPath(job.id)}/transcript`);
  if (transcript.entries.length === 0) return false;
  writer(out)(transcript.entries);
  printUsage(job, out);
  return true;
}

/**
 * Prints the transcript as it grows until the job has finished, and returns the finished job. A
 * job's status is read before its entries, so once it reads finished, the entries read after it
 * are the last. A new attempt (the job was requeued) starts its own transcript, said so.
 */
export async function followTranscript(client: ApiClient, jobId: string, out: TranscriptOutput): Promise<Job> {
  const write = writer(out);
  const doing = `following job ${jobId}`;
  // The attempt being printed (0: none has begun yet) and the last seq printed of it.
  let attempt = 0;
  let after = 0;
  for (;;) {
    const job = await client.request<Job>('GET', jobPath(jobId), undefined, doing);
    if (attempt === 0) attempt = job.attempt_count;
    if (attempt > 0) {
      const query = new URLSearchParams({ attempt: String(attempt), after: String(after) });
      const page = await client.request<Transcript>('GET', `${jobPath(job.id)}/transcript?${query}`, undefined, doing);
      write(page.entries);
      after = page.entries.at(-1)?.seq ?? after;
    }
    if (job.attempt_count > attempt) {
      // A later attempt began, so this one had ended before the job was read: all of it is printed.
      attempt++;
      after = 0;
      if (!out.json) process.stdout.write(`── attempt ${attempt} ──\n`);
      continue;
    }
    if (isFinished(job.status)) {
      printUsage(job, out);
      return job;
    }
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
  }
}
