-- CSV imports run as background jobs. The uploaded file is kept in the row (so any process
-- sharing the database can run it) until the import finishes. A batch of rows commits together
-- with processed_rows, and only while its runner holds the lease at the position it read: a
-- crash loses the open batch, and the next runner redoes exactly that batch.
CREATE TABLE imports (
    id TEXT PRIMARY KEY,
    record_type TEXT NOT NULL,
    status TEXT NOT NULL,
    dedupe TEXT NOT NULL,
    file_name TEXT,
    headers TEXT NOT NULL,
    mapping TEXT NOT NULL,
    content TEXT NOT NULL,
    total_rows BIGINT NOT NULL,
    processed_rows BIGINT NOT NULL DEFAULT 0,
    created_count BIGINT NOT NULL DEFAULT 0,
    updated_count BIGINT NOT NULL DEFAULT 0,
    skipped_count BIGINT NOT NULL DEFAULT 0,
    failed_count BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    user_id TEXT NOT NULL,
    api_key_id TEXT,
    request_id TEXT,
    client_address TEXT,
    lease_owner TEXT,
    lease_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP
);
CREATE INDEX imports_claimable ON imports (status, created_at);
CREATE INDEX imports_by_user ON imports (user_id, id);

-- The rows an import could not take, with the row's own cells so a corrected file can be
-- made from the report.
CREATE TABLE import_errors (
    import_id TEXT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    row_number BIGINT NOT NULL,
    line BIGINT NOT NULL,
    errors TEXT NOT NULL,
    cells TEXT,
    PRIMARY KEY (import_id, row_number)
);
