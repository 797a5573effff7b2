import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { AgentAdapter } from '../shared/agents/adapter.js';
import type { AgentRun, Assignment } from '../shared/protocol.js';
import { MAX_SESSION_BYTES } from '../shared/protocol-routes.js';
import type { RunnerClient } from './client.js';
import { packSession, placeSession, unpackSession } from './session-files.js';
import type { Workspace } from './workspace.js';

export interface SessionDeps {
  client: RunnerClient;
  say: (line: string) => void;
  signal: AbortSignal;
}

/** How an agent run begins: the conversation to resume (or none), its prompt, and the prompt to start afresh with if resuming fails. */
export interface StartingPoint {
  resumeSessionId: string | null;
  prompt: string;
  /** Set while resuming: the prompt with the parent's summary, for a new conversation when the agent does not find the session. */
  fallback: string | undefined;
}

type Job = Pick<Assignment, 'attempt_id' | 'job_token' | 'prompt'> & { agent_run: AgentRun };
type Place = Pick<Workspace, 'dir' | 'jobDir'>;

/**
 * A follow-up's starting point: the parent's session files fetched (the attempt the assignment
 * names, with this job's own token) and unpacked into the job's HOME, at this runner's own
 * session paths, to resume; when that cannot be, a new conversation whose prompt ends with the
 * summary of the parent's, said in one line of the job's log.
 */
export async function startingPoint(adapter: AgentAdapter, a: Job, ws: Place, home: string, deps: SessionDeps): Promise<StartingPoint> {
  const { resume, parent_conversation: parent } = a.agent_run;
  const afresh = parent ? `${a.prompt}\n\n${parent.summary}\n` : a.prompt;
  const fresh = (why: string): StartingPoint => {
    deps.say(`cannot resume the parent job's conversation: ${why}; the agent starts a new one with a summary of it in its prompt`);
    return { resumeSessionId: null, prompt: afresh, fallback: undefined };
  };
  if (!resume) return parent ? fresh(parent.unavailable ?? 'the server named no session') : { resumeSessionId: null, prompt: a.prompt, fallback: undefined };
  const paths = adapter.sessionFiles({ home, workspace: ws.dir, sessionId: resume.session_id });
  if (paths.length === 0) return fresh(`${adapter.name} cannot take a session named ${JSON.stringify(resume.session_id.slice(0, 100))}`);
  const staging = path.join(ws.jobDir, 'session-restore');
  try {
    const archive = await deps.client.getSession(resume.attempt_id, a.job_token, MAX_SESSION_BYTES, { signal: deps.signal });
    await unpackSession(archive, staging, paths.length);
    placeSession(staging, home, paths);
  } catch (err) {
    return fresh(`its session files could not be restored (${(err as Error).message.split('\n')[0]})`);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  deps.say(`resuming the parent job's conversation (session ${resume.session_id})`);
  return { resumeSessionId: resume.session_id, prompt: a.prompt, fallback: afresh };
}

/**
 * After the run: the agent's session files packed from the job's HOME and sent with the attempt,
 * so a follow-up on any runner can resume it. Files over the caps are not sent (said in one line):
 * the follow-up then starts afresh with a summary.
 */
export async function saveSession(
  adapter: AgentAdapter,
  a: Pick<Assignment, 'attempt_id' | 'job_token'>,
  ws: Place,
  home: string,
  sessionId: string,
  deps: SessionDeps,
): Promise<void> {
  const packed = await packSession(home, adapter.sessionFiles({ home, workspace: ws.dir, sessionId }));
  const notKept = (why: string) => deps.say(`the agent's session is not kept for a follow-up (${why}): one would start afresh with a summary`);
  if ('skipped' in packed) return notKept(packed.skipped);
  try {
    await deps.client.putSession(a.attempt_id, a.job_token, packed.archive, { signal: deps.signal });
  } catch (err) {
    notKept(`sending it failed: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Whether a resumed run ended because the agent did not find its session (it says so on stdout or stderr). */
export function sessionNotFound(adapter: AgentAdapter, output: string, failure: string | undefined): boolean {
  return adapter.sessionNotFound.test(output) || (failure !== undefined && adapter.sessionNotFound.test(failure));
}

/** Passes a run's output on to the job's log, keeping its last 8 KiB: where an agent says it did not find its session. */
export class OutputTail extends Writable {
  private kept = '';

  constructor(private readonly to: Writable) {
    super({ decodeStrings: false });
  }

  override _write(chunk: string | Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.kept = (this.kept + String(chunk)).slice(-8192);
    if (this.to.write(chunk)) done();
    else this.to.once('drain', () => done());
  }

  text(): string {
    return this.kept;
  }
}
