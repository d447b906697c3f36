-- Retention of closed cases (docs/privacy.md): when a case closed (paid, cancelled, time-barred),
-- from which its evidence is kept for the complaint and lawsuit periods; and when and under which
-- rule a case's evidence files were deleted (the case itself, its decision and its signed event,
-- are kept).

ALTER TABLE fines ADD COLUMN closed_at TIMESTAMPTZ;
UPDATE fines SET closed_at = COALESCE(paid_at, resolved_at, decided_at, issued_at)
    WHERE status IN ('paid', 'cancelled', 'time_barred');
CREATE INDEX fines_closed ON fines (closed_at) WHERE closed_at IS NOT NULL;

ALTER TABLE violations ADD COLUMN evidence_purged_at TIMESTAMPTZ;
ALTER TABLE violations ADD COLUMN evidence_purge_rule TEXT;
