-- Frontdesk schema 4: what each source last said about a row. A re-import applies only
-- what changed in the source since, and keeps what the desk corrected in between (a
-- spelling fixed at the front desk, a visit marked as a no-show).
ALTER TABLE source_record ADD COLUMN imported TEXT NOT NULL DEFAULT '';  -- JSON of the columns
