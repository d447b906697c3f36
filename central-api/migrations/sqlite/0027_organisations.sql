-- Organisations as vehicle owners (Decree 168/2024/NĐ-CP, Article 47 clause 6 point a: the
-- owner is the person or the organisation named on the registration certificate), by their
-- enterprise code. `representative` is the person who answers for the organisation (its legal
-- representative), a citizen of the `citizens` table. An organisation's name and head-office
-- address are no person's data: kept in the clear.
CREATE TABLE organisations (
    enterprise_code TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    address         TEXT NOT NULL
);

-- The organisation a registration names (its `owner_citizen_id` then its representative); the
-- one the owner lookup found for a violation; the organisation whose case it is (a case moved to
-- the driver it named is that person's, with none).
ALTER TABLE vehicle_registrations ADD COLUMN owner_organisation TEXT REFERENCES organisations (enterprise_code);
ALTER TABLE violations ADD COLUMN owner_organisation TEXT;
ALTER TABLE fines ADD COLUMN organisation TEXT;
