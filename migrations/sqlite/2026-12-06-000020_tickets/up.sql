-- Tickets: a customer's request to support. The requester is a contact; a purged contact
-- leaves its tickets without one (the API requires one on create).
CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    sort_name TEXT NOT NULL,
    description TEXT,
    requester_id TEXT REFERENCES contacts (id),
    company_id TEXT REFERENCES companies (id),
    channel TEXT NOT NULL,
    ticket_type TEXT NOT NULL,
    problem_id TEXT REFERENCES tickets (id),
    priority TEXT NOT NULL,
    category TEXT,
    tier TEXT NOT NULL,
    status TEXT NOT NULL,
    owner_id TEXT REFERENCES users (id),
    team_id TEXT REFERENCES teams (id),
    tags TEXT NOT NULL DEFAULT '[]',
    custom_fields TEXT NOT NULL DEFAULT '{}',
    search_text TEXT NOT NULL,
    first_replied_at TIMESTAMP,
    solved_at TIMESTAMP,
    closed_at TIMESTAMP,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE INDEX tickets_created ON tickets (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX tickets_updated ON tickets (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX tickets_name ON tickets (sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX tickets_owner ON tickets (owner_id);
CREATE INDEX tickets_requester ON tickets (requester_id);
CREATE INDEX tickets_company ON tickets (company_id);
CREATE INDEX tickets_problem ON tickets (problem_id) WHERE problem_id IS NOT NULL;
-- The auto-close job's walk: solved tickets by when they were solved.
CREATE INDEX tickets_solved ON tickets (solved_at, id) WHERE status = 'solved' AND deleted_at IS NULL;
CREATE INDEX tickets_deleted ON tickets (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE VIRTUAL TABLE tickets_search USING fts5(search_text, content='tickets', content_rowid='rowid', tokenize='trigram');
CREATE TRIGGER tickets_search_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO tickets_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER tickets_search_delete AFTER DELETE ON tickets BEGIN
    INSERT INTO tickets_search (tickets_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;
CREATE TRIGGER tickets_search_update AFTER UPDATE OF search_text ON tickets BEGIN
    INSERT INTO tickets_search (tickets_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO tickets_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;

-- Each reply on a ticket: who wrote it, whether the requester saw it, and the activity that
-- holds its text (on the ticket's and the requester's timelines). SLA clocks read these.
CREATE TABLE ticket_replies (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    activity_id TEXT REFERENCES activities (id) ON DELETE SET NULL,
    author TEXT NOT NULL,
    public BOOLEAN NOT NULL,
    replied_at TIMESTAMP NOT NULL,
    replied_by TEXT
);
CREATE INDEX ticket_replies_ticket ON ticket_replies (ticket_id, replied_at, id);

-- Each SLA alert raised, once per ticket, clock, kind and cycle (a next-reply clock restarts):
-- the check that fires at a clock's due time inserts here first, so a repeated or stale
-- check announces nothing twice.
CREATE TABLE sla_alerts (
    ticket_id TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    metric TEXT NOT NULL,
    alert TEXT NOT NULL,
    cycle_started_at TIMESTAMP NOT NULL,
    raised_at TIMESTAMP NOT NULL,
    PRIMARY KEY (ticket_id, metric, alert, cycle_started_at)
);
