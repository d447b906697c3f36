-- Each camera's set-up counts its saves: a form sent on an older revision is refused as stale
-- (two administrators editing one camera; the second is told, nothing is lost), and names the
-- picture from the camera it was drawn on, kept while the set-up stands.
ALTER TABLE cameras ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cameras ADD COLUMN snapshot_id TEXT;
