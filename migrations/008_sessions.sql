-- A browser signed in to the web UI. Only a hash of the session's secret is kept (an HMAC-SHA-256
-- keyed with the admin token): the secret itself lives in the browser's cookie alone, so a copy of
-- the database signs no one in. The CSRF token is derived from the secret, so nothing else is stored.
CREATE TABLE sessions (
  secret_hash  TEXT PRIMARY KEY,
  created_at   TEXT NOT NULL,
  last_used_ms INTEGER NOT NULL,
  expires_ms   INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions(expires_ms);
