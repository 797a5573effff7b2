-- A retry starts a new run of a job on its own branch: attempt_count when it was last retried (0:
-- never). The attempts numbered above it are this run's, and max_attempts caps the lost ones among
-- them; a retry no longer raises max_attempts, which a person read as the allowance growing.
ALTER TABLE jobs ADD COLUMN retried_after INTEGER NOT NULL DEFAULT 0;
