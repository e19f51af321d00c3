//! The hosted UI's host names and looks: user-pool domains
//! (Create/Describe/Update/DeleteUserPoolDomain, and which pool a request's
//! Host names) and per-client branding (Set/GetUICustomization).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::UserPools;
use crate::error::{IdpError, Result};
use crate::model::{PoolDomain, UiCustomization};
use crate::store::StoreError;

/// How long a process trusts what it found for a Host header.
const HOST_CACHE_TTL: Duration = Duration::from_secs(30);
/// Host headers come from anyone: the cache is cleared past this size.
const HOST_CACHE_MAX: usize = 4096;
/// Cognito's limits on branding.
const MAX_CSS: usize = 131_072;
const MAX_IMAGE: usize = 100 * 1024;

#[derive(Default)]
pub(super) struct HostCache {
    hosts: Mutex<HashMap<String, (Instant, Option<String>)>>,
}

/// A domain prefix: lower-case letters, digits and inner hyphens, 1–63.
fn valid_prefix(domain: &str) -> bool {
    let b = domain.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A full host name for a custom domain.
fn valid_host(domain: &str) -> bool {
    domain.len() <= 253 && domain.contains('.') && domain.split('.').all(valid_prefix)
}

fn image_type(image: &[u8]) -> Option<&'static str> {
    if image.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if image.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else {
        None
    }
}

impl UserPools {
    fn domain_description(&self, d: &PoolDomain) -> Value {
        let mut v = json!({
            "UserPoolId": d.pool_id,
            "AWSAccountId": self.settings.account_id,
            "Domain": d.domain,
            "CloudFrontDistribution": self.domain_host(d),
            "Version": "1",
            "Status": "ACTIVE",
            "ManagedLoginVersion": d.login_version,
        });
        if let (Some(config), Value::Object(map)) = (&d.custom_config, &mut v) {
            map.insert("CustomDomainConfig".into(), config.clone());
        }
        v
    }

    /// The host name a domain answers on: a custom domain as it is, a
    /// prefix under the public URL's host.
    fn domain_host(&self, d: &PoolDomain) -> String {
        if d.custom_config.is_some() {
            return d.domain.clone();
        }
        let host = url::Url::parse(&self.settings.public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "localhost".into());
        format!("{}.{host}", d.domain)
    }

