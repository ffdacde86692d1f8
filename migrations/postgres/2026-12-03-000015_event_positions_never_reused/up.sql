-- PostgreSQL's BIGSERIAL never hands a position out twice; only SQLite's rowid did (see the
-- SQLite migration of the same name).
SELECT 1;
