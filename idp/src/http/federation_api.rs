//! Identity providers and provider links on the wire.

use std::collections::BTreeMap;

use awsapi::AwsError;
use awsapi::json::decode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::IdentityProvider;
use crate::service::UserPools;

pub const SIGNED: &[&str] = &[
    "CreateIdentityProvider",
    "DescribeIdentityProvider",
    "UpdateIdentityProvider",
    "DeleteIdentityProvider",
    "ListIdentityProviders",
    "GetIdentityProviderByIdentifier",
    "AdminLinkProviderForUser",
    "AdminDisableProviderForUser",
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProviderInput {
    user_pool_id: String,
    provider_name: String,
    provider_type: Option<String>,
    provider_details: Option<BTreeMap<String, String>>,
    attribute_mapping: Option<BTreeMap<String, String>>,
    idp_identifiers: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    user_pool_id: String,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IdentifierInput {
    user_pool_id: String,
    idp_identifier: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProviderUser {
    provider_name: String,
    provider_attribute_name: Option<String>,
    provider_attribute_value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LinkInput {
    user_pool_id: String,
    destination_user: ProviderUser,
    source_user: ProviderUser,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DisableInput {
    user_pool_id: String,
    user: ProviderUser,
}

fn epoch(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

fn provider_type(p: &IdentityProvider) -> Value {
    json!({
        "UserPoolId": p.pool_id,
        "ProviderName": p.name,
        "ProviderType": p.provider_type,
        "ProviderDetails": p.details,
        "AttributeMapping": p.attribute_mapping,
        "IdpIdentifiers": p.idp_identifiers,
        "LastModifiedDate": epoch(p.updated_ms),
        "CreationDate": epoch(p.created_ms),
    })
}

pub async fn call_signed(pools: &UserPools, operation: &str, body: &[u8]) -> Result<Value, AwsError> {
    match operation {
        "CreateIdentityProvider" => {
            let r: ProviderInput = decode(body)?;
            let kind =
                r.provider_type.ok_or_else(|| AwsError::invalid_parameter("ProviderType is required."))?;
            let details = r
                .provider_details
                .ok_or_else(|| AwsError::invalid_parameter("ProviderDetails is required."))?;
            let p = pools
                .create_identity_provider(
                    &r.user_pool_id,
                    &r.provider_name,
                    &kind,
                    details,
                    r.attribute_mapping,
                    r.idp_identifiers,
                )
                .await?;
            Ok(json!({ "IdentityProvider": provider_type(&p) }))
        }
        "DescribeIdentityProvider" => {
            let r: ProviderInput = decode(body)?;
            let p = pools.describe_identity_provider(&r.user_pool_id, &r.provider_name).await?;
            let mut out = provider_type(&p);
            // The certificate a SAML IdP encrypts assertions to.
            if p.provider_type == "SAML"
                && p.details.get("EncryptedResponses").map(String::as_str) == Some("true")
            {
                let cert = pools.saml_encryption_certificate(&r.user_pool_id).await?;
                out["ProviderDetails"]["ActiveEncryptionCertificate"] = json!(cert);
            }
            Ok(json!({ "IdentityProvider": out }))
        }
        "UpdateIdentityProvider" => {
            let r: ProviderInput = decode(body)?;
            let p = pools
                .update_identity_provider(
                    &r.user_pool_id,
                    &r.provider_name,
                    r.provider_details,
                    r.attribute_mapping,
                    r.idp_identifiers,
                )
                .await?;
            Ok(json!({ "IdentityProvider": provider_type(&p) }))
        }
        "DeleteIdentityProvider" => {
            let r: ProviderInput = decode(body)?;
            pools.delete_identity_provider(&r.user_pool_id, &r.provider_name).await?;
            Ok(json!({}))
        }
        "ListIdentityProviders" => {
            let r: ListInput = decode(body)?;
            let page = pools
                .list_identity_providers(&r.user_pool_id, r.max_results, r.next_token.as_deref())
                .await?;
            let items: Vec<Value> = page
                .items
                .iter()
                .map(|p| {
                    json!({
                        "ProviderName": p.name,
                        "ProviderType": p.provider_type,
                        "LastModifiedDate": epoch(p.updated_ms),
                        "CreationDate": epoch(p.created_ms),
                    })
                })
                .collect();
            let mut out = json!({ "Providers": items });
            if let Some(t) = page.next_token {
                out["NextToken"] = json!(t);
            }
            Ok(out)
        }
        "GetIdentityProviderByIdentifier" => {
            let r: IdentifierInput = decode(body)?;
            let p = pools.identity_provider_by_identifier(&r.user_pool_id, &r.idp_identifier).await?;
            Ok(json!({ "IdentityProvider": provider_type(&p) }))
        }
        "AdminLinkProviderForUser" => {
            let r: LinkInput = decode(body)?;
            let source_attribute =
                r.source_user.provider_attribute_name.as_deref().unwrap_or("Cognito_Subject");
            pools
                .admin_link_provider(
                    &r.user_pool_id,
                    (&r.destination_user.provider_name, &r.destination_user.provider_attribute_value),
                    (&r.source_user.provider_name, source_attribute, &r.source_user.provider_attribute_value),
                )
                .await?;
            Ok(json!({}))
        }
        "AdminDisableProviderForUser" => {
            let r: DisableInput = decode(body)?;
            let attribute = r.user.provider_attribute_name.as_deref().unwrap_or("Cognito_Subject");
            pools
                .admin_disable_provider(
                    &r.user_pool_id,
                    &r.user.provider_name,
                    attribute,
                    &r.user.provider_attribute_value,
                )
                .await?;
            Ok(json!({}))
        }
        _ => Err(AwsError::internal()),
    }
}
