-- A notice of violation carries no decision number and no amount: the penalty decision of an
-- officer with sanctioning authority arrives on its own, once per case, and only a decision is
-- ever paid.

ALTER TABLE notices DROP COLUMN decision_number;

CREATE TABLE decisions (
    fine_id         TEXT PRIMARY KEY REFERENCES notices (fine_id),
    decision_id     TEXT NOT NULL UNIQUE,
    decision_number TEXT NOT NULL,
    citizen_id      TEXT NOT NULL,
    amount_vnd      INTEGER NOT NULL,
    payload         TEXT NOT NULL,
    payload_sha256  TEXT NOT NULL,
    received_at     TEXT NOT NULL
);
