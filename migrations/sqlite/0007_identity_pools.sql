-- Identity pools, identities and their logins, IAM roles and policies,
-- registered OpenID Connect providers, and the broker's token-signing keys.
-- Structured settings are JSON text, read and written whole by the broker.
CREATE TABLE identity_pools (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    config      TEXT NOT NULL
);

CREATE TABLE identities (
    id          TEXT PRIMARY KEY,
    pool_id     TEXT NOT NULL REFERENCES identity_pools (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    disabled    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX identities_by_pool ON identities (pool_id, id);

-- One row per (pool, provider, subject): the same login always finds the
-- same identity, and a login belongs to one identity only.
CREATE TABLE identity_logins (
    pool_id     TEXT NOT NULL REFERENCES identity_pools (id) ON DELETE CASCADE,
    provider    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    PRIMARY KEY (pool_id, provider, subject)
);
CREATE INDEX identity_logins_by_identity ON identity_logins (identity_id, provider);

CREATE TABLE iam_roles (
    name        TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    role        TEXT NOT NULL
);

CREATE TABLE iam_policies (
    arn         TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    policy      TEXT NOT NULL
);

CREATE TABLE iam_oidc_providers (
    arn         TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    provider    TEXT NOT NULL
);

CREATE TABLE broker_keys (
    kid             TEXT PRIMARY KEY,
    created_at      BIGINT NOT NULL,
    private_sealed  BLOB NOT NULL
);
