-- The store's identity: output written by this store is marked with it, so another store's
-- runs (whose ids restart at 1) can never overwrite it.
CREATE TABLE IF NOT EXISTS store_identity (
    id         TEXT PRIMARY KEY NOT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO store_identity (id, created_at)
SELECT lower(hex(randomblob(16))), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE NOT EXISTS (SELECT 1 FROM store_identity);

-- Secrets attrsync learns at run time (a rotated refresh token), encrypted with AES-256-GCM.
CREATE TABLE IF NOT EXISTS stored_secrets (
    name       TEXT PRIMARY KEY NOT NULL,
    nonce      TEXT NOT NULL,
    ciphertext TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
