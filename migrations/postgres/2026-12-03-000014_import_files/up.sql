-- The file of an import still to run, apart from the import's row: SQLite rewrites a whole
-- row on every update, so a file kept in the row was copied (megabytes) by each batch's
-- progress update. A finished import's file is deleted; purging an import deletes it too.
CREATE TABLE import_files (
    import_id TEXT PRIMARY KEY REFERENCES imports (id) ON DELETE CASCADE,
    content TEXT NOT NULL
);
INSERT INTO import_files (import_id, content) SELECT id, content FROM imports WHERE content <> '';
ALTER TABLE imports DROP COLUMN content;
