-- Four eyes (docs/security.md): a change that needs a second officer waits here as a request
-- until another officer allowed to make it confirms it (then it is made, in the same
-- transaction) or somebody refuses it. At most one request waits per change and subject.

CREATE TABLE requests (
    request_id   UUID PRIMARY KEY,
    kind         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    payload      TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    status       TEXT NOT NULL,
    decided_by   TEXT,
    decided_at   TIMESTAMPTZ,
    note         TEXT
);

CREATE UNIQUE INDEX requests_one_waiting ON requests (kind, subject) WHERE status = 'pending';
