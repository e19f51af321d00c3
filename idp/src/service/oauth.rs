//! The OAuth 2.0 token endpoint's rules (`{issuer}/oauth2/token`): client
//! authentication, the client_credentials and refresh_token grants, and
//! RFC 6749 §5.2 errors. The HTTP framing is in `http::oauth2`.

use std::collections::BTreeMap;

use super::tokens::{OAuthIssue, RefreshProof};
use super::{UserPools, authorize};
use crate::error::IdpError;
use crate::model::{AppClient, CodeUse, OAuthFlow, UserPool};

/// RFC 6749 §5.2 error codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    InvalidRequest(String),
    InvalidClient,
    InvalidGrant(String),
    UnauthorizedClient(String),
    UnsupportedGrantType,
    InvalidScope(String),
    /// RFC 7009: only refresh tokens can be revoked here.
    UnsupportedTokenType,
    ServerError,
}

impl OAuthError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::ServerError => "server_error",
        }
    }

    pub fn description(&self) -> Option<&str> {
        match self {
            Self::InvalidRequest(m)
            | Self::InvalidGrant(m)
            | Self::UnauthorizedClient(m)
            | Self::InvalidScope(m) => Some(m),
            _ => None,
        }
    }
}

/// What the token endpoint answers.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    pub access_token: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_in: i64,
}

fn server_error(e: IdpError) -> OAuthError {
    tracing::error!(error = %e, "token endpoint");
    OAuthError::ServerError
}

impl UserPools {
    /// The client named by HTTP Basic credentials or the form's
    /// `client_id` / `client_secret`, authenticated: a client with a secret
    /// must present it (compared in constant time), one without must not.
    /// Returns the client's secret as well, opened once.
    async fn oauth_client(
        &self,
        pool_id: &str,
        form: &BTreeMap<String, String>,
        basic: Option<(String, String)>,
    ) -> Result<(UserPool, AppClient, Option<String>), OAuthError> {
        let (client_id, secret) = match (&basic, form.get("client_id")) {
            (Some((id, secret)), given) => {
                if given.is_some_and(|g| g != id) || form.contains_key("client_secret") {
                    return Err(OAuthError::InvalidRequest("Use one client authentication method.".into()));
                }
                (id.clone(), Some(secret.clone()))
            }
            (None, Some(id)) => (id.clone(), form.get("client_secret").cloned()),
            (None, None) => return Err(OAuthError::InvalidClient),
        };
        let (pool, client) = match self.client_and_pool(&client_id).await {
            Ok(found) => found,
            Err(IdpError::ResourceNotFound(_)) => return Err(OAuthError::InvalidClient),
            Err(e) => return Err(server_error(e)),
        };
        if pool.id != pool_id {
            return Err(OAuthError::InvalidClient);
        }
        use subtle::ConstantTimeEq;
        let stored = self.client_secret(&client).map_err(server_error)?;
        let authenticated = match (&stored, secret.as_deref()) {
            (Some(s), Some(given)) => bool::from(s.as_bytes().ct_eq(given.as_bytes())),
            (Some(_), None) => false,
            (None, given) => given.is_none_or(str::is_empty),
        };
        if !authenticated {
            return Err(OAuthError::InvalidClient);
        }
        Ok((pool, client, stored))
    }

    /// `POST {issuer}/oauth2/token` with a form body.
    pub async fn oauth_token(
        &self,
        pool_id: &str,
        form: &BTreeMap<String, String>,
        basic: Option<(String, String)>,
    ) -> Result<TokenResponse, OAuthError> {
        let grant = form
            .get("grant_type")
            .ok_or_else(|| OAuthError::InvalidRequest("grant_type is required.".into()))?;
        if !matches!(grant.as_str(), "client_credentials" | "refresh_token" | "authorization_code") {
            return Err(OAuthError::UnsupportedGrantType);
        }
        let (pool, client, secret) = self.oauth_client(pool_id, form, basic).await?;
        let flows = client.settings.allowed_oauth_flows.clone().unwrap_or_default();
        let oauth_enabled = client.settings.allowed_oauth_flows_user_pool_client == Some(true);
        match grant.as_str() {
            "client_credentials" => {
                if !oauth_enabled || !flows.contains(&OAuthFlow::client_credentials) {
                    return Err(OAuthError::UnauthorizedClient(
                        "The client is not allowed the client_credentials grant.".into(),
                    ));
                }
                let allowed = client.settings.allowed_oauth_scopes.clone().unwrap_or_default();
                let scopes: Vec<String> = match form.get("scope").map(|s| s.trim()).filter(|s| !s.is_empty())
                {
                    None => allowed.clone(),
                    Some(requested) => {
                        let asked: Vec<String> =
                            requested.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect();
                        if let Some(bad) = asked.iter().find(|s| !allowed.contains(s)) {
                            return Err(OAuthError::InvalidScope(format!(
                                "The scope {bad} is not allowed for this client."
                            )));
                        }
                        asked
                    }
                };
                let (access_token, expires_in) =
                    self.client_credentials_token(&pool, &client, &scopes).await.map_err(server_error)?;
                Ok(TokenResponse { access_token, id_token: None, refresh_token: None, expires_in })
            }
            "refresh_token" => {
                let token = form
                    .get("refresh_token")
                    .ok_or_else(|| OAuthError::InvalidRequest("refresh_token is required.".into()))?;
                let tokens = self
                    .refresh(&pool, &client, token, RefreshProof::ClientSecret(secret.as_deref()))
                    .await
                    .map_err(|e| match e {
                        IdpError::NotAuthorized(m) => OAuthError::InvalidGrant(m),
                        e => server_error(e),
                    })?;
                // A grant without `openid` never gets an ID token.
                let openid = tokens.scopes.as_deref().is_none_or(|s| s.split(' ').any(|s| s == "openid"));
                Ok(TokenResponse {
                    access_token: tokens.access_token,
                    id_token: openid.then_some(tokens.id_token),
                    refresh_token: None,
                    expires_in: tokens.expires_in,
                })
            }
            _ => {
                if !oauth_enabled || !flows.contains(&OAuthFlow::code) {
                    return Err(OAuthError::UnauthorizedClient(
                        "The client is not allowed the authorization_code grant.".into(),
                    ));
                }
                self.exchange_code(&pool, &client, form).await
            }
        }
    }
}

