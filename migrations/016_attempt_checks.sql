-- What a runner reported of the repo's environment with an attempt (protocol 7), as JSON: its
-- setup (a SetupReport) and its checks (an array of CheckResult, at most 20, each output bounded).
-- On the attempt, as its usage is: a retried job shows its last attempt's, and the rows go with it.
ALTER TABLE attempts ADD COLUMN setup TEXT;
ALTER TABLE attempts ADD COLUMN checks TEXT;
