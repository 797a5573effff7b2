-- The name of the runner that took an attempt, as it was then: runners re-register under new ids
-- (a server restart, a pool slot started again) and are pruned, and an attempt still names its runner.
ALTER TABLE attempts ADD COLUMN runner_name TEXT;
