import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AgentAdapter, StreamParser } from '../shared/agents/adapter.js';
import { AGENT_ADAPTERS } from '../shared/agents/index.js';
import { LineSplitter } from '../shared/agents/stream-helpers.js';
import type { Assignment, CompleteRequest } from '../shared/protocol.js';
import { cutText, type TranscriptEntry } from '../shared/transcript.js';
import { fitEntry, fitSessionId, fitUsage } from './agent-fit.js';
import type { RunnerClient } from './client.js';
import { TranscriptStream } from './transcript-stream.js';
import type { Workspace } from './workspace.js';

export interface AgentLaunch {
  argv: string[];
  /** Added to the job's environment, HOME included. */
  env: Record<string, string>;
  stdin: string | undefined;
  /** The run's own HOME, inside the job's files (outside the checkout). */
  home: string;
}

/**
 * Readies a job's HOME: a fresh one inside the job's files holding a copy of `entries` (an agent's
 * config and login) from the runner's HOME. What a job changes there is gone with the job, so no
 * job leaves a hook or a setting for the next (only refreshed login files go back, see
 * login-files.ts).
 */
export function prepareJobHome(entries: readonly string[], ws: Pick<Workspace, 'jobDir'>, say: (line: string) => void, runnerHome = os.homedir()): string {
  const home = path.join(ws.jobDir, 'home');
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  for (const entry of entries) copyHomeEntry(runnerHome, home, entry, say);
  return home;
}

/** An agent's HOME: a copy of its own config and login (`homeEntries`). */
export function prepareAgentHome(adapter: AgentAdapter, ws: Pick<Workspace, 'jobDir'>, say: (line: string) => void, runnerHome = os.homedir()): string {
  return prepareJobHome(adapter.homeEntries, ws, say, runnerHome);
}

/**
 * What a job without an adapter (a shell command, a template of `agents.json` such as aider) finds
 * in its HOME: a copy of every agent's config and login, as a person's command may start any of
 * them, and aider's config files.
 */
export const TEMPLATE_HOME_ENTRIES: readonly string[] = [
  ...new Set([...[...AGENT_ADAPTERS.values()].flatMap((a) => a.homeEntries), '.aider.conf.yml', '.aider.model.settings.yml', '.aider.model.metadata.json']),
];

/** An agent run's command line and environment, and the config files the adapter writes into its HOME. */
export function agentLaunch(
  adapter: AgentAdapter,
  a: Assignment & { agent_run: NonNullable<Assignment['agent_run']> },
  ws: Pick<Workspace, 'dir' | 'promptFile'>,
  home: string,
  start: { resumeSessionId: string | null; prompt: string },
): AgentLaunch {
  const launch = adapter.launch({
    prompt: start.prompt,
    promptFile: ws.promptFile,
    home,
    workspace: ws.dir,
    model: a.agent_run.model,
    resumeSessionId: start.resumeSessionId,
    credentials: a.agent_run.env,
  });
  for (const [rel, content] of Object.entries(launch.homeFiles ?? {})) {
    const file = path.resolve(home, rel);
    if (path.relative(home, file).startsWith('..') || path.isAbsolute(path.relative(home, file)))
      throw new Error(`${adapter.name}: a config file outside HOME: ${rel}`);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, content, { mode: 0o600 });
  }
  return { argv: launch.argv, env: { ...launch.env, HOME: home }, stdin: launch.stdin, home };
}

/** Copies one config entry of the runner's HOME (a file or a folder; links as links, nothing else). */
function copyHomeEntry(from: string, to: string, entry: string, say: (line: string) => void): void {
  const src = path.join(from, entry);
  if (!fs.existsSync(src)) return;
  try {
    fs.mkdirSync(path.dirname(path.join(to, entry)), { recursive: true, mode: 0o700 });
    fs.cpSync(src, path.join(to, entry), {
      recursive: true,
      verbatimSymlinks: true,
      // Sockets and pipes (an IDE's lock, a daemon's socket) are no config, and a pipe would block the copy.
      filter: (p) => {
        const st = fs.lstatSync(p);
        return st.isFile() || st.isDirectory() || st.isSymbolicLink();
      },
    });
  } catch (err) {
    say(`could not copy ~/${entry} into the agent's HOME: ${(err as Error).message.split('\n')[0]}`);
  }
}

