-- The latest status each device reported on its retained status topic (or its last will).

CREATE TABLE device_status (
    device_id        TEXT PRIMARY KEY REFERENCES devices (device_id),
    state            TEXT NOT NULL,
    reported_at      TEXT,
    received_at      TEXT NOT NULL,
    software_version TEXT,
    cameras          TEXT NOT NULL,
    outbox_depth     BIGINT
);
