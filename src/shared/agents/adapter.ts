import type { TranscriptEntry, Usage } from '../transcript.js';

/**
 * One coding agent, as lazyaf drives it: how to start it headless in its JSON mode, how the
 * server's credentials map onto what it reads, how its event stream becomes transcript entries
 * and usage, and where its conversation is kept so a follow-up can resume it. Everything else
 * (queue, wall, git) knows nothing of agents. Pure: no I/O here; the runner does the running.
 */
export interface AgentAdapter {
  /** The name jobs use (`agent: "claude"`). */
  readonly name: string;
  /** The executable looked for on the job's PATH. */
  readonly bin: string;
  /** The npm package the agent ships in, at the version the tests run (`versions.ts`). */
  readonly npmPackage: string;
  /**
   * The variables this agent may get from the server's credentials and endpoint settings: its
   * keys, tokens, base URLs and switches. The common ones (proxy, CA) are added by the server.
   */
  readonly credentials: readonly string[];
  /**
   * What under the runner's HOME holds this agent's config and login (`.claude`, `.claude.json`):
   * each job's HOME starts with a fresh copy of them.
   */
  readonly homeEntries: readonly string[];
  /**
   * The login files under HOME the agent may refresh during a job (an OAuth token): the only
   * files written back to the runner's HOME after the job, and only when still valid JSON.
   */
  readonly loginFiles: readonly string[];
  /** Builds the command line, environment and config files of one run. */
  launch(ctx: LaunchContext): Launch;
  /** A parser for one run's stdout. */
  parser(ctx: ParseContext): StreamParser;
  /**
   * The files under HOME that hold conversation `sessionId` of a run in `workspace` (relative
   * paths or folders), saved with the attempt so that a follow-up on any runner can resume it.
   */
  sessionFiles(ctx: { home: string; workspace: string; sessionId: string }): string[];
  /**
   * What the agent says (on stdout or stderr) when the conversation it was told to resume is not
   * there: the runner then runs it again without resuming, with a summary of the conversation.
   */
  readonly sessionNotFound: RegExp;
}

export interface LaunchContext {
  /** The prompt, whole; also in `promptFile`. */
  prompt: string;
  promptFile: string;
  /** The job's HOME: fresh for the job, holding a copy of the agent's home entries. */
  home: string;
  workspace: string;
  /** Null: the agent's own default. */
  model: string | null;
  /** Continue this conversation; null for a new one. */
  resumeSessionId: string | null;
  /** What the server sent for this job (`AgentRun.env`): keys, tokens, endpoints. */
  credentials: Readonly<Record<string, string>>;
}

export interface Launch {
  /** argv[0] is the adapter's bin, found on the job's PATH. Never through a shell. */
  argv: string[];
  /** Added to the job's environment (the credentials mapped as the CLI reads them, its switches). */
  env: Record<string, string>;
  /** Files to write under HOME before the start (path relative to HOME → content): config the CLI reads. */
  homeFiles?: Record<string, string>;
  /** Written to the agent's stdin, then closed; without it stdin is empty. */
  stdin?: string;
}

export interface ParseContext {
  /** The job's checkout: paths inside it are shown relative to it. */
  workspace: string;
  /** When the run started (for duration_ms where the agent does not report one). */
  startedAt: number;
}

/**
 * Turns an agent's stdout, one line at a time, into transcript entries. A line that is not JSON
 * or not known is kept (as `other`), never dropped, and never throws.
 */
export interface StreamParser {
  /** One line of stdout, without its newline: the entries it completes (often none). */
  line(line: string): TranscriptEntry[];
  /** The stream ended: what is still open (tool calls without a result: status `unknown`). */
  end(): TranscriptEntry[];
  /** What the run used, as far as the stream said. */
  usage(): Usage | undefined;
  /** The conversation's id, once the stream named it. */
  sessionId(): string | undefined;
  /**
   * Why the run failed, in one line, when the stream said so (the API could not be reached, the
   * agent is not logged in): the job's error.
   */
  failure(): string | undefined;
}
