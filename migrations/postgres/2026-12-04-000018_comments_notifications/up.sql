-- Comments on any record, with the users and teams they mention resolved to ids.
CREATE TABLE comments (
    id TEXT COLLATE "C" PRIMARY KEY,
    record_type TEXT COLLATE "C" NOT NULL,
    record_id TEXT COLLATE "C" NOT NULL,
    author_id TEXT COLLATE "C" NOT NULL,
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
    id TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT COLLATE "C" NOT NULL,
    record_type TEXT COLLATE "C",
    record_id TEXT COLLATE "C",
    actor_id TEXT COLLATE "C",
    comment_id TEXT COLLATE "C",
    -- What one request did to the user is one notification (an import's records for them):
    -- its request id, and how many changes the notification stands for.
    group_key TEXT COLLATE "C",
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
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT COLLATE "C" NOT NULL,
    in_app BOOLEAN NOT NULL,
    email BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, kind)
);
