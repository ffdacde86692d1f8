-- Knowledge-base articles (Markdown bodies). The owner is the author.
CREATE TABLE articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    sort_name TEXT NOT NULL,
    body TEXT NOT NULL,
    category TEXT,
    locale TEXT NOT NULL,
    status TEXT NOT NULL,
    related_ids TEXT NOT NULL DEFAULT '[]',
    owner_id TEXT REFERENCES users (id),
    team_id TEXT REFERENCES teams (id),
    tags TEXT NOT NULL DEFAULT '[]',
    custom_fields TEXT NOT NULL DEFAULT '{}',
    search_text TEXT NOT NULL,
    published_at TIMESTAMP,
    view_count BIGINT NOT NULL DEFAULT 0,
    helpful_count BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE INDEX articles_created ON articles (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX articles_updated ON articles (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX articles_name ON articles (sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX articles_owner ON articles (owner_id);
CREATE INDEX articles_deleted ON articles (deleted_at) WHERE deleted_at IS NOT NULL;

-- One FTS5 index serves both `q` (substring, trigram) and the ranked search (bm25).
CREATE VIRTUAL TABLE articles_search USING fts5(search_text, content='articles', content_rowid='rowid', tokenize='trigram');
CREATE TRIGGER articles_search_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER articles_search_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_search (articles_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;
CREATE TRIGGER articles_search_update AFTER UPDATE OF search_text ON articles BEGIN
    INSERT INTO articles_search (articles_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO articles_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
