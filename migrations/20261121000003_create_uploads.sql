-- migrate:up
CREATE TABLE uploads (
    id           uuid PRIMARY KEY,
    key          text NOT NULL UNIQUE,
    bytes        bigint NOT NULL CHECK (bytes >= 0),
    filename     text,
    content_type text,
    media        jsonb NOT NULL DEFAULT '{}'::jsonb,
    duration_sec double precision,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);

-- migrate:down
DROP TABLE uploads;
