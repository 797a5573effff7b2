-- The server's own runner pool: one row, its desired size, so a restart brings back as many
-- runners as it last had (a size given at start replaces it).
CREATE TABLE pool (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  desired INTEGER NOT NULL CHECK (desired >= 0)
);
