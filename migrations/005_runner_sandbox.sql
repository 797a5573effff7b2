-- What walls a runner puts around its jobs, as it said when it registered: 'bubblewrap' or
-- 'none'. NULL for runners that registered before runners said so.
ALTER TABLE runners ADD COLUMN sandbox TEXT;
