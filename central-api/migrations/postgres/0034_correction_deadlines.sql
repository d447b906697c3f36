-- The periods of a correction request (Decree 356/2025/NĐ-CP, Article 5 clause 3): the citizen
-- is answered with the procedure within 2 working days (recorded as acknowledged), the
-- correction is made within 10 days, or 15 when the data is corrected at its source; the period
-- may be extended once, by at most 10 days, with the reason given to the citizen.
ALTER TABLE corrections ADD COLUMN acknowledged_at TIMESTAMPTZ;
ALTER TABLE corrections ADD COLUMN acknowledged_by TEXT;
ALTER TABLE corrections ADD COLUMN extended_days INTEGER;
ALTER TABLE corrections ADD COLUMN extension_reason TEXT;
ALTER TABLE corrections ADD COLUMN extended_by TEXT;
ALTER TABLE corrections ADD COLUMN extended_at TIMESTAMPTZ;
