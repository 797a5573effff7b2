-- A follow-up job builds on its parent's branch; the parent is kept for the chain (a deleted
-- parent leaves the link empty rather than taking its follow-ups with it).
ALTER TABLE jobs ADD COLUMN parent_job_id TEXT REFERENCES jobs(id) ON DELETE SET NULL;
CREATE INDEX jobs_parent ON jobs(parent_job_id);
-- The commit the job's branch started from, as its runner reported it: what its diff is taken against.
ALTER TABLE jobs ADD COLUMN base_commit TEXT;
-- Since when (ms) the sweeper has seen this queued job with no registered runner able to take it;
-- NULL while some runner could. Past LAZYAF_NO_RUNNER_TIMEOUT the job fails with that reason.
ALTER TABLE jobs ADD COLUMN no_runner_since_ms INTEGER;
-- The named agents a runner can run besides `shell` (JSON array), as it said when it registered.
ALTER TABLE runners ADD COLUMN agents TEXT NOT NULL DEFAULT '[]';
