-- Delivery of each notice to the citizen through each configured channel (the citizen-app
-- push today): retried with growing waits until delivered or finally failed, every attempt
-- logged.

CREATE TABLE deliveries (
    id              BIGSERIAL PRIMARY KEY,
    fine_id         TEXT NOT NULL REFERENCES notices (fine_id),
    channel         TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    finished_at     TIMESTAMPTZ,
    UNIQUE (fine_id, channel)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);

CREATE TABLE delivery_attempts (
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
    attempt     INTEGER NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
