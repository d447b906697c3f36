-- The same refused bytes arriving again (a revoked device's outbox republishing an event, a
-- replay) are one dead letter counted, not a new row each time: the table grows with what is
-- different, not with how often it is sent.

ALTER TABLE dead_letters ADD COLUMN payload_sha256 TEXT;
ALTER TABLE dead_letters ADD COLUMN times BIGINT NOT NULL DEFAULT 1;
ALTER TABLE dead_letters ADD COLUMN last_received_at TIMESTAMPTZ;
CREATE UNIQUE INDEX dead_letters_payload ON dead_letters (payload_sha256);
