-- Serves retention of uploads (UploadRepo.delete_expired).
-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY IF NOT EXISTS uploads_expires_at_idx ON uploads (expires_at);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS uploads_expires_at_idx;
