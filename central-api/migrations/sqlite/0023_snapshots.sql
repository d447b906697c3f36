-- Pictures asked of a device's camera (to set the camera up by drawing on it): the request,
-- signed and published to the device; the device's signed answer naming the JPEG's hash, its
-- file uploaded as evidence blobs are. Kept `retention.snapshot_days`.
CREATE TABLE snapshots (
    id           TEXT PRIMARY KEY,
    device_id    TEXT NOT NULL,
    camera_id    TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    published_at TEXT,
    taken_at     TEXT,
    answered_at  TEXT,
    sha256       TEXT,
    bytes        BIGINT,
    width        BIGINT,
    height       BIGINT
);
CREATE INDEX snapshots_camera ON snapshots (device_id, camera_id, requested_at);
CREATE INDEX snapshots_unpublished ON snapshots (published_at, expires_at);
CREATE INDEX snapshots_sha256 ON snapshots (sha256);
