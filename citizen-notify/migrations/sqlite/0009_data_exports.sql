-- Each time a citizen took away what the portal holds about them (SQLite twin).

CREATE TABLE data_exports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    citizen_id  TEXT NOT NULL,
    format      TEXT NOT NULL,
    exported_at TEXT NOT NULL
);
CREATE INDEX data_exports_citizen ON data_exports (citizen_id, exported_at);
