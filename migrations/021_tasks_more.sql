-- The base branch's commit when the task was submitted: every candidate starts from it, whenever it is claimed.
ALTER TABLE tasks ADD COLUMN base_commit TEXT;
