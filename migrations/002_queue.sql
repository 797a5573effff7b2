-- Runners that registered with the server. A runner's token is stored only as its hash.
CREATE TABLE runners (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  labels        TEXT NOT NULL DEFAULT '[]',       -- JSON array of strings
  token_hash    TEXT NOT NULL UNIQUE,
  status        TEXT NOT NULL,                    -- idle | busy | draining | offline
  pool_id       TEXT,                             -- set for runners the pool launcher started
  hostname      TEXT,
  version       TEXT,
  revoked       INTEGER NOT NULL DEFAULT 0,
  registered_at TEXT NOT NULL,
  last_seen_ms  INTEGER NOT NULL
);
CREATE INDEX runners_status ON runners(status);

-- The queue. `seq` gives FIFO order; status is the only truth about where a job is.
CREATE TABLE jobs (
  id                 TEXT PRIMARY KEY,
  seq                INTEGER NOT NULL UNIQUE,
  repo_id            TEXT NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
  title              TEXT NOT NULL,
  description        TEXT NOT NULL DEFAULT '',
  agent              TEXT NOT NULL,
  command            TEXT,
  base_branch        TEXT NOT NULL,
  branch_name        TEXT NOT NULL,               -- lazyaf/<first 8 of id>: the only ref its tokens may push
  labels             TEXT NOT NULL DEFAULT '[]',
  timeout_s          INTEGER NOT NULL,
  max_attempts       INTEGER NOT NULL,
  status             TEXT NOT NULL,               -- queued | running | succeeded | failed | cancelled
  cancel_requested   INTEGER NOT NULL DEFAULT 0,
  attempt_count      INTEGER NOT NULL DEFAULT 0,
  current_attempt_id TEXT,
  runner_id          TEXT,
  branch             TEXT,                        -- set when the job pushed a result
  commit_sha         TEXT,
  exit_code          INTEGER,
  error              TEXT,
  end_reason         TEXT,
  log_bytes          INTEGER NOT NULL DEFAULT 0,
  log_dropped_bytes  INTEGER NOT NULL DEFAULT 0,
  log_truncated      INTEGER NOT NULL DEFAULT 0,
  created_at         TEXT NOT NULL,
  started_at         TEXT,
  finished_at        TEXT,
  updated_at         TEXT NOT NULL
);
CREATE INDEX jobs_queue ON jobs(status, seq);
CREATE INDEX jobs_repo ON jobs(repo_id, seq);

-- One try of a job by one runner. An active attempt holds the lease; its token dies with it.
CREATE TABLE attempts (
  id               TEXT PRIMARY KEY,
  job_id           TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  number           INTEGER NOT NULL,
  runner_id        TEXT NOT NULL,
  token_hash       TEXT NOT NULL UNIQUE,
  active           INTEGER NOT NULL DEFAULT 1,
  lease_expires_ms INTEGER NOT NULL,
  log_seq          INTEGER NOT NULL DEFAULT 0,    -- last log chunk number accepted
  started_at       TEXT NOT NULL,
  ended_at         TEXT,
  exit_code        INTEGER,
  end_reason       TEXT,                          -- succeeded | failed | lost | timeout | cancelled | returned
  error            TEXT,
  UNIQUE (job_id, number)
);
CREATE INDEX attempts_active ON attempts(active, lease_expires_ms);
CREATE INDEX attempts_runner ON attempts(runner_id, active);

-- Append-only log chunks; `offset` is the byte offset of the chunk in the job's log.
CREATE TABLE log_chunks (
  job_id  TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  offset  INTEGER NOT NULL,
  data    BLOB NOT NULL,
  PRIMARY KEY (job_id, offset)
) WITHOUT ROWID;

-- A job's branch name is unique within its repo (ids are random; an 8-character clash is retried).
CREATE UNIQUE INDEX jobs_branch ON jobs(repo_id, branch_name);
