-- Knowledge-base articles (Markdown bodies). The owner is the author.
CREATE TABLE articles (
    id TEXT COLLATE "C" PRIMARY KEY,
    title TEXT NOT NULL,
    sort_name TEXT COLLATE "C" NOT NULL,
    body TEXT NOT NULL,
    category TEXT,
    locale TEXT NOT NULL,
    status TEXT NOT NULL,
    related_ids TEXT NOT NULL DEFAULT '[]',
    owner_id TEXT COLLATE "C" REFERENCES users (id),
    team_id TEXT COLLATE "C" REFERENCES teams (id),
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
-- `q` (substring) asks the trigram index; the ranked search asks the word index.
CREATE INDEX articles_search ON articles USING gin (search_text gin_trgm_ops);
CREATE INDEX articles_words ON articles USING gin (to_tsvector('simple', search_text));
