-- When retention removed a finished job's log and transcripts (LAZYAF_RETENTION_DAYS); the job row, its sizes and its branch stay.
ALTER TABLE jobs ADD COLUMN log_pruned_ms INTEGER;
-- Retention's sweep and the metrics' recently finished jobs read jobs by when they finished.
CREATE INDEX jobs_finished ON jobs(finished_at);
