//! The sign-up, sign-in and token operations on the wire.

use std::collections::BTreeMap;

use awsapi::json::decode;
use awsapi::{AwsError, RequestContext};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::User;
use crate::service::signin::{Caller, Origin};
use crate::service::{AuthOutcome, CodeDelivery, NewAdminUser, SignUpRequest, Tokens, UserPools};

/// Public (unsigned) operations of this module.
pub const PUBLIC: &[&str] = &[
    "SignUp",
    "ConfirmSignUp",
    "ResendConfirmationCode",
    "InitiateAuth",
    "RespondToAuthChallenge",
    "GetUser",
    "GlobalSignOut",
    "RevokeToken",
    "GetTokensFromRefreshToken",
];

/// Signed (admin) operations of this module.
pub const SIGNED: &[&str] = &[
    "AdminConfirmSignUp",
    "AdminInitiateAuth",
    "AdminRespondToAuthChallenge",
    "AdminUserGlobalSignOut",
    "AdminCreateUser",
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AttributeType {
    name: String,
    value: Option<String>,
}

pub(super) fn pairs(attrs: Option<Vec<AttributeType>>) -> Vec<(String, String)> {
    attrs.unwrap_or_default().into_iter().map(|a| (a.name, a.value.unwrap_or_default())).collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SignUpInput {
    client_id: String,
    secret_hash: Option<String>,
    username: String,
    password: Option<String>,
    user_attributes: Option<Vec<AttributeType>>,
    validation_data: Option<Vec<AttributeType>>,
    client_metadata: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConfirmSignUpInput {
    client_id: String,
    secret_hash: Option<String>,
    username: String,
    confirmation_code: String,
    force_alias_creation: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResendInput {
    client_id: String,
    secret_hash: Option<String>,
    username: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoolUserInput {
    user_pool_id: String,
    username: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InitiateAuthInput {
    user_pool_id: Option<String>,
    client_id: String,
    auth_flow: String,
    auth_parameters: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RespondInput {
    user_pool_id: Option<String>,
    client_id: String,
    challenge_name: String,
    session: Option<String>,
    challenge_responses: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AccessTokenInput {
    access_token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RevokeTokenInput {
    token: String,
    client_id: String,
    client_secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RefreshInput {
    refresh_token: String,
    client_id: String,
    client_secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AdminCreateUserInput {
    user_pool_id: String,
    username: String,
    user_attributes: Option<Vec<AttributeType>>,
    temporary_password: Option<String>,
    message_action: Option<MessageAction>,
    desired_delivery_mediums: Option<Vec<DeliveryMedium>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms)]
enum MessageAction {
    RESEND,
    SUPPRESS,
}

#[derive(Deserialize, Clone, Copy)]
#[allow(clippy::upper_case_acronyms)]
pub(super) enum DeliveryMedium {
    SMS,
    EMAIL,
}

pub(super) fn delivery(d: &CodeDelivery) -> Value {
    json!({ "Destination": d.destination, "DeliveryMedium": d.medium, "AttributeName": d.attribute })
}

fn tokens(t: &Tokens) -> Value {
    let mut result = json!({
        "AccessToken": t.access_token,
        "ExpiresIn": t.expires_in,
        "TokenType": "Bearer",
        "IdToken": t.id_token,
    });
    if let (Some(r), Value::Object(map)) = (&t.refresh_token, &mut result) {
        map.insert("RefreshToken".into(), json!(r));
    }
    result
}

fn outcome(o: AuthOutcome) -> Value {
    match o {
        AuthOutcome::Tokens(t) => json!({ "ChallengeParameters": {}, "AuthenticationResult": tokens(&t) }),
        AuthOutcome::Challenge(c) => {
            let mut v = json!({
                "ChallengeName": c.name,
                "Session": c.session,
                "ChallengeParameters": c.parameters,
            });
            if let (false, Value::Object(map)) = (c.available.is_empty(), &mut v) {
                map.insert("AvailableChallenges".into(), json!(c.available));
            }
            v
        }
        // Only hosted-UI steps end this way; the API never runs one.
        AuthOutcome::SignedIn { .. } => json!({ "ChallengeParameters": {} }),
    }
}

pub(super) fn attribute_list(user: &User) -> Vec<Value> {
    user.attributes
        .iter()
        .filter(|(k, _)| !k.starts_with("dev:"))
        .map(|(k, v)| json!({ "Name": k, "Value": v }))
        .collect()
}

/// `PreferredMfaSetting` and `UserMFASettingList` of GetUser / AdminGetUser.
pub(super) fn with_mfa(mut v: Value, user: &User) -> Value {
    let (list, preferred) = UserPools::mfa_settings(user);
    if let Value::Object(map) = &mut v {
        map.insert("UserMFASettingList".into(), json!(list));
        if let Some(p) = preferred {
            map.insert("PreferredMfaSetting".into(), json!(p));
        }
    }
    v
}

pub(super) fn user_type(user: &User) -> Value {
    json!({
        "Username": user.username,
        "Attributes": attribute_list(user),
        "UserCreateDate": user.created_ms as f64 / 1000.0,
        "UserLastModifiedDate": user.updated_ms as f64 / 1000.0,
        "Enabled": user.enabled,
        "UserStatus": user.status.as_str(),
    })
}

fn origin(ctx: &RequestContext) -> Origin {
    Origin { ip_address: ctx.source_ip.clone(), user_agent: ctx.user_agent.clone() }
}

pub async fn call_public(
    pools: &UserPools,
    operation: &str,
    body: &[u8],
    ctx: &RequestContext,
) -> Result<Value, AwsError> {
    match operation {
        "SignUp" => {
            let r: SignUpInput = decode(body)?;
            let done = pools
                .sign_up(SignUpRequest {
                    client_id: r.client_id,
                    secret_hash: r.secret_hash,
                    username: r.username,
                    password: r.password,
                    attributes: pairs(r.user_attributes),
                    validation_data: pairs(r.validation_data),
                    client_metadata: r.client_metadata.unwrap_or_default(),
                })
                .await?;
            let mut out = json!({ "UserConfirmed": done.confirmed, "UserSub": done.user_sub });
            if let (Some(d), Value::Object(map)) = (&done.delivery, &mut out) {
                map.insert("CodeDeliveryDetails".into(), delivery(d));
            }
            Ok(out)
        }
        "ConfirmSignUp" => {
            let r: ConfirmSignUpInput = decode(body)?;
            pools
                .confirm_sign_up(
                    &r.client_id,
                    r.secret_hash.as_deref(),
                    &r.username,
                    &r.confirmation_code,
                    r.force_alias_creation.unwrap_or(false),
                )
                .await?;
            Ok(json!({}))
        }
        "ResendConfirmationCode" => {
            let r: ResendInput = decode(body)?;
            let d =
                pools.resend_confirmation_code(&r.client_id, r.secret_hash.as_deref(), &r.username).await?;
            Ok(d.map(|d| json!({ "CodeDeliveryDetails": delivery(&d) })).unwrap_or_else(|| json!({})))
        }
        "InitiateAuth" => {
            let r: InitiateAuthInput = decode(body)?;
            let params = r.auth_parameters.unwrap_or_default();
            Ok(outcome(
                pools
                    .initiate_auth(Caller::Public, &r.client_id, &r.auth_flow, &params, &origin(ctx))
                    .await?,
            ))
        }
        "RespondToAuthChallenge" => {
            let r: RespondInput = decode(body)?;
            let responses = r.challenge_responses.unwrap_or_default();
            let o = pools
                .respond_to_auth_challenge(
                    Caller::Public,
                    &r.client_id,
                    &r.challenge_name,
                    r.session.as_deref(),
                    &responses,
                )
                .await?;
            Ok(outcome(o))
        }
        "GetUser" => {
            let r: AccessTokenInput = decode(body)?;
            let user = pools.get_user(&r.access_token).await?;
            Ok(with_mfa(json!({ "Username": user.username, "UserAttributes": attribute_list(&user) }), &user))
        }
        "GlobalSignOut" => {
            let r: AccessTokenInput = decode(body)?;
            pools.global_sign_out(&r.access_token).await?;
            Ok(json!({}))
        }
        "RevokeToken" => {
            let r: RevokeTokenInput = decode(body)?;
            pools.revoke_token(&r.token, &r.client_id, r.client_secret.as_deref()).await?;
            Ok(json!({}))
        }
        "GetTokensFromRefreshToken" => {
            let r: RefreshInput = decode(body)?;
            let t = pools
                .get_tokens_from_refresh_token(&r.refresh_token, &r.client_id, r.client_secret.as_deref())
                .await?;
            Ok(json!({ "AuthenticationResult": tokens(&t) }))
        }
        other => Err(AwsError::unknown_operation(other)),
    }
}

pub async fn call_signed(
    pools: &UserPools,
    operation: &str,
    body: &[u8],
    ctx: &RequestContext,
) -> Result<Value, AwsError> {
    match operation {
        "AdminConfirmSignUp" => {
            let r: PoolUserInput = decode(body)?;
            pools.admin_confirm_sign_up(&r.user_pool_id, &r.username).await?;
            Ok(json!({}))
        }
        "AdminInitiateAuth" => {
            let r: InitiateAuthInput = decode(body)?;
            let pool_id = r.user_pool_id.unwrap_or_default();
            let params = r.auth_parameters.unwrap_or_default();
            let caller = Caller::Admin { pool_id: &pool_id };
            Ok(outcome(pools.initiate_auth(caller, &r.client_id, &r.auth_flow, &params, &origin(ctx)).await?))
        }
        "AdminRespondToAuthChallenge" => {
            let r: RespondInput = decode(body)?;
            let pool_id = r.user_pool_id.unwrap_or_default();
            let responses = r.challenge_responses.unwrap_or_default();
            let caller = Caller::Admin { pool_id: &pool_id };
            let o = pools
                .respond_to_auth_challenge(
                    caller,
                    &r.client_id,
                    &r.challenge_name,
                    r.session.as_deref(),
                    &responses,
                )
                .await?;
            Ok(outcome(o))
        }
        "AdminUserGlobalSignOut" => {
            let r: PoolUserInput = decode(body)?;
            pools.admin_user_global_sign_out(&r.user_pool_id, &r.username).await?;
            Ok(json!({}))
        }
        "AdminCreateUser" => {
            let r: AdminCreateUserInput = decode(body)?;
            let user = pools
                .admin_create_user(NewAdminUser {
                    pool_id: r.user_pool_id,
                    username: r.username,
                    attributes: pairs(r.user_attributes),
                    temporary_password: r.temporary_password,
                    suppress_message: r.message_action == Some(MessageAction::SUPPRESS),
                    resend: r.message_action == Some(MessageAction::RESEND),
                    delivery_mediums: r
                        .desired_delivery_mediums
                        .unwrap_or_default()
                        .into_iter()
                        .map(|m| match m {
                            DeliveryMedium::SMS => "SMS".to_string(),
                            DeliveryMedium::EMAIL => "EMAIL".to_string(),
                        })
                        .collect(),
                })
                .await?;
            Ok(json!({ "User": user_type(&user) }))
        }
        other => Err(AwsError::unknown_operation(other)),
    }
}
