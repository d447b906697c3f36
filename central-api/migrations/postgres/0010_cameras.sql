-- Each device's cameras as the operations centre keeps them (site, geometry, limits), and the
-- device configuration built from them, published retained on the device's config topic.

CREATE TABLE cameras (
    device_id  TEXT NOT NULL REFERENCES devices (device_id),
    camera_id  TEXT NOT NULL,
    settings   TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device_id, camera_id)
);

CREATE TABLE device_configs (
    device_id    TEXT PRIMARY KEY REFERENCES devices (device_id),
    version      BIGINT NOT NULL,
    payload      TEXT NOT NULL,
    issued_at    TIMESTAMPTZ NOT NULL,
    published_at TIMESTAMPTZ
);
