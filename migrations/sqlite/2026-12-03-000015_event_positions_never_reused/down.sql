CREATE TABLE events_plain (
    position INTEGER PRIMARY KEY,
    tx_id BIGINT NOT NULL DEFAULT 0,
    id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    owner_id TEXT,
    team_id TEXT,
    actor_kind TEXT NOT NULL,
    actor_user_id TEXT,
    actor_api_key_id TEXT,
    request_id TEXT,
    causation_id TEXT,
    depth INTEGER NOT NULL DEFAULT 0,
    occurred_at TIMESTAMP NOT NULL,
    payload TEXT NOT NULL
);
INSERT INTO events_plain SELECT position, tx_id, id, event_type, record_type, record_id, owner_id, team_id,
    actor_kind, actor_user_id, actor_api_key_id, request_id, causation_id, depth, occurred_at, payload FROM events;
DROP TABLE events;
ALTER TABLE events_plain RENAME TO events;
CREATE INDEX events_feed ON events (tx_id, position);
CREATE INDEX events_type ON events (event_type, tx_id, position);
CREATE INDEX events_record ON events (record_type, record_id, tx_id, position);
CREATE INDEX events_time ON events (occurred_at);