    pub async fn create_pool_domain(
        &self,
        pool_id: &str,
        domain: &str,
        login_version: Option<i64>,
        custom: Option<Value>,
    ) -> Result<Value> {
        self.describe_pool(pool_id).await?;
        let custom = match custom {
            Some(Value::Object(c)) => {
                if !c.get("CertificateArn").is_some_and(Value::is_string) {
                    return Err(IdpError::InvalidParameter(
                        "CustomDomainConfig.CertificateArn is required.".into(),
                    ));
                }
                if !valid_host(domain) {
                    return Err(IdpError::InvalidParameter(format!("{domain} is not a valid host name.")));
                }
                // Its first label would be served as that prefix domain.
                if let Some((first, _)) = domain.split_once('.')
                    && self.store.get_domain(first).await?.is_some_and(|d| d.custom_config.is_none())
                {
                    return Err(IdpError::InvalidParameter(format!(
                        "{domain} begins with the prefix domain {first} of a user pool."
                    )));
                }
                Some(Value::Object(c))
            }
            Some(Value::Null) | None => {
                if !valid_prefix(domain) {
                    return Err(IdpError::InvalidParameter(format!(
                        "1 validation error detected: Value '{domain}' at 'domain' failed to satisfy constraint: \
                         Member must satisfy regular expression pattern: ^[a-z0-9](?:[a-z0-9\\-]{{0,61}}[a-z0-9])?$"
                    )));
                }
                if ["aws", "amazon", "cognito"].iter().any(|w| domain.contains(w)) {
                    return Err(IdpError::InvalidParameter(
                        "Domain cannot contain reserved word: aws, amazon or cognito.".into(),
                    ));
                }
                // Its host names would take over that custom domain.
                if self.store.custom_domain_under(domain).await? {
                    return Err(IdpError::InvalidParameter(format!(
                        "A custom domain of a user pool begins with {domain}."
                    )));
                }
                None
            }
            Some(_) => {
                return Err(IdpError::InvalidParameter("CustomDomainConfig must be an object.".into()));
            }
        };
        let login_version = login_version.unwrap_or(1);
        if !(1..=2).contains(&login_version) {
            return Err(IdpError::InvalidParameter("ManagedLoginVersion must be 1 or 2.".into()));
        }
        let existing = self.store.pool_domains(pool_id).await?;
        if existing.iter().any(|d| d.custom_config.is_some() == custom.is_some()) {
            return Err(IdpError::InvalidParameter(format!(
                "The user pool {pool_id} already has a {} domain.",
                if custom.is_some() { "custom" } else { "prefix" }
            )));
        }
        let record = PoolDomain {
            domain: domain.to_string(),
            pool_id: pool_id.to_string(),
            custom_config: custom,
            login_version,
            created_ms: self.now_ms(),
        };
        match self.store.insert_domain(&record).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(IdpError::InvalidParameter(
                    "Domain already associated with another user pool.".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        self.forget_hosts()?;
        let mut out = json!({ "ManagedLoginVersion": login_version });
        if record.custom_config.is_some() {
            out["CloudFrontDomain"] = json!(self.domain_host(&record));
        }
        Ok(out)
    }

    pub async fn update_pool_domain(
        &self,
        pool_id: &str,
        domain: &str,
        login_version: Option<i64>,
        custom: Option<Value>,
    ) -> Result<Value> {
        self.describe_pool(pool_id).await?;
        let mut record = self
            .store
            .get_domain(domain)
            .await?
            .filter(|d| d.pool_id == pool_id)
            .ok_or_else(|| IdpError::InvalidParameter("No such domain or user pool exists.".into()))?;
        if let Some(v) = login_version {
            if !(1..=2).contains(&v) {
                return Err(IdpError::InvalidParameter("ManagedLoginVersion must be 1 or 2.".into()));
            }
            record.login_version = v;
        }
        if let (Some(Value::Object(c)), Some(_)) = (custom, &record.custom_config) {
            record.custom_config = Some(Value::Object(c));
        }
        self.store.update_domain(&record).await?;
        Ok(json!({ "ManagedLoginVersion": record.login_version }))
    }

    /// DescribeUserPoolDomain: an unknown domain gives an empty description.
    pub async fn describe_pool_domain(&self, domain: &str) -> Result<Value> {
        Ok(match self.store.get_domain(domain).await? {
            Some(d) => self.domain_description(&d),
            None => json!({}),
        })
    }

    pub async fn delete_pool_domain(&self, pool_id: &str, domain: &str) -> Result<()> {
        if !self.store.delete_domain(domain, pool_id).await? {
            return Err(IdpError::InvalidParameter("No such domain or user pool exists.".into()));
        }
        self.forget_hosts()
    }

    /// A pool's domains, for DescribeUserPool's `Domain` and `CustomDomain`.
    pub async fn pool_domain_names(&self, pool_id: &str) -> Result<(Option<String>, Option<String>)> {
        let domains = self.store.pool_domains(pool_id).await?;
        let prefix = domains.iter().find(|d| d.custom_config.is_none()).map(|d| d.domain.clone());
        let custom = domains.iter().find(|d| d.custom_config.is_some()).map(|d| d.domain.clone());
        Ok((prefix, custom))
    }

    fn forget_hosts(&self) -> Result<()> {
        self.hosts.hosts.lock().map_err(|_| IdpError::Internal("host cache poisoned".into()))?.clear();
        Ok(())
    }

    /// The pool whose domain a request's Host header names: a custom
    /// domain exactly, or a prefix domain as the host's first label.
    pub async fn pool_for_host(&self, host: &str) -> Result<Option<String>> {
        // Host is `name` or `name:port` (IPv6 literals never name a domain).
        let host = match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            Some(_) => "",
            None => host,
        }
        .trim_end_matches('.')
        .to_ascii_lowercase();
        if host.is_empty() || host.len() > 253 {
            return Ok(None);
        }
        {
            let cache =
                self.hosts.hosts.lock().map_err(|_| IdpError::Internal("host cache poisoned".into()))?;
            if let Some((at, pool)) = cache.get(&host)
                && at.elapsed() < HOST_CACHE_TTL
            {
                return Ok(pool.clone());
            }
        }
        // A prefix domain first: a custom domain can never shadow one.
        let mut found = match host.split_once('.') {
            Some((first, _)) => self.store.get_domain(first).await?.filter(|d| d.custom_config.is_none()),
            None => None,
        };
        if found.is_none() {
            found = self.store.get_domain(&host).await?.filter(|d| d.custom_config.is_some());
        }
        let pool = found.map(|d| d.pool_id);
        let mut cache =
            self.hosts.hosts.lock().map_err(|_| IdpError::Internal("host cache poisoned".into()))?;
        if cache.len() >= HOST_CACHE_MAX {
            cache.clear();
        }
        cache.insert(host, (Instant::now(), pool.clone()));
        Ok(pool)
    }
}

impl UserPools {
    fn ui_json(&self, ui: &UiCustomization) -> Value {
        let mut v = json!({
            "UserPoolId": ui.pool_id,
            "ClientId": ui.client_id,
            "CreationDate": ui.created_ms as f64 / 1000.0,
            "LastModifiedDate": ui.updated_ms as f64 / 1000.0,
        });
        if let Some(css) = &ui.css {
            v["CSS"] = json!(css);
            v["CSSVersion"] = json!(ui.updated_ms.to_string());
        }
        if ui.image.is_some() {
            v["ImageUrl"] = json!(format!(
                "{}/ui/logo?client_id={}&v={}",
                self.issuer(&ui.pool_id),
                ui.client_id,
                ui.updated_ms
            ));
        }
        v
    }

