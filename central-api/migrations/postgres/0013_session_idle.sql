-- When each session was last used: one left idle longer than review.session_idle_s has ended.
ALTER TABLE sessions ADD COLUMN last_seen_at TIMESTAMPTZ;
UPDATE sessions SET last_seen_at = created_at;
