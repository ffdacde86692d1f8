-- Imports run as jobs of the queue (kind `imports.run`), whose lease and fencing token replace
-- the import's own lease. An import waiting or running at the upgrade gets its job here.
INSERT INTO jobs (id, kind, payload, state, priority, run_at, max_attempts, unique_key, created_at, updated_at)
SELECT 'import-' || id, 'imports.run', '{"import_id":"' || id || '"}', 'available', 0, CURRENT_TIMESTAMP, 20, id,
       CURRENT_TIMESTAMP, CURRENT_TIMESTAMP
FROM imports WHERE status IN ('queued', 'running');
DROP INDEX imports_claimable;
ALTER TABLE imports DROP COLUMN lease_owner;
ALTER TABLE imports DROP COLUMN lease_until;
