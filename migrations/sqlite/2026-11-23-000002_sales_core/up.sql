-- Sales core: pipelines and stages, leads, deals, activities, tasks, their links to records,
-- lead engagement events, stage/status history, and admin definitions (forms and rules).
CREATE TABLE pipelines (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX pipelines_name_key ON pipelines (lower(name));

CREATE TABLE pipeline_stages (
    id TEXT PRIMARY KEY,
    pipeline_id TEXT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    probability INTEGER NOT NULL,
    kind TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX pipeline_stages_pipeline ON pipeline_stages (pipeline_id, position);

CREATE TABLE leads (
    id TEXT PRIMARY KEY,
    first_name TEXT,
    last_name TEXT,
    sort_name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    company_name TEXT,
    job_title TEXT,
    website TEXT,
    industry TEXT,
    country TEXT,
    employee_count BIGINT,
    source TEXT,
    campaign TEXT,
    status TEXT NOT NULL,
    score BIGINT NOT NULL DEFAULT 0,
    owner_id TEXT REFERENCES users (id),
    team_id TEXT REFERENCES teams (id),
    tags TEXT NOT NULL DEFAULT '[]',
    notes TEXT,
    conversion TEXT,
    custom_fields TEXT NOT NULL DEFAULT '{}',
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE INDEX leads_created ON leads (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX leads_updated ON leads (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX leads_name ON leads (sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX leads_owner ON leads (owner_id);
CREATE INDEX leads_email ON leads (email, status) WHERE deleted_at IS NULL;
CREATE INDEX leads_deleted ON leads (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE deals (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    sort_name TEXT NOT NULL,
    amount_minor BIGINT,
    currency TEXT,
    expected_close_date DATE,
    pipeline_id TEXT NOT NULL REFERENCES pipelines (id),
    stage_id TEXT NOT NULL REFERENCES pipeline_stages (id),
    owner_id TEXT REFERENCES users (id),
    team_id TEXT REFERENCES teams (id),
    company_id TEXT REFERENCES companies (id),
    contact_ids TEXT NOT NULL DEFAULT '[]',
    next_step TEXT,
    close_reason TEXT,
    closed_at TIMESTAMP,
    lead_id TEXT REFERENCES leads (id),
    tags TEXT NOT NULL DEFAULT '[]',
    custom_fields TEXT NOT NULL DEFAULT '{}',
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE INDEX deals_created ON deals (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX deals_updated ON deals (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX deals_name ON deals (sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX deals_owner ON deals (owner_id);
CREATE INDEX deals_stage ON deals (stage_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX deals_pipeline_close ON deals (pipeline_id, expected_close_date) WHERE deleted_at IS NULL;
CREATE INDEX deals_company ON deals (company_id);
CREATE INDEX deals_deleted ON deals (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE activities (
    id TEXT PRIMARY KEY,
    activity_type TEXT NOT NULL,
    subject TEXT,
    sort_name TEXT NOT NULL,
    body TEXT,
    direction TEXT,
    occurred_at TIMESTAMP NOT NULL,
    duration_seconds BIGINT,
    outcome TEXT,
    participants TEXT NOT NULL DEFAULT '[]',
    links TEXT NOT NULL DEFAULT '[]',
    owner_id TEXT REFERENCES users (id),
    team_id TEXT REFERENCES teams (id),
    tags TEXT NOT NULL DEFAULT '[]',
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE INDEX activities_created ON activities (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX activities_updated ON activities (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX activities_name ON activities (sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX activities_occurred ON activities (occurred_at, id) WHERE deleted_at IS NULL;
CREATE INDEX activities_owner ON activities (owner_id);
CREATE INDEX activities_deleted ON activities (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    sort_name TEXT NOT NULL,
    description TEXT,
    due_at TIMESTAMP,
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    owner_id TEXT REFERENCES users (id),
    team_id TEXT REFERENCES teams (id),
    links TEXT NOT NULL DEFAULT '[]',
    reminder_at TIMESTAMP,
    reminder_acknowledged_at TIMESTAMP,
    completed_at TIMESTAMP,
    activity_id TEXT REFERENCES activities (id),
    tags TEXT NOT NULL DEFAULT '[]',
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE INDEX tasks_created ON tasks (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX tasks_updated ON tasks (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX tasks_name ON tasks (sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX tasks_owner_due ON tasks (owner_id, status, due_at);
CREATE INDEX tasks_reminders ON tasks (owner_id, reminder_at) WHERE reminder_acknowledged_at IS NULL AND deleted_at IS NULL;
CREATE INDEX tasks_deleted ON tasks (deleted_at) WHERE deleted_at IS NOT NULL;

-- Which records an activity or task is about; the timeline reads it from the record's side.
CREATE TABLE record_links (
    item_type TEXT NOT NULL,
    item_id TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (item_type, item_id, record_type, record_id)
);
CREATE INDEX record_links_record ON record_links (record_type, record_id, item_type);

-- Stage changes of deals and status changes of leads, with who and when.
CREATE TABLE record_changes (
    id TEXT PRIMARY KEY,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    field TEXT NOT NULL,
    from_value TEXT,
    to_value TEXT NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    changed_by TEXT,
    api_key_id TEXT
);
CREATE INDEX record_changes_record ON record_changes (record_type, record_id, changed_at, id);

CREATE TABLE lead_events (
    id TEXT PRIMARY KEY,
    lead_id TEXT NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    properties TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX lead_events_lead ON lead_events (lead_id, occurred_at);

-- Admin-defined documents (web forms, scoring rules, assignment rules), validated by the
-- domain as a whole. `counter` drives round-robin; `lookup_key` is a form's public key.
CREATE TABLE definitions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    lookup_key TEXT,
    body TEXT NOT NULL,
    position INTEGER NOT NULL,
    counter BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX definitions_lookup_key ON definitions (lookup_key);
CREATE INDEX definitions_kind ON definitions (kind, position, id);