impl UserPools {
    /// The authorization_code grant: the code is spent atomically; a code
    /// presented again revokes the tokens its first use got (RFC 6749
    /// §4.1.2); PKCE S256 is checked when the request had a challenge.
    async fn exchange_code(
        &self,
        pool: &UserPool,
        client: &AppClient,
        form: &BTreeMap<String, String>,
    ) -> Result<TokenResponse, OAuthError> {
        let code = form.get("code").ok_or_else(|| OAuthError::InvalidRequest("code is required.".into()))?;
        let redirect_uri = form
            .get("redirect_uri")
            .ok_or_else(|| OAuthError::InvalidRequest("redirect_uri is required.".into()))?;
        let invalid = || OAuthError::InvalidGrant("The authorization code is invalid or expired.".into());
        if code.is_empty() || code.len() > 128 {
            return Err(invalid());
        }
        let now = self.now_ms();
        let spent = match self
            .store
            .spend_code(&authorize::hash(code), &client.client_id, now)
            .await
            .map_err(|e| server_error(e.into()))?
        {
            CodeUse::Fresh(spent) => spent,
            CodeUse::Replayed(spent) => {
                tracing::warn!(pool = %pool.id, client = %spent.client_id, "authorization code replayed; its tokens are revoked");
                // Mark first, then revoke: an exchange still under way sees
                // the mark after storing its refresh token (below).
                self.store.mark_replayed(&spent.code_hash, now).await.map_err(|e| server_error(e.into()))?;
                self.store.revoke_origin(&spent.origin_jti, now).await.map_err(|e| server_error(e.into()))?;
                return Err(OAuthError::InvalidGrant("The authorization code has already been used.".into()));
            }
            CodeUse::Unknown => return Err(invalid()),
        };
        if spent.client_id != client.client_id || spent.pool_id != pool.id {
            return Err(invalid());
        }
        if &spent.grant.redirect_uri != redirect_uri {
            return Err(OAuthError::InvalidGrant(
                "redirect_uri does not match the authorization request.".into(),
            ));
        }
        match (&spent.grant.code_challenge, form.get("code_verifier")) {
            (Some(challenge), Some(verifier)) if authorize::pkce_matches(verifier, challenge) => {}
            (None, None) => {}
            (Some(_), _) => return Err(OAuthError::InvalidGrant("The code_verifier does not match.".into())),
            (None, Some(_)) => {
                return Err(OAuthError::InvalidGrant(
                    "The authorization request had no code_challenge.".into(),
                ));
            }
        }
        let user = self
            .store
            .get_user(&pool.id, &spent.username_key)
            .await
            .map_err(|e| server_error(e.into()))?
            // A sign-out or password reset since the sign-in voids its code.
            .filter(|u| {
                u.enabled
                    && u.tokens_valid_after_ms <= spent.expires_ms - authorize::CODE_LIFE_MS
                    && matches!(
                        u.status,
                        crate::model::UserStatus::CONFIRMED | crate::model::UserStatus::EXTERNAL_PROVIDER
                    )
            })
            .ok_or_else(invalid)?;
        let issue = OAuthIssue {
            scopes: spent.grant.scopes.clone(),
            nonce: spent.grant.nonce.clone(),
            origin_jti: Some(spent.origin_jti.clone()),
        };
        let tokens = self
            .issue_tokens_with(pool, client, &user, spent.grant.auth_time, None, Some(&issue))
            .await
            .map_err(server_error)?;
        if self.store.code_replayed(&spent.code_hash).await.map_err(|e| server_error(e.into()))? {
            let now = self.now_ms();
            self.store.revoke_origin(&spent.origin_jti, now).await.map_err(|e| server_error(e.into()))?;
            return Err(OAuthError::InvalidGrant("The authorization code has already been used.".into()));
        }
        let openid = spent.grant.scopes.iter().any(|s| s == "openid");
        Ok(TokenResponse {
            access_token: tokens.access_token,
            id_token: openid.then_some(tokens.id_token),
            refresh_token: tokens.refresh_token,
            expires_in: tokens.expires_in,
        })
    }
}

impl UserPools {
    /// `POST {issuer}/oauth2/revoke` (RFC 7009): the client revokes one of
    /// its refresh tokens and every token of that sign-in. Unknown tokens
    /// and other clients' tokens are answered as revoked, as the RFC asks.
    pub async fn oauth_revoke(
        &self,
        pool_id: &str,
        form: &BTreeMap<String, String>,
        basic: Option<(String, String)>,
    ) -> Result<(), OAuthError> {
        let token =
            form.get("token").ok_or_else(|| OAuthError::InvalidRequest("token is required.".into()))?;
        let (_pool, client, secret) = self.oauth_client(pool_id, form, basic).await?;
        match self.revoke_token(token, &client.client_id, secret.as_deref()).await {
            Ok(()) => Ok(()),
            Err(IdpError::UnsupportedTokenType(_)) => Err(OAuthError::UnsupportedTokenType),
            Err(IdpError::UnsupportedOperation(m)) => Err(OAuthError::UnauthorizedClient(m)),
            Err(e) => Err(server_error(e)),
        }
    }
}
