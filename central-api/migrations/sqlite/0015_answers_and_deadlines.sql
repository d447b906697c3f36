-- no-transaction
-- The owner's answer may name another person as the driver, or as the buyer of a vehicle sold
-- before the violation: the owner's case ends `transferred` and a case of that person's own
-- opens on the same violation (`transferred_from`), with a notice of its own. A violation has at
-- most one open case.
--
-- SQLite cannot drop a column's UNIQUE: the table is rebuilt as in 0014 (foreign keys off on
-- this connection, one transaction, the new table renamed into the old one's place), hence
-- outside sqlx's own transaction; running it again after a stop before sqlx's record rebuilds
-- the table from itself with the same result.

PRAGMA foreign_keys = OFF;
BEGIN;
DROP TABLE IF EXISTS fines_new;
CREATE TABLE fines_new (
    fine_id           TEXT PRIMARY KEY,
    event_id          BLOB NOT NULL REFERENCES violations (event_id),
    decision_number   TEXT,
    citizen_id        TEXT NOT NULL,
    plate_text        TEXT NOT NULL,
    amount_vnd        INTEGER NOT NULL,
    points            INTEGER NOT NULL,
    legal_reference   TEXT NOT NULL,
    notice_due        TEXT NOT NULL,
    response_due      TEXT,
    status            TEXT NOT NULL,
    issued_by         TEXT NOT NULL,
    issued_at         TEXT NOT NULL,
    paid_at           TEXT,
    resolved_by       TEXT,
    resolved_at       TEXT,
    resolution_answer TEXT,
    decision_year     INTEGER,
    answer_due        TEXT,
    min_vnd           INTEGER,
    max_vnd           INTEGER,
    decided_by        TEXT,
    decided_at        TEXT,
    circumstance      TEXT,
    transferred_from  TEXT REFERENCES fines (fine_id)
);
INSERT INTO fines_new
    (fine_id, event_id, decision_number, citizen_id, plate_text, amount_vnd, points,
     legal_reference, notice_due, response_due, status, issued_by, issued_at, paid_at,
     resolved_by, resolved_at, resolution_answer, decision_year, answer_due, min_vnd, max_vnd,
     decided_by, decided_at, circumstance)
SELECT fine_id, event_id, decision_number, citizen_id, plate_text, amount_vnd, points,
       legal_reference, notice_due, response_due, status, issued_by, issued_at, paid_at,
       resolved_by, resolved_at, resolution_answer, decision_year, answer_due, min_vnd, max_vnd,
       decided_by, decided_at, circumstance
FROM fines;
DROP TABLE fines;
ALTER TABLE fines_new RENAME TO fines;
CREATE INDEX IF NOT EXISTS fines_citizen ON fines (citizen_id);
CREATE INDEX IF NOT EXISTS fines_status ON fines (status);
CREATE UNIQUE INDEX IF NOT EXISTS fines_decision_number ON fines (decision_year, decision_number);
CREATE UNIQUE INDEX IF NOT EXISTS fines_open_case ON fines (event_id) WHERE status <> 'transferred';

-- Whom the owner named, as their identity card says: the driver (`driver`, with the licence
-- number), or the person the vehicle was sold to before the violation (`buyer`, with the day
-- and the contract); `to_fine_id` is the case opened for them.
CREATE TABLE IF NOT EXISTS case_transfers (
    fine_id     TEXT PRIMARY KEY REFERENCES fines (fine_id),
    to_fine_id  TEXT NOT NULL UNIQUE REFERENCES fines (fine_id),
    named_as    TEXT NOT NULL,
    full_name   TEXT NOT NULL,
    citizen_id  TEXT NOT NULL,
    licence_no  TEXT,
    sold_on     TEXT,
    contract    TEXT,
    declared_at TEXT NOT NULL
);

-- The warnings of a case whose notice went unanswered for 20 days (Circular 73/2024/TT-BCA,
-- Article 24 clause 5): to the vehicle registration authority, to the inspection authority
-- (Đăng kiểm), and for a motorbike the notice through the commune police (form 04). Each
-- recorded when given and when lifted (the case resolved).
CREATE TABLE IF NOT EXISTS case_warnings (
    fine_id   TEXT NOT NULL REFERENCES fines (fine_id),
    addressee TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    lifted_at TEXT,
    PRIMARY KEY (fine_id, addressee)
);
CREATE INDEX IF NOT EXISTS case_warnings_open ON case_warnings (lifted_at);

COMMIT;
PRAGMA foreign_keys = ON;
