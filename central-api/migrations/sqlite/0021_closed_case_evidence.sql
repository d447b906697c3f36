-- Retention of closed cases (SQLite twin of migrations/postgres; docs/privacy.md).

ALTER TABLE fines ADD COLUMN closed_at TEXT;
UPDATE fines SET closed_at = COALESCE(paid_at, resolved_at, decided_at, issued_at)
    WHERE status IN ('paid', 'cancelled', 'time_barred');
CREATE INDEX fines_closed ON fines (closed_at) WHERE closed_at IS NOT NULL;

ALTER TABLE violations ADD COLUMN evidence_purged_at TEXT;
ALTER TABLE violations ADD COLUMN evidence_purge_rule TEXT;
