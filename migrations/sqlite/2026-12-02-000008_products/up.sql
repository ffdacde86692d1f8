-- Products: the catalogue. A SKU is unique among live products (a deleted one frees it).
CREATE TABLE products (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    sort_name TEXT NOT NULL,
    sku TEXT,
    description TEXT,
    unit_price_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT 1,
    owner_id TEXT REFERENCES users (id),
    team_id TEXT REFERENCES teams (id),
    tags TEXT NOT NULL DEFAULT '[]',
    custom_fields TEXT NOT NULL DEFAULT '{}',
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE UNIQUE INDEX products_sku ON products (sku) WHERE deleted_at IS NULL AND sku IS NOT NULL;
CREATE INDEX products_created ON products (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX products_updated ON products (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX products_name ON products (sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX products_owner ON products (owner_id);
CREATE INDEX products_deleted ON products (deleted_at) WHERE deleted_at IS NOT NULL;

-- The index keeps no copy of the text (content=products); it is keyed by the table's rowid.
CREATE VIRTUAL TABLE products_search USING fts5(search_text, content='products', content_rowid='rowid', tokenize='trigram');
CREATE TRIGGER products_search_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
    INSERT INTO products_search (products_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;
CREATE TRIGGER products_search_update AFTER UPDATE OF search_text ON products BEGIN
    INSERT INTO products_search (products_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO products_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
