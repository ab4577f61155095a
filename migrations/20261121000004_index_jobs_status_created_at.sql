-- CONCURRENTLY cannot run inside a transaction, hence transaction:false and one index per file.
-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_status_created_at_idx ON jobs (status, created_at);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS jobs_status_created_at_idx;