/**
 * The agent's stdout on its way to a transcript: cut into lines, parsed by the adapter, the
 * entries sent in batches. The prompt is the transcript's first entry.
 */
export class AgentOutput {
  private parser: StreamParser;
  private lines: LineSplitter;
  /**
   * The last line the agent wrote to stderr: where a CLI says why it cannot start at all (gemini
   * without a login: "Manual authorization is required ..."), before any event on stdout.
   */
  private readonly stderrLines = new LineSplitter((line) => {
    if (line.trim() !== '') this.lastStderrLine = cutText(line.replace(/\s+/g, ' ').trim(), 500);
  }, 64 * 1024);
  private lastStderrLine: string | undefined;
  readonly transcript: TranscriptStream;

  constructor(
    private readonly adapter: AgentAdapter,
    a: Assignment,
    private readonly workspace: string,
    private readonly deps: {
      client: RunnerClient;
      say: (line: string) => void;
      onLeaseLost: () => void;
      /** Hides the job's credential values in entries, usage and text before they leave the runner (the agent may print them). */
      redact: <T>(value: T) => T;
      prompt: string;
    },
  ) {
    this.parser = adapter.parser({ workspace, startedAt: Date.now() });
    this.transcript = new TranscriptStream({
      send: (batch, call) => deps.client.transcript(a.attempt_id, a.job_token, batch, call),
      onLeaseLost: deps.onLeaseLost,
      say: deps.say,
    });
    this.lines = new LineSplitter((line) => this.push(this.parser.line(line)));
    this.pushPrompt(deps.prompt);
  }

  /** The agent runs again (a new conversation after a resume that failed): a new parser, the same transcript, its new prompt first. */
  restart(prompt: string): void {
    this.parser = this.adapter.parser({ workspace: this.workspace, startedAt: Date.now() });
    this.lines = new LineSplitter((line) => this.push(this.parser.line(line)));
    this.lastStderrLine = undefined;
    this.pushPrompt(prompt);
  }

  sessionId(): string | undefined {
    return this.parser.sessionId();
  }

  /** Why the run failed: what its stream said, else its last line on stderr. */
  failure(): string | undefined {
    return this.parser.failure() ?? this.lastStderrLine;
  }

  readonly write = (chunk: string): void => this.lines.write(chunk);
  readonly writeStderr = (chunk: string): void => this.stderrLines.write(chunk);

  /** The agent exited: what is still open goes out too. */
  end(): void {
    this.lines.end();
    this.stderrLines.end();
    this.push(this.parser.end());
  }

  /**
   * What the completion carries: usage and session id, made to fit what the server takes (one it
   * refuses would lose the job's result); the parser's reason as the error of a run that failed
   * without one.
   */
  report(report: CompleteRequest): CompleteRequest {
    const id = this.parser.sessionId();
    const session = fitSessionId(id, this.deps.redact);
    if (id !== undefined && session === null) this.deps.say('the agent named a session id that cannot be kept: a follow-up starts a new conversation');
    const out: CompleteRequest = { ...report, usage: fitUsage(this.deps.redact(this.parser.usage())), session_id: session };
    const failure = this.failure();
    if (report.outcome === 'failed' && typeof report.exit_code === 'number' && report.exit_code !== 0 && !report.error && failure)
      // Within the completion's 4,000 characters, with room for redaction, which lengthens it.
      out.error = failure.slice(0, 3000);
    return out;
  }

  private pushPrompt(prompt: string): void {
    this.push([{ type: 'message', role: 'user', text: cutText(prompt), at: new Date().toISOString() }]);
  }

  private push(entries: TranscriptEntry[]): void {
    if (entries.length > 0) this.transcript.push(this.deps.redact(entries).map(fitEntry));
  }
}
