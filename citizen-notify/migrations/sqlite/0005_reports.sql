-- What becomes of each fine here (delivered or not, confirmed or disputed, paid), reported to
-- central-api through this outbox: written in the transaction that records the change, sent
-- until central acknowledges it.

CREATE TABLE reports (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    update_id       TEXT NOT NULL UNIQUE,
    fine_id         TEXT NOT NULL REFERENCES notices (fine_id),
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT
);
CREATE INDEX reports_due ON reports (state, next_attempt_at);
