-- The owner's answer may name another person as the driver: the owner's case ends
-- `transferred` and a case of the driver's own opens on the same violation (`transferred_from`),
-- with a notice of its own. A violation has at most one open case.
ALTER TABLE fines DROP CONSTRAINT fines_event_id_key;
ALTER TABLE fines ADD COLUMN transferred_from TEXT REFERENCES fines (fine_id);
CREATE UNIQUE INDEX fines_open_case ON fines (event_id) WHERE status <> 'transferred';

-- Who the owner named: as their identity card and driving licence say.
CREATE TABLE driver_declarations (
    fine_id        TEXT PRIMARY KEY REFERENCES fines (fine_id),
    driver_fine_id TEXT NOT NULL UNIQUE REFERENCES fines (fine_id),
    full_name      TEXT NOT NULL,
    citizen_id     TEXT NOT NULL,
    licence_no     TEXT NOT NULL,
    declared_at    TIMESTAMPTZ NOT NULL
);

-- The warnings of a case whose notice went unanswered for 20 days (Circular 73/2024/TT-BCA,
-- Article 24 clause 5): to the vehicle registration authority, to the inspection authority
-- (Đăng kiểm), and for a motorbike the notice through the commune police (form 04). Each
-- recorded when given and when lifted (the case resolved).
CREATE TABLE case_warnings (
    fine_id   TEXT NOT NULL REFERENCES fines (fine_id),
    addressee TEXT NOT NULL,
    issued_at TIMESTAMPTZ NOT NULL,
    lifted_at TIMESTAMPTZ,
    PRIMARY KEY (fine_id, addressee)
);
CREATE INDEX case_warnings_open ON case_warnings (lifted_at);
