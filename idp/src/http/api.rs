//! `AWSCognitoIdentityProviderService.*`: one table of operations, a typed
//! request per operation, one service call each, and the response shapes.

use std::sync::Arc;

use async_trait::async_trait;
use awsapi::json::decode;
use awsapi::{Access, AwsError, JsonService, Principal, RequestContext};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{accounts_api, auth_api};
use crate::model::{AppClient, ClientSettings, PoolSettings, SchemaAttribute, UserPool};
use crate::service::{ClientWithSecret, NewClient, NewPool, UserPools};

/// Operations and how each is authenticated. Management operations are
/// SigV4-signed; the public ones (SignUp, InitiateAuth, …) arrive with the
/// flows of later issues.
const OPERATIONS: &[(&str, Access)] = &[
    ("CreateUserPool", Access::Signed),
    ("DescribeUserPool", Access::Signed),
    ("UpdateUserPool", Access::Signed),
    ("DeleteUserPool", Access::Signed),
    ("ListUserPools", Access::Signed),
    ("CreateUserPoolClient", Access::Signed),
    ("DescribeUserPoolClient", Access::Signed),
    ("UpdateUserPoolClient", Access::Signed),
    ("DeleteUserPoolClient", Access::Signed),
    ("ListUserPoolClients", Access::Signed),
    ("CreateResourceServer", Access::Signed),
    ("DescribeResourceServer", Access::Signed),
    ("UpdateResourceServer", Access::Signed),
    ("DeleteResourceServer", Access::Signed),
    ("ListResourceServers", Access::Signed),
];

pub struct UserPoolApi {
    pools: Arc<UserPools>,
}

impl UserPoolApi {
    pub fn new(pools: Arc<UserPools>) -> Self {
        Self { pools }
    }
}

