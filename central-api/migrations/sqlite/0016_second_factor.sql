-- An officer's second factor: the TOTP secret their authenticator app holds (base32), and the
-- last step whose code they used (a code is good once).
ALTER TABLE officers ADD COLUMN totp_secret TEXT;
ALTER TABLE officers ADD COLUMN totp_last_step INTEGER;
