-- Duplicate lookups read (record_id, kind) by (record_type, kind, value). Without record_id in
-- this index, SQLite prefers scanning every key of the record type through the primary key (it
-- covers the query): an O(n) lookup per create, and O(n^2) for an import.
DROP INDEX record_keys_value;
CREATE INDEX record_keys_value ON record_keys (record_type, kind, value, record_id);
