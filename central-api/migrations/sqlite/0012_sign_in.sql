-- Failed sign-ins in a row, and when the account was locked by them: an administrator unlocks
-- it (`officer-unlock`, POST /api/v1/officers/{username}/unlock).
ALTER TABLE officers ADD COLUMN failed_sign_ins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE officers ADD COLUMN locked_at TEXT;
