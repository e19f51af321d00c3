//! CreateResourceServer, DescribeResourceServer, UpdateResourceServer,
//! DeleteResourceServer, ListResourceServers: a pool's OAuth resource
//! servers, whose scopes (`<identifier>/<scope name>`) app clients may be
//! allowed and client_credentials tokens carry.

use awsapi::json::{check_chars, check_length, check_range, is_name_char};

use super::pools::check_pool_id;
use super::{Page, UserPools, decode_token, page};
use crate::error::{IdpError, Result};
use crate::model::{ResourceServer, ResourceServerScope};
use crate::store::StoreError;

/// `[\x21\x23-\x5B\x5D-\x7E]+`: printable ASCII but `"` and `\`.
fn identifier_char(c: char) -> bool {
    matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

/// `[\x21\x23-\x2E\x30-\x5B\x5D-\x7E]+`: as an identifier, and no `/`.
fn scope_char(c: char) -> bool {
    identifier_char(c) && c != '/'
}

fn check_server(identifier: &str, name: &str, scopes: &[ResourceServerScope]) -> Result<()> {
    check_length("Identifier", identifier, 1, 256)?;
    check_chars("Identifier", identifier, "[\\x21\\x23-\\x5B\\x5D-\\x7E]+", identifier_char)?;
    check_length("Name", name, 1, 256)?;
    check_chars("Name", name, "[\\w\\s+=,.@-]+", is_name_char)?;
    check_range("Scopes", scopes.len() as i64, 0, 100)?;
    for (i, s) in scopes.iter().enumerate() {
        check_length(&format!("Scopes[{i}].ScopeName"), &s.scope_name, 1, 256)?;
        check_chars(
            &format!("Scopes[{i}].ScopeName"),
            &s.scope_name,
            "[\\x21\\x23-\\x2E\\x30-\\x5B\\x5D-\\x7E]+",
            scope_char,
        )?;
        check_length(&format!("Scopes[{i}].ScopeDescription"), &s.scope_description, 1, 256)?;
        if scopes[..i].iter().any(|o| o.scope_name == s.scope_name) {
            return Err(IdpError::InvalidParameter(format!("Duplicate scope name {}.", s.scope_name)));
        }
    }
    Ok(())
}

fn not_found(identifier: &str) -> IdpError {
    IdpError::ResourceNotFound(format!("Resource server {identifier} does not exist."))
}

impl UserPools {
    pub async fn create_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
        name: &str,
        scopes: Vec<ResourceServerScope>,
    ) -> Result<ResourceServer> {
        let pool = self.describe_pool(pool_id).await?;
        check_server(identifier, name, &scopes)?;
        let rs = ResourceServer {
            pool_id: pool.id,
            identifier: identifier.to_string(),
            name: name.to_string(),
            scopes,
        };
        match self.store.insert_resource_server(&rs).await {
            Ok(()) => Ok(rs),
            Err(StoreError::Conflict) => Err(IdpError::InvalidParameter(format!(
                "{identifier} already exists in user pool {pool_id}."
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn describe_resource_server(&self, pool_id: &str, identifier: &str) -> Result<ResourceServer> {
        check_pool_id(pool_id)?;
        check_length("Identifier", identifier, 1, 256)?;
        self.describe_pool(pool_id).await?;
        self.store.get_resource_server(pool_id, identifier).await?.ok_or_else(|| not_found(identifier))
    }

    pub async fn update_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
        name: &str,
        scopes: Vec<ResourceServerScope>,
    ) -> Result<ResourceServer> {
        let mut rs = self.describe_resource_server(pool_id, identifier).await?;
        check_server(identifier, name, &scopes)?;
        rs.name = name.to_string();
        rs.scopes = scopes;
        if !self.store.update_resource_server(&rs).await? {
            return Err(not_found(identifier));
        }
        Ok(rs)
    }

    pub async fn delete_resource_server(&self, pool_id: &str, identifier: &str) -> Result<()> {
        self.describe_resource_server(pool_id, identifier).await?;
        self.store.delete_resource_server(pool_id, identifier).await?;
        Ok(())
    }

    pub async fn list_resource_servers(
        &self,
        pool_id: &str,
        max_results: i64,
        next_token: Option<&str>,
    ) -> Result<Page<ResourceServer>> {
        check_range("MaxResults", max_results, 1, 50)?;
        self.describe_pool(pool_id).await?;
        let after = decode_token(next_token)?;
        let items = self.store.list_resource_servers(pool_id, after.as_deref(), max_results + 1).await?;
        Ok(page(items, max_results, |rs| rs.identifier.as_str()))
    }

    /// Every custom scope of the pool, as `<identifier>/<scope name>`.
    pub(super) async fn custom_scopes(&self, pool_id: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let batch = self.store.list_resource_servers(pool_id, after.as_deref(), 100).await?;
            for rs in &batch {
                out.extend(rs.scopes.iter().map(|s| format!("{}/{}", rs.identifier, s.scope_name)));
            }
            if batch.len() < 100 {
                return Ok(out);
            }
            after = batch.last().map(|rs| rs.identifier.clone());
        }
    }
}
