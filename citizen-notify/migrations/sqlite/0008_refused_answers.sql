-- Central may refuse an answer (given after its deadline, or naming as the driver a person the
-- population database does not know): the refused answer is taken back, so the citizen may
-- answer again, and why it was refused is kept here to show them.

CREATE TABLE refused_answers (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    fine_id    TEXT NOT NULL REFERENCES notices (fine_id),
    kind       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    refused_at TEXT NOT NULL
);
CREATE INDEX refused_answers_fine ON refused_answers (fine_id);
