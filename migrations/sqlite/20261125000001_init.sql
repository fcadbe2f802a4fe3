-- Run history and cursors (SQLite, the embedded default).
CREATE TABLE IF NOT EXISTS sync_runs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    job            TEXT    NOT NULL,
    trigger        TEXT    NOT NULL CHECK (trigger IN ('schedule', 'manual', 'backfill')),
    status         TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'abandoned')),
    started_at     TEXT    NOT NULL,
    finished_at    TEXT,
    window_start   TEXT,
    window_end     TEXT,
    events_read    INTEGER NOT NULL DEFAULT 0,
    events_skipped INTEGER NOT NULL DEFAULT 0,
    conversions    INTEGER NOT NULL DEFAULT 0,
    touchpoints    INTEGER NOT NULL DEFAULT 0,
    credits        INTEGER NOT NULL DEFAULT 0,
    ad_metric_rows INTEGER NOT NULL DEFAULT 0,
    rows_written   INTEGER NOT NULL DEFAULT 0,
    error          TEXT,
    host           TEXT    NOT NULL,
    pid            INTEGER NOT NULL,
    version        TEXT    NOT NULL,
    details        TEXT,
    abandoned_at   TEXT
);
CREATE INDEX IF NOT EXISTS sync_runs_job_started ON sync_runs (job, started_at);
CREATE INDEX IF NOT EXISTS sync_runs_status ON sync_runs (status);

CREATE TABLE IF NOT EXISTS source_cursors (
    source     TEXT NOT NULL,
    partition  TEXT NOT NULL,
    position   TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    run_id     INTEGER,
    PRIMARY KEY (source, partition)
);
