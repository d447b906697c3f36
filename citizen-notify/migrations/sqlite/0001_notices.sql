-- Fine notices received from central-api, once each (by fine id).

CREATE TABLE notices (
    fine_id         TEXT PRIMARY KEY,
    decision_number TEXT NOT NULL,
    citizen_id      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    payload_sha256  TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    status          TEXT NOT NULL
);
CREATE INDEX notices_citizen ON notices (citizen_id);
