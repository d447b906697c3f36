-- What a resolution answers: the owner's explanation (`dispute`), or nothing, central having
-- closed the case itself (`time_barred`, `transferred`).

ALTER TABLE resolutions ADD COLUMN ground TEXT NOT NULL DEFAULT 'dispute';
