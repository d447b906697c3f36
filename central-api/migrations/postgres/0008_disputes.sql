-- A supervisor's answer to an owner's dispute: the fine upheld or cancelled, by whom, when, and
-- the answer sent to the owner (through the outbox, as a fine resolution).

ALTER TABLE fines ADD COLUMN resolved_by TEXT;
ALTER TABLE fines ADD COLUMN resolved_at TIMESTAMPTZ;
ALTER TABLE fines ADD COLUMN resolution_answer TEXT;
CREATE INDEX fines_status ON fines (status);
