-- Run history and cursors (PostgreSQL, production).
CREATE TABLE IF NOT EXISTS sync_runs (
    id             BIGSERIAL   PRIMARY KEY,
    job            TEXT        NOT NULL,
    trigger        TEXT        NOT NULL CHECK (trigger IN ('schedule', 'manual', 'backfill')),
    status         TEXT        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'abandoned')),
    started_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at    TIMESTAMPTZ,
    window_start   TIMESTAMPTZ,
    window_end     TIMESTAMPTZ,
    events_read    BIGINT      NOT NULL DEFAULT 0,
    events_skipped BIGINT      NOT NULL DEFAULT 0,
    conversions    BIGINT      NOT NULL DEFAULT 0,
    touchpoints    BIGINT      NOT NULL DEFAULT 0,
    credits        BIGINT      NOT NULL DEFAULT 0,
    ad_metric_rows BIGINT      NOT NULL DEFAULT 0,
    rows_written   BIGINT      NOT NULL DEFAULT 0,
    error          TEXT,
    host           TEXT        NOT NULL,
    pid            INTEGER     NOT NULL,
    version        TEXT        NOT NULL,
    details        JSONB,
    abandoned_at   TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS sync_runs_job_started ON sync_runs (job, started_at DESC);
CREATE INDEX IF NOT EXISTS sync_runs_unfinished ON sync_runs (job) WHERE status = 'running';

CREATE TABLE IF NOT EXISTS source_cursors (
    source     TEXT        NOT NULL,
    partition  TEXT        NOT NULL,
    position   TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    run_id     BIGINT      REFERENCES sync_runs (id) ON DELETE SET NULL,
    PRIMARY KEY (source, partition)
);

COMMENT ON TABLE sync_runs IS 'One row per attrsync run: what it read, wrote, and how it ended.';
COMMENT ON TABLE source_cursors IS 'Committed read positions; moved only after the sink acknowledged every row.';
