import fs from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { relaySocket } from '../../shared/job-network.js';
import { startRelay, type Relay } from '../../shared/relay.js';
import { tempDirOf } from './launcher.js';

/**
 * How a runner container on this machine reaches the server and the host ports its jobs may use,
 * without the host's network: the server offers them as unix sockets in one folder
 * (`<port>.sock`, joined to that port on the host's loopback), which the docker launcher and the
 * generated `docker run` command mount into the container, where the runner relays each to the
 * same port on the container's own loopback (runner/container-network.ts).
 *
 * Why sockets and not the bridge: a listener on the Docker bridge's gateway would need the server
 * (and every model gateway of LAZYAF_JOB_HOST_PORTS) to listen beyond 127.0.0.1, and a host
 * firewall that drops traffic from containers (ufw's default) would cut the runners off. A mounted
 * folder needs neither, and the same URLs (http://127.0.0.1:<port>) work inside the container as on
 * the host. It needs the engine to run on this machine (a bind mount), which Linux engines do
 * unless DOCKER_HOST points elsewhere; on Docker Desktop the containers reach the host through
 * host.docker.internal instead.
 */

/**
 * The folder of one data dir's relay sockets (the same across restarts: running containers keep it
 * mounted); none off Linux, where the engine runs in a virtual machine that cannot mount it.
 */
export function hostRelayDir(dataDir: string): string | undefined {
  return process.platform === 'linux' ? tempDirOf(dataDir, 'relay') : undefined;
}

/** Whether the engine the docker launcher talks to runs on this machine, so that it can mount the relay folder. */
export function engineIsLocal(dockerHost = process.env.DOCKER_HOST): boolean {
  return !dockerHost || dockerHost.startsWith('unix://');
}

/**
 * Once the server listens, offers its own port and `jobHostPorts` in `dir`; closes them with the
 * server. The folder is kept (containers have it mounted), its sockets are made again at each
 * start. A folder someone else made, or a link, is refused: whoever owns it could stand in for
 * the server and read the runners' tokens.
 */
export function offerHostRelay(app: FastifyInstance, opts: { dir: string | undefined; jobHostPorts: number[] }): void {
  const { dir } = opts;
  if (dir === undefined) return;
  const relays: Relay[] = [];
  app.addHook('onListen', async () => {
    const address = app.server.address();
    if (!address || typeof address === 'string') return;
    const problem = ownFolder(dir);
    if (problem) {
      app.log.warn(`runner containers cannot reach the server through ${dir}: ${problem}`);
      return;
    }
    const serverHost = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address;
    const targets = new Map<number, string>(opts.jobHostPorts.map((port) => [port, '127.0.0.1']));
    targets.set(address.port, serverHost);
    for (const [port, host] of targets) {
      const socket = relaySocket(dir, port);
      try {
        fs.rmSync(socket, { force: true });
        relays.push(await startRelay({ path: socket }, { host, port }));
      } catch (err) {
        app.log.warn(`runner containers cannot reach port ${port} through ${socket}: ${(err as Error).message}`);
      }
    }
  });
  app.addHook('onClose', async () => {
    await Promise.all(relays.map((r) => r.close()));
  });
}

/** Undefined when `dir` is a folder of this process's user that only it may enter (made so if missing); else why not. */
function ownFolder(dir: string): string | undefined {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(dir);
    if (!st.isDirectory()) return 'it is not a folder';
    if (st.uid !== process.getuid?.()) return `it belongs to uid ${st.uid}, not to this server's user`;
    fs.chmodSync(dir, 0o700);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
