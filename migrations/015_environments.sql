-- A repo's environment as the server overrides it (`PUT /api/repos/{id}/environment`): the
-- RepoEnvironment as JSON, each top-level key replacing `.lazyaf.yml`'s; NULL: no override.
ALTER TABLE repos ADD COLUMN environment TEXT;
-- Whether a check not passed fails the job, as submitted: 1, 0, or NULL for the repo's default.
ALTER TABLE jobs ADD COLUMN require_checks INTEGER;
-- What an attempt's assignment said about it (the submit's, else the repo's): what its completion
-- is judged by. NULL: its assignment carried no environment.
ALTER TABLE attempts ADD COLUMN require_checks INTEGER;
