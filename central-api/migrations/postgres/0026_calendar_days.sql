-- The days the deployment records against the week's rule, for the periods counted in working
-- days: a weekday off (the lunar New Year, the day next to National Day, the Hùng Kings' day, a
-- day off in place of a holiday that fell on a weekend) or a weekend day worked in exchange,
-- each from the year's official announcement (Labour Code, Law 45/2019/QH14, Article 112).
-- `day` is YYYY-MM-DD, Vietnam's calendar.
CREATE TABLE calendar_days (
    day         TEXT PRIMARY KEY,
    off         BOOLEAN NOT NULL,
    name        TEXT NOT NULL,
    reference   TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
