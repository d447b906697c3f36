-- A search of the queue by plate matches the plate read or the plate an officer corrected it to:
-- with both columns indexed, the search reads the matching rows only.
CREATE INDEX violations_corrected_plate ON violations (corrected_plate);
