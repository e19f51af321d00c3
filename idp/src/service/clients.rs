//! CreateUserPoolClient … ListUserPoolClients.

use awsapi::json::{check_chars, check_length, check_range, is_name_char};

use super::pools::check_pool_id;
use super::{Page, UserPools, decode_token, page};
use crate::error::{IdpError, Result};
use crate::model::*;
use crate::store::StoreError;

/// What CreateUserPoolClient asks for.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub pool_id: String,
    pub name: String,
    pub generate_secret: bool,
    pub client_secret: Option<String>,
    pub settings: ClientSettings,
}

/// A client and its secret in clear, for the responses that show it.
#[derive(Debug, Clone)]
pub struct ClientWithSecret {
    pub client: AppClient,
    pub secret: Option<String>,
}

const STANDARD_SCOPES: &[&str] = &["openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"];

impl UserPools {
    pub async fn create_client(&self, req: NewClient) -> Result<ClientWithSecret> {
        let pool = self.describe_pool(&req.pool_id).await?;
        check_client_name(&req.name)?;
        let secret = match (req.client_secret, req.generate_secret) {
            (Some(s), _) => {
                check_length("ClientSecret", &s, 24, 64)?;
                check_chars("ClientSecret", &s, "[\\w+]+", |c| c.is_alphanumeric() || c == '_' || c == '+')?;
                Some(s)
            }
            (None, true) => Some(secrets::random_string(51, secrets::LOWER_ALNUM)),
            (None, false) => None,
        };
        let custom = self.custom_scopes(&pool.id).await?;
        let providers = self.provider_names(&pool.id).await?;
        let settings = self.checked_settings(&pool, req.settings, secret.is_some(), &custom, &providers)?;
        let now = self.now_ms();
        let mut client = AppClient {
            client_id: String::new(),
            pool_id: pool.id,
            name: req.name,
            secret_sealed: None,
            created_ms: now,
            updated_ms: now,
            settings,
        };
        for _ in 0..5 {
            client.client_id = secrets::random_string(26, secrets::LOWER_ALNUM);
            client.secret_sealed =
                secret.as_ref().map(|s| self.master_key.seal(s.as_bytes(), client.client_id.as_bytes()));
            match self.store.insert_client(&client).await {
                Ok(()) => return Ok(ClientWithSecret { client, secret }),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(IdpError::Internal("no free client id after 5 tries".into()))
    }

    pub async fn describe_client(&self, pool_id: &str, client_id: &str) -> Result<ClientWithSecret> {
        check_pool_id(pool_id)?;
        check_client_id(client_id)?;
        let client =
            self.store.get_client(pool_id, client_id).await?.ok_or_else(|| client_not_found(client_id))?;
        let secret = self.open_secret(&client)?;
        Ok(ClientWithSecret { client, secret })
    }

    /// As UpdateUserPool: settings left out of the request return to their
    /// defaults. The name is kept when not given.
    pub async fn update_client(
        &self,
        pool_id: &str,
        client_id: &str,
        name: Option<String>,
        settings: ClientSettings,
    ) -> Result<ClientWithSecret> {
        let pool = self.describe_pool(pool_id).await?;
        let ClientWithSecret { mut client, secret } = self.describe_client(pool_id, client_id).await?;
        if let Some(name) = name {
            check_client_name(&name)?;
            client.name = name;
        }
        let custom = self.custom_scopes(&pool.id).await?;
        let providers = self.provider_names(&pool.id).await?;
        client.settings = self.checked_settings(&pool, settings, secret.is_some(), &custom, &providers)?;
        client.updated_ms = self.now_ms();
        if !self.store.update_client(&client).await? {
            return Err(client_not_found(client_id));
        }
        Ok(ClientWithSecret { client, secret })
    }

    pub async fn delete_client(&self, pool_id: &str, client_id: &str) -> Result<()> {
        check_pool_id(pool_id)?;
        check_client_id(client_id)?;
        if !self.store.delete_client(pool_id, client_id).await? {
            return Err(client_not_found(client_id));
        }
        Ok(())
    }

    pub async fn list_clients(
        &self,
        pool_id: &str,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> Result<Page<AppClient>> {
        let limit = max_results.unwrap_or(60);
        check_range("MaxResults", limit, 1, 60)?;
        self.describe_pool(pool_id).await?;
        let after = decode_token(next_token)?;
        let items = self.store.list_clients(pool_id, after.as_deref(), limit + 1).await?;
        Ok(page(items, limit, |c| &c.client_id))
    }

    pub(super) fn open_secret(&self, client: &AppClient) -> Result<Option<String>> {
        client
            .secret_sealed
            .as_ref()
            .map(|sealed| {
                let bytes = self
                    .master_key
                    .open(sealed, client.client_id.as_bytes())
                    .map_err(|e| IdpError::Internal(format!("client {}: {e}", client.client_id)))?;
                String::from_utf8(bytes).map_err(|e| IdpError::Internal(e.to_string()))
            })
            .transpose()
    }

    fn checked_settings(
        &self,
        pool: &UserPool,
        mut s: ClientSettings,
        has_secret: bool,
        custom_scopes: &[String],
        providers: &[String],
    ) -> Result<ClientSettings> {
        normalize_validity(&mut s)?;
        let flows = s.explicit_auth_flows.get_or_insert_with(|| {
            vec![
                ExplicitAuthFlow::ALLOW_USER_SRP_AUTH,
                ExplicitAuthFlow::ALLOW_CUSTOM_AUTH,
                ExplicitAuthFlow::ALLOW_REFRESH_TOKEN_AUTH,
            ]
        });
        if flows.iter().any(|f| f.is_legacy()) && flows.iter().any(|f| !f.is_legacy()) {
            return Err(IdpError::InvalidParameter(
                "ExplicitAuthFlows cannot mix legacy values with ALLOW_ values.".into(),
            ));
        }
        flows.dedup();
        check_range("AuthSessionValidity", *s.auth_session_validity.get_or_insert(3), 3, 15)?;
        s.prevent_user_existence_errors.get_or_insert(PreventUserExistenceErrors::LEGACY);
        s.enable_token_revocation.get_or_insert(true);
        s.enable_propagate_additional_user_context_data.get_or_insert(false);
        s.allowed_oauth_flows_user_pool_client.get_or_insert(false);

        for (member, attrs) in
            [("ReadAttributes", &s.read_attributes), ("WriteAttributes", &s.write_attributes)]
        {
            for name in attrs.iter().flatten() {
                let known = pool.schema.iter().any(|a| a.name.as_deref() == Some(name.as_str()))
                    || (name == "email_verified" || name == "phone_number_verified");
                if !known || (member == "WriteAttributes" && name == "sub") {
                    return Err(IdpError::InvalidParameter(format!(
                        "Invalid {} attributes specified while creating a client: {name}",
                        if member == "ReadAttributes" { "read" } else { "write" }
                    )));
                }
            }
        }
        for provider in s.supported_identity_providers.iter().flatten() {
            if provider != "COGNITO" && !providers.contains(provider) {
                return Err(IdpError::InvalidParameter(format!(
                    "The provider {provider} does not exist for User Pool {}",
                    pool.id
                )));
            }
        }
        check_urls("CallbackURLs", s.callback_urls.as_deref().unwrap_or_default())?;
        check_urls("LogoutURLs", s.logout_urls.as_deref().unwrap_or_default())?;
        if let Some(default) = &s.default_redirect_uri
            && !s.callback_urls.iter().flatten().any(|u| u == default)
        {
            return Err(IdpError::InvalidParameter(
                "DefaultRedirectURI must be one of the CallbackURLs.".into(),
            ));
        }
        check_oauth(&s, has_secret, custom_scopes)?;
        Ok(s)
    }
}

fn client_not_found(client_id: &str) -> IdpError {
    IdpError::ResourceNotFound(format!("User pool client {client_id} does not exist."))
}

fn check_client_id(id: &str) -> Result<()> {
    check_length("ClientId", id, 1, 128)?;
    check_chars("ClientId", id, "[\\w+]+", |c| c.is_alphanumeric() || c == '_' || c == '+')?;
    Ok(())
}

fn check_client_name(name: &str) -> Result<()> {
    check_length("ClientName", name, 1, 128)?;
    check_chars("ClientName", name, "[\\w\\s+=,.@-]+", is_name_char)?;
    Ok(())
}

/// Fills in validities and units and checks Cognito's bounds: access and ID
/// tokens 5 minutes to 1 day, refresh tokens 60 minutes to 10 years.
fn normalize_validity(s: &mut ClientSettings) -> Result<()> {
    let units = s.token_validity_units.get_or_insert_with(Default::default);
    let slots = [
        (
            "AccessToken",
            &mut s.access_token_validity,
            &mut units.access_token,
            TimeUnit::hours,
            3600,
            300,
            86_400,
        ),
        ("IdToken", &mut s.id_token_validity, &mut units.id_token, TimeUnit::hours, 3600, 300, 86_400),
        (
            "RefreshToken",
            &mut s.refresh_token_validity,
            &mut units.refresh_token,
            TimeUnit::days,
            30 * 86_400,
            3600,
            3650 * 86_400,
        ),
    ];
    for (what, value, unit, default_unit, default_seconds, min, max) in slots {
        if *value == Some(0) && what == "RefreshToken" {
            *value = None;
        }
        match (*value, *unit) {
            (None, None) => {
                let u = if what == "RefreshToken" { TimeUnit::days } else { TimeUnit::minutes };
                *unit = Some(u);
                *value = Some(default_seconds / u.seconds());
            }
            (None, Some(u)) => *value = Some((default_seconds + u.seconds() - 1) / u.seconds()),
            (Some(_), None) => *unit = Some(default_unit),
            (Some(_), Some(_)) => {}
        }
        let seconds = value.unwrap_or(0).saturating_mul(unit.unwrap_or(default_unit).seconds());
        if seconds < min || seconds > max {
            let bounds =
                if what == "RefreshToken" { "60 minutes and 10 years" } else { "5 minutes and 1 day" };
            return Err(IdpError::InvalidParameter(format!(
                "{what} validity must be between {bounds}; got {} {}.",
                value.unwrap_or(0),
                unit.unwrap_or(default_unit).as_str()
            )));
        }
    }
    Ok(())
}

/// Absolute URLs without fragments; plain http only to a loopback host.
fn check_urls(member: &str, urls: &[String]) -> Result<()> {
    if urls.len() > 100 {
        return Err(IdpError::InvalidParameter(format!("{member} may have at most 100 entries.")));
    }
    for u in urls {
        check_length(member, u, 1, 1024)?;
        let parsed = url::Url::parse(u)
            .map_err(|_| IdpError::InvalidParameter(format!("{member}: '{u}' is not an absolute URL.")))?;
        if parsed.fragment().is_some() {
            return Err(IdpError::InvalidParameter(format!("{member}: '{u}' must not have a fragment.")));
        }
        let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        if parsed.scheme() == "http" && !loopback {
            return Err(IdpError::InvalidParameter(format!(
                "{member}: '{u}' must use https (plain http is allowed only for localhost)."
            )));
        }
    }
    Ok(())
}

fn check_oauth(s: &ClientSettings, has_secret: bool, custom_scopes: &[String]) -> Result<()> {
    let flows = s.allowed_oauth_flows.as_deref().unwrap_or_default();
    let has = |f: OAuthFlow| flows.contains(&f);
    if has(OAuthFlow::client_credentials) {
        if has(OAuthFlow::code) || has(OAuthFlow::implicit) {
            return Err(IdpError::InvalidOAuthFlow(
                "client_credentials flow can not be selected along with code flow or implicit flow.".into(),
            ));
        }
        if !has_secret {
            return Err(IdpError::InvalidOAuthFlow(
                "client_credentials flow can not be selected if client does not have a client secret.".into(),
            ));
        }
        // Machine-to-machine tokens carry resource-server scopes only.
        let scopes = s.allowed_oauth_scopes.as_deref().unwrap_or_default();
        if let Some(standard) = scopes.iter().find(|sc| STANDARD_SCOPES.contains(&sc.as_str())) {
            return Err(IdpError::InvalidOAuthFlow(format!(
                "client_credentials flow can only be used with custom scopes, not {standard}."
            )));
        }
    }
    let scopes = s.allowed_oauth_scopes.as_deref().unwrap_or_default();
    for scope in scopes {
        if !STANDARD_SCOPES.contains(&scope.as_str()) && !custom_scopes.iter().any(|c| c == scope) {
            return Err(IdpError::ScopeDoesNotExist(format!("Invalid scope requested: {scope}")));
        }
    }
    if s.allowed_oauth_flows_user_pool_client == Some(true) {
        if flows.is_empty() {
            return Err(IdpError::InvalidOAuthFlow(
                "AllowedOAuthFlows must be set when AllowedOAuthFlowsUserPoolClient is true.".into(),
            ));
        }
        if scopes.is_empty() {
            return Err(IdpError::InvalidOAuthFlow(
                "AllowedOAuthScopes must be set when AllowedOAuthFlowsUserPoolClient is true.".into(),
            ));
        }
        if (has(OAuthFlow::code) || has(OAuthFlow::implicit))
            && s.callback_urls.as_deref().unwrap_or_default().is_empty()
        {
            return Err(IdpError::InvalidParameter(
                "CallbackURLs are required for the code and implicit flows.".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_defaults_and_bounds() {
        let mut s = ClientSettings::default();
        normalize_validity(&mut s).unwrap();
        assert_eq!(s.access_token_validity, Some(60));
        assert_eq!(s.token_validity_units.as_ref().unwrap().access_token, Some(TimeUnit::minutes));
        assert_eq!(s.refresh_token_validity, Some(30));

        let mut s = ClientSettings { access_token_validity: Some(2), ..Default::default() };
        normalize_validity(&mut s).unwrap();
        assert_eq!(s.token_validity_units.unwrap().access_token, Some(TimeUnit::hours));

        let mut s = ClientSettings { access_token_validity: Some(25), ..Default::default() };
        assert!(normalize_validity(&mut s).is_err());
        let mut s = ClientSettings {
            id_token_validity: Some(4),
            token_validity_units: Some(TokenValidityUnits {
                id_token: Some(TimeUnit::minutes),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(normalize_validity(&mut s).is_err());
        let mut s = ClientSettings { refresh_token_validity: Some(3651), ..Default::default() };
        assert!(normalize_validity(&mut s).is_err());
    }

    #[test]
    fn urls() {
        assert!(check_urls("CallbackURLs", &["https://app.example/cb".into()]).is_ok());
        assert!(check_urls("CallbackURLs", &["http://localhost:3000/cb".into()]).is_ok());
        assert!(check_urls("CallbackURLs", &["myapp://cb".into()]).is_ok());
        assert!(check_urls("CallbackURLs", &["http://app.example/cb".into()]).is_err());
        assert!(check_urls("CallbackURLs", &["https://app.example/cb#x".into()]).is_err());
        assert!(check_urls("CallbackURLs", &["/relative".into()]).is_err());
    }

    #[test]
    fn oauth_rules() {
        let cc = ClientSettings {
            allowed_oauth_flows: Some(vec![OAuthFlow::client_credentials]),
            ..Default::default()
        };
        assert!(matches!(check_oauth(&cc, false, &[]), Err(IdpError::InvalidOAuthFlow(_))));
        assert!(check_oauth(&cc, true, &[]).is_ok());
        let cc_openid = ClientSettings {
            allowed_oauth_flows: Some(vec![OAuthFlow::client_credentials]),
            allowed_oauth_scopes: Some(vec!["openid".into()]),
            ..Default::default()
        };
        assert!(matches!(check_oauth(&cc_openid, true, &[]), Err(IdpError::InvalidOAuthFlow(_))));
        let custom =
            ClientSettings { allowed_oauth_scopes: Some(vec!["api/read".into()]), ..Default::default() };
        assert!(matches!(check_oauth(&custom, true, &[]), Err(IdpError::ScopeDoesNotExist(_))));
        assert!(check_oauth(&custom, true, &["api/read".to_string()]).is_ok());
    }
}
