import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LauncherKind } from '../config.js';
import { childExecArgv, siblingModule } from '../sibling.js';

/** One runner the pool started. */
export interface LaunchedRunner {
  poolId: string;
  /** Asks the runner to drain: finish its job, take no new one, leave. */
  drain(): void;
  /** Stops it now. */
  kill(): void;
  /** Resolves when it has exited. */
  readonly exited: Promise<void>;
  readonly describe: string;
}

/** How the pool starts runners. The process launcher is the default; docker joins later. */
export interface Launcher {
  readonly kind: LauncherKind;
  launch(poolId: string, serverUrl: string, registrationToken: string): LaunchedRunner;
}

/** This package's CLI, from the same tree as the server that starts it. */
const CLI_PATH = siblingModule(import.meta.url, '../../cli/main');

/** Where one server's pool runners keep their caches: under the temp dir, one folder per data dir. */
export function poolWorkRoot(dataDir: string): string {
  const tag = crypto.createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `lazyaf-pool-${tag}`);
}

/**
 * Starts runners as child processes of the server (`lazyaf runner`), each with its own work dir
 * outside the data dir (a job's sandbox shows neither). The registration token reaches the child
 * through its environment, which its jobs never see; the data dir's path goes along so that the
 * runner hides it from them even where it lies under something the sandbox shows.
 */
export class ProcessLauncher implements Launcher {
  readonly kind = 'process' as const;

  constructor(
    private readonly dataDir: string,
    private readonly onOutput: (poolId: string, line: string) => void,
  ) {}

  launch(poolId: string, serverUrl: string, registrationToken: string): LaunchedRunner {
    const workdir = path.join(poolWorkRoot(this.dataDir), poolId);
    fs.mkdirSync(workdir, { recursive: true, mode: 0o700 });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LAZYAF_SERVER: serverUrl,
      LAZYAF_TOKEN: registrationToken,
      LAZYAF_POOL_ID: poolId,
      LAZYAF_DATA: this.dataDir,
    };
    delete env.LAZYAF_ADMIN_TOKEN;
    delete env.LAZYAF_REGISTRATION_TOKEN;
    const child: ChildProcess = spawn(process.execPath, [...childExecArgv(), CLI_PATH, 'runner', '--name', poolId, '--workdir', workdir], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C at the server's terminal reaches the server, which then
      // drains the pool in order, instead of every runner at once.
      detached: true,
    });
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.onOutput(poolId, line);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    const exited = new Promise<void>((resolve) => {
      child.on('exit', () => resolve());
      child.on('error', () => resolve());
    });
    return {
      poolId,
      describe: `pid ${child.pid ?? '?'}`,
      exited,
      drain: () => void child.kill('SIGTERM'),
      kill: () => void child.kill('SIGKILL'),
    };
  }
}
