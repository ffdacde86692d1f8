-- A survey sent to a contact about a touchpoint (a ticket, a deal, or none). The link's token
-- is kept only as its SHA-256, so the table cannot be used to answer for anyone. Owner and
-- team come from the touchpoint (else the contact) when it is sent, for results by team and
-- owner; they are not a grant.
CREATE TABLE survey_requests (
    id TEXT PRIMARY KEY,
    survey_id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    contact_id TEXT REFERENCES contacts (id) ON DELETE SET NULL,
    company_id TEXT REFERENCES companies (id) ON DELETE SET NULL,
    touchpoint_type TEXT NOT NULL,
    touchpoint_id TEXT,
    owner_id TEXT,
    team_id TEXT,
    email_id TEXT,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL,
    answered_at TIMESTAMP
);
CREATE INDEX survey_requests_survey ON survey_requests (survey_id, created_at, id);
CREATE INDEX survey_requests_contact ON survey_requests (contact_id);

-- One answer per request: the primary key refuses a second.
CREATE TABLE survey_responses (
    request_id TEXT PRIMARY KEY REFERENCES survey_requests (id) ON DELETE CASCADE,
    survey_id TEXT NOT NULL,
    score INTEGER NOT NULL,
    comment TEXT,
    activity_id TEXT,
    answered_at TIMESTAMP NOT NULL
);
CREATE INDEX survey_responses_survey ON survey_responses (survey_id, answered_at);
