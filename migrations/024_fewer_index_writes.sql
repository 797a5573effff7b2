-- Fewer index pages written per job (each one a WAL frame at commit; a no-op job wrote 33):
-- runners_status sped up no query (the counts scan every runner for `revoked` anyway) yet was
-- written twice a job, idle -> busy -> idle; jobs_repo is covered by jobs_repo_created and
-- jobs_branch, which start with repo_id too; a job's parent and finish time are indexed only when
-- they are set, as every lookup of them asks (`parent_job_id = ?`, the foreign key's when a job is
-- deleted; `finished_at < ?` and `>= ?`, retention's and the metrics').
DROP INDEX runners_status;
DROP INDEX jobs_repo;
DROP INDEX jobs_parent;
CREATE INDEX jobs_parent ON jobs(parent_job_id) WHERE parent_job_id IS NOT NULL;
DROP INDEX jobs_finished;
CREATE INDEX jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
