-- Four eyes on a corrected plate (SQLite twin of migrations/postgres): who corrected it, so
-- that another officer confirms the violation (docs/security.md).

ALTER TABLE violations ADD COLUMN plate_corrected_by TEXT;
