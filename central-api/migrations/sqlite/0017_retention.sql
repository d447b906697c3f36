-- Retention (SQLite twin of migrations/postgres; docs/privacy.md).

ALTER TABLE violations ADD COLUMN legal_hold_reason TEXT;
ALTER TABLE violations ADD COLUMN legal_hold_by TEXT;
ALTER TABLE violations ADD COLUMN legal_hold_at TEXT;

CREATE TABLE purged_events (
    event_id       BLOB PRIMARY KEY,
    device_id      TEXT NOT NULL,
    occurred_at    TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    rule           TEXT NOT NULL,
    purged_at      TEXT NOT NULL
);

CREATE TABLE evidence_deletions (
    sha256    TEXT PRIMARY KEY,
    queued_at TEXT NOT NULL
);

ALTER TABLE audit_log ADD COLUMN details_sha256 TEXT;
ALTER TABLE audit_log ADD COLUMN erased_at TEXT;

CREATE TABLE audit_salts (
    subject TEXT PRIMARY KEY,
    salt    TEXT NOT NULL
);

CREATE TABLE audit_erased_subjects (
    subject   TEXT PRIMARY KEY,
    erased_at TEXT NOT NULL
);

DROP TRIGGER audit_log_no_update;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN NOT (
    OLD.details_sha256 IS NOT NULL AND OLD.erased_at IS NULL
    AND NEW.erased_at IS NOT NULL AND NEW.details = 'null'
    AND NEW.seq = OLD.seq AND NEW.at = OLD.at AND NEW.actor = OLD.actor
    AND NEW.action = OLD.action AND NEW.subject = OLD.subject
    AND NEW.details_sha256 = OLD.details_sha256
    AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash
    AND EXISTS (SELECT 1 FROM audit_erased_subjects WHERE subject = OLD.subject)
    AND NOT EXISTS (SELECT 1 FROM audit_salts WHERE subject = OLD.subject)
)
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_erased_subjects_no_update BEFORE UPDATE ON audit_erased_subjects
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_erased_subjects_no_delete BEFORE DELETE ON audit_erased_subjects
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
