-- How far a consumer of the event feed has got: the dispatcher advances its cursor in the
-- transaction that enqueues the work the events ask for, so each event is routed once.
CREATE TABLE event_cursors (
    name TEXT PRIMARY KEY,
    tx_id BIGINT NOT NULL DEFAULT 0,
    position BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMP NOT NULL
);

-- Rate-limit windows shared by every process on one PostgreSQL database: a process adds what
-- it counted since its last sync and learns the total (SQLite is one process and counts in
-- memory; the table stays empty there).
CREATE TABLE rate_windows (
    key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_windows_by_start ON rate_windows (window_start);
