-- Federation: a pool's external identity providers, and links from a
-- provider's subject to a native user (AdminLinkProviderForUser).

-- ProviderDetails hold client secrets and private keys: sealed under the
-- master key (AAD: pool id and provider name).
CREATE TABLE identity_providers (
    pool_id           TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    provider_type     TEXT NOT NULL,
    details_sealed    BLOB NOT NULL,
    attribute_mapping TEXT NOT NULL,
    idp_identifiers   TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (pool_id, name)
);

CREATE TABLE provider_links (
    pool_id          TEXT NOT NULL,
    provider_name    TEXT NOT NULL,
    provider_subject TEXT NOT NULL,
    username_key     TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (pool_id, provider_name, provider_subject),
    FOREIGN KEY (pool_id, username_key) REFERENCES users (pool_id, username_key) ON DELETE CASCADE
);
CREATE INDEX provider_links_by_user ON provider_links (pool_id, username_key);

-- A replayed authorization code is marked before its sign-in is revoked;
-- the exchange that won checks the mark after storing its refresh token,
-- so a replay racing the first exchange still revokes what it got.
ALTER TABLE oauth_codes ADD COLUMN replayed_at INTEGER;

-- SAML identity providers registered with IAM (identity pools' SAML logins).
CREATE TABLE iam_saml_providers (
    arn         TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    provider    TEXT NOT NULL
);

-- The provider a hosted-UI sign-in went through: single sign-on serves it
-- only to clients that allow that provider.
ALTER TABLE ui_sessions ADD COLUMN provider TEXT NOT NULL DEFAULT 'COGNITO';

-- Each pool's SAML encryption key pair (IdPs encrypt assertions to its
-- certificate, published in the SP metadata); the private key sealed.
CREATE TABLE saml_sp_keys (
    pool_id    TEXT PRIMARY KEY REFERENCES user_pools (id) ON DELETE CASCADE,
    key_sealed BLOB NOT NULL,
    cert_der   BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
