-- An agent attempt's session files (for a follow-up to resume) are a file in the data dir,
-- sessions/<repo id>/<attempt id>.tgz: its size here, NULL while there is none.
ALTER TABLE attempts ADD COLUMN session_bytes INTEGER;
-- The attempt whose session files this attempt's assignment named (agent_run.resume): the only
-- ones its job token may fetch.
ALTER TABLE attempts ADD COLUMN resume_from TEXT;
