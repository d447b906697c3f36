-- The owner's answer may name another person as the driver, or as the buyer of a vehicle sold
-- before the violation: the owner's case ends `transferred` and a case of that person's own
-- opens on the same violation (`transferred_from`), with a notice of its own. A violation has at
-- most one open case.
ALTER TABLE fines DROP CONSTRAINT fines_event_id_key;
ALTER TABLE fines ADD COLUMN transferred_from TEXT REFERENCES fines (fine_id);
CREATE UNIQUE INDEX fines_open_case ON fines (event_id) WHERE status <> 'transferred';

-- Whom the owner named, as their identity card says: the driver (`driver`, with the licence
-- number), or the person the vehicle was sold to before the violation (`buyer`, with the day
-- and the contract); `to_fine_id` is the case opened for them.
CREATE TABLE case_transfers (
    fine_id     TEXT PRIMARY KEY REFERENCES fines (fine_id),
    to_fine_id  TEXT NOT NULL UNIQUE REFERENCES fines (fine_id),
    named_as    TEXT NOT NULL,
    full_name   TEXT NOT NULL,
    citizen_id  TEXT NOT NULL,
    licence_no  TEXT,
    sold_on     TEXT,
    contract    TEXT,
    declared_at TIMESTAMPTZ NOT NULL
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
