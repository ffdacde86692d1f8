-- Keys duplicate detection matches on (normalised emails, phones, domains and names), one
-- row each, kept in the same transaction as the record; and where a merged record went.
CREATE TABLE record_keys (
    record_type TEXT COLLATE "C" NOT NULL,
    record_id TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    value TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (record_type, record_id, kind, value)
);
CREATE INDEX record_keys_value ON record_keys (record_type, kind, value);
ALTER TABLE contacts ADD COLUMN merged_into TEXT COLLATE "C";
ALTER TABLE companies ADD COLUMN merged_into TEXT COLLATE "C";
-- Keys of the records that exist already (names are keyed when next saved).
INSERT INTO record_keys (record_type, record_id, kind, value)
    SELECT DISTINCT 'contact', c.id, 'email', e ->> 'email' FROM contacts c, jsonb_array_elements(c.emails::jsonb) e;
INSERT INTO record_keys (record_type, record_id, kind, value)
    SELECT DISTINCT 'contact', c.id, 'phone', p ->> 'number' FROM contacts c, jsonb_array_elements(c.phones::jsonb) p;
INSERT INTO record_keys (record_type, record_id, kind, value)
    SELECT 'company', id, 'domain', domain FROM companies WHERE domain IS NOT NULL;
INSERT INTO record_keys (record_type, record_id, kind, value)
    SELECT 'company', id, 'phone', phone FROM companies WHERE phone IS NOT NULL;
