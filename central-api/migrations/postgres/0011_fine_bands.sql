-- Speeding bands bounded as the decree writes them: "từ 10 km/h đến 20 km/h" includes both
-- bounds, "trên 20 km/h đến 35 km/h" only the upper one, "từ 05 km/h đến dưới 10 km/h" only the
-- lower one. Existing rows keep the meaning they had (lower included, upper not).
ALTER TABLE fine_schedule ADD COLUMN over_kmh_from_included BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE fine_schedule ADD COLUMN over_kmh_to_included BOOLEAN NOT NULL DEFAULT FALSE;

-- The first shipped schedule had errors of entry (points, bands, references checked against the
-- decree's text since). Those rows -- still unverified, from the decree's first day, written
-- "Nghị định 168/2024/NĐ-CP, Điều ..." -- are removed; the service seeds the corrected schedule
-- into an empty table at start. A violation already decided keeps the amount, points and
-- reference it was decided with (they are copied into its fine).
DELETE FROM fine_schedule
 WHERE verify
   AND effective_from = DATE '2025-01-01'
   AND reference LIKE 'Nghị định 168/2024/NĐ-CP, Điều %';
