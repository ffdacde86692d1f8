-- The durable job queue every process works from. A job is claimed under a lease; each claim
-- raises fencing_token, and a finish or renewal that names an older token changes nothing.
CREATE TABLE jobs (
    id TEXT COLLATE "C" PRIMARY KEY,
    kind TEXT COLLATE "C" NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    run_at TIMESTAMP NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    unique_key TEXT COLLATE "C" ,
    lease_owner TEXT,
    lease_expires_at TIMESTAMP,
    fencing_token BIGINT NOT NULL DEFAULT 0,
    errors TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
-- "Enqueue unless already queued" is one INSERT ... ON CONFLICT DO NOTHING.
CREATE UNIQUE INDEX jobs_unique_live ON jobs (kind, unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('available', 'scheduled', 'running', 'retryable');
CREATE INDEX jobs_claimable ON jobs (run_at, priority) WHERE state IN ('available', 'scheduled', 'retryable');
CREATE INDEX jobs_leased ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_by_kind ON jobs (kind, state, id);
CREATE INDEX jobs_by_state ON jobs (state, id);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- The effects of `diagnostics.probe` jobs, by which admins (and the multi-process test) see the
-- queue work end to end: one row per job, `runs` counting how often a run reached its effect.
CREATE TABLE job_probes (
    job_id TEXT COLLATE "C" PRIMARY KEY,
    worker_id TEXT NOT NULL,
    runs INTEGER NOT NULL DEFAULT 1,
    enqueued_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP NOT NULL
);
