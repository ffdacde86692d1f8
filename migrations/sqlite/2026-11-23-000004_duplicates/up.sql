-- Keys duplicate detection matches on (normalised emails, phones, domains and names), one
-- row each, kept in the same transaction as the record; and where a merged record went.
CREATE TABLE record_keys (
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (record_type, record_id, kind, value)
);
CREATE INDEX record_keys_value ON record_keys (record_type, kind, value);
ALTER TABLE contacts ADD COLUMN merged_into TEXT;
ALTER TABLE companies ADD COLUMN merged_into TEXT;
-- Keys of the records that exist already (names are keyed when next saved).
INSERT OR IGNORE INTO record_keys (record_type, record_id, kind, value)
    SELECT 'contact', c.id, 'email', json_extract(e.value, '$.email') FROM contacts c, json_each(c.emails) e;
INSERT OR IGNORE INTO record_keys (record_type, record_id, kind, value)
    SELECT 'contact', c.id, 'phone', json_extract(p.value, '$.number') FROM contacts c, json_each(c.phones) p;
INSERT OR IGNORE INTO record_keys (record_type, record_id, kind, value)
    SELECT 'company', id, 'domain', domain FROM companies WHERE domain IS NOT NULL;
INSERT OR IGNORE INTO record_keys (record_type, record_id, kind, value)
    SELECT 'company', id, 'phone', phone FROM companies WHERE phone IS NOT NULL;
