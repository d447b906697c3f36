-- Evidence blobs received from devices, content-addressed by sha256 (SQLite twin).

CREATE TABLE evidence_blobs (
    sha256       TEXT PRIMARY KEY,
    bytes        INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    storage_key  TEXT NOT NULL,
    device_id    TEXT NOT NULL REFERENCES devices (device_id),
    received_at  TEXT NOT NULL
);
