-- The documents a citizen attached to an answer (a sale contract, a police report, what supports
-- an explanation), in the evidence store by their digest: which case's answer (`update_id`)
-- named each. Retention deletes them with their case.
CREATE TABLE answer_documents (
    fine_id      TEXT NOT NULL REFERENCES fines (fine_id),
    sha256       TEXT NOT NULL,
    update_id    TEXT NOT NULL,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes        BIGINT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (fine_id, sha256)
);
CREATE INDEX answer_documents_sha256 ON answer_documents (sha256);
