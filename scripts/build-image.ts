/**
 * `npm run image`: builds the runner image (`Dockerfile`) through the Docker Engine API, at
 * DOCKER_HOST or the default socket, from the files the Dockerfile copies. Run it after
 * `npm run build` (the image takes dist/ as it is).
 *
 * Variables: LAZYAF_RUNNER_IMAGE (the tag, default lazyaf-runner:latest), BASE_IMAGE and AGENTS
 * (the Dockerfile's build arguments), LAZYAF_IMAGE_CA_FILE (a PEM file of extra CAs the image
 * trusts, passed as EXTRA_CA_CERT).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { engineProblem, errorLine } from '../src/server/pool/engine.js';
import { AGENT_CLI_VERSIONS } from '../src/shared/agents/versions.js';
import { currentOutputs } from './earlier-outputs.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_IMAGE = 'lazyaf-runner:latest';

/**
 * What the Dockerfile copies: the build context holds nothing else. Without the .dockerignore,
 * which dockerode would read with gitignore's rules rather than Docker's.
 */
const CONTEXT = ['Dockerfile', 'package.json', 'dist/bundle', 'docker/extra-ca', 'docker/dpkg-excludes'];

/** The engine cannot be reached or the build failed: one line for a person. */
export class ImageBuildError extends Error {}

export interface ImageBuildOptions {
  tag: string;
  baseImage?: string;
  /** Comma-separated agent CLIs: claude, gemini, codex. */
  agents?: string;
  /** A PEM file of extra certificate authorities to trust inside the image. */
  caFile?: string;
  /** Each line of the build's output, as it comes. */
  onLine?: (line: string) => void;
  docker?: Docker;
}

/** Builds the runner image from this tree; resolves with its tag. */
export async function buildRunnerImage(opts: ImageBuildOptions): Promise<string> {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'bundle', 'runner.mjs')))
    throw new ImageBuildError('dist/bundle/runner.mjs is missing: run `npm run build` first');
  const docker = opts.docker ?? new Docker();
  const buildargs: Record<string, string> = {};
  if (opts.baseImage) buildargs.BASE_IMAGE = opts.baseImage;
  if (opts.agents) buildargs.AGENTS = opts.agents;
  // The agent CLIs at the versions lazyaf is tested with.
  for (const [agent, { version }] of Object.entries(AGENT_CLI_VERSIONS)) buildargs[`${agent.toUpperCase()}_VERSION`] = version;
  const ca = opts.caFile === undefined ? undefined : readCa(opts.caFile);

  await ping(docker);
  // A context of its own, so the CA file joins it without being written into the tree (a bundle
  // is too large for a build argument: the engine passes those to the shell as environment).
  const context = fs.mkdtempSync(path.join(os.tmpdir(), 'lazyaf-image-'));
  try {
    // The bundle of this build only: earlier builds' chunks stay beside it for runners started from them.
    const bundle = path.join(ROOT, 'dist', 'bundle');
    const outputs = new Set(currentOutputs(bundle) ?? fs.readdirSync(bundle));
    const copied = (src: string) => !src.endsWith('.map') && (path.dirname(src) !== bundle || outputs.has(path.basename(src)));
    for (const entry of CONTEXT) fs.cpSync(path.join(ROOT, entry), path.join(context, entry), { recursive: true, filter: copied });
    if (ca !== undefined) fs.writeFileSync(path.join(context, 'docker/extra-ca/lazyaf-image-ca.crt'), ca);
    await runBuild(docker, { context, src: CONTEXT }, { t: opts.tag, buildargs, rm: true, forcerm: true }, opts.onLine);
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
  return opts.tag;
}

/** Runs one build through the engine: resolves when it is done, or an ImageBuildError with the failing step and its last words. */
export async function runBuild(
  docker: Docker,
  context: { context: string; src: string[] } | NodeJS.ReadableStream,
  options: Docker.ImageBuildOptions,
  onLine?: (line: string) => void,
) {
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage(context, options);
  } catch (err) {
    throw new ImageBuildError(`the Docker engine refused the build: ${errorLine(err)}`);
  }
  // The engine's own error repeats the whole failing command; the step and its last words say more.
  let step: string | undefined;
  let lastWords: string | undefined;
  const failure = (engineMessage: string) =>
    new ImageBuildError(
      step ? `image build failed at ${step}: ${lastWords ?? engineMessage.split('\n')[0]}` : `image build failed: ${engineMessage.split('\n')[0]}`,
    );
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err) => (err ? reject(failure(errorLine(err))) : resolve()),
      (event: { stream?: string; error?: string; errorDetail?: { message?: string } }) => {
        if (event.error !== undefined) return reject(failure(event.errorDetail?.message ?? event.error));
        for (const raw of (event.stream ?? '').split('\n')) {
          // The engine colours a step's stderr with escape sequences.
          const line = raw.replace(/\x1b\[[0-9;]*m/g, '').trimEnd();
          if (!line.trim()) continue;
          onLine?.(line);
          const started = /^Step (\d+\/\d+) : (.*)$/.exec(line);
          if (started) {
            const instruction = started[2]!.replace(/\s+/g, ' ');
            step = `step ${started[1]} (${instruction.length > 60 ? `${instruction.slice(0, 60)}...` : instruction})`;
            lastWords = undefined;
          } else if (!/^( ---> |Removing intermediate container )/.test(line)) lastWords = line.trim();
        }
      },
    );
  });
}

/** Throws an ImageBuildError naming the engine's address when it does not answer. */
export async function ping(docker: Docker): Promise<void> {
  const problem = await engineProblem(docker);
  if (problem) throw new ImageBuildError(problem);
}

function readCa(file: string): string {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ImageBuildError(`cannot read the CA file ${file}: ${errorLine(err)}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ImageBuildError(`${file} holds no PEM certificate`);
  return pem;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const env = process.env;
  const tag = env.LAZYAF_RUNNER_IMAGE || DEFAULT_IMAGE;
  const started = Date.now();
  try {
    await buildRunnerImage({
      tag,
      baseImage: env.BASE_IMAGE || undefined,
      agents: env.AGENTS || undefined,
      caFile: env.LAZYAF_IMAGE_CA_FILE || undefined,
      onLine: (line) => process.stdout.write(`${line}\n`),
    });
    const { Size } = await new Docker().getImage(tag).inspect();
    process.stdout.write(`built ${tag} (${(Size / 1e6).toFixed(0)} MB) in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  } catch (err) {
    process.stderr.write(`npm run image: ${err instanceof ImageBuildError ? err.message : ((err as Error).stack ?? String(err))}\n`);
    process.exit(1);
  }
}
