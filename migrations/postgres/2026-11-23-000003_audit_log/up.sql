-- Who did what to which record, when and from where: record changes with field-level
-- before/after, and security events (sign-ins, denials, API keys). Written in the same
-- transaction as the change it describes; never holds secrets.
CREATE TABLE audit_events (
    id TEXT COLLATE "C" PRIMARY KEY,
    occurred_at TIMESTAMP NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    record_type TEXT COLLATE "C",
    record_id TEXT COLLATE "C",
    actor_user_id TEXT COLLATE "C",
    actor_api_key_id TEXT COLLATE "C",
    request_id TEXT,
    client_address TEXT,
    changes TEXT,
    detail TEXT
);
CREATE INDEX audit_events_record ON audit_events (record_type, record_id, occurred_at, id);
CREATE INDEX audit_events_time ON audit_events (occurred_at, id);
CREATE INDEX audit_events_actor ON audit_events (actor_user_id, occurred_at, id);
CREATE INDEX audit_events_action ON audit_events (action, occurred_at, id);
