import fs from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import path from 'node:path';
import type { ServerConfig } from './config.js';
import type { ServerContext } from './context.js';
import { lockDataDir, restrictDataDir } from './data-dir.js';
import { startCheckpointer, type Checkpointer } from './db/checkpointer.js';
import { openDb } from './db/index.js';
import { LiveEvents } from './events.js';
import { removePushLeftovers } from './git/bare.js';
import { PRE_RECEIVE_HOOK } from './git/push-guard.js';
import { loadAgents } from './queue/agents.js';
import { openQueueStores } from './queue/core.js';
import { Queue } from './queue/queue.js';
import { repoSecretLookup } from './repo-secrets.js';
import { RepoService } from './repos.js';
import { loadOrCreateSecret } from './secrets.js';
import { RepoStore } from './store/repos.js';
import { SecretStore } from './store/secrets.js';
import { SessionFiles } from './session-files.js';
import { SessionStore } from './store/sessions.js';
import { StoredSecrets } from './stored-secrets.js';
import { jobToApi } from './routes/jobs.js';
import { jobDetails } from './queue/job-view.js';
import { openWebhooks } from './webhooks/index.js';
import { Sessions } from './web/sessions.js';
import { SignInCodes } from './web/signin-codes.js';

export type Stores = Omit<ServerContext, 'pool' | 'serverUrl'> & {
  checkpointer: Checkpointer;
  unlockDataDir: () => void;
  /** Where the admin token came from, for the start-up message. */
  adminTokenSource: 'env' | 'file' | 'generated';
  adminTokenPath: string;
};

/**
 * Opens what the server keeps: the data dir (this server's alone, owner-only), the git hooks, the tokens, the SQLite
 * file with its checkpointer, the repos and the queue.
 */
export async function openStores(config: ServerConfig, logger?: FastifyBaseLogger): Promise<Stores> {
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // First: what follows clears leftovers, which would be another live server's work.
  const unlockDataDir = lockDataDir(config.dataDir);
  try {
    return await openLocked(config, unlockDataDir, logger);
  } catch (err) {
    unlockDataDir();
    throw err;
  }
}

async function openLocked(config: ServerConfig, unlockDataDir: () => void, logger?: FastifyBaseLogger): Promise<Stores> {
  const reposDir = path.join(config.dataDir, 'repos');
  const hooksDir = path.join(config.dataDir, 'hooks');
  fs.mkdirSync(reposDir, { recursive: true });
  fs.mkdirSync(hooksDir, { recursive: true });
  fs.writeFileSync(path.join(hooksDir, 'pre-receive'), PRE_RECEIVE_HOOK, { mode: 0o755 });
  restrictDataDir(config.dataDir);
  await removePushLeftovers(reposDir);

  const admin = loadOrCreateSecret(config.dataDir, 'admin_token', 'lzadm', config.adminToken);
  const registration = loadOrCreateSecret(config.dataDir, 'registration_token', 'lzreg', config.registrationToken);
  const dbFile = path.join(config.dataDir, 'lazyaf.db');
  const db = openDb(dbFile);
  const checkpointer = startCheckpointer(db, dbFile, (err) =>
    (logger ?? console).error({ err }, 'the WAL checkpoint worker failed; SQLite checkpoints by itself until a restart'),
  );
  const events = new LiveEvents();
  const emit = events.emit;
  const store = openQueueStores(db, emit);
  const repoStore = new RepoStore(db);
  // A job in a delivery is the job as `GET /api/jobs/{id}` shows it.
  const jobView = (jobId: string) => {
    const job = store.jobs.get(jobId);
    if (!job) return undefined;
    const attempts = store.attempts.forJob(job.id);
    return { ...jobToApi(job, attempts), ...jobDetails(job, attempts.at(-1), { jobs: store.jobs, runners: store.runners, repos: repoStore }) };
  };
  const webhooks = openWebhooks(db, config, jobView, logger);
  const queue = new Queue(db, store, {
    leaseTtlMs: Math.round(config.leaseTtlSeconds * 1000),
    maxAttempts: config.maxAttempts,
    logCapBytes: config.logCapBytes,
    timeoutGraceMs: config.timeoutGraceSeconds * 1000,
    cancelGraceMs: config.cancelGraceSeconds * 1000,
    noRunnerTimeoutMs: config.noRunnerTimeoutSeconds * 1000,
    runnerPruneAfterMs: config.runnerPruneAfterSeconds * 1000,
    emit,
    notify: webhooks.notify,
  });
  const sessions = new Sessions(new SessionStore(db), admin.value);
  const sessionFiles = new SessionFiles(path.join(config.dataDir, 'sessions'));
  // Expired sessions would only ever be refused; a start is often enough to drop them.
  sessions.prune();
  const secrets = new StoredSecrets(new SecretStore(db));
  return {
    config,
    db,
    checkpointer,
    unlockDataDir,
    repos: new RepoService(repoStore, reposDir, emit, sessionFiles),
    sessionFiles,
    events,
    adminToken: admin.value,
    adminTokenSource: admin.source,
    adminTokenPath: admin.path,
    registrationToken: registration.value,
    reposDir,
    hooksDir,
    queue,
    store,
    agents: loadAgents(config.dataDir),
    secrets,
    secretLookup: repoSecretLookup(secrets),
    sessions,
    signInCodes: new SignInCodes(),
    webhooks,
    notify: webhooks.notify,
  };
}
