-- A request may ask for a short clip of the camera's own video (view 'clip'), `clip_s` seconds
-- long; the answer is an MP4, `duration_ms` from its first frame to its last (NULL for a
-- picture).
ALTER TABLE snapshots ADD COLUMN clip_s BIGINT NOT NULL DEFAULT 0;
ALTER TABLE snapshots ADD COLUMN duration_ms BIGINT;
