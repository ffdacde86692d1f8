-- Identifiers and sort keys use the "C" collation so ordering (and keyset pagination)
-- is byte order, the same as on SQLite.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE instance_settings (
    key TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE roles (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    builtin BOOLEAN NOT NULL DEFAULT FALSE,
    grants TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX roles_name_key ON roles (lower(name));

CREATE TABLE users (
    id TEXT COLLATE "C" PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role_id TEXT COLLATE "C" NOT NULL REFERENCES roles (id),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE teams (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX teams_name_key ON teams (lower(name));

CREATE TABLE team_members (
    team_id TEXT COLLATE "C" NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE token_families (
    id TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

CREATE TABLE refresh_tokens (
    id TEXT COLLATE "C" PRIMARY KEY,
    family_id TEXT COLLATE "C" NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    token_hash TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE UNIQUE INDEX refresh_tokens_hash ON refresh_tokens (token_hash);

CREATE TABLE api_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT COLLATE "C" NOT NULL,
    role_id TEXT COLLATE "C" REFERENCES roles (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE UNIQUE INDEX api_keys_secret_hash ON api_keys (secret_hash);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE companies (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    sort_name TEXT COLLATE "C" NOT NULL,
    domain TEXT,
    industry TEXT,
    employee_count BIGINT,
    annual_revenue_minor BIGINT,
    annual_revenue_currency TEXT,
    phone TEXT,
    address TEXT,
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
CREATE INDEX companies_created ON companies (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_updated ON companies (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_name ON companies (sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_owner ON companies (owner_id);
CREATE INDEX companies_domain ON companies (domain);
CREATE INDEX companies_deleted ON companies (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX companies_search ON companies USING gin (search_text gin_trgm_ops);

CREATE TABLE contacts (
    id TEXT COLLATE "C" PRIMARY KEY,
    first_name TEXT,
    last_name TEXT,
    sort_name TEXT COLLATE "C" NOT NULL,
    emails TEXT NOT NULL DEFAULT '[]',
    phones TEXT NOT NULL DEFAULT '[]',
    primary_email TEXT,
    job_title TEXT,
    company_id TEXT COLLATE "C" REFERENCES companies (id),
    owner_id TEXT COLLATE "C" REFERENCES users (id),
    team_id TEXT COLLATE "C" REFERENCES teams (id),
    tags TEXT NOT NULL DEFAULT '[]',
    address TEXT,
    source TEXT,
    lifecycle_stage TEXT,
    notes TEXT,
    custom_fields TEXT NOT NULL DEFAULT '{}',
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE INDEX contacts_created ON contacts (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_updated ON contacts (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_name ON contacts (sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_owner ON contacts (owner_id);
CREATE INDEX contacts_company ON contacts (company_id);
CREATE INDEX contacts_primary_email ON contacts (primary_email);
CREATE INDEX contacts_deleted ON contacts (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX contacts_search ON contacts USING gin (search_text gin_trgm_ops);

CREATE TABLE idempotency_keys (
    caller_id TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    location TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (caller_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
