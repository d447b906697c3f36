-- Requests of a data subject to correct the personal data central holds about them (Law
-- 91/2025/QH15, Article 4 clause 1 point c), recorded by a supervisor as they arrive and
-- answered by one: corrected, referred to the registry the data comes from, or refused.
CREATE TABLE corrections (
    id          BLOB PRIMARY KEY,
    citizen_id  TEXT NOT NULL,
    event_id    BLOB,
    channel     TEXT NOT NULL,
    request     TEXT NOT NULL,
    received_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    outcome     TEXT,
    answer      TEXT,
    answered_by TEXT,
    answered_at TEXT
);
CREATE INDEX corrections_open ON corrections (answered_at, received_at);
CREATE INDEX corrections_citizen ON corrections (citizen_id, received_at);
