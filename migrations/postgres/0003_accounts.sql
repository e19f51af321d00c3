-- Accounts: pending attribute changes, search index, groups, auth events.
ALTER TABLE users ADD COLUMN pending_attributes JSONB NOT NULL DEFAULT '{}'::jsonb;

-- One row per searchable attribute of a user, for ListUsers filters.
CREATE TABLE user_search (
    pool_id      TEXT NOT NULL,
    attribute    TEXT NOT NULL,
    value        TEXT COLLATE "C" NOT NULL,
    username_key TEXT NOT NULL,
    PRIMARY KEY (pool_id, attribute, value, username_key),
    FOREIGN KEY (pool_id, username_key) REFERENCES users (pool_id, username_key) ON DELETE CASCADE
);
CREATE INDEX user_search_by_user ON user_search (pool_id, username_key);

CREATE TABLE user_groups (
    pool_id     TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT,
    role_arn    TEXT,
    precedence  BIGINT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (pool_id, name)
);

CREATE TABLE group_members (
    pool_id      TEXT NOT NULL,
    group_name   TEXT NOT NULL,
    username_key TEXT NOT NULL,
    PRIMARY KEY (pool_id, group_name, username_key),
    FOREIGN KEY (pool_id, group_name) REFERENCES user_groups (pool_id, name) ON DELETE CASCADE,
    FOREIGN KEY (pool_id, username_key) REFERENCES users (pool_id, username_key) ON DELETE CASCADE
);
CREATE INDEX group_members_by_user ON group_members (pool_id, username_key);

CREATE TABLE auth_events (
    event_id     TEXT PRIMARY KEY,
    pool_id      TEXT NOT NULL,
    username_key TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    event_type   TEXT NOT NULL,
    response     TEXT NOT NULL,
    client_id    TEXT,
    ip_address   TEXT,
    user_agent   TEXT,
    FOREIGN KEY (pool_id, username_key) REFERENCES users (pool_id, username_key) ON DELETE CASCADE
);
CREATE INDEX auth_events_by_user ON auth_events (pool_id, username_key, created_at);
