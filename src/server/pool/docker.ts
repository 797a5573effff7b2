import crypto from 'node:crypto';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { defaultJobLimits, type JobLimits } from '../../shared/job-limits.js';
import type { DockerRunnerConfig } from '../config.js';
import { containerLimits } from './container-limits.js';
import { jobNetworkSpec } from './docker-network.js';
import { engineAddress, engineProblem, errorLine } from './engine.js';
import { LauncherError, outputForwarder, type LaunchedRunner, type Launcher, type LaunchOptions } from './launcher.js';

/** Labels on every runner container: whose it is (the server's identity), and which pool slot it fills. */
export const SERVER_LABEL = 'lazyaf.server';
export const POOL_ID_LABEL = 'lazyaf.pool-id';
export const EPHEMERAL_LABEL = 'lazyaf.ephemeral';

/** The longest pause between two questions to an engine that stopped answering about a container. */
const ENGINE_RETRY_MAX_MS = 5_000;

/** The docker launcher's settings: the config's, plus the runner image and what its jobs may reach. */
export interface DockerLauncherSettings extends DockerRunnerConfig {
  image: string;
  jobHostPorts: number[];
  /** The server's relay folder (host-relay.ts), when the engine can mount it: the containers reach the server through it. */
  relayDir?: string;
  /** What each job may use: the containers are sized from it (container-limits.ts). */
  jobLimits?: JobLimits;
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

/**
 * Starts pool runners as containers of the runner image through the Docker Engine API. Each is
 * labelled with this server's identity and its pool id, so a restarted server finds its own
 * (`survivors`) and never touches another server's containers on the same engine. The container
 * is the job's sandbox; it gets the registration token and its pool id, and nothing else of the
 * server's environment: the agents' credentials travel with each agent job.
 */
export class DockerLauncher implements Launcher {
  readonly kind = 'docker' as const;
  private readonly docker: Docker | undefined;
  private readonly clientError: string | undefined;
  private readonly shortId: string;
  /** The configured image's id, once `check()` has found it: survivors of another image are outdated. */
  private imageId: string | undefined;

  constructor(
    private readonly settings: DockerLauncherSettings,
    private readonly serverId: string,
    private readonly onOutput: (poolId: string, line: string) => void,
  ) {
    this.shortId = crypto.createHash('sha256').update(serverId).digest('hex').slice(0, 8);
    try {
      this.docker = new Docker();
    } catch (err) {
      // A malformed DOCKER_HOST throws here; check() reports it as one line.
      this.clientError = errorLine(err);
    }
  }

  private engine(): Docker {
    if (!this.docker) throw new LauncherError(`cannot use the Docker engine at ${engineAddress()}: ${this.clientError}`);
    return this.docker;
  }

  async check(): Promise<void> {
    const docker = this.engine();
    const problem = await engineProblem(docker);
    if (problem) throw new LauncherError(problem);
    const { image } = this.settings;
    try {
      this.imageId = (await docker.getImage(image).inspect()).Id;
    } catch (err) {
      if (statusOf(err) === 404)
        throw new LauncherError(
          `the runner image ${image} is not in the Docker engine: build it with \`npm run image\` (LAZYAF_RUNNER_IMAGE names the image to use)`,
        );
      throw new LauncherError(`cannot inspect the runner image ${image}: ${errorLine(err)}`);
    }
  }

  async survivors(want: { ephemeral: boolean }): Promise<LaunchedRunner[]> {
    const docker = this.engine();
    let found: Docker.ContainerInfo[];
    try {
      found = await docker.listContainers({ all: true, filters: { label: [`${SERVER_LABEL}=${this.serverId}`] } });
    } catch (err) {
      throw new LauncherError(`cannot list this server's runner containers at ${engineAddress()}: ${errorLine(err)}`);
    }
    const alive: LaunchedRunner[] = [];
    for (const info of found) {
      const container = docker.getContainer(info.Id);
      const poolId = info.Labels[POOL_ID_LABEL];
      if (info.State !== 'running' || !poolId) {
        await container.remove({ force: true }).catch(() => {});
        continue;
      }
      try {
        this.forward(poolId, await container.logs({ follow: true, stdout: true, stderr: true, since: Math.floor(Date.now() / 1000) }));
      } catch {
        // It stopped since the listing: nothing to adopt.
        await container.remove({ force: true }).catch(() => {});
        continue;
      }
      const outdated = info.Labels[EPHEMERAL_LABEL] !== String(want.ephemeral) || (this.imageId !== undefined && info.ImageID !== this.imageId);
      alive.push({ ...this.wrap(container, poolId), outdated });
    }
    return alive;
  }

