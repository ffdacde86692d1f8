-- Workflow runs: one record going through one workflow, at the version it started with (the
-- whole document is kept, so editing a workflow never changes a run under way).
CREATE TABLE workflow_runs (
    id TEXT COLLATE "C" PRIMARY KEY,
    workflow_id TEXT COLLATE "C" NOT NULL,
    workflow_version BIGINT NOT NULL,
    workflow TEXT NOT NULL,
    record_type TEXT COLLATE "C" NOT NULL,
    record_id TEXT COLLATE "C" NOT NULL,
    -- The event that triggered it (none for a manual start) and its causation depth.
    event_id TEXT COLLATE "C",
    depth INTEGER NOT NULL,
    run_as TEXT COLLATE "C" NOT NULL,
    started_by TEXT COLLATE "C",
    -- queued, running, waiting, completed, failed, cancelled
    state TEXT COLLATE "C" NOT NULL,
    -- Where the run stands in the workflow's program.
    position INTEGER NOT NULL,
    wait_until TIMESTAMP,
    -- The email a send step waits for: the step ends when the SMTP server took it or refused it.
    waiting_for TEXT COLLATE "C",
    error TEXT,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (workflow_id, event_id)
);
CREATE INDEX workflow_runs_by_workflow ON workflow_runs (workflow_id, id);
CREATE INDEX workflow_runs_by_record ON workflow_runs (record_type, record_id);
CREATE INDEX workflow_runs_waiting ON workflow_runs (waiting_for) WHERE waiting_for IS NOT NULL;

-- Each step a run took: the row is written in the transaction of the step's effect, so
-- (run, position) names the effect once.
CREATE TABLE workflow_steps (
    run_id TEXT COLLATE "C" NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    step_type TEXT COLLATE "C" NOT NULL,
    -- completed, failed, skipped, waiting
    outcome TEXT COLLATE "C" NOT NULL,
    detail TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, position)
);

-- Whether a record has entered a workflow, matched when last looked at, and has a run under way.
CREATE TABLE workflow_enrollments (
    workflow_id TEXT COLLATE "C" NOT NULL,
    record_id TEXT COLLATE "C" NOT NULL,
    matching BOOLEAN NOT NULL,
    active_run_id TEXT COLLATE "C",
    entered_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (workflow_id, record_id)
);

-- The workflow clock (date and schedule triggers): up to when a workflow's dates and ticks are
-- handled, and the pass under way over the records of the next window (its end, and the last
-- record id taken).
CREATE TABLE workflow_clocks (
    workflow_id TEXT COLLATE "C" PRIMARY KEY,
    handled_until TIMESTAMP NOT NULL,
    pass_until TIMESTAMP,
    pass_cursor TEXT COLLATE "C",
    updated_at TIMESTAMP NOT NULL
);
