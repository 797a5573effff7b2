import type { ServerConfig } from './config.js';
import type { Db } from './db/index.js';
import type { LiveEvents } from './events.js';
import type { Notify } from './notify.js';
import type { Pool } from './pool/pool.js';
import type { Agents } from './queue/agents.js';
import type { Queue, QueueStores } from './queue/queue.js';
import type { SecretLookup } from './repo-secrets.js';
import type { RepoService } from './repos.js';
import type { SessionFiles } from './session-files.js';
import type { StoredSecrets } from './stored-secrets.js';
import type { Sessions } from './web/sessions.js';
import type { SignInCodes } from './web/signin-codes.js';
import type { Webhooks } from './webhooks/index.js';

/** Everything the routes share. Built once per server. */
export interface ServerContext {
  config: ServerConfig;
  db: Db;
  repos: RepoService;
  /** Live events for the UI stream (`GET /api/events`). */
  events: LiveEvents;
  adminToken: string;
  registrationToken: string;
  reposDir: string;
  hooksDir: string;
  /** Every change of a job, an attempt or a runner. */
  queue: Queue;
  /** The queue's tables, to read. */
  store: QueueStores;
  agents: Agents;
  /** The secrets people stored for agent jobs (`lazyaf secrets`). */
  secrets: StoredSecrets;
  /** A secret a repo's environment names, by repo and name (its own, else the server-wide one): what an assignment's environment is resolved with. */
  secretLookup: SecretLookup;
  /** The web UI's signed-in browsers (SQLite) and its one-time sign-in links (memory). */
  sessions: Sessions;
  signInCodes: SignInCodes;
  pool: Pool;
  /** Agents' session files, for follow-ups that resume them (`<data>/sessions`). */
  sessionFiles: SessionFiles;
  /** Webhooks' outbox: call inside the transaction of the change it tells of (see notify.ts). */
  notify: Notify;
  /** The webhooks, their deliveries and the deliverer that sends them (`webhooks/`). */
  webhooks: Webhooks;
  /** Set once the server listens; runners the pool starts connect here. */
  serverUrl?: string;
}
