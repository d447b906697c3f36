-- A violation is journaled as soon as it is seen, with the images it has then (before, at,
-- plate): held back from delivery while the agent waits for its "after" image and clip, then
-- replaced by the complete event under the same id. A provisional event left by a crash is
-- delivered as it is when the agent starts again.
ALTER TABLE events ADD COLUMN provisional INTEGER NOT NULL DEFAULT 0;