// The settings of Create/Update requests are decoded from the same body into
// `PoolSettings` / `ClientSettings`, rather than `#[serde(flatten)]`, so that
// errors keep the path of the member at fault.

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateUserPoolRequest {
    pool_name: String,
    schema: Option<Vec<SchemaAttribute>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UserPoolIdRequest {
    user_pool_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateUserPoolRequest {
    user_pool_id: String,
    pool_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListUserPoolsRequest {
    max_results: i64,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateUserPoolClientRequest {
    user_pool_id: String,
    client_name: String,
    generate_secret: Option<bool>,
    client_secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ClientIdRequest {
    user_pool_id: String,
    client_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateUserPoolClientRequest {
    user_pool_id: String,
    client_id: String,
    client_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListUserPoolClientsRequest {
    user_pool_id: String,
    max_results: Option<i64>,
    next_token: Option<String>,
}

fn epoch_seconds(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

fn object(value: impl serde::Serialize) -> Result<serde_json::Map<String, Value>, AwsError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Ok(Default::default()),
        Err(e) => {
            tracing::error!(error = %e, "serialising a response");
            Err(AwsError::internal())
        }
    }
}

impl UserPoolApi {
    fn user_pool_type(&self, pool: &UserPool) -> Result<Value, AwsError> {
        let mut out = object(&pool.settings)?;
        out.remove("CirrusMfaFactors");
        out.insert("Id".into(), json!(pool.id));
        out.insert("Name".into(), json!(pool.name));
        out.insert("Arn".into(), json!(self.pools.pool_arn(&pool.id)));
        out.insert("CreationDate".into(), epoch_seconds(pool.created_ms));
        out.insert("LastModifiedDate".into(), epoch_seconds(pool.updated_ms));
        out.insert("SchemaAttributes".into(), json!(pool.schema));
        out.insert("EstimatedNumberOfUsers".into(), json!(0));
        Ok(Value::Object(out))
    }
}

fn user_pool_client_type(c: &ClientWithSecret) -> Result<Value, AwsError> {
    let client = &c.client;
    let mut out = object(&client.settings)?;
    out.insert("UserPoolId".into(), json!(client.pool_id));
    out.insert("ClientName".into(), json!(client.name));
    out.insert("ClientId".into(), json!(client.client_id));
    if let Some(secret) = &c.secret {
        out.insert("ClientSecret".into(), json!(secret));
    }
    out.insert("CreationDate".into(), epoch_seconds(client.created_ms));
    out.insert("LastModifiedDate".into(), epoch_seconds(client.updated_ms));
    Ok(Value::Object(out))
}

fn client_description(c: &AppClient) -> Value {
    json!({ "ClientId": c.client_id, "UserPoolId": c.pool_id, "ClientName": c.name })
}

fn with_next_token(mut body: Value, token: Option<String>) -> Value {
    if let (Some(t), Value::Object(map)) = (token, &mut body) {
        map.insert("NextToken".into(), json!(t));
    }
    body
}

#[async_trait]
impl JsonService for UserPoolApi {
    fn target_prefix(&self) -> &'static str {
        "AWSCognitoIdentityProviderService"
    }

    fn signing_name(&self) -> &'static str {
        "cognito-idp"
    }

    fn access(&self, operation: &str) -> Option<Access> {
        if auth_api::PUBLIC.contains(&operation) {
            return Some(Access::Public);
        }
        if auth_api::SIGNED.contains(&operation)
            || accounts_api::SIGNED.contains(&operation)
            || super::import::SIGNED.contains(&operation)
            || super::mfa_api::SIGNED.contains(&operation)
            || super::branding_api::SIGNED.contains(&operation)
            || super::federation_api::SIGNED.contains(&operation)
        {
            return Some(Access::Signed);
        }
        if accounts_api::PUBLIC.contains(&operation) || super::mfa_api::PUBLIC.contains(&operation) {
            return Some(Access::Public);
        }
        OPERATIONS.iter().find(|(name, _)| *name == operation).map(|(_, access)| *access)
    }

    async fn call_public(
        &self,
        operation: &str,
        body: &[u8],
        ctx: &RequestContext,
    ) -> Result<Value, AwsError> {
        if accounts_api::PUBLIC.contains(&operation) {
            return accounts_api::call_public(&self.pools, operation, body).await;
        }
        if super::mfa_api::PUBLIC.contains(&operation) {
            return super::mfa_api::call_public(&self.pools, operation, body).await;
        }
        auth_api::call_public(&self.pools, operation, body, ctx).await
    }

    async fn call_signed(
        &self,
        operation: &str,
        _caller: &Principal,
        body: &[u8],
        ctx: &RequestContext,
    ) -> Result<Value, AwsError> {
        let pools = &self.pools;
        match operation {
            "CreateUserPool" => {
                let r: CreateUserPoolRequest = decode(body)?;
                let settings: PoolSettings = decode(body)?;
                let pool = pools
                    .create_pool(NewPool {
                        name: r.pool_name,
                        schema: r.schema.unwrap_or_default(),
                        settings,
                    })
                    .await?;
                Ok(json!({ "UserPool": self.user_pool_type(&pool)? }))
            }
            "DescribeUserPool" => {
                let r: UserPoolIdRequest = decode(body)?;
                let pool = pools.describe_pool(&r.user_pool_id).await?;
                let mut out = self.user_pool_type(&pool)?;
                let (domain, custom) = pools.pool_domain_names(&pool.id).await?;
                if let Value::Object(map) = &mut out {
                    if let Some(d) = domain {
                        map.insert("Domain".into(), json!(d));
                    }
                    if let Some(d) = custom {
                        map.insert("CustomDomain".into(), json!(d));
                    }
                }
                Ok(json!({ "UserPool": out }))
            }
            "UpdateUserPool" => {
                let r: UpdateUserPoolRequest = decode(body)?;
                let settings: PoolSettings = decode(body)?;
                pools.update_pool(&r.user_pool_id, r.pool_name, settings).await?;
                Ok(json!({}))
            }
            "DeleteUserPool" => {
                let r: UserPoolIdRequest = decode(body)?;
                pools.delete_pool(&r.user_pool_id).await?;
                Ok(json!({}))
            }
            "ListUserPools" => {
                let r: ListUserPoolsRequest = decode(body)?;
                let page = pools.list_pools(r.max_results, r.next_token.as_deref()).await?;
                let items: Vec<Value> = page
                    .items
                    .iter()
                    .map(|p| {
                        json!({
                            "Id": p.id,
                            "Name": p.name,
                            "LambdaConfig": p.settings.lambda_config.clone().unwrap_or_default(),
                            "CreationDate": epoch_seconds(p.created_ms),
                            "LastModifiedDate": epoch_seconds(p.updated_ms),
                        })
                    })
                    .collect();
                Ok(with_next_token(json!({ "UserPools": items }), page.next_token))
            }
            "CreateUserPoolClient" => {
                let r: CreateUserPoolClientRequest = decode(body)?;
                let settings: ClientSettings = decode(body)?;
                let created = pools
                    .create_client(NewClient {
                        pool_id: r.user_pool_id,
                        name: r.client_name,
                        generate_secret: r.generate_secret.unwrap_or(false),
                        client_secret: r.client_secret,
                        settings,
                    })
                    .await?;
                Ok(json!({ "UserPoolClient": user_pool_client_type(&created)? }))
            }
            "DescribeUserPoolClient" => {
                let r: ClientIdRequest = decode(body)?;
                let client = pools.describe_client(&r.user_pool_id, &r.client_id).await?;
                Ok(json!({ "UserPoolClient": user_pool_client_type(&client)? }))
            }
            "UpdateUserPoolClient" => {
                let r: UpdateUserPoolClientRequest = decode(body)?;
                let settings: ClientSettings = decode(body)?;
                let client =
                    pools.update_client(&r.user_pool_id, &r.client_id, r.client_name, settings).await?;
                Ok(json!({ "UserPoolClient": user_pool_client_type(&client)? }))
            }
            "DeleteUserPoolClient" => {
                let r: ClientIdRequest = decode(body)?;
                pools.delete_client(&r.user_pool_id, &r.client_id).await?;
                Ok(json!({}))
            }
            "ListUserPoolClients" => {
                let r: ListUserPoolClientsRequest = decode(body)?;
                let page =
                    pools.list_clients(&r.user_pool_id, r.max_results, r.next_token.as_deref()).await?;
                let items: Vec<Value> = page.items.iter().map(client_description).collect();
                Ok(with_next_token(json!({ "UserPoolClients": items }), page.next_token))
            }
            "CreateResourceServer" | "UpdateResourceServer" => {
                let r: ResourceServerRequest = decode(body)?;
                let scopes = r.scopes.unwrap_or_default();
                let rs = if operation == "CreateResourceServer" {
                    pools.create_resource_server(&r.user_pool_id, &r.identifier, &r.name, scopes).await?
                } else {
                    pools.update_resource_server(&r.user_pool_id, &r.identifier, &r.name, scopes).await?
                };
                Ok(json!({ "ResourceServer": resource_server_type(&rs) }))
            }
            "DescribeResourceServer" | "DeleteResourceServer" => {
                let r: ResourceServerRef = decode(body)?;
                if operation == "DeleteResourceServer" {
                    pools.delete_resource_server(&r.user_pool_id, &r.identifier).await?;
                    return Ok(json!({}));
                }
                let rs = pools.describe_resource_server(&r.user_pool_id, &r.identifier).await?;
                Ok(json!({ "ResourceServer": resource_server_type(&rs) }))
            }
            "ListResourceServers" => {
                let r: ListUserPoolClientsRequest = decode(body)?;
                let max = r.max_results.ok_or_else(|| {
                    AwsError::invalid_parameter(
                        "1 validation error detected: Value null at 'maxResults' failed to satisfy constraint: \
                         Member must not be null",
                    )
                })?;
                let page = pools.list_resource_servers(&r.user_pool_id, max, r.next_token.as_deref()).await?;
                let items: Vec<Value> = page.items.iter().map(resource_server_type).collect();
                Ok(with_next_token(json!({ "ResourceServers": items }), page.next_token))
            }
            other if accounts_api::SIGNED.contains(&other) => {
                accounts_api::call_signed(pools, other, body).await
            }
            other if super::import::SIGNED.contains(&other) => {
                super::import::call_signed(pools, other, body).await
            }
            other if super::federation_api::SIGNED.contains(&other) => {
                super::federation_api::call_signed(pools, other, body).await
            }
            other if super::branding_api::SIGNED.contains(&other) => {
                super::branding_api::call_signed(pools, other, body).await
            }
            other if super::mfa_api::SIGNED.contains(&other) => {
                super::mfa_api::call_signed(pools, other, body).await
            }
            other => auth_api::call_signed(pools, other, body, ctx).await,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResourceServerRequest {
    user_pool_id: String,
    identifier: String,
    name: String,
    scopes: Option<Vec<crate::model::ResourceServerScope>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResourceServerRef {
    user_pool_id: String,
    identifier: String,
}

fn resource_server_type(rs: &crate::model::ResourceServer) -> Value {
    json!({
        "UserPoolId": rs.pool_id,
        "Identifier": rs.identifier,
        "Name": rs.name,
        "Scopes": rs.scopes,
    })
}
