-- A job landed from the server (`POST /api/jobs/{id}/land`): who asked, when (ms), where (the
-- remote's URL with its credentials hidden, and the branch), the commit pushed, and the pull
-- request opened with it. NULL while it has not been landed.
ALTER TABLE jobs ADD COLUMN landed_by TEXT;
ALTER TABLE jobs ADD COLUMN landed_ms INTEGER;
ALTER TABLE jobs ADD COLUMN landed_remote_url TEXT;
ALTER TABLE jobs ADD COLUMN landed_branch TEXT;
ALTER TABLE jobs ADD COLUMN landed_commit TEXT;
ALTER TABLE jobs ADD COLUMN pr_url TEXT;
-- Where the repo's pull requests are opened, as JSON {kind, api_url, project?}; NULL: guessed from remote_url.
ALTER TABLE repos ADD COLUMN forge TEXT;
