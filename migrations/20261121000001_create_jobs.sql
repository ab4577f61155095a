-- migrate:up
CREATE TABLE jobs (
    id                uuid PRIMARY KEY,
    status            text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'processing', 'done', 'failed', 'canceled')),
    stage             text,
    progress          smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    request           jsonb NOT NULL,
    result            jsonb,
    error_code        text,
    error_message     text,
    attempts          integer NOT NULL DEFAULT 0,
    -- NULLs are distinct, so jobs without a key never collide.
    idempotency_key   text UNIQUE,
    -- No foreign key to uploads: retention deletes uploads and jobs independently.
    upload_key        text,
    -- Version of the last applied status write; writes carry a higher number or are ignored,
    -- which makes Temporal's at-least-once activity retries harmless.
    status_seq        integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    expires_at        timestamptz NOT NULL,
    last_heartbeat_at timestamptz
);

-- migrate:down
DROP TABLE jobs;
