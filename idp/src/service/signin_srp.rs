//! USER_SRP_AUTH: PASSWORD_VERIFIER with the state carried in SECRET_BLOCK
//! (sealed, single-use), since pycognito answers without a Session.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::UserPools;
use super::signin::{AuthOutcome, Challenge, lock_until};
use super::srp::{Group, hex, parse_hex};
use crate::error::{IdpError, Result};
use crate::model::*;

const SRP_AAD: &[u8] = b"cirrus/srp-secret-block/v1";
/// How long a PASSWORD_VERIFIER challenge may be answered.
const SRP_VALIDITY_MS: i64 = 5 * 60 * 1000;

#[derive(Serialize, Deserialize)]
struct SrpState {
    id: String,
    pool: String,
    client: String,
    /// Empty for an unknown user under PreventUserExistenceErrors: the
    /// answer then fails like a wrong password.
    user: String,
    a: String,
    b: String,
    big_b: String,
    expires_ms: i64,
    /// CUSTOM_AUTH's SRP_A-first variant: after the password, back to
    /// DefineAuthChallenge.
    #[serde(default)]
    custom: bool,
}

fn wrong() -> IdpError {
    IdpError::NotAuthorized("Incorrect username or password.".into())
}

impl UserPools {
    pub(super) async fn srp_start(
        &self,
        pool: &UserPool,
        client: &AppClient,
        username: &str,
        srp_a: &str,
        custom: bool,
    ) -> Result<AuthOutcome> {
        let group = Group::new();
        let a = parse_hex(srp_a)
            .filter(|a| group.valid_a(a))
            .ok_or_else(|| IdpError::NotAuthorized("Invalid SRP_A.".into()))?;
        let user = self.find_user(pool, username).await?;
        let (user_key, user_id, salt, verifier) = match &user {
            Some(u) => {
                if u.locked_until_ms > self.now_ms() {
                    return Err(IdpError::NotAuthorized("Password attempts exceeded".into()));
                }
                self.pre_authentication(pool, client, u).await?;
                match &u.srp {
                    Some(s) => {
                        (u.username_key.clone(), u.username.clone(), s.salt.clone(), s.verifier.clone())
                    }
                    // No verifier yet (an imported hash): only a password
                    // sign-in can make one.
                    None => return Err(wrong()),
                }
            }
            None if Self::prevents_existence_errors(client) => {
                let (salt, verifier) = group.verifier("x", username, &uuid::Uuid::new_v4().to_string());
                (String::new(), username.to_string(), salt, verifier)
            }
            None => return Err(IdpError::UserNotFound("User does not exist.".into())),
        };
        let v = parse_hex(&verifier)
            .ok_or_else(|| IdpError::Internal("stored SRP verifier is not hex".into()))?;
        let (b, big_b) = tokio::task::spawn_blocking(move || Group::new().server_ephemeral(&v))
            .await
            .map_err(|e| IdpError::Internal(format!("SRP: {e}")))?;
        let state = SrpState {
            id: uuid::Uuid::new_v4().to_string(),
            pool: pool.id.clone(),
            client: client.client_id.clone(),
            user: user_key,
            a: hex(&a),
            b: hex(&b),
            big_b: hex(&big_b),
            expires_ms: self.now_ms() + SRP_VALIDITY_MS,
            custom,
        };
        let plain = serde_json::to_vec(&state).map_err(|e| IdpError::Internal(e.to_string()))?;
        let secret_block = STANDARD.encode(self.master_key.seal(&plain, SRP_AAD));
        let mut parameters = BTreeMap::new();
        parameters.insert("SALT".into(), salt);
        parameters.insert("SRP_B".into(), hex(&big_b));
        parameters.insert("SECRET_BLOCK".into(), secret_block);
        parameters.insert("USERNAME".into(), user_id.clone());
        parameters.insert("USER_ID_FOR_SRP".into(), user_id);
        // identity-js echoes a Session; pycognito sends none. Either works.
        let session = uuid::Uuid::new_v4().simple().to_string();
        Ok(AuthOutcome::Challenge(Challenge {
            name: "PASSWORD_VERIFIER",
            session,
            parameters,
            available: Vec::new(),
        }))
    }

    pub(super) async fn srp_finish(
        &self,
        pool: &UserPool,
        client: &AppClient,
        username: &str,
        responses: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome> {
        let response = |name: &str| {
            responses
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| IdpError::InvalidParameter(format!("Missing required parameter {name}")))
        };
        let block_text = response("PASSWORD_CLAIM_SECRET_BLOCK")?;
        let signature = response("PASSWORD_CLAIM_SIGNATURE")?;
        let timestamp = response("TIMESTAMP")?.to_string();
        let invalid = || IdpError::NotAuthorized("Invalid session for the user.".into());
        let block = STANDARD.decode(block_text).map_err(|_| invalid())?;
        let plain = self.master_key.open(&block, SRP_AAD).map_err(|_| invalid())?;
        let state: SrpState = serde_json::from_slice(&plain).map_err(|_| invalid())?;
        let now = self.now_ms();
        if state.pool != pool.id || state.client != client.client_id {
            return Err(invalid());
        }
        if state.expires_ms < now {
            return Err(IdpError::NotAuthorized("Invalid session for the user, session is expired.".into()));
        }
        if !self.store.consume_session(&state.id, state.expires_ms, now).await? {
            return Err(IdpError::NotAuthorized(
                "Invalid session for the user, session can only be used once.".into(),
            ));
        }
        if state.user.is_empty() {
            return Err(wrong());
        }
        let user = self.store.get_user(&pool.id, &state.user).await?.ok_or_else(wrong)?;
        let named = self.find_user(pool, username).await?;
        if named.as_ref().map(|u| u.username_key.as_str()) != Some(state.user.as_str()) {
            return Err(wrong());
        }
        if user.locked_until_ms > now {
            return Err(IdpError::NotAuthorized("Password attempts exceeded".into()));
        }
        let srp = user.srp.clone().ok_or_else(wrong)?;
        let parse = |h: &str| parse_hex(h).ok_or_else(|| IdpError::Internal("SRP state is not hex".into()));
        let (a, b, big_b, v) =
            (parse(&state.a)?, parse(&state.b)?, parse(&state.big_b)?, parse(&srp.verifier)?);
        let pool_name = pool.id.split_once('_').map(|(_, n)| n).unwrap_or(&pool.id).to_string();
        let user_id = user.username.clone();
        let expected = tokio::task::spawn_blocking(move || {
            Group::new().expected_signature(&a, &b, &big_b, &v, &pool_name, &user_id, &block, &timestamp)
        })
        .await
        .map_err(|e| IdpError::Internal(format!("SRP: {e}")))?;
        let matches = expected.is_some_and(|e| bool::from(e.as_bytes().ct_eq(signature.as_bytes())));
        if !matches {
            self.store.record_failure(&pool.id, &user.username_key, &lock_until(now)).await?;
            return Err(wrong());
        }
        if state.custom {
            let history = vec![
                serde_json::json!({"challengeName": "SRP_A", "challengeResult": true, "challengeMetadata": null}),
                serde_json::json!({"challengeName": "PASSWORD_VERIFIER", "challengeResult": true, "challengeMetadata": null}),
            ];
            return self.custom_round(pool, client, user, history, now / 1000).await;
        }
        self.first_factor_passed(pool, client, user, now / 1000).await
    }
}
