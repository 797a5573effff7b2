-- An agent job's transcript: its entries (a TranscriptEntry as JSON), numbered from 1 per attempt.
CREATE TABLE transcript_entries (
  attempt_id TEXT NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
  seq        INTEGER NOT NULL,
  entry      TEXT NOT NULL,
  PRIMARY KEY (attempt_id, seq)
) WITHOUT ROWID;
-- Per attempt: the last transcript batch accepted (a resent one is ignored), the entries and bytes
-- of JSON stored (the cap counts both), and whether the cap was reached (a marker entry says so).
ALTER TABLE attempts ADD COLUMN transcript_batch_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN transcript_entries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN transcript_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN transcript_truncated INTEGER NOT NULL DEFAULT 0;
-- What the attempt's agent reported with its completion: its usage (a Usage as JSON) and the id of
-- its conversation, which a follow-up resumes.
ALTER TABLE attempts ADD COLUMN usage TEXT;
ALTER TABLE attempts ADD COLUMN session_id TEXT;
-- An agent job's model (NULL: the agent's default), and whether a follow-up continues its parent's
-- conversation (same agent, not --fresh) rather than starting a new one.
ALTER TABLE jobs ADD COLUMN model TEXT;
ALTER TABLE jobs ADD COLUMN resume_parent INTEGER NOT NULL DEFAULT 0;
-- GET /api/usage sums the attempts that reported usage, by the day they ended.
CREATE INDEX attempts_usage ON attempts(ended_at) WHERE usage IS NOT NULL;
