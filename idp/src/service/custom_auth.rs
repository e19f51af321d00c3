//! CUSTOM_AUTH: sign-in decided by the pool's DefineAuthChallenge,
//! CreateAuthChallenge and VerifyAuthChallengeResponse hooks, round by
//! round. The sealed session carries the challenge history (as the
//! triggers' `request.session`) and the private parameters of the
//! challenge being answered, which never reach the client.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::UserPools;
use super::signin::{AuthOutcome, Challenge};
use super::triggers::{Event, Trigger, attributes_json, flag};
use crate::error::{IdpError, Result};
use crate::model::{AppClient, User, UserPool, UserStatus};

/// At most this many rounds in one sign-in (Cognito allows a handful).
const MAX_ROUNDS: usize = 10;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct CustomAuthState {
    /// `[{challengeName, challengeResult, challengeMetadata}]`.
    pub history: Vec<Value>,
    pub private: Map<String, Value>,
    pub metadata: Option<String>,
}

impl UserPools {
    /// With `srp_a`, the SRP_A-first variant: DefineAuthChallenge may ask
    /// for the password first (challengeName `SRP_A`), answered by
    /// PASSWORD_VERIFIER, after which it is asked again with the two results.
    pub(super) async fn custom_start(
        &self,
        pool: &UserPool,
        client: &AppClient,
        username: &str,
        srp_a: Option<&str>,
    ) -> Result<AuthOutcome> {
        if super::triggers::hook_url(pool, Trigger::DefineAuthChallenge).is_none() {
            return Err(IdpError::InvalidUserPoolConfiguration(
                "Custom auth lambda trigger is not configured for the user pool.".into(),
            ));
        }
        let Some(user) = self.find_user(pool, username).await? else {
            return Err(if Self::prevents_existence_errors(client) {
                IdpError::NotAuthorized("Incorrect username or password.".into())
            } else {
                IdpError::UserNotFound("User does not exist.".into())
            });
        };
        if !user.enabled {
            return Err(IdpError::NotAuthorized("User is disabled.".into()));
        }
        if user.status == UserStatus::UNCONFIRMED {
            return Err(IdpError::UserNotConfirmed("User is not confirmed.".into()));
        }
        let auth_time = self.now_ms() / 1000;
        match srp_a {
            Some(a) => {
                let decided = self.define_auth_challenge(pool, client, &user, &[]).await?;
                match decided.get("challengeName").and_then(Value::as_str) {
                    Some("SRP_A") if !flag(&decided, "failAuthentication") => {
                        self.srp_start(pool, client, &user.username, a, true).await
                    }
                    _ => self.custom_decided(pool, client, user, Vec::new(), auth_time, decided).await,
                }
            }
            None => self.custom_round(pool, client, user, Vec::new(), auth_time).await,
        }
    }

