-- Domain events: written in the transaction of the change they describe. A feed reads them in
-- (tx_id, position) order and only below the oldest running transaction, so a poller never
-- skips an event that commits after a later one (see persistence/src/events.rs).
CREATE TABLE events (
    position BIGSERIAL PRIMARY KEY,
    tx_id BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    event_type TEXT COLLATE "C" NOT NULL,
    record_type TEXT COLLATE "C" NOT NULL,
    record_id TEXT COLLATE "C" NOT NULL,
    owner_id TEXT COLLATE "C",
    team_id TEXT COLLATE "C",
    actor_kind TEXT NOT NULL,
    actor_user_id TEXT COLLATE "C",
    actor_api_key_id TEXT COLLATE "C",
    request_id TEXT,
    causation_id TEXT COLLATE "C",
    depth INTEGER NOT NULL DEFAULT 0,
    occurred_at TIMESTAMP NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX events_feed ON events (tx_id, position);
CREATE INDEX events_type ON events (event_type, tx_id, position);
CREATE INDEX events_record ON events (record_type, record_id, tx_id, position);
CREATE INDEX events_time ON events (occurred_at);
