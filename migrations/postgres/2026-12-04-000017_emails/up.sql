-- Email to send and sent (an outbox): the message is rendered when asked for, so what is sent
-- is what the sender previewed; a job (email.send) hands it to the SMTP server and records the
-- outcome, and a sent email about a record becomes an activity on its timeline.
CREATE TABLE emails (
    id TEXT COLLATE "C" PRIMARY KEY,
    -- record (about a record: logged as an activity once sent) or notification (to a user)
    purpose TEXT COLLATE "C" NOT NULL,
    template_id TEXT COLLATE "C",
    record_type TEXT COLLATE "C",
    record_id TEXT COLLATE "C",
    sender_id TEXT COLLATE "C" NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    html TEXT,
    text TEXT,
    -- queued, sent or failed
    state TEXT NOT NULL,
    message_id TEXT NOT NULL,
    error TEXT,
    activity_id TEXT COLLATE "C",
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX emails_record ON emails (record_type, record_id, id);
CREATE INDEX emails_age ON emails (created_at);
