-- Events of one job in time order (the events endpoint, SSE catch-up by time).
-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY IF NOT EXISTS job_events_job_id_ts_idx ON job_events (job_id, ts);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS job_events_job_id_ts_idx;
