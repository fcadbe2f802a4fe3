-- Per-run data quality (reconciliation, identity, coverage, checksums) as JSON.
ALTER TABLE sync_runs ADD COLUMN quality TEXT;