    async fn branding_client(&self, pool_id: &str, client_id: Option<&str>) -> Result<String> {
        self.describe_pool(pool_id).await?;
        match client_id.filter(|c| *c != "ALL") {
            None => Ok("ALL".into()),
            Some(c) => {
                self.store.get_client(pool_id, c).await?.ok_or_else(|| {
                    IdpError::ResourceNotFound(format!("User pool client {c} does not exist."))
                })?;
                Ok(c.to_string())
            }
        }
    }

    pub async fn set_ui_customization(
        &self,
        pool_id: &str,
        client_id: Option<&str>,
        css: Option<String>,
        image: Option<Vec<u8>>,
    ) -> Result<Value> {
        let client_id = self.branding_client(pool_id, client_id).await?;
        if css.as_ref().is_some_and(|c| c.len() > MAX_CSS) {
            return Err(IdpError::InvalidParameter("CSS is larger than 131072 bytes.".into()));
        }
        if let Some(image) = &image {
            if image.len() > MAX_IMAGE {
                return Err(IdpError::InvalidParameter("ImageFile is larger than 100 KB.".into()));
            }
            if image_type(image).is_none() {
                return Err(IdpError::InvalidParameter("ImageFile must be a PNG or JPEG image.".into()));
            }
        }
        let now = self.now_ms();
        let created =
            self.store.get_ui_customization(pool_id, &client_id).await?.map(|u| u.created_ms).unwrap_or(now);
        let ui = UiCustomization {
            pool_id: pool_id.to_string(),
            client_id,
            css: css.filter(|c| !c.is_empty()),
            image,
            created_ms: created,
            updated_ms: now,
        };
        self.store.put_ui_customization(&ui).await?;
        Ok(self.ui_json(&ui))
    }

    /// GetUICustomization: the client's own, else the pool's (`ALL`).
    pub async fn get_ui_customization(&self, pool_id: &str, client_id: Option<&str>) -> Result<Value> {
        let client_id = self.branding_client(pool_id, client_id).await?;
        Ok(match self.branding(pool_id, &client_id).await? {
            Some(ui) => self.ui_json(&ui),
            None => json!({ "UserPoolId": pool_id, "ClientId": client_id }),
        })
    }

    /// The branding a client's pages use: its own, else the pool's.
    pub async fn branding(&self, pool_id: &str, client_id: &str) -> Result<Option<UiCustomization>> {
        if client_id != "ALL"
            && let Some(ui) = self.store.get_ui_customization(pool_id, client_id).await?
        {
            return Ok(Some(ui));
        }
        Ok(self.store.get_ui_customization(pool_id, "ALL").await?)
    }

    /// The logo of a branding, with its media type.
    pub async fn branding_logo(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<Option<(&'static str, Vec<u8>)>> {
        Ok(self
            .branding(pool_id, client_id)
            .await?
            .and_then(|ui| ui.image)
            .and_then(|image| image_type(&image).map(|t| (t, image))))
    }
}
