-- A picture may be asked for as the device judges the frame (the set-up in force drawn on it,
-- the vehicles tracked with their speeds, the signal read) and as a burst of frames, one a
-- second: how an installer checks a set-up live. The first frame answers in the request's own
-- row; each later one is a row of its own, `id` the request's id, a dot and its number, naming
-- the request it answers in `burst_of`. `judged`: what the device judged in the frame (JSON).
ALTER TABLE snapshots ADD COLUMN view TEXT NOT NULL DEFAULT 'frame';
ALTER TABLE snapshots ADD COLUMN frames BIGINT NOT NULL DEFAULT 1;
ALTER TABLE snapshots ADD COLUMN burst_of TEXT;
ALTER TABLE snapshots ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE snapshots ADD COLUMN judged TEXT;
CREATE INDEX snapshots_burst ON snapshots (burst_of);
