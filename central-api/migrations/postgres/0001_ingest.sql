-- Devices and the violations they report, with the evidence manifest and dead letters.

CREATE TABLE devices (
    device_id     TEXT PRIMARY KEY,
    public_key    TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    registered_at TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ
);

CREATE TABLE violations (
    event_id       UUID PRIMARY KEY,
    device_id      TEXT NOT NULL REFERENCES devices (device_id),
    camera_id      TEXT NOT NULL,
    kind           TEXT NOT NULL,
    vehicle_class  TEXT NOT NULL,
    plate_text     TEXT,
    plate_colour   TEXT,
    occurred_at    TIMESTAMPTZ NOT NULL,
    received_at    TIMESTAMPTZ NOT NULL,
    status         TEXT NOT NULL,
    event          JSONB NOT NULL,
    -- The exact signed bytes as received: the chain of custody starts here.
    payload        BYTEA NOT NULL,
    payload_sha256 TEXT NOT NULL
);
CREATE INDEX violations_status_occurred ON violations (status, occurred_at);
CREATE INDEX violations_plate ON violations (plate_text);
CREATE INDEX violations_camera_occurred ON violations (device_id, camera_id, occurred_at);

CREATE TABLE evidence_manifest (
    event_id     UUID NOT NULL REFERENCES violations (event_id),
    name         TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    bytes        BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    captured_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (event_id, name)
);
CREATE INDEX evidence_manifest_sha256 ON evidence_manifest (sha256);

CREATE TABLE dead_letters (
    id            BIGSERIAL PRIMARY KEY,
    received_at   TIMESTAMPTZ NOT NULL,
    topic         TEXT NOT NULL,
    device_id     TEXT,
    event_id      TEXT,
    reason_code   TEXT NOT NULL,
    reason        TEXT NOT NULL,
    -- At most the first 256 KiB; payload_bytes is the size received.
    payload       BYTEA NOT NULL,
    payload_bytes BIGINT NOT NULL
);
CREATE INDEX dead_letters_received ON dead_letters (received_at);
