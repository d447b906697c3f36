-- The documents a citizen attaches to an answer (a sale contract, a police report, what supports
-- an explanation), each with the report that carries the answer to central (`update_id`), sent
-- to central before it; emptied with the notice by retention.
CREATE TABLE answer_documents (
    update_id    TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    fine_id      TEXT NOT NULL REFERENCES notices (fine_id),
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body         BYTEA NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (update_id, sha256)
);
CREATE INDEX answer_documents_fine ON answer_documents (fine_id);
