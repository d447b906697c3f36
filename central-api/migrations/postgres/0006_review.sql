-- Officers and their sessions, the review decision on each violation, the fines issued, the
-- yearly decision-number counters, and the transactional outbox towards citizen-notify.

CREATE TABLE officers (
    username      TEXT PRIMARY KEY,
    full_name     TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    disabled_at   TIMESTAMPTZ
);

CREATE TABLE sessions (
    token_sha256 TEXT PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES officers (username),
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);

ALTER TABLE violations ADD COLUMN corrected_plate TEXT;
ALTER TABLE violations ADD COLUMN reviewed_by TEXT;
ALTER TABLE violations ADD COLUMN reviewed_at TIMESTAMPTZ;
ALTER TABLE violations ADD COLUMN reject_reason TEXT;
ALTER TABLE violations ADD COLUMN review_note TEXT;

CREATE TABLE decision_counters (
    year INTEGER PRIMARY KEY,
    last BIGINT NOT NULL
);

CREATE TABLE fines (
    fine_id         TEXT PRIMARY KEY,
    event_id        UUID NOT NULL UNIQUE REFERENCES violations (event_id),
    decision_number TEXT NOT NULL UNIQUE,
    citizen_id      TEXT NOT NULL,
    plate_text      TEXT NOT NULL,
    amount_vnd      BIGINT NOT NULL,
    points          INTEGER NOT NULL,
    legal_reference TEXT NOT NULL,
    notice_due      TIMESTAMPTZ NOT NULL,
    response_due    TIMESTAMPTZ,
    status          TEXT NOT NULL,
    issued_by       TEXT NOT NULL,
    issued_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX fines_citizen ON fines (citizen_id);

CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload         TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,
    last_error      TEXT
);
CREATE INDEX outbox_pending ON outbox (delivered_at, next_attempt_at);
