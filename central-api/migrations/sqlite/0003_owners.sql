-- The vehicle registry mirror (plate and plate colour -> vehicle and owner), the citizens, and
-- the owner found for each violation.

CREATE TABLE citizens (
    citizen_id TEXT PRIMARY KEY,
    full_name  TEXT NOT NULL,
    address    TEXT NOT NULL,
    phone      TEXT,
    email      TEXT
);

CREATE TABLE vehicle_registrations (
    plate_text       TEXT NOT NULL,
    plate_colour     TEXT NOT NULL,
    vehicle_class    TEXT NOT NULL,
    make             TEXT NOT NULL DEFAULT '',
    model            TEXT NOT NULL DEFAULT '',
    colour           TEXT NOT NULL DEFAULT '',
    owner_citizen_id TEXT NOT NULL REFERENCES citizens (citizen_id),
    registered_at    TEXT NOT NULL,
    PRIMARY KEY (plate_text, plate_colour)
);

-- found | not_registered | no_plate | failed (retried)
ALTER TABLE violations ADD COLUMN owner_lookup TEXT;
ALTER TABLE violations ADD COLUMN owner_citizen_id TEXT;
ALTER TABLE violations ADD COLUMN owner_looked_up_at TEXT;
