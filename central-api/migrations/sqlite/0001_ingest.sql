-- Devices and the violations they report, with the evidence manifest and dead letters.
-- The SQLite twin of migrations/postgres: same tables, SQLite types.

CREATE TABLE devices (
    device_id     TEXT PRIMARY KEY,
    public_key    TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    registered_at TEXT NOT NULL,
    revoked_at    TEXT
);

CREATE TABLE violations (
    event_id       BLOB PRIMARY KEY,
    device_id      TEXT NOT NULL REFERENCES devices (device_id),
    camera_id      TEXT NOT NULL,
    kind           TEXT NOT NULL,
    vehicle_class  TEXT NOT NULL,
    plate_text     TEXT,
    plate_colour   TEXT,
    occurred_at    TEXT NOT NULL,
    received_at    TEXT NOT NULL,
    status         TEXT NOT NULL,
    event          TEXT NOT NULL,
    -- The exact signed bytes as received: the chain of custody starts here.
    payload        BLOB NOT NULL,
    payload_sha256 TEXT NOT NULL
);
CREATE INDEX violations_status_occurred ON violations (status, occurred_at);
CREATE INDEX violations_plate ON violations (plate_text);
CREATE INDEX violations_camera_occurred ON violations (device_id, camera_id, occurred_at);

CREATE TABLE evidence_manifest (
    event_id     BLOB NOT NULL REFERENCES violations (event_id),
    name         TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    bytes        INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    captured_at  TEXT NOT NULL,
    PRIMARY KEY (event_id, name)
);
CREATE INDEX evidence_manifest_sha256 ON evidence_manifest (sha256);

CREATE TABLE dead_letters (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at   TEXT NOT NULL,
    topic         TEXT NOT NULL,
    device_id     TEXT,
    event_id      TEXT,
    reason_code   TEXT NOT NULL,
    reason        TEXT NOT NULL,
    -- At most the first 256 KiB; payload_bytes is the size received.
    payload       BLOB NOT NULL,
    payload_bytes INTEGER NOT NULL
);
CREATE INDEX dead_letters_received ON dead_letters (received_at);
