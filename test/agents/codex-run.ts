// The real pinned codex CLI run as the runner runs an agent: the adapter's argv, env and stdin,
// a HOME of its own, the workspace as cwd, its stdout fed line by line to the adapter's parser.
// Like the runner, it ends the CLI (its whole process group) when it has not exited on its own
// within 2 s of the parser reporting a failure (codex 0.171 may wait for the network for ever).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { agentCliBinDir } from '../../scripts/agent-clis.js';
import { codexAdapter } from '../../src/shared/agents/codex.js';
import type { Launch, StreamParser } from '../../src/shared/agents/adapter.js';
import type { TranscriptEntry } from '../../src/shared/transcript.js';

export interface CodexRun {
  launch: Launch;
  code: number | null;
  signal: NodeJS.Signals | null;
  entries: TranscriptEntry[];
  parser: StreamParser;
  stdout: string[];
  stderr: string;
  /** Start to exit. */
  ms: number;
  /** Whether the run was ended because it went on after the parser reported a failure. */
  stoppedOnFailure: boolean;
}

export interface CodexRunOptions {
  home: string;
  workspace: string;
  prompt: string;
  credentials: Record<string, string>;
  model?: string | null;
  resumeSessionId?: string | null;
  /** Bound on the whole run. */
  timeoutMs?: number;
}

/** Every process of a process group, by its command line (/proc): what `ps` shows anyone. */
export function groupCommandLines(pgid: number): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) out.push(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

export async function runCodex(opts: CodexRunOptions, onStart?: (pid: number) => void): Promise<CodexRun> {
  const binDir = agentCliBinDir('codex');
  const promptFile = path.join(opts.home, '.prompt');
  fs.writeFileSync(promptFile, opts.prompt);
  const launch = codexAdapter.launch({
    prompt: opts.prompt,
    promptFile,
    home: opts.home,
    workspace: opts.workspace,
    model: opts.model ?? null,
    resumeSessionId: opts.resumeSessionId ?? null,
    credentials: opts.credentials,
  });
  for (const [rel, content] of Object.entries(launch.homeFiles ?? {})) {
    fs.mkdirSync(path.dirname(path.join(opts.home, rel)), { recursive: true });
    fs.writeFileSync(path.join(opts.home, rel), content);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: opts.home, PATH: `${binDir}:${process.env.PATH ?? ''}`, ...launch.env };
  for (const name of codexAdapter.credentials) if (!(name in launch.env)) delete env[name];
  const started = Date.now();
  const parser = codexAdapter.parser({ workspace: opts.workspace, startedAt: started });
  const child = spawn(path.join(binDir, launch.argv[0]!), launch.argv.slice(1), { cwd: opts.workspace, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  const pid = child.pid!;
  const killGroup = (): void => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  onStart?.(pid);
  child.stdin.on('error', () => {});
  child.stdin.end(launch.stdin ?? '');
  const entries: TranscriptEntry[] = [];
  const stdout: string[] = [];
  let stderr = '';
  let stoppedOnFailure = false;
  let failureTimer: NodeJS.Timeout | undefined;
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
  lines.on('line', (line) => {
    stdout.push(line);
    entries.push(...parser.line(line));
    if (parser.failure() !== undefined && failureTimer === undefined) {
      failureTimer = setTimeout(() => {
        stoppedOnFailure = true;
        killGroup();
      }, 2000);
    }
  });
  const timer = setTimeout(killGroup, opts.timeoutMs ?? 60_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  clearTimeout(failureTimer);
  // The npm wrapper's native child is in the same group: nothing of the run outlives it.
  killGroup();
  entries.push(...parser.end());
  return { launch, code, signal, entries, parser, stdout, stderr, ms: Date.now() - started, stoppedOnFailure };
}
