-- Retention (docs/privacy.md): a notice whose case closed (paid, or cancelled by central) is
-- emptied once its period has passed: its payload (name, address, evidence links) blanked and
-- what hangs off it (deliveries, answers, decisions, resolutions, reports) deleted; the row
-- stays, with its payload's hash, so that the notice sent again is known and not delivered
-- again, and so do the payments (accounting records).
ALTER TABLE notices ADD COLUMN purged_at TIMESTAMPTZ;
