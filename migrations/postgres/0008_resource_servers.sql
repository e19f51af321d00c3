-- OAuth resource servers of a pool: their custom scopes become
-- "<identifier>/<scope name>" for app clients and client_credentials.
CREATE TABLE resource_servers (
    pool_id     TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    identifier  TEXT NOT NULL,
    name        TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    PRIMARY KEY (pool_id, identifier)
);
