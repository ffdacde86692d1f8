-- Outbound webhooks. An endpoint is a definition (kind 'webhook_endpoint': URL, event types,
-- active); what deliveries need besides it lives here: the signing secrets and the failure
-- state, which change without the admin's document changing its version.
CREATE TABLE webhook_secrets (
    endpoint_id TEXT PRIMARY KEY REFERENCES definitions (id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    -- The secret before the last rotation, still signed with until previous_expires_at.
    previous_secret TEXT,
    previous_expires_at TIMESTAMP,
    -- Since when every attempt has failed (none while the last one succeeded).
    failing_since TIMESTAMP,
    -- Why deliveries turned the endpoint off, until an admin turns it on again.
    disabled_reason TEXT,
    updated_at TIMESTAMP NOT NULL
);

-- One event for one endpoint: the body is fixed when the event is routed, so every attempt
-- (and its signature) covers the same bytes; the id is the stable `webhook-id`.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES definitions (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    -- pending (an attempt is queued), succeeded, failed (attempts spent or the endpoint off)
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    last_status INTEGER,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_age ON webhook_deliveries (created_at);

-- Each request made for a delivery, as sent and as answered (up to 4 KB of the body).
CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    -- scheduled (first try or a retry) or replay (asked for by an admin)
    cause TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    duration_ms BIGINT NOT NULL,
    url TEXT NOT NULL,
    request_headers TEXT NOT NULL,
    status INTEGER,
    response_headers TEXT,
    response_body TEXT,
    error TEXT,
    UNIQUE (delivery_id, attempt)
);
