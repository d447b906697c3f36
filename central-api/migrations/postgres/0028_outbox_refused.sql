-- A message citizen-notify refused (not a failure to reach it: an answer that trying again
-- would get again) is no longer retried: when, kept with the refusal in `last_error`, until an
-- administrator sends it again (`central-api outbox-retry`).
ALTER TABLE outbox ADD COLUMN refused_at TIMESTAMPTZ;
