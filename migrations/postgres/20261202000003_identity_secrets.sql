-- The store's identity: output written by this store is marked with it, so another store's
-- runs (whose ids restart at 1) can never overwrite it.
CREATE TABLE IF NOT EXISTS store_identity (
    id         TEXT        PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO store_identity (id)
SELECT md5(random()::text || clock_timestamp()::text || pg_backend_pid()::text)
WHERE NOT EXISTS (SELECT 1 FROM store_identity);

-- Secrets attrsync learns at run time (a rotated refresh token), encrypted with AES-256-GCM.
CREATE TABLE IF NOT EXISTS stored_secrets (
    name       TEXT        PRIMARY KEY,
    nonce      TEXT        NOT NULL,
    ciphertext TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

COMMENT ON TABLE store_identity IS 'One row: this run store''s id, which marks the output it owns.';
COMMENT ON TABLE stored_secrets IS 'Rotated credentials, AES-256-GCM encrypted with secrets.key_file / ATTRSYNC__SECRETS__KEY.';
