-- Products: the catalogue. A SKU is unique among live products (a deleted one frees it).
CREATE TABLE products (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    sort_name TEXT COLLATE "C" NOT NULL,
    sku TEXT COLLATE "C",
    description TEXT,
    unit_price_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    owner_id TEXT COLLATE "C" REFERENCES users (id),
    team_id TEXT COLLATE "C" REFERENCES teams (id),
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
CREATE INDEX products_search ON products USING gin (search_text gin_trgm_ops);
