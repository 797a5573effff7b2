-- The latest an attempt may end: its start + the job's timeout_s + the server's grace. Past it the
-- server ends the attempt as `timeout` itself, even while its runner keeps renewing the lease.
-- Attempts from before this migration get the default grace of 30 s.
ALTER TABLE attempts ADD COLUMN deadline_ms INTEGER;
UPDATE attempts SET deadline_ms = CAST(strftime('%s', started_at) AS INTEGER) * 1000 + 30000
  + 1000 * (SELECT timeout_s FROM jobs WHERE jobs.id = attempts.job_id);
CREATE INDEX attempts_deadline ON attempts(deadline_ms) WHERE active = 1;
