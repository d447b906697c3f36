-- The case as the law runs it (Circular 73/2024/TT-BCA): the officer's confirmation of a camera
-- event issues a notice of violation to the owner, with no decision number and no amount
-- decided; the penalty decision comes later, by an officer with sanctioning authority, after the
-- owner (or the driver) answered. `amount_vnd` and `points` are the schedule's proposal until the
-- decision, then the decision's. Decision numbers restart each year: unique within their year.
-- Fines stored before this migration were decided when approved: they keep their numbers.

ALTER TABLE fines ALTER COLUMN decision_number DROP NOT NULL;
ALTER TABLE fines DROP CONSTRAINT fines_decision_number_key;
ALTER TABLE fines ADD COLUMN decision_year INTEGER;
ALTER TABLE fines ADD COLUMN answer_due TIMESTAMPTZ;
ALTER TABLE fines ADD COLUMN min_vnd BIGINT;
ALTER TABLE fines ADD COLUMN max_vnd BIGINT;
ALTER TABLE fines ADD COLUMN decided_by TEXT;
ALTER TABLE fines ADD COLUMN decided_at TIMESTAMPTZ;
ALTER TABLE fines ADD COLUMN circumstance TEXT;
UPDATE fines SET decision_year = EXTRACT(YEAR FROM issued_at)::INTEGER, decided_by = issued_by,
                 decided_at = issued_at, min_vnd = amount_vnd, max_vnd = amount_vnd;
CREATE UNIQUE INDEX fines_decision_number ON fines (decision_year, decision_number);

-- Points deducted from driving licences by penalty decisions (Law 36/2024/QH15, Article 58):
-- one row per decision that deducts any; `licence` is the category of licence the vehicle
-- needs (`car` or `motorbike`).
CREATE TABLE licence_points (
    fine_id     TEXT PRIMARY KEY REFERENCES fines (fine_id),
    citizen_id  TEXT NOT NULL,
    licence     TEXT NOT NULL,
    points      INTEGER NOT NULL,
    deducted_at TIMESTAMPTZ NOT NULL,
    reference   TEXT NOT NULL
);
CREATE INDEX licence_points_holder ON licence_points (citizen_id, licence, deducted_at);
