import { Type, type Static } from 'typebox';
import { SECRET_NAME_RE } from './names.js';

/**
 * A repo's environment: how a job's checkout is prepared (setup, cached between jobs on a
 * runner), what is checked after the job's command or agent (checks), and what the job's
 * processes get (env, secrets). Declared in the repo as `.lazyaf.yml` at its root and overridable
 * per repo on the server (`lazyaf repos config REPO`, `PUT /api/repos/{id}/environment`); the
 * server resolves both at the claim and hands the result to the runner with the assignment.
 * Like the API schemas, each field's `description` is what `/docs` shows.
 */

/** The file a repo declares its environment in, at the root of the job's base commit. */
export const ENVIRONMENT_FILE = '.lazyaf.yml';
/** The most bytes of `.lazyaf.yml` read: past it the job fails with one line saying so. */
export const MAX_ENVIRONMENT_FILE_BYTES = 64 * 1024;
/** The most bytes of a check's output kept on the job (its end: where a failure is said). */
export const CHECK_OUTPUT_TAIL_BYTES = 4 * 1024;

const Command = Type.String({ minLength: 1, maxLength: 4000, pattern: '^[^\\x00]*$', description: 'A shell command (`sh -c`), run in the checkout.' });
/** A path inside the checkout: relative, no `..`, no NUL. Checked again by the runner before use. */
const RelativePath = Type.String({ minLength: 1, maxLength: 500, pattern: '^(?!/)(?!.*(^|/)\\.\\.(/|$))[^\\x00]+$' });
const CheckName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$', description: 'A check name: letters, digits, `.`, `_`, `-`.' });
const EnvName = Type.String({ pattern: SECRET_NAME_RE.source });

/** What `.lazyaf.yml` (or the server's override) may say. Unknown keys are an error, not ignored. */
export const RepoEnvironment = Type.Object(
  {
    setup: Type.Optional(
      Type.Union([Command, Type.Array(Command, { minItems: 1, maxItems: 20 })], {
        description: 'Prepares the checkout before the job runs (`npm ci`): a command, or a list run in order; the first to fail fails the job.',
      }),
    ),
    cache: Type.Optional(
      Type.Object(
        {
          paths: Type.Array(RelativePath, { minItems: 1, maxItems: 20, description: 'What setup leaves that a runner keeps between jobs (`node_modules`).' }),
          key: Type.Optional(
            Type.Array(RelativePath, {
              maxItems: 20,
              description: 'Files whose content makes up the cache key (`package-lock.json`), with the setup commands. Without it, the setup commands alone.',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    checks: Type.Optional(
      Type.Record(CheckName, Command, {
        maxProperties: 20,
        additionalProperties: false,
        description: "Named commands run after the job's command or agent, in the same wall (`test: npm test`), each recorded on the job.",
      }),
    ),
    env: Type.Optional(
      Type.Record(EnvName, Type.String({ maxLength: 4000 }), {
        maxProperties: 100,
        additionalProperties: false,
        description: 'Plain variables for setup, the job and the checks.',
      }),
    ),
    secrets: Type.Optional(Type.Array(EnvName, { maxItems: 50, description: 'Server-held secrets (`lazyaf secrets set NAME --repo R`) given to setup only.' })),
    job_secrets: Type.Optional(
      Type.Array(EnvName, {
        maxItems: 50,
        description: "Server-held secrets given to setup and to the job's command or agent too (and the checks).",
      }),
    ),
    require_checks: Type.Optional(Type.Boolean({ description: "A job fails when a check does not pass (a job's `require_checks` overrides it)." })),
    image: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 300,
        pattern: '^[A-Za-z0-9][A-Za-z0-9._/:@-]*$',
        description:
          "The image this repo's jobs need. Recorded and said in each job's log, not applied: a docker runner runs jobs in its own container, so route them by a label to runners of an image built on it.",
      }),
    ),
  },
  { additionalProperties: false },
);
export type RepoEnvironment = Static<typeof RepoEnvironment>;

/** The environment a runner is handed with an assignment: the file and the server's override resolved, secrets as values. */
export const ResolvedEnvironment = Type.Object({
  setup: Type.Array(Type.String(), { description: 'Setup commands, in order (empty: none).' }),
  cache: Type.Union([Type.Object({ paths: Type.Array(Type.String()), key: Type.Array(Type.String()) }), Type.Null()]),
  checks: Type.Array(Type.Object({ name: Type.String(), command: Type.String() })),
  env: Type.Record(Type.String(), Type.String()),
  /** Secret values for setup only, redacted from everything the runner sends. */
  setup_secrets: Type.Record(Type.String(), Type.String()),
  /** Secret values for setup, the job and the checks, redacted likewise. */
  job_secrets: Type.Record(Type.String(), Type.String()),
  require_checks: Type.Boolean(),
  image: Type.Union([Type.String(), Type.Null()]),
  /** Where each part came from, for the log's environment section. */
  source: Type.Union([Type.Literal('file'), Type.Literal('server'), Type.Literal('file+server'), Type.Literal('none')]),
});
export type ResolvedEnvironment = Static<typeof ResolvedEnvironment>;

export const CheckStatus = Type.Union([Type.Literal('passed'), Type.Literal('failed'), Type.Literal('error')], {
  description: 'passed: exit 0; failed: another exit code; error: it could not run to its end (timeout, cancel, could not start).',
});
export type CheckStatus = Static<typeof CheckStatus>;

export const CheckResult = Type.Object(
  {
    name: Type.String(),
    status: CheckStatus,
    duration_ms: Type.Integer({ minimum: 0 }),
    output_tail: Type.String({ maxLength: CHECK_OUTPUT_TAIL_BYTES * 2, description: 'The end of its output (up to 4 KiB), redacted.' }),
  },
  // A runner's report is stored as it comes: nothing in it that a person would not be shown.
  { additionalProperties: false },
);
export type CheckResult = Static<typeof CheckResult>;

export const SetupReport = Type.Object(
  {
    status: Type.Union([Type.Literal('passed'), Type.Literal('failed'), Type.Literal('cached'), Type.Literal('none')], {
      description: 'cached: the runner had the cache for this key and restored it instead of running setup.',
    }),
    duration_ms: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type SetupReport = Static<typeof SetupReport>;
