-- Serves retention: delete_expired scans jobs by expires_at.
-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_expires_at_idx ON jobs (expires_at);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS jobs_expires_at_idx;
