-- The fine schedule: kind x vehicle category x band -> range, points, legal reference, period.
-- Amendments add rows; rows are closed with effective_to, never rewritten.

CREATE TABLE fine_schedule (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    kind           TEXT NOT NULL,
    vehicle        TEXT NOT NULL,
    over_kmh_from  INTEGER,
    over_kmh_to    INTEGER,
    min_vnd        INTEGER NOT NULL,
    max_vnd        INTEGER NOT NULL,
    points         INTEGER NOT NULL,
    reference      TEXT NOT NULL,
    effective_from TEXT NOT NULL,
    effective_to   TEXT,
    verify         BOOLEAN NOT NULL
);
CREATE INDEX fine_schedule_case ON fine_schedule (kind, vehicle, effective_from);
