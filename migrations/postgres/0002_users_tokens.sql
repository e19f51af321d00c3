-- Users, one-time codes, sign-in sessions, refresh tokens and signing keys.
CREATE TABLE users (
    pool_id            TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    username_key       TEXT NOT NULL,
    username           TEXT NOT NULL,
    sub                TEXT NOT NULL,
    status             TEXT NOT NULL,
    enabled            BOOLEAN NOT NULL,
    attributes         JSONB NOT NULL,
    password_hash      TEXT,
    password_set_at    BIGINT NOT NULL,
    failed_attempts    BIGINT NOT NULL DEFAULT 0,
    locked_until       BIGINT NOT NULL DEFAULT 0,
    tokens_valid_after BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    PRIMARY KEY (pool_id, username_key)
);
CREATE UNIQUE INDEX users_by_sub ON users (pool_id, sub);

CREATE TABLE user_aliases (
    pool_id      TEXT NOT NULL,
    alias_key    TEXT NOT NULL,
    username_key TEXT NOT NULL,
    PRIMARY KEY (pool_id, alias_key),
    FOREIGN KEY (pool_id, username_key) REFERENCES users (pool_id, username_key) ON DELETE CASCADE
);
CREATE INDEX user_aliases_by_user ON user_aliases (pool_id, username_key);

CREATE TABLE one_time_codes (
    pool_id      TEXT NOT NULL,
    username_key TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    code_hash    BYTEA NOT NULL,
    attribute    TEXT,
    expires_at   BIGINT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (pool_id, username_key, purpose),
    FOREIGN KEY (pool_id, username_key) REFERENCES users (pool_id, username_key) ON DELETE CASCADE
);

CREATE TABLE used_sessions (
    session_id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE refresh_tokens (
    token_hash   BYTEA PRIMARY KEY,
    pool_id      TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    username_key TEXT NOT NULL,
    origin_jti   TEXT NOT NULL,
    auth_time    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    FOREIGN KEY (pool_id, username_key) REFERENCES users (pool_id, username_key) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (pool_id, username_key);
CREATE UNIQUE INDEX refresh_tokens_by_origin ON refresh_tokens (origin_jti);

CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY,
    pool_id            TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    private_key_sealed BYTEA NOT NULL,
    public_jwk         TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    retired_at         BIGINT
);
CREATE INDEX signing_keys_by_pool ON signing_keys (pool_id, created_at);
