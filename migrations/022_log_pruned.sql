-- When retention removed a finished job's log and transcripts (LAZYAF_RETENTION_DAYS); the job row, its sizes and its branch stay.
ALTER TABLE jobs ADD COLUMN log_pruned_ms INTEGER;
CREATE INDEX jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL AND log_pruned_ms IS NULL;
