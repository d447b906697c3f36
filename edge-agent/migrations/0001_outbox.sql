-- The edge outbox: every violation event is written here, with its evidence files on disk,
-- before anything is sent; rows leave only on central's acknowledgement.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT    NOT NULL UNIQUE,
    payload      BLOB    NOT NULL,
    created_ms   INTEGER NOT NULL,
    -- When it was last handed to the broker; NULL: not since it was stored.
    published_ms INTEGER,
    acked        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE files (
    event_id     TEXT    NOT NULL REFERENCES events (event_id) ON DELETE CASCADE,
    sha256       TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    bytes        INTEGER NOT NULL,
    uploaded     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, sha256)
);

CREATE INDEX files_sha256 ON files (sha256);
