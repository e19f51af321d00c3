-- Cirrus schema, PostgreSQL. Migrations are append-only: never edit a landed file.
CREATE TABLE admin_credentials (
    access_key_id TEXT PRIMARY KEY,
    secret_sealed BYTEA NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE user_pools (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    settings          JSONB NOT NULL,
    schema_attributes JSONB NOT NULL
);

CREATE TABLE app_clients (
    client_id     TEXT PRIMARY KEY,
    pool_id       TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    secret_sealed BYTEA,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    settings      JSONB NOT NULL
);

CREATE INDEX app_clients_by_pool ON app_clients (pool_id, client_id);
