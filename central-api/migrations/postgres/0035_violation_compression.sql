-- A violation's signed payload and its decoded event are a few kilobytes each, so PostgreSQL
-- compresses them into TOAST as it stores the row; with the default method (pglz) that was the
-- largest single cost of ingest in the database's profile. LZ4 compresses several times faster
-- at a similar ratio. It applies to rows written from now on, and only where the server was
-- built with LZ4 (every PostgreSQL 14+ package of the major distributions): elsewhere the
-- columns keep pglz.
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_settings
        WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)
    ) THEN
        ALTER TABLE violations
            ALTER COLUMN payload SET COMPRESSION lz4,
            ALTER COLUMN event SET COMPRESSION lz4;
    END IF;
END
$$;
