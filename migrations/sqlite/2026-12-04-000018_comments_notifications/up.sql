-- Comments on any record, with the users and teams they mention resolved to ids.
CREATE TABLE comments (
    id TEXT PRIMARY KEY,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    author_id TEXT NOT NULL,
    body TEXT NOT NULL,
    -- JSON: [{"kind": "user"|"team", "id": ..., "text": "@..."}]
    mentions TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX comments_record ON comments (record_type, record_id, id);

-- A user's notification feed: mentions, assignments, and what automation tells them.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    record_type TEXT,
    record_id TEXT,
    actor_id TEXT,
    comment_id TEXT,
    -- What one request did to the user is one notification (an import's records for them):
    -- its request id, and how many changes the notification stands for.
    group_key TEXT,
    count INTEGER NOT NULL DEFAULT 1,
    message TEXT NOT NULL,
    read_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX notifications_feed ON notifications (user_id, id);
CREATE INDEX notifications_unread ON notifications (user_id, id) WHERE read_at IS NULL;
CREATE INDEX notifications_group ON notifications (user_id, kind, group_key) WHERE read_at IS NULL;

-- Per user and notification kind: shown in the feed, and sent by email (absent: the defaults).
CREATE TABLE notification_preferences (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    in_app BOOLEAN NOT NULL,
    email BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, kind)
);
