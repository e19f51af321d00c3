-- OAuth 2.0 authorization codes, hosted-UI sessions, domains and UI
-- branding; refresh tokens remember the scopes of an OAuth grant.

-- The scopes granted through the authorization endpoint (space-separated);
-- NULL for sign-ins through the API.
ALTER TABLE refresh_tokens ADD COLUMN scopes TEXT;

-- Authorization codes, stored as SHA-256 hashes. A code is used once:
-- used_at is set atomically by the exchange; origin_jti names the sign-in
-- its tokens belong to, so a replayed code can revoke them.
CREATE TABLE oauth_codes (
    code_hash    BYTEA PRIMARY KEY,
    pool_id      TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    username_key TEXT NOT NULL,
    origin_jti   TEXT NOT NULL,
    grant_data   TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT,
    FOREIGN KEY (pool_id, username_key) REFERENCES users (pool_id, username_key) ON DELETE CASCADE
);
CREATE INDEX oauth_codes_by_expiry ON oauth_codes (expires_at);

-- Hosted-UI sign-in sessions (the cookie holds the id; only its hash is here).
CREATE TABLE ui_sessions (
    id_hash      BYTEA PRIMARY KEY,
    pool_id      TEXT NOT NULL,
    username_key TEXT NOT NULL,
    auth_time    BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    FOREIGN KEY (pool_id, username_key) REFERENCES users (pool_id, username_key) ON DELETE CASCADE
);
CREATE INDEX ui_sessions_by_user ON ui_sessions (pool_id, username_key);

-- Host names (a prefix, or a full custom domain) serving a pool's endpoints.
CREATE TABLE user_pool_domains (
    domain        TEXT PRIMARY KEY,
    pool_id       TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    custom_config TEXT,
    login_version BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX user_pool_domains_by_pool ON user_pool_domains (pool_id);

-- Hosted-UI branding per app client ('ALL' for the pool's default).
CREATE TABLE ui_customizations (
    pool_id    TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    css        TEXT,
    image      BYTEA,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, client_id)
);
