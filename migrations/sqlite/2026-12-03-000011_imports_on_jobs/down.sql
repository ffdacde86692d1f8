ALTER TABLE imports ADD COLUMN lease_owner TEXT;
ALTER TABLE imports ADD COLUMN lease_until TIMESTAMP;
CREATE INDEX imports_claimable ON imports (status, created_at);
DELETE FROM jobs WHERE kind = 'imports.run';
