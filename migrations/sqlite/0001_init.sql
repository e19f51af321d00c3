-- Cirrus schema, SQLite. Migrations are append-only: never edit a landed file.
CREATE TABLE admin_credentials (
    access_key_id TEXT PRIMARY KEY,
    secret_sealed BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE user_pools (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    settings          TEXT NOT NULL,
    schema_attributes TEXT NOT NULL
);

CREATE TABLE app_clients (
    client_id     TEXT PRIMARY KEY,
    pool_id       TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    secret_sealed BLOB,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    settings      TEXT NOT NULL
);

CREATE INDEX app_clients_by_pool ON app_clients (pool_id, client_id);
