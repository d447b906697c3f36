-- PostgreSQL's twin sets LZ4 compression on the violations' payload and event columns; SQLite
-- stores them as they are.
SELECT 1;
