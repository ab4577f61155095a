-- migrate:up
CREATE TABLE job_events (
    id        bigserial PRIMARY KEY,
    job_id    uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    ts        timestamptz NOT NULL DEFAULT now(),
    type      text NOT NULL,
    data      jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- A writer that may run twice (a retried activity) names its event; the replay then
    -- inserts nothing. Events without a key (NULL) are never deduplicated.
    event_key text,
    CONSTRAINT job_events_job_id_event_key_key UNIQUE (job_id, event_key)
);

-- migrate:down
DROP TABLE job_events;
