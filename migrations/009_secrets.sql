-- Named secrets the server holds for jobs: agent credentials and endpoint settings (`lazyaf secrets
-- set`), handed to a job with its assignment, never shown back. `repo_id` NULL: for every repo; a
-- repo's own secret goes with the repo. NULLs are distinct in a UNIQUE constraint, hence the index
-- on IFNULL: one global value and one per repo for each name.
CREATE TABLE secrets (
  name        TEXT NOT NULL,
  repo_id     TEXT REFERENCES repos(id) ON DELETE CASCADE,
  value       TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX secrets_name_repo ON secrets(name, IFNULL(repo_id, ''));
