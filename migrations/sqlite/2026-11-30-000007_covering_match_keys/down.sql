DROP INDEX record_keys_value;
CREATE INDEX record_keys_value ON record_keys (record_type, kind, value);
