//! Account operations on the wire: admin user management, search,
//! self-service, recovery, groups.

use awsapi::AwsError;
use awsapi::json::decode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth_api::{AttributeType, attribute_list, delivery, pairs, user_type, with_mfa};
use crate::model::{AuthEvent, Group, User};
use crate::service::UserPools;
use crate::service::groups::GroupSpec;

pub const PUBLIC: &[&str] = &[
    "UpdateUserAttributes",
    "DeleteUserAttributes",
    "DeleteUser",
    "ChangePassword",
    "GetUserAttributeVerificationCode",
    "VerifyUserAttribute",
    "ForgotPassword",
    "ConfirmForgotPassword",
];

pub const SIGNED: &[&str] = &[
    "AdminGetUser",
    "AdminDeleteUser",
    "AdminDisableUser",
    "AdminEnableUser",
    "AdminSetUserPassword",
    "AdminResetUserPassword",
    "AdminUpdateUserAttributes",
    "AdminDeleteUserAttributes",
    "AdminListUserAuthEvents",
    "ListUsers",
    "CreateGroup",
    "GetGroup",
    "UpdateGroup",
    "DeleteGroup",
    "ListGroups",
    "AdminAddUserToGroup",
    "AdminRemoveUserFromGroup",
    "AdminListGroupsForUser",
    "ListUsersInGroup",
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoolUser {
    user_pool_id: String,
    username: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SetPassword {
    user_pool_id: String,
    username: String,
    password: String,
    permanent: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AdminAttributes {
    user_pool_id: String,
    username: String,
    user_attributes: Vec<AttributeType>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AdminAttributeNames {
    user_pool_id: String,
    username: String,
    user_attribute_names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AuthEventsInput {
    user_pool_id: String,
    username: String,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListUsersInput {
    user_pool_id: String,
    attributes_to_get: Option<Vec<String>>,
    limit: Option<i64>,
    pagination_token: Option<String>,
    filter: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GroupInput {
    user_pool_id: String,
    group_name: String,
    description: Option<String>,
    role_arn: Option<String>,
    precedence: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GroupRef {
    user_pool_id: String,
    group_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    user_pool_id: String,
    group_name: Option<String>,
    username: Option<String>,
    limit: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Membership {
    user_pool_id: String,
    username: String,
    group_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AccessAttributes {
    access_token: String,
    user_attributes: Vec<AttributeType>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AccessAttributeNames {
    access_token: String,
    user_attribute_names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AccessOnly {
    access_token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ChangePasswordInput {
    access_token: String,
    previous_password: Option<String>,
    proposed_password: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VerificationCodeInput {
    access_token: String,
    attribute_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VerifyInput {
    access_token: String,
    attribute_name: String,
    code: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ForgotInput {
    client_id: String,
    secret_hash: Option<String>,
    username: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConfirmForgotInput {
    client_id: String,
    secret_hash: Option<String>,
    username: String,
    confirmation_code: String,
    password: String,
}

fn group_type(g: &Group) -> Value {
    let mut v = json!({
        "GroupName": g.name,
        "UserPoolId": g.pool_id,
        "LastModifiedDate": g.updated_ms as f64 / 1000.0,
        "CreationDate": g.created_ms as f64 / 1000.0,
    });
    if let Value::Object(map) = &mut v {
        if let Some(d) = &g.description {
            map.insert("Description".into(), json!(d));
        }
        if let Some(r) = &g.role_arn {
            map.insert("RoleArn".into(), json!(r));
        }
        if let Some(p) = g.precedence {
            map.insert("Precedence".into(), json!(p));
        }
    }
    v
}

fn auth_event(e: &AuthEvent) -> Value {
    json!({
        "EventId": e.event_id,
        "EventType": e.event_type,
        "CreationDate": e.created_ms as f64 / 1000.0,
        "EventResponse": e.response,
        "EventRisk": { "RiskDecision": "NoRisk", "CompromisedCredentialsDetected": false },
        "ChallengeResponses": [{ "ChallengeName": "Password", "ChallengeResponse": if e.response == "Pass" { "Success" } else { "Failure" } }],
        "EventContextData": {
            "IpAddress": e.ip_address.clone().unwrap_or_default(),
            "DeviceName": e.user_agent.clone().unwrap_or_default(),
        },
    })
}

fn with_token(mut v: Value, key: &str, token: Option<String>) -> Value {
    if let (Some(t), Value::Object(map)) = (token, &mut v) {
        map.insert(key.into(), json!(t));
    }
    v
}

fn user_with_attributes(user: &User, only: Option<&[String]>) -> Value {
    let mut v = user_type(user);
    if let (Some(names), Value::Object(map)) = (only, &mut v) {
        let kept: Vec<Value> = attribute_list(user)
            .into_iter()
            .filter(|a| a["Name"].as_str().is_some_and(|n| names.iter().any(|w| w == n)))
            .collect();
        map.insert("Attributes".into(), json!(kept));
    }
    v
}

pub async fn call_public(pools: &UserPools, operation: &str, body: &[u8]) -> Result<Value, AwsError> {
    match operation {
        "UpdateUserAttributes" => {
            let r: AccessAttributes = decode(body)?;
            let sent = pools.update_user_attributes(&r.access_token, &pairs(Some(r.user_attributes))).await?;
            Ok(json!({ "CodeDeliveryDetailsList": sent.iter().map(delivery).collect::<Vec<_>>() }))
        }
        "DeleteUserAttributes" => {
            let r: AccessAttributeNames = decode(body)?;
            pools.delete_user_attributes(&r.access_token, &r.user_attribute_names).await?;
            Ok(json!({}))
        }
        "DeleteUser" => {
            let r: AccessOnly = decode(body)?;
            pools.delete_user(&r.access_token).await?;
            Ok(json!({}))
        }
        "ChangePassword" => {
            let r: ChangePasswordInput = decode(body)?;
            pools
                .change_password(
                    &r.access_token,
                    r.previous_password.as_deref().unwrap_or_default(),
                    &r.proposed_password,
                )
                .await?;
            Ok(json!({}))
        }
        "GetUserAttributeVerificationCode" => {
            let r: VerificationCodeInput = decode(body)?;
            let d = pools.get_user_attribute_verification_code(&r.access_token, &r.attribute_name).await?;
            Ok(json!({ "CodeDeliveryDetails": delivery(&d) }))
        }
        "VerifyUserAttribute" => {
            let r: VerifyInput = decode(body)?;
            pools.verify_user_attribute(&r.access_token, &r.attribute_name, &r.code).await?;
            Ok(json!({}))
        }
        "ForgotPassword" => {
            let r: ForgotInput = decode(body)?;
            let d = pools.forgot_password(&r.client_id, r.secret_hash.as_deref(), &r.username).await?;
            Ok(json!({ "CodeDeliveryDetails": delivery(&d) }))
        }
        "ConfirmForgotPassword" => {
            let r: ConfirmForgotInput = decode(body)?;
            pools
                .confirm_forgot_password(
                    &r.client_id,
                    r.secret_hash.as_deref(),
                    &r.username,
                    &r.confirmation_code,
                    &r.password,
                )
                .await?;
            Ok(json!({}))
        }
        other => Err(AwsError::unknown_operation(other)),
    }
}

pub async fn call_signed(pools: &UserPools, operation: &str, body: &[u8]) -> Result<Value, AwsError> {
    match operation {
        "AdminGetUser" => {
            let r: PoolUser = decode(body)?;
            let user = pools.admin_get_user(&r.user_pool_id, &r.username).await?;
            Ok(with_mfa(
                json!({
                    "Username": user.username,
                    "UserAttributes": attribute_list(&user),
                    "UserCreateDate": user.created_ms as f64 / 1000.0,
                    "UserLastModifiedDate": user.updated_ms as f64 / 1000.0,
                    "Enabled": user.enabled,
                    "UserStatus": user.status.as_str(),
                }),
                &user,
            ))
        }
        "AdminDeleteUser" => {
            let r: PoolUser = decode(body)?;
            pools.admin_delete_user(&r.user_pool_id, &r.username).await?;
            Ok(json!({}))
        }
        "AdminDisableUser" | "AdminEnableUser" => {
            let r: PoolUser = decode(body)?;
            pools.admin_set_enabled(&r.user_pool_id, &r.username, operation == "AdminEnableUser").await?;
            Ok(json!({}))
        }
        "AdminSetUserPassword" => {
            let r: SetPassword = decode(body)?;
            pools
                .admin_set_user_password(
                    &r.user_pool_id,
                    &r.username,
                    &r.password,
                    r.permanent.unwrap_or(false),
                )
                .await?;
            Ok(json!({}))
        }
        "AdminResetUserPassword" => {
            let r: PoolUser = decode(body)?;
            pools.admin_reset_user_password(&r.user_pool_id, &r.username).await?;
            Ok(json!({}))
        }
        "AdminUpdateUserAttributes" => {
            let r: AdminAttributes = decode(body)?;
            pools
                .admin_update_user_attributes(&r.user_pool_id, &r.username, &pairs(Some(r.user_attributes)))
                .await?;
            Ok(json!({}))
        }
        "AdminDeleteUserAttributes" => {
            let r: AdminAttributeNames = decode(body)?;
            pools.admin_delete_user_attributes(&r.user_pool_id, &r.username, &r.user_attribute_names).await?;
            Ok(json!({}))
        }
        "AdminListUserAuthEvents" => {
            let r: AuthEventsInput = decode(body)?;
            let (events, next) = pools
                .admin_list_user_auth_events(
                    &r.user_pool_id,
                    &r.username,
                    r.max_results,
                    r.next_token.as_deref(),
                )
                .await?;
            Ok(with_token(
                json!({ "AuthEvents": events.iter().map(auth_event).collect::<Vec<_>>() }),
                "NextToken",
                next,
            ))
        }
        "ListUsers" => {
            let r: ListUsersInput = decode(body)?;
            let (users, next) = pools
                .list_users(&r.user_pool_id, r.filter.as_deref(), r.limit, r.pagination_token.as_deref())
                .await?;
            let only = r.attributes_to_get.as_deref();
            let users: Vec<Value> = users.iter().map(|u| user_with_attributes(u, only)).collect();
            Ok(with_token(json!({ "Users": users }), "PaginationToken", next))
        }
        "CreateGroup" | "UpdateGroup" => {
            let r: GroupInput = decode(body)?;
            let spec =
                GroupSpec { description: r.description, role_arn: r.role_arn, precedence: r.precedence };
            let group = if operation == "CreateGroup" {
                pools.create_group(&r.user_pool_id, &r.group_name, spec).await?
            } else {
                pools.update_group(&r.user_pool_id, &r.group_name, spec).await?
            };
            Ok(json!({ "Group": group_type(&group) }))
        }
        "GetGroup" => {
            let r: GroupRef = decode(body)?;
            Ok(json!({ "Group": group_type(&pools.get_group(&r.user_pool_id, &r.group_name).await?) }))
        }
        "DeleteGroup" => {
            let r: GroupRef = decode(body)?;
            pools.delete_group(&r.user_pool_id, &r.group_name).await?;
            Ok(json!({}))
        }
        "ListGroups" => {
            let r: ListInput = decode(body)?;
            let page = pools.list_groups(&r.user_pool_id, r.limit, r.next_token.as_deref()).await?;
            Ok(with_token(
                json!({ "Groups": page.items.iter().map(group_type).collect::<Vec<_>>() }),
                "NextToken",
                page.next_token,
            ))
        }
        "AdminAddUserToGroup" | "AdminRemoveUserFromGroup" => {
            let r: Membership = decode(body)?;
            if operation == "AdminAddUserToGroup" {
                pools.add_user_to_group(&r.user_pool_id, &r.username, &r.group_name).await?;
            } else {
                pools.remove_user_from_group(&r.user_pool_id, &r.username, &r.group_name).await?;
            }
            Ok(json!({}))
        }
        "AdminListGroupsForUser" => {
            let r: ListInput = decode(body)?;
            let username = r.username.ok_or_else(|| missing("Username"))?;
            let page =
                pools.groups_for_user(&r.user_pool_id, &username, r.limit, r.next_token.as_deref()).await?;
            Ok(with_token(
                json!({ "Groups": page.items.iter().map(group_type).collect::<Vec<_>>() }),
                "NextToken",
                page.next_token,
            ))
        }
        "ListUsersInGroup" => {
            let r: ListInput = decode(body)?;
            let group = r.group_name.ok_or_else(|| missing("GroupName"))?;
            let page =
                pools.users_in_group(&r.user_pool_id, &group, r.limit, r.next_token.as_deref()).await?;
            Ok(with_token(
                json!({ "Users": page.items.iter().map(user_type).collect::<Vec<_>>() }),
                "NextToken",
                page.next_token,
            ))
        }
        other => Err(AwsError::unknown_operation(other)),
    }
}

fn missing(member: &str) -> AwsError {
    AwsError::invalid_parameter(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}
