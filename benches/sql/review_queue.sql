-- The review queue's page query before and after 8fdeaa5, side by side on one PostgreSQL:
-- 50 000 violations as central stores them (the signed payload and the event JSON make each
-- row several kilobytes), 40 000 of them pending review; a page of 50, oldest first.
--   psql postgres://tve:tve@127.0.0.1:5432/tve_test -f benches/sql/review_queue.sql
-- Reads "Execution Time" of each EXPLAIN. Leaves nothing behind (a temporary table).
\set ON_ERROR_STOP on
CREATE TEMPORARY TABLE queue_bench (
    event_id UUID PRIMARY KEY, device_id TEXT NOT NULL, camera_id TEXT NOT NULL,
    kind TEXT NOT NULL, vehicle_class TEXT NOT NULL, plate_text TEXT, plate_colour TEXT,
    occurred_at TIMESTAMPTZ NOT NULL, received_at TIMESTAMPTZ NOT NULL, status TEXT NOT NULL,
    event JSONB NOT NULL, payload BYTEA NOT NULL, payload_sha256 TEXT NOT NULL,
    corrected_plate TEXT, owner_lookup TEXT);
INSERT INTO queue_bench
SELECT md5(i::text)::uuid, 'dev-' || (i % 40), 'cam-' || (i % 7), 'red_light', 'car',
       '51F' || lpad((i % 99999)::text, 5, '0'), 'white', now() - (i || ' seconds')::interval,
       now(), CASE WHEN i % 5 = 0 THEN 'approved' ELSE 'pending_review' END,
       jsonb_build_object('pad', repeat('x', 2500), 'i', i),
       convert_to(repeat('y', 3000), 'UTF8'), md5(i::text), NULL, 'found'
FROM generate_series(1, 50000) i;

\echo === before: every filter as "$n IS NULL OR", the total by COUNT(*) OVER (), index (status, occurred_at)
CREATE INDEX queue_bench_status_occurred ON queue_bench (status, occurred_at);
ANALYZE queue_bench;
PREPARE before(text, text, text, text, timestamptz, timestamptz, bigint, bigint) AS
SELECT event_id, device_id, camera_id, kind, vehicle_class,
       COALESCE(corrected_plate, plate_text) AS plate, plate_colour, occurred_at, status,
       owner_lookup, COUNT(*) OVER () AS total
FROM queue_bench
WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR camera_id = $3)
  AND ($4 IS NULL OR plate_text = $4 OR corrected_plate = $4)
  AND ($5 IS NULL OR occurred_at >= $5) AND ($6 IS NULL OR occurred_at < $6)
ORDER BY occurred_at, event_id LIMIT $7 OFFSET $8;
\echo --- a custom plan (the first executions of a prepared statement)
SET plan_cache_mode = force_custom_plan;
EXPLAIN (ANALYZE, TIMING OFF) EXECUTE before('pending_review', NULL, NULL, NULL, NULL, NULL, 50, 0);
\echo --- the generic plan (what a pooled connection settles on)
SET plan_cache_mode = force_generic_plan;
EXPLAIN (ANALYZE, TIMING OFF) EXECUTE before('pending_review', NULL, NULL, NULL, NULL, NULL, 50, 0);

\echo === after: only the filters given, indexes in queue order, the total counted up to 1 000
DROP INDEX queue_bench_status_occurred;
CREATE INDEX queue_bench_queue ON queue_bench (status, occurred_at, event_id);
CREATE INDEX queue_bench_order ON queue_bench (occurred_at, event_id);
ANALYZE queue_bench;
PREPARE page(text, bigint, bigint) AS
SELECT event_id, device_id, camera_id, kind, vehicle_class,
       COALESCE(corrected_plate, plate_text) AS plate, plate_colour, occurred_at, status,
       owner_lookup
FROM queue_bench WHERE TRUE AND status = $1 ORDER BY occurred_at, event_id LIMIT $2 OFFSET $3;
PREPARE counted(text, bigint) AS
SELECT COUNT(*) FROM (SELECT 1 FROM queue_bench WHERE TRUE AND status = $1 LIMIT $2) AS capped;
\echo --- the first page, the generic plan
EXPLAIN (ANALYZE, TIMING OFF) EXECUTE page('pending_review', 50, 0);
\echo --- the page at offset 5 000
EXPLAIN (ANALYZE, TIMING OFF) EXECUTE page('pending_review', 50, 5000);
\echo --- the total, up to 1 000
EXPLAIN (ANALYZE, TIMING OFF) EXECUTE counted('pending_review', 1001);
DISCARD ALL;
