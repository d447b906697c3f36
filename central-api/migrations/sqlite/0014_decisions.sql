-- no-transaction
-- The case as the law runs it (Circular 73/2024/TT-BCA): the officer's confirmation of a camera
-- event issues a notice of violation to the owner, with no decision number and no amount
-- decided; the penalty decision comes later, by an officer with sanctioning authority, after the
-- owner (or the driver) answered. `amount_vnd` and `points` are the schedule's proposal until the
-- decision, then the decision's. Decision numbers restart each year: unique within their year.
-- Fines stored before this migration were decided when approved: they keep their numbers.
--
-- SQLite cannot drop a column's NOT NULL or UNIQUE: the table is rebuilt as SQLite's manual
-- says (foreign keys off on this connection, one transaction, the new table renamed into the
-- old one's place so the tables that refer to `fines` refer to it), hence outside sqlx's own
-- transaction. Should the process stop between the commit and sqlx's record of the migration,
-- running it again rebuilds the table from itself with the same result (no decision can have
-- been taken in between: the service is still starting).

PRAGMA foreign_keys = OFF;
BEGIN;
DROP TABLE IF EXISTS fines_new;
CREATE TABLE fines_new (
    fine_id           TEXT PRIMARY KEY,
    event_id          BLOB NOT NULL UNIQUE REFERENCES violations (event_id),
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
    circumstance      TEXT
);
INSERT INTO fines_new
    (fine_id, event_id, decision_number, citizen_id, plate_text, amount_vnd, points,
     legal_reference, notice_due, response_due, status, issued_by, issued_at, paid_at,
     resolved_by, resolved_at, resolution_answer, decision_year, decided_by, decided_at,
     min_vnd, max_vnd)
SELECT fine_id, event_id, decision_number, citizen_id, plate_text, amount_vnd, points,
       legal_reference, notice_due, response_due, status, issued_by, issued_at, paid_at,
       resolved_by, resolved_at, resolution_answer, CAST(substr(issued_at, 1, 4) AS INTEGER),
       issued_by, issued_at, amount_vnd, amount_vnd
FROM fines;
DROP TABLE fines;
ALTER TABLE fines_new RENAME TO fines;
CREATE INDEX IF NOT EXISTS fines_citizen ON fines (citizen_id);
CREATE INDEX IF NOT EXISTS fines_status ON fines (status);
CREATE UNIQUE INDEX IF NOT EXISTS fines_decision_number ON fines (decision_year, decision_number);

-- Points deducted from driving licences by penalty decisions (Law 36/2024/QH15, Article 58):
-- one row per decision that deducts any; `licence` is the category of licence the vehicle
-- needs (`car` or `motorbike`).
CREATE TABLE IF NOT EXISTS licence_points (
    fine_id     TEXT PRIMARY KEY REFERENCES fines (fine_id),
    citizen_id  TEXT NOT NULL,
    licence     TEXT NOT NULL,
    points      INTEGER NOT NULL,
    deducted_at TEXT NOT NULL,
    reference   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS licence_points_holder ON licence_points (citizen_id, licence, deducted_at);

COMMIT;
PRAGMA foreign_keys = ON;
