-- Each time a citizen took away what the portal holds about them (Law 91/2025/QH15, Article 4
-- clause 1 point d): who, in which format, when. Kept as the record of the export.

CREATE TABLE data_exports (
    id          BIGSERIAL PRIMARY KEY,
    citizen_id  TEXT NOT NULL,
    format      TEXT NOT NULL,
    exported_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX data_exports_citizen ON data_exports (citizen_id, exported_at);
