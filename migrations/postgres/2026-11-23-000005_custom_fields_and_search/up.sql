-- Admin-defined custom fields; values live in each record's custom_fields JSON.
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
