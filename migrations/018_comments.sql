-- Review comments on a job's diff (`POST /api/jobs/{id}/comments`): a line of a file on its new
-- side (the job's commit) or its old side (the commit it started from). A comment is sent once, to
-- one follow-up (`sent_in_job_id`), and once that follow-up has finished with a commit, whether its
-- diff changed the comment's line or the lines around it is `touched_by_job_id`, computed for the
-- follow-up's commit `touch_checked_commit` (a retried follow-up's new commit is checked again).
CREATE TABLE comments (
  id TEXT PRIMARY KEY,
  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  line INTEGER NOT NULL,
  side TEXT NOT NULL CHECK (side IN ('new', 'old')),
  body TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  resolved_ms INTEGER,
  sent_in_job_id TEXT REFERENCES jobs(id) ON DELETE SET NULL,
  touched_by_job_id TEXT REFERENCES jobs(id) ON DELETE SET NULL,
  touch_checked_commit TEXT
);
CREATE INDEX comments_by_job ON comments(job_id, path, line);
CREATE INDEX comments_by_followup ON comments(sent_in_job_id) WHERE sent_in_job_id IS NOT NULL;
