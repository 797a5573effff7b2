import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopChild, track, waitForLine } from './proc.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerProcess {
  /** Base URL, http://127.0.0.1:PORT */
  url: string;
  pid: number;
  child: ChildProcess;
  /** The tail of what the server wrote, for error messages. */
  output: () => string;
  stop: () => Promise<void>;
}

/** Spawns a server child, waits for its "listening on" line on stderr, and keeps draining its output. */
async function startServerChild(what: string, args: string[], env: NodeJS.ProcessEnv, listening: RegExp, logFile: string): Promise<ServerProcess> {
  const log = fs.openSync(logFile, 'a');
  // stdout (pino's JSON lines) goes to a file: an unread pipe would fill up and stall the server.
  const child = track(spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', log, 'pipe'] }));
  fs.closeSync(log);
  let tail = '';
  child.stderr!.on('data', (c: Buffer) => {
    tail = (tail + c.toString('utf8')).slice(-8192);
  });
  try {
    const m = await waitForLine(child, listening);
    return {
      url: `http://127.0.0.1:${m[1]!}`,
      pid: child.pid!,
      child,
      output: () => tail,
      stop: () => stopChild(child),
    };
  } catch (err) {
    await stopChild(child, 500);
    throw new Error(`${what} did not start: ${(err as Error).message}`);
  }
}

/**
 * The built lazyaf server (`dist/cli/main.js server`) on 127.0.0.1, a free port, `runners` pool runners (none by default).
 * BENCH_SERVER_CPU_PROF=DIR runs each server under `node --cpu-prof`, writing its profile into DIR when it stops
 * (open it in Chrome DevTools, or summarise it with `node --import tsx bench/cpu-profile.ts FILE`).
 * BENCH_SERVER_CLI=PATH runs another build's `dist/cli/main.js` instead, to compare a change
 * with a build of main in the same minutes (on a shared machine, minutes apart differ more than
 * the change). BENCH_SERVER_NODE_ARGS adds node's own options (space-separated), e.g. a GC setting.
 */
export function startLazyaf(dataDir: string, adminToken: string, gitEnv: NodeJS.ProcessEnv, runners = 0): Promise<ServerProcess> {
  const cli = process.env.BENCH_SERVER_CLI ? path.resolve(process.env.BENCH_SERVER_CLI) : path.join(ROOT, 'dist', 'cli', 'main.js');
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build" first (npm run bench does)`);
  const profileDir = process.env.BENCH_SERVER_CPU_PROF;
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(profileDir)] : [];
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  return startServerChild(
    'lazyaf server',
    [...nodeArgs, ...profile, cli, 'server', '--host', '127.0.0.1', '--port', '0', '--data', dataDir, '--runners', String(runners)],
    { ...gitEnv, LAZYAF_ADMIN_TOKEN: adminToken, NODE_ENV: 'production' },
    /lazyaf server listening on http:\/\/127\.0\.0\.1:(\d+)/,
    path.join(dataDir, '..', 'lazyaf-server.log'),
  );
}

/** The reference: bench/http-backend.ts serving the bare repos under `root`. */
export function startHttpBackend(root: string, gitEnv: NodeJS.ProcessEnv): Promise<ServerProcess> {
  return startServerChild(
    'git http-backend wrapper',
    ['--import', 'tsx', path.join(ROOT, 'bench', 'http-backend.ts'), root],
    gitEnv,
    /http-backend listening on http:\/\/127\.0\.0\.1:(\d+)/,
    path.join(root, '..', 'http-backend.log'),
  );
}
