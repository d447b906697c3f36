-- Illegal stopping is fined under the point of Decree 168/2024/NĐ-CP that the no-stopping zone's
-- sign or place names ("Cấm dừng xe và đỗ xe", a junction, a bridge...): its rows carry that case.
-- The service adds the shipped rows for a case the schedule has no row for at start.
ALTER TABLE fine_schedule ADD COLUMN zone_case TEXT;
