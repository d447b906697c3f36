-- Central's answers to owners' disputes (the fine upheld or cancelled), once per resolution id.

CREATE TABLE resolutions (
    resolution_id TEXT PRIMARY KEY,
    fine_id       TEXT NOT NULL REFERENCES notices (fine_id),
    outcome       TEXT NOT NULL,
    answer        TEXT NOT NULL,
    decided_at    TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    payload       TEXT NOT NULL
);
CREATE INDEX resolutions_fine ON resolutions (fine_id);
