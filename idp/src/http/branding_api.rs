//! Domains and hosted-UI branding on the wire: Create/Describe/Update/
//! DeleteUserPoolDomain and Set/GetUICustomization.

use awsapi::AwsError;
use awsapi::json::decode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::service::UserPools;

pub const SIGNED: &[&str] = &[
    "CreateUserPoolDomain",
    "DescribeUserPoolDomain",
    "UpdateUserPoolDomain",
    "DeleteUserPoolDomain",
    "SetUICustomization",
    "GetUICustomization",
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DomainInput {
    domain: String,
    user_pool_id: String,
    managed_login_version: Option<i64>,
    custom_domain_config: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DomainOnly {
    domain: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UiInput {
    user_pool_id: String,
    client_id: Option<String>,
    #[serde(rename = "CSS")]
    css: Option<String>,
    image_file: Option<String>,
}

pub async fn call_signed(pools: &UserPools, operation: &str, body: &[u8]) -> Result<Value, AwsError> {
    match operation {
        "CreateUserPoolDomain" | "UpdateUserPoolDomain" => {
            let r: DomainInput = decode(body)?;
            let out = if operation == "CreateUserPoolDomain" {
                pools
                    .create_pool_domain(
                        &r.user_pool_id,
                        &r.domain,
                        r.managed_login_version,
                        r.custom_domain_config,
                    )
                    .await?
            } else {
                pools
                    .update_pool_domain(
                        &r.user_pool_id,
                        &r.domain,
                        r.managed_login_version,
                        r.custom_domain_config,
                    )
                    .await?
            };
            Ok(out)
        }
        "DescribeUserPoolDomain" => {
            let r: DomainOnly = decode(body)?;
            Ok(json!({ "DomainDescription": pools.describe_pool_domain(&r.domain).await? }))
        }
        "DeleteUserPoolDomain" => {
            let r: DomainInput = decode(body)?;
            pools.delete_pool_domain(&r.user_pool_id, &r.domain).await?;
            Ok(json!({}))
        }
        "SetUICustomization" => {
            let r: UiInput = decode(body)?;
            let image = r
                .image_file
                .map(|b| STANDARD.decode(b.trim()))
                .transpose()
                .map_err(|_| AwsError::invalid_parameter("ImageFile is not valid base64."))?;
            let ui =
                pools.set_ui_customization(&r.user_pool_id, r.client_id.as_deref(), r.css, image).await?;
            Ok(json!({ "UICustomization": ui }))
        }
        "GetUICustomization" => {
            let r: UiInput = decode(body)?;
            Ok(
                json!({ "UICustomization": pools.get_ui_customization(&r.user_pool_id, r.client_id.as_deref()).await? }),
            )
        }
        _ => Err(AwsError::internal()),
    }
}
