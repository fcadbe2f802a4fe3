-- Per-run data quality (reconciliation, identity, coverage, checksums).
ALTER TABLE sync_runs ADD COLUMN IF NOT EXISTS quality JSONB;
COMMENT ON COLUMN sync_runs.quality IS 'Quality score, verdict, reconciliation counts, identity and coverage shares, row-key checksums.';