  async launch({ poolId, serverUrl, registrationToken, ephemeral }: LaunchOptions): Promise<LaunchedRunner> {
    const docker = this.engine();
    const { image, network, cpus } = this.settings;
    const walls = jobNetworkSpec(this.settings);
    const limits = containerLimits(this.settings.jobLimits ?? defaultJobLimits(), this.settings.memoryBytes);
    const env: Record<string, string> = {
      ...limits.env,
      LAZYAF_SERVER: this.runnerUrl(serverUrl),
      LAZYAF_TOKEN: registrationToken,
      LAZYAF_POOL_ID: poolId,
      ...(ephemeral ? { LAZYAF_EPHEMERAL: '1' } : {}),
      ...walls.env,
    };
    const spec: Docker.ContainerCreateOptions = {
      Image: image,
      // The image's entrypoint is `lazyaf runner`: these are its arguments.
      Cmd: ['--name', poolId],
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Labels: { [SERVER_LABEL]: this.serverId, [POOL_ID_LABEL]: poolId, [EPHEMERAL_LABEL]: String(ephemeral) },
      HostConfig: {
        // Without an init, node as pid 1 ignores SIGTERM and a drain would wait for nothing.
        Init: true,
        // The pool replaces a dead runner itself; an engine restart policy would race it.
        RestartPolicy: { Name: 'no' },
        NetworkMode: network,
        ...(network === 'host' ? {} : { ExtraHosts: ['host.docker.internal:host-gateway'] }),
        ...(walls.capAdd.length > 0 ? { CapAdd: walls.capAdd } : {}),
        ...(walls.binds.length > 0 ? { Binds: walls.binds } : {}),
        ...(cpus === undefined ? {} : { NanoCpus: Math.round(cpus * 1e9) }),
        ...(limits.memoryBytes === undefined ? {} : { Memory: limits.memoryBytes }),
        ...(limits.pids === undefined ? {} : { PidsLimit: limits.pids }),
      },
    };
    const name = `lazyaf-${this.shortId}-${poolId}`;
    const suffixed = () => `${name}-${crypto.randomBytes(3).toString('hex')}`;
    let container: Docker.Container;
    try {
      container = await docker.createContainer({ ...spec, name: ephemeral ? suffixed() : name });
    } catch (err) {
      // 409: the name is still held by the slot's previous container, which is being removed.
      if (statusOf(err) !== 409) throw err;
      container = await docker.createContainer({ ...spec, name: suffixed() });
    }
    try {
      // Attached before the start, so the runner's first lines (its isolation, its registration) are kept.
      this.forward(poolId, await container.attach({ stream: true, stdout: true, stderr: true }));
      await container.start();
    } catch (err) {
      await container.remove({ force: true }).catch(() => {});
      throw err;
    }
    return this.wrap(container, poolId);
  }

  /**
   * The server's URL as a container reaches it: the same on the host network; through the relay,
   * its port on the container's loopback; else the same port at the host's gateway name.
   */
  private runnerUrl(serverUrl: string): string {
    if (this.settings.serverUrl) return this.settings.serverUrl;
    if (this.settings.network === 'host') return serverUrl;
    const url = new URL(serverUrl);
    url.hostname = this.settings.relayDir ? '127.0.0.1' : 'host.docker.internal';
    return url.origin;
  }

  private forward(poolId: string, stream: NodeJS.ReadableStream): void {
    const out = new PassThrough();
    out.on('data', outputForwarder(poolId, this.onOutput));
    this.docker!.modem.demuxStream(stream, out, out);
    stream.on('end', () => out.end());
    stream.on('error', () => out.end());
  }

  private wrap(container: Docker.Container, poolId: string): LaunchedRunner {
    // A container already gone answers 404/409; nothing is left to signal.
    const signal = (name: 'SIGTERM' | 'SIGKILL') => void container.kill({ signal: name }).catch(() => {});
    return {
      poolId,
      describe: `container ${container.id.slice(0, 12)}`,
      exited: removedAfterExit(container),
      // The init passes each SIGTERM on: the first drains the runner, the second gives its job back.
      drain: () => signal('SIGTERM'),
      kill: () => signal('SIGKILL'),
    };
  }
}

/**
 * Resolves once the container has stopped and been removed, with the runner's exit code (null when
 * the engine could not say: the container vanished). While the engine does not answer, it keeps
 * asking (every 5 s at most): a container whose fate is unknown still holds its slot, since one
 * started beside it would run under the same pool id.
 */
async function removedAfterExit(container: Docker.Container): Promise<number | null> {
  let pauseMs = 250;
  let code: number | null = null;
  for (;;) {
    try {
      code = ((await container.wait()) as { StatusCode?: number }).StatusCode ?? null;
      break;
    } catch (err) {
      if (statusOf(err) === 404) return null;
      await new Promise((r) => setTimeout(r, pauseMs));
      pauseMs = Math.min(pauseMs * 2, ENGINE_RETRY_MAX_MS);
    }
  }
  await container.remove({ force: true }).catch(() => {});
  return code;
}
