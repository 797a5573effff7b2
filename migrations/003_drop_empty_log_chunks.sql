-- Empty log chunks were once stored; each one advanced no offset, so the job's next chunk (or the
-- server's own line when the attempt ended) clashed with it on (job_id, offset) for good. None
-- is stored any more; these remove what older versions left, which unwedges those jobs.
DELETE FROM log_chunks WHERE length(data) = 0;
