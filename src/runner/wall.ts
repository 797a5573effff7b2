/**
 * The wall a runner's jobs run behind, chosen once when the runner starts.
 *
 * A job is code nobody reviewed, run with the runner's work dir and tokens a few directories
 * away, so the runner takes the strongest wall the machine allows and says out loud what it could
 * not have: on a machine, bubblewrap with pasta for a network of the job's own; in the runner
 * image, whose container is already a wall and has no bubblewrap, another user with firewall
 * rules. Admins route jobs by the isolation a runner reports, so `--sandbox require` refuses to
 * start rather than run jobs behind less than asked, and `--sandbox container` is refused outside
 * a container.
 *
 * It takes the runner's config with its defaults already applied (options.ts): it chooses, it
 * does not default.
 */
import fs from 'node:fs';
import type { RunnerSandbox } from '../shared/protocol.js';
import { wallJobNetwork, type ContainerNetwork } from './container-network.js';
import { JobNetwork, tunAdvice } from './job-network.js';
import { JobUserWall, resolveJobUser, SETPRIV, type JobUser } from './job-user.js';
import type { RunnerConfig } from './options.js';
import { inContainer, Sandbox, type SandboxMode, type SandboxOptions, type Wall } from './sandbox.js';

/** `--sandbox require` on a machine where bubblewrap cannot run; `--sandbox container` outside a container. */
export class SandboxUnavailableError extends Error {}

export type WallConfig = Pick<
  RunnerConfig,
  'server' | 'workdir' | 'sandbox' | 'sandboxShare' | 'sandboxHide' | 'jobUser' | 'jobHostPorts' | 'hostAddresses' | 'limits'
>;

export interface JobWall {
  /** Undefined: the jobs run without a wall of their own (said loudly). */
  wall: Wall | undefined;
  /** What the runner tells the server about its jobs' wall. */
  isolation: RunnerSandbox;
  /** In a runner container, run by root: its jobs' network wall and the relays to the host, closed when the runner stops. */
  network?: ContainerNetwork;
}

const UNSANDBOXED = 'jobs run WITHOUT a sandbox: a job can read and change everything this runner can (its tokens, other workspaces, your files)';

export async function chooseWall(config: WallConfig, log: (line: string) => void): Promise<JobWall> {
  if (config.sandbox === 'container') {
    // Admins trust what the runner reports: a runner that is not in a container must not claim one.
    if (!inContainer())
      throw new SandboxUnavailableError('--sandbox container, but this runner is not in a container (no /.dockerenv or /run/.containerenv): use auto');
    return { isolation: 'container', ...(await containerWall(config, log)) };
  }
  if (config.sandbox === 'off') {
    log(`WARNING: ${UNSANDBOXED} (--no-sandbox)`);
    return { wall: undefined, isolation: 'none' };
  }
  const walls = { hide: config.sandboxHide, share: config.sandboxShare, tmpfsBytes: config.limits.tmpfsBytes };
  const sandbox = new Sandbox(walls);
  const problem = await sandbox.probe();
  if (problem === undefined) {
    log('jobs run in a bubblewrap sandbox');
    return { wall: await withJobNetwork(sandbox, walls, config, log), isolation: 'bubblewrap' };
  }
  const install = 'install bubblewrap (Debian and Ubuntu: apt-get install bubblewrap)';
  if (config.sandbox === 'require') throw new SandboxUnavailableError(`cannot sandbox jobs: ${problem}; ${install}, or pass --no-sandbox`);
  log(`WARNING: cannot sandbox jobs (${problem}); ${UNSANDBOXED}. To fix: ${install}; --sandbox require refuses to run without it`);
  return { wall: undefined, isolation: 'none' };
}

/** The sandbox again with the jobs' own network, or as it is (jobs on the host's network, said loudly) where pasta cannot work. */
async function withJobNetwork(
  sandbox: Sandbox,
  walls: SandboxOptions,
  config: { sandbox: SandboxMode; jobHostPorts: number[] },
  log: (line: string) => void,
): Promise<Sandbox> {
  const network = JobNetwork.locate(config.jobHostPorts);
  let problem: string | undefined;
  if (network instanceof JobNetwork) {
    const networked = new Sandbox({ ...walls, network });
    problem = await networked.probe(true);
    if (problem === undefined) {
      log(network.describe());
      if (network.dnsProblem) log(`WARNING: ${network.dnsProblem}`);
      return networked;
    }
  } else problem = network.problem;
  // pasta installed but without /dev/net/tun for this user (a runner that is not root where the device is root's alone): installing changes nothing.
  const fix = /tun/.test(problem) ? tunAdvice() : 'install passt and iproute2 (Debian and Ubuntu: apt-get install passt iproute2)';
  if (config.sandbox === 'require') throw new SandboxUnavailableError(`cannot give jobs a network of their own: ${problem}; ${fix}, or pass --sandbox auto`);
  log(
    `WARNING: jobs share this machine's network (${problem}): a job reaches the lazyaf server, every service on this machine and cloud metadata. To fix: ${fix}; --sandbox require refuses to run without it`,
  );
  return sandbox;
}

/**
 * In the runner's container: as root, jobs run as the job user, who cannot read the runner's
 * environment (its registration token) or memory; as anyone else, they run as the runner's own
 * user and can, which is said loudly.
 */
async function containerWall(config: WallConfig, log: (line: string) => void): Promise<Omit<JobWall, 'isolation'>> {
  const container = "jobs run in this runner's container, their sandbox (no bubblewrap inside it)";
  const name = config.jobUser;
  if (process.getuid?.() !== 0) {
    log(
      `WARNING: ${container}, as the runner's own user (uid ${process.getuid?.()}): a job can read the runner's environment, its registration token included. To fix: run the container as root (no --user), its jobs then run as ${name}`,
    );
    log("WARNING: jobs' network is not walled (only a runner run as root sets the rules): a job reaches whatever this container reaches");
    return { wall: undefined };
  }
  if (!fs.existsSync(SETPRIV)) throw new SandboxUnavailableError(`cannot run jobs as ${name}: ${SETPRIV} is missing (util-linux)`);
  let wall: JobUserWall;
  let user: JobUser;
  try {
    user = resolveJobUser(name);
    wall = new JobUserWall(user, config.workdir);
  } catch (err) {
    throw new SandboxUnavailableError(`cannot run jobs as ${name}: ${(err as Error).message}`);
  }
  await wall.reclaim();
  log(`${container}, as ${name}`);
  const network = await wallJobNetwork({ uid: user.uid, server: config.server, jobHostPorts: config.jobHostPorts, hostAddresses: config.hostAddresses });
  log(network.line);
  return { wall, network };
}
