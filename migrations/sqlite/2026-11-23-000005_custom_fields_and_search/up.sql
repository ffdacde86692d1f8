-- Admin-defined custom fields (values live in each record's custom_fields JSON), and a
-- trigram full-text index per record table so substring search is not a table scan.
-- (PostgreSQL has had pg_trgm GIN indexes on search_text since the tables were created.)
CREATE TABLE custom_fields (
    id TEXT PRIMARY KEY,
    record_type TEXT NOT NULL,
    field_key TEXT NOT NULL,
    label TEXT NOT NULL,
    field_type TEXT NOT NULL,
    required BOOLEAN NOT NULL,
    default_value TEXT,
    help_text TEXT,
    position INTEGER NOT NULL,
    options TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX custom_fields_key ON custom_fields (record_type, field_key);

-- The index keeps no copy of the text (content=contacts); it is keyed by the table's rowid.
CREATE VIRTUAL TABLE contacts_search USING fts5(search_text, content='contacts', content_rowid='rowid', tokenize='trigram');
INSERT INTO contacts_search (contacts_search) VALUES ('rebuild');
CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_search (contacts_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;
CREATE TRIGGER contacts_search_update AFTER UPDATE OF search_text ON contacts BEGIN
    INSERT INTO contacts_search (contacts_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO contacts_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;

-- The index keeps no copy of the text (content=companies); it is keyed by the table's rowid.
CREATE VIRTUAL TABLE companies_search USING fts5(search_text, content='companies', content_rowid='rowid', tokenize='trigram');
INSERT INTO companies_search (companies_search) VALUES ('rebuild');
CREATE TRIGGER companies_search_insert AFTER INSERT ON companies BEGIN
    INSERT INTO companies_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER companies_search_delete AFTER DELETE ON companies BEGIN
    INSERT INTO companies_search (companies_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;
CREATE TRIGGER companies_search_update AFTER UPDATE OF search_text ON companies BEGIN
    INSERT INTO companies_search (companies_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO companies_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;

-- The index keeps no copy of the text (content=leads); it is keyed by the table's rowid.
CREATE VIRTUAL TABLE leads_search USING fts5(search_text, content='leads', content_rowid='rowid', tokenize='trigram');
INSERT INTO leads_search (leads_search) VALUES ('rebuild');
CREATE TRIGGER leads_search_insert AFTER INSERT ON leads BEGIN
    INSERT INTO leads_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER leads_search_delete AFTER DELETE ON leads BEGIN
    INSERT INTO leads_search (leads_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;
CREATE TRIGGER leads_search_update AFTER UPDATE OF search_text ON leads BEGIN
    INSERT INTO leads_search (leads_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO leads_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;

-- The index keeps no copy of the text (content=deals); it is keyed by the table's rowid.
CREATE VIRTUAL TABLE deals_search USING fts5(search_text, content='deals', content_rowid='rowid', tokenize='trigram');
INSERT INTO deals_search (deals_search) VALUES ('rebuild');
CREATE TRIGGER deals_search_insert AFTER INSERT ON deals BEGIN
    INSERT INTO deals_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER deals_search_delete AFTER DELETE ON deals BEGIN
    INSERT INTO deals_search (deals_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;
CREATE TRIGGER deals_search_update AFTER UPDATE OF search_text ON deals BEGIN
    INSERT INTO deals_search (deals_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO deals_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
