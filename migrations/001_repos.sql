-- Repositories held by the internal git server. The bare repo lives at <data>/repos/<id>.git.
CREATE TABLE repos (
  id             TEXT PRIMARY KEY,
  name           TEXT NOT NULL UNIQUE,
  default_branch TEXT NOT NULL,
  remote_url     TEXT,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL
);
