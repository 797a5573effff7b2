-- Job lists are newest first by creation (a retry moves a job to the back of the queue, seq, not up the list).
CREATE INDEX jobs_created ON jobs(created_at, seq);
CREATE INDEX jobs_repo_created ON jobs(repo_id, created_at, seq);
