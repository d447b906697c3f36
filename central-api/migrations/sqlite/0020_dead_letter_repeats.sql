-- The same refused bytes arriving again (a revoked device's outbox republishing an event, a
-- replay) are one dead letter counted, not a new row each time (SQLite twin of
-- migrations/postgres).

ALTER TABLE dead_letters ADD COLUMN payload_sha256 TEXT;
ALTER TABLE dead_letters ADD COLUMN times INTEGER NOT NULL DEFAULT 1;
ALTER TABLE dead_letters ADD COLUMN last_received_at TEXT;
CREATE UNIQUE INDEX dead_letters_payload ON dead_letters (payload_sha256);
