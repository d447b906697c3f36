-- Payments of fines through the gateway: one row per attempt (vnp_TxnRef), its final state
-- set once, by the gateway's signed IPN or by reconciliation through its query API.

CREATE TABLE payments (
    txn_ref         TEXT PRIMARY KEY,
    fine_id         TEXT NOT NULL REFERENCES notices (fine_id),
    citizen_id      TEXT NOT NULL,
    amount_vnd      INTEGER NOT NULL,
    create_date     TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    state           TEXT NOT NULL,
    response_code   TEXT,
    transaction_no  TEXT,
    bank_code       TEXT,
    pay_date        TEXT,
    settled_at      TEXT,
    settled_by      TEXT
);
CREATE INDEX payments_fine ON payments (fine_id);
CREATE INDEX payments_pending ON payments (state, created_at);
-- A fine is paid once.
CREATE UNIQUE INDEX payments_one_paid ON payments (fine_id) WHERE state = 'paid';
