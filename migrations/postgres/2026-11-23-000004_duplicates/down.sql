DROP TABLE record_keys;
ALTER TABLE contacts DROP COLUMN merged_into;
ALTER TABLE companies DROP COLUMN merged_into;
