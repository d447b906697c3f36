-- Retention (docs/privacy.md): a legal hold that keeps a case from every purge, the tombstone
-- of each purged event (a replay of it is not stored again), the queue of evidence blobs to
-- delete from the store, and audit entries whose personal details can be erased without
-- breaking the chain.

ALTER TABLE violations ADD COLUMN legal_hold_reason TEXT;
ALTER TABLE violations ADD COLUMN legal_hold_by TEXT;
ALTER TABLE violations ADD COLUMN legal_hold_at TIMESTAMPTZ;

-- One row per purged event: no plate, no image, nothing personal.
CREATE TABLE purged_events (
    event_id       UUID PRIMARY KEY,
    device_id      TEXT NOT NULL,
    occurred_at    TIMESTAMPTZ NOT NULL,
    payload_sha256 TEXT NOT NULL,
    rule           TEXT NOT NULL,
    purged_at      TIMESTAMPTZ NOT NULL
);

-- Blobs a purge released; the sweep deletes each from the store unless another case uses it.
CREATE TABLE evidence_deletions (
    sha256    TEXT PRIMARY KEY,
    queued_at TIMESTAMPTZ NOT NULL
);

-- From here on an entry's chain hash covers `details_sha256` = SHA-256 of the subject's salt and
-- the canonical details, not the details themselves. Purging a subject destroys its salt and
-- blanks the details (`erased_at`): the chain still verifies, and the digest alone cannot be
-- tried against guessed plates. Entries written before (details_sha256 NULL) keep the old rule.
ALTER TABLE audit_log ADD COLUMN details_sha256 TEXT;
ALTER TABLE audit_log ADD COLUMN erased_at TEXT;

CREATE TABLE audit_salts (
    subject TEXT PRIMARY KEY,
    salt    TEXT NOT NULL
);

-- Subjects purged: the only ones whose details may be erased. Append-only.
CREATE TABLE audit_erased_subjects (
    subject   TEXT PRIMARY KEY,
    erased_at TEXT NOT NULL
);

CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    -- The one change allowed: blanking the details of an entry of a purged subject whose salt
    -- is gone. Everything the chain hashes stays as it was.
    IF TG_OP = 'UPDATE'
       AND OLD.details_sha256 IS NOT NULL AND OLD.erased_at IS NULL
       AND NEW.erased_at IS NOT NULL AND NEW.details = 'null'
       AND NEW.seq = OLD.seq AND NEW.at = OLD.at AND NEW.actor = OLD.actor
       AND NEW.action = OLD.action AND NEW.subject = OLD.subject
       AND NEW.details_sha256 = OLD.details_sha256
       AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash
       AND EXISTS (SELECT 1 FROM audit_erased_subjects WHERE subject = OLD.subject)
       AND NOT EXISTS (SELECT 1 FROM audit_salts WHERE subject = OLD.subject) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION audit_erased_subjects_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_erased_subjects_no_update BEFORE UPDATE OR DELETE ON audit_erased_subjects
    FOR EACH ROW EXECUTE FUNCTION audit_erased_subjects_append_only();
