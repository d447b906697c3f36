-- What citizen-notify reports about each issued fine (delivered, failed, confirmed, disputed,
-- paid), once per update id; the fine keeps when it was paid.

CREATE TABLE fine_updates (
    update_id   TEXT PRIMARY KEY,
    fine_id     TEXT NOT NULL REFERENCES fines (fine_id),
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX fine_updates_fine ON fine_updates (fine_id);

ALTER TABLE fines ADD COLUMN paid_at TIMESTAMPTZ;
