-- The review queue is read oldest first, by status (pending review, by default) or over all of
-- them: an index in that order serves a page by reading only its rows, and the count of a status
-- from the index alone. Supersedes violations_status_occurred, its prefix.
CREATE INDEX violations_queue ON violations (status, occurred_at, event_id);
CREATE INDEX violations_order ON violations (occurred_at, event_id);
DROP INDEX violations_status_occurred;
