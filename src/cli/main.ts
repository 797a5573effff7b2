#!/usr/bin/env node
import module from 'node:module';
import type { CommandEntry } from './program.js';

// Node >= 22.1 keeps the compiled code of the modules loaded after this in a cache on disk, so the
// next start skips compiling them; Node 20 has no such cache and skips this. Everything below is
// loaded by import() so that it comes after.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

/**
 * Every top-level command, in the order `lazyaf --help` lists them. A start loads the module of
 * the command at hand only (see programFor). To add a command: one row here, whose `load` returns
 * the module's register function; the module declares the command's arguments and options, and
 * its summary lives here only.
 */
const COMMANDS: CommandEntry[] = [
  {
    name: 'server',
    summary: 'start the lazyaf server (API, git server, queue and runner pool)',
    load: async () => (await import('./commands/server.js')).registerServer,
  },
  {
    name: 'ingest',
    summary: 'create a repo on the lazyaf server from a local repository and push it there',
    load: async () => (await import('./commands/ingest.js')).registerIngest,
  },
  {
    name: 'link',
    summary: 'link a checkout to a repo already on the lazyaf server (a teammate ingested it), so push, jobs submit and land work from it',
    load: async () => (await import('./commands/link.js')).registerLink,
  },
  {
    name: 'push',
    summary: 'push the current branch (or B, or every branch) of this checkout to the lazyaf repo it was ingested as',
    load: async () => (await import('./commands/push.js')).registerPush,
  },
  {
    name: 'land',
    summary:
      "push a job's branch, or a branch of a repo, from lazyaf to the real remote of the repository in the current folder (with your own git credentials); with --from-server, from the server to the repo's remote_url, recorded on the job",
    load: async () => (await import('./commands/land.js')).registerLand,
  },
  { name: 'list', summary: 'list the repos on the lazyaf server', load: async () => (await import('./commands/repos.js')).registerRepoCommands },
  {
    name: 'branches',
    summary: 'list the branches of a repo on the lazyaf server',
    load: async () => (await import('./commands/repos.js')).registerRepoCommands,
  },
  { name: 'repos', summary: 'manage the repos on the lazyaf server', load: async () => (await import('./commands/repos.js')).registerRepoCommands },
  { name: 'jobs', summary: 'submit and inspect jobs', load: async () => (await import('./commands/jobs.js')).registerJobs },
  {
    name: 'tasks',
    summary: 'one prompt given to several jobs (jobs submit --agent a,b or --count N): compare the candidates, pick one',
    load: async () => (await import('./commands/tasks.js')).registerTasks,
  },
  {
    name: 'diff',
    summary: "show a job's changes against the commit its branch started from, or how two jobs' work differs",
    load: async () => (await import('./commands/diff.js')).registerDiff,
  },
  {
    name: 'review',
    summary: "comment on lines of a job's diff, resolve comments, and send them to the job's agent as one follow-up that continues its conversation",
    load: async () => (await import('./commands/review.js')).registerReview,
  },
  {
    name: 'usage',
    summary: 'what the agents used (tokens and cost), per repo and per day, summed over every attempt',
    load: async () => (await import('./commands/usage.js')).registerUsage,
  },
  { name: 'runners', summary: 'list the runners and the pool status', load: async () => (await import('./commands/runners.js')).registerRunners },
  { name: 'pool', summary: 'the runners the server manages itself', load: async () => (await import('./commands/pool.js')).registerPool },
  {
    name: 'backup',
    summary: "copy a data dir's database, repos and tokens into a new directory while its server runs (a data dir a server can start on)",
    load: async () => (await import('./commands/backup.js')).registerBackup,
  },
  {
    name: 'docker-command',
    summary: 'print a `docker run` command that adds a runner of the runner image on a machine with Docker that reaches the server',
    load: async () => (await import('./commands/docker-command.js')).registerDockerCommand,
  },
  {
    name: 'secrets',
    summary: 'store the credentials and settings agent jobs get (value from stdin, never shown), list them by name, delete them',
    load: async () => (await import('./commands/secrets.js')).registerSecrets,
  },
  {
    name: 'webhooks',
    summary: 'POST signed notifications (a job or a task finished, landed, picked) to URLs, and read the log of their deliveries',
    load: async () => (await import('./commands/webhooks.js')).registerWebhooks,
  },
  {
    name: 'ui',
    summary: 'print a one-time link that signs a browser in to the web UI (it works once, for 24 hours)',
    load: async () => (await import('./commands/ui.js')).registerUi,
  },
  {
    name: 'credential',
    summary: 'git credential helper for the lazyaf server (used by git, not by people)',
    load: async () => (await import('./commands/credential.js')).registerCredential,
  },
  {
    name: 'runner',
    summary: 'run jobs from a lazyaf server: register, take one job at a time, push results to the internal git server',
    load: async () => (await import('./commands/runner.js')).registerRunner,
  },
];

const { programFor, runProgram } = await import('./program.js');
await runProgram(() => programFor(COMMANDS, process.argv), process.argv);
