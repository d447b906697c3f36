-- The citizen portal: sign-ins in flight (OIDC state, nonce and PKCE verifier, used once),
-- sessions (the token stored as its SHA-256 only), and the citizen's answer to each fine.

CREATE TABLE sign_ins (
    state       TEXT PRIMARY KEY,
    nonce       TEXT NOT NULL,
    verifier    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    token_sha256 TEXT PRIMARY KEY,
    citizen_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);

-- Confirmed or disputed, once per fine, by its owner.
CREATE TABLE responses (
    fine_id     TEXT PRIMARY KEY REFERENCES notices (fine_id),
    citizen_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    answered_at TIMESTAMPTZ NOT NULL
);
