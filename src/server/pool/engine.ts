import type Docker from 'dockerode';

/** Where dockerode looks for the engine, as a person would set it. */
export function engineAddress(): string {
  return process.env.DOCKER_HOST ? `${process.env.DOCKER_HOST} (DOCKER_HOST)` : 'unix:///var/run/docker.sock (set DOCKER_HOST for another)';
}

/** The first line of an engine or client error: the engine's own message when it sent one. */
export function errorLine(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return (e.json?.message ?? e.message ?? String(err)).split('\n')[0]!.trim();
}

/**
 * Asks the engine whether it answers: undefined when it does, else the one line a person reads
 * (where it was looked for, and why it did not answer). Bounded: an engine behind a dead TCP
 * address would otherwise hold the caller (the server's start, an image build) forever.
 */
export async function engineProblem(docker: Docker): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const silence = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no answer in 10 s')), 10_000)));
  try {
    await Promise.race([docker.ping(), silence]);
    return undefined;
  } catch (err) {
    return `cannot reach the Docker engine at ${engineAddress()}: ${errorLine(err)}`;
  } finally {
    clearTimeout(timer);
  }
}
