-- Tasks: one prompt given to several jobs (`POST /api/tasks`), compared and picked from.
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  repo_id TEXT NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
  title TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  picked_job_id TEXT,
  picked_ms INTEGER
);
CREATE INDEX tasks_by_repo ON tasks(repo_id, created_ms);
-- A job's task, and once the pick was made whether it was 'picked' or 'discarded'.
ALTER TABLE jobs ADD COLUMN task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL;
ALTER TABLE jobs ADD COLUMN choice TEXT;
-- A discarded candidate's branch is deleted at this time (ms), and when it was.
ALTER TABLE jobs ADD COLUMN branch_expires_ms INTEGER;
ALTER TABLE jobs ADD COLUMN branch_deleted_ms INTEGER;
CREATE INDEX jobs_by_task ON jobs(task_id) WHERE task_id IS NOT NULL;
CREATE INDEX jobs_branch_expiring ON jobs(branch_expires_ms) WHERE branch_expires_ms IS NOT NULL AND branch_deleted_ms IS NULL;
