ALTER TABLE imports ADD COLUMN content TEXT NOT NULL DEFAULT '';
UPDATE imports SET content = (SELECT content FROM import_files WHERE import_files.import_id = imports.id)
WHERE id IN (SELECT import_id FROM import_files);
DROP TABLE import_files;