    async fn define_auth_challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        history: &[Value],
    ) -> Result<Map<String, Value>> {
        let define = Event {
            trigger: Trigger::DefineAuthChallenge,
            source: "DefineAuthChallenge_Authentication",
            user_name: &user.username,
            client_id: Some(&client.client_id),
            request: json!({
                "userAttributes": attributes_json(&user.attributes),
                "session": history,
                "clientMetadata": {},
                "userNotFound": false,
            }),
            version: "1",
        };
        self.call_hook(pool, define).await?.ok_or_else(|| {
            IdpError::InvalidUserPoolConfiguration("Custom auth lambda trigger is not configured.".into())
        })
    }

    /// Asks DefineAuthChallenge what comes next, then tokens, a failure, or
    /// a new challenge from CreateAuthChallenge.
    pub(super) async fn custom_round(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        history: Vec<Value>,
        auth_time: i64,
    ) -> Result<AuthOutcome> {
        let decided = self.define_auth_challenge(pool, client, &user, &history).await?;
        self.custom_decided(pool, client, user, history, auth_time, decided).await
    }

    /// Acts on DefineAuthChallenge's answer.
    async fn custom_decided(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        history: Vec<Value>,
        auth_time: i64,
        decided: Map<String, Value>,
    ) -> Result<AuthOutcome> {
        if flag(&decided, "failAuthentication") || history.len() >= MAX_ROUNDS {
            return Err(IdpError::NotAuthorized("Incorrect username or password.".into()));
        }
        if flag(&decided, "issueTokens") {
            return self.first_factor_passed(pool, client, user, auth_time).await;
        }
        let name = decided.get("challengeName").and_then(Value::as_str).unwrap_or_default();
        if name != "CUSTOM_CHALLENGE" {
            return Err(IdpError::InvalidLambdaResponse(format!(
                "DefineAuthChallenge chose {name:?}; only CUSTOM_CHALLENGE can follow here."
            )));
        }
        let create = Event {
            trigger: Trigger::CreateAuthChallenge,
            source: "CreateAuthChallenge_Authentication",
            user_name: &user.username,
            client_id: Some(&client.client_id),
            request: json!({
                "userAttributes": attributes_json(&user.attributes),
                "challengeName": name,
                "session": history,
                "clientMetadata": {},
                "userNotFound": false,
            }),
            version: "1",
        };
        let created = self.call_hook(pool, create).await?.ok_or_else(|| {
            IdpError::InvalidUserPoolConfiguration(
                "CreateAuthChallenge lambda trigger is not configured.".into(),
            )
        })?;
        let object = |k: &str| match created.get(k) {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        let mut parameters: std::collections::BTreeMap<String, String> = object("publicChallengeParameters")
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
            .collect();
        parameters.insert("USERNAME".into(), user.username.clone());
        let custom = CustomAuthState {
            history,
            private: object("privateChallengeParameters"),
            metadata: created.get("challengeMetadata").and_then(Value::as_str).map(str::to_string),
        };
        let mut state = self.session_state(pool, client, &user, "CUSTOM_CHALLENGE", auth_time);
        state.custom = Some(custom);
        let session = self.seal_state(&state)?;
        Ok(AuthOutcome::Challenge(Challenge {
            name: "CUSTOM_CHALLENGE",
            session,
            parameters,
            available: Vec::new(),
        }))
    }

    /// RespondToAuthChallenge with CUSTOM_CHALLENGE: VerifyAuthChallengeResponse
    /// judges the ANSWER, the result joins the history, and the next round runs.
    pub(super) async fn custom_answer(
        &self,
        pool: &UserPool,
        client: &AppClient,
        session: Option<&str>,
        responses: &std::collections::BTreeMap<String, String>,
    ) -> Result<AuthOutcome> {
        let answer = responses
            .get("ANSWER")
            .ok_or_else(|| IdpError::InvalidParameter("Missing required parameter ANSWER".into()))?;
        let (state, user) = self.session_user(session, client, "CUSTOM_CHALLENGE").await?;
        self.consume_session(&state).await?;
        let custom = state.custom.clone().unwrap_or_default();
        let verify = Event {
            trigger: Trigger::VerifyAuthChallengeResponse,
            source: "VerifyAuthChallengeResponse_Authentication",
            user_name: &user.username,
            client_id: Some(&client.client_id),
            request: json!({
                "userAttributes": attributes_json(&user.attributes),
                "privateChallengeParameters": custom.private,
                "challengeAnswer": answer,
                "clientMetadata": {},
                "userNotFound": false,
            }),
            version: "1",
        };
        let verdict = self.call_hook(pool, verify).await?.ok_or_else(|| {
            IdpError::InvalidUserPoolConfiguration(
                "VerifyAuthChallengeResponse lambda trigger is not configured.".into(),
            )
        })?;
        let mut history = custom.history;
        history.push(json!({
            "challengeName": "CUSTOM_CHALLENGE",
            "challengeResult": flag(&verdict, "answerCorrect"),
            "challengeMetadata": custom.metadata,
        }));
        self.custom_round(pool, client, user, history, state.auth_time).await
    }
}
