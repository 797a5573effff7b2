import { Type, type Static } from 'typebox';
import { SHELL_AGENT } from '../job-status.js';
import { RunnerStatus } from '../protocol.js';
import { ListTotal, Nullable, Time } from './common.js';

export const RunnerInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  labels: Type.Array(Type.String()),
  status: RunnerStatus,
  pool_id: Nullable(Type.String(), 'The pool slot that started it, or null for a runner started by hand.'),
  hostname: Nullable(Type.String()),
  version: Nullable(Type.String()),
  sandbox: Nullable(
    Type.String({
      description: "The wall around the runner's jobs: bubblewrap, container (the runner's own container), none (unsandboxed), or null (not said).",
    }),
  ),
  agents: Type.Array(Type.String(), { description: `The named agents it can run besides \`${SHELL_AGENT}\` (found on its PATH or declared).` }),
  registered_at: Time(),
  last_seen_at: Time(),
  current_job_id: Nullable(Type.String(), 'The job it runs, or null when idle.'),
});
export type RunnerInfo = Static<typeof RunnerInfo>;

export const RunnerList = Type.Object({
  runners: Type.Array(RunnerInfo, { description: 'Newest first.' }),
  total: ListTotal(),
  next: Nullable(
    Type.String(),
    'The `cursor` of the page after this one (older runners), or null on the last page. Runners registered meanwhile are newer: they never shift a later page.',
  ),
});
export const RunnerListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'From `next` of the page before: the runners after it.' })),
    offset: Type.Optional(Type.Integer({ minimum: 0, description: 'Runners to skip (none by default); `cursor` is the way to page, and the two do not mix.' })),
    status: Type.Optional(RunnerStatus),
  },
  { additionalProperties: false },
);
export type RunnerList = Static<typeof RunnerList>;

export const RunnersStatus = Type.Object({
  total_runners: Type.Integer(),
  idle_runners: Type.Integer(),
  busy_runners: Type.Integer(),
  draining_runners: Type.Integer(),
  offline_runners: Type.Integer(),
  queued_jobs: Type.Integer(),
  running_jobs: Type.Integer(),
});
export type RunnersStatus = Static<typeof RunnersStatus>;

export const DockerCommandQuery = Type.Object(
  {
    with_secrets: Type.Optional(Type.Boolean({ default: false, description: 'Put the real registration token into the command instead of a placeholder.' })),
    labels: Type.Optional(Type.String({ maxLength: 4096, description: 'Labels the runner offers jobs, comma-separated (`gpu,os=linux`).' })),
  },
  { additionalProperties: false },
);
export const DockerEnvVar = Type.Object({
  name: Type.String(),
  value: Type.String({ description: 'The value, or its placeholder `<NAME>` when secrets were not asked for.' }),
  secret: Type.Boolean({ description: 'A token or key: replaced by a placeholder unless with_secrets=true.' }),
});
export const DockerRunLine = Type.Object({
  command: Type.String({ description: 'One `docker run` line for a POSIX shell, its values quoted.' }),
  lines: Type.Array(Type.String(), {
    description:
      'The same command in argument groups (a flag with its value), to show one per line joined by ` \\` continuations: no line break falls inside a word.',
  }),
  server_url: Type.String({ description: 'The URL the runner reaches the server at (LAZYAF_SERVER).' }),
  env_vars: Type.Array(DockerEnvVar),
});
export const DockerCommand = Type.Object({
  command: DockerRunLine.properties.command,
  lines: DockerRunLine.properties.lines,
  server_url: DockerRunLine.properties.server_url,
  image: Type.String({ description: 'The runner image the command runs: it must be on the machine that runs the command, pulled or built there.' }),
  env_vars: Type.Array(DockerEnvVar),
  local_only: Type.Boolean({ description: "The server URL is this machine's loopback: the command works only on the machine the server runs on." }),
  elsewhere: Type.Union([DockerRunLine, Type.Null()], {
    description:
      'When `local_only`: the command for another machine, with an address of this one from its network interfaces (the server listens beyond loopback).',
  }),
  elsewhere_hint: Type.Union([Type.String(), Type.Null()], {
    description: 'When `local_only`: what to know about `elsewhere`, or why there is none (the server listens on loopback only) and how to change it.',
  }),
});
export type DockerRunLine = Static<typeof DockerRunLine>;
export type DockerEnvVar = Static<typeof DockerEnvVar>;
export type DockerCommand = Static<typeof DockerCommand>;
