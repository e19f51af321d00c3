//! Sign-up, sign-in and tokens end to end, on both backends and across two
//! instances sharing one PostgreSQL.

use std::time::Instant;

use serde_json::{Value, json};

use crate::harness::*;

pub async fn pool_and_client(s: &TestServer, pool_extra: Value, client_extra: Value) -> (String, String) {
    let mut pool = json!({"PoolName": "people", "AutoVerifiedAttributes": ["email"]});
    for (k, v) in pool_extra.as_object().unwrap() {
        pool[k] = v.clone();
    }
    let pool_id = s.idp("CreateUserPool", pool).await.ok()["UserPool"]["Id"].as_str().unwrap().to_string();
    let mut client = json!({
        "UserPoolId": pool_id,
        "ClientName": "app",
        "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"],
    });
    for (k, v) in client_extra.as_object().unwrap() {
        client[k] = v.clone();
    }
    let client_id = s.idp("CreateUserPoolClient", client).await.ok()["UserPoolClient"]["ClientId"]
        .as_str()
        .unwrap()
        .to_string();
    (pool_id, client_id)
}

async fn sign_up(s: &TestServer, client_id: &str, username: &str, email: &str) {
    s.public(
        "SignUp",
        json!({"ClientId": client_id, "Username": username, "Password": "Str0ng!pass",
               "UserAttributes": [{"Name": "email", "Value": email}]}),
    )
    .await
    .ok();
}

async fn password_auth(s: &TestServer, client_id: &str, username: &str, password: &str) -> Reply {
    s.public(
        "InitiateAuth",
        json!({"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
               "AuthParameters": {"USERNAME": username, "PASSWORD": password}}),
    )
    .await
}

#[tokio::test]
async fn sign_up_confirm_sign_in_refresh_revoke_on_both_backends() {
    for backend in BACKENDS {
        let s = TestServer::start(backend).await;
        let (pool_id, client_id) = pool_and_client(&s, json!({}), json!({})).await;
        let r = s
            .public(
                "SignUp",
                json!({"ClientId": client_id, "Username": "Jane", "Password": "Str0ng!pass",
                       "UserAttributes": [{"Name": "email", "Value": "jane@example.com"}]}),
            )
            .await;
        let body = r.ok();
        assert_eq!(body["UserConfirmed"], false);
        assert_eq!(body["CodeDeliveryDetails"]["DeliveryMedium"], "EMAIL");
        assert_eq!(body["CodeDeliveryDetails"]["Destination"], "j***@e***");
        let sub = body["UserSub"].as_str().unwrap().to_string();

        password_auth(&s, &client_id, "jane", "Str0ng!pass")
            .await
            .assert_error(400, "UserNotConfirmedException");
        let code = s.outbox_code("jane@example.com");
        let wrong = if code == "000000" { "111111" } else { "000000" };
        s.public(
            "ConfirmSignUp",
            json!({"ClientId": client_id, "Username": "jane", "ConfirmationCode": wrong}),
        )
        .await
        .assert_error(400, "CodeMismatchException");
        s.public(
            "ConfirmSignUp",
            json!({"ClientId": client_id, "Username": "JANE", "ConfirmationCode": code}),
        )
        .await
        .ok();
        s.public(
            "ConfirmSignUp",
            json!({"ClientId": client_id, "Username": "jane", "ConfirmationCode": code}),
        )
        .await
        .assert_error(400, "NotAuthorizedException");

        let auth =
            password_auth(&s, &client_id, "jAnE", "Str0ng!pass").await.ok()["AuthenticationResult"].clone();
        assert_eq!(auth["TokenType"], "Bearer");
        assert_eq!(auth["ExpiresIn"], 3600);
        let id = claims(auth["IdToken"].as_str().unwrap());
        assert_eq!(id["sub"], sub.as_str(), "{backend:?}");
        assert_eq!(id["aud"], client_id.as_str());
        assert_eq!(id["iss"], format!("{}/{pool_id}", s.url));
        assert_eq!(id["token_use"], "id");
        assert_eq!(id["email_verified"], true);
        assert_eq!(id["cognito:username"], "Jane");
        let access = claims(auth["AccessToken"].as_str().unwrap());
        assert_eq!(access["client_id"], client_id.as_str());
        assert!(access.get("aud").is_none());
        assert_eq!(access["scope"], "aws.cognito.signin.user.admin");
        assert_eq!(access["origin_jti"], id["origin_jti"]);

        let user = s.public("GetUser", json!({"AccessToken": auth["AccessToken"]})).await.ok().clone();
        assert_eq!(user["Username"], "Jane");
        let refresh_token = auth["RefreshToken"].as_str().unwrap();
        let refreshed = s
            .public(
                "InitiateAuth",
                json!({"ClientId": client_id, "AuthFlow": "REFRESH_TOKEN_AUTH",
                       "AuthParameters": {"REFRESH_TOKEN": refresh_token}}),
            )
            .await
            .ok()["AuthenticationResult"]
            .clone();
        assert!(refreshed.get("RefreshToken").is_none());
        let again = claims(refreshed["IdToken"].as_str().unwrap());
        assert_eq!(again["origin_jti"], id["origin_jti"]);
        assert_eq!(again["auth_time"], id["auth_time"]);

        s.public("RevokeToken", json!({"Token": refresh_token, "ClientId": client_id})).await.ok();
        s.public(
            "InitiateAuth",
            json!({"ClientId": client_id, "AuthFlow": "REFRESH_TOKEN_AUTH",
                   "AuthParameters": {"REFRESH_TOKEN": refresh_token}}),
        )
        .await
        .assert_error(400, "NotAuthorizedException");
        s.public("GetUser", json!({"AccessToken": refreshed["AccessToken"]}))
            .await
            .assert_error(400, "NotAuthorizedException");
        s.public("RevokeToken", json!({"Token": auth["AccessToken"], "ClientId": client_id}))
            .await
            .assert_error(400, "UnsupportedTokenTypeException");

        // The JWKS publishes the key that signed the tokens.
        let jwks: Value = s
            .http
            .get(format!("{}/{pool_id}/.well-known/jwks.json", s.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let header: Value = {
            use base64::Engine;
            let h = auth["IdToken"].as_str().unwrap().split('.').next().unwrap();
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h).unwrap())
                .unwrap()
        };
        assert_eq!(header, json!({"alg": "RS256", "kid": header["kid"]}));
        assert!(jwks["keys"].as_array().unwrap().iter().any(|k| k["kid"] == header["kid"]));
        s.finish().await;
    }
}

#[tokio::test]
async fn two_instances_share_codes_and_revocations() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path(), Backend::Postgres);
    config.master_key = Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
    let a = TestServer::start_with(Backend::Postgres, config.clone(), dir).await;
    let mut config_b = config.clone();
    let dir_b = tempfile::tempdir().unwrap();
    config_b.data_dir = dir_b.path().to_path_buf();
    // One issuer for both, as behind a load balancer.
    config_b.public_url = Some(a.url.clone());
    let b = TestServer::start_with(Backend::Postgres, config_b, dir_b).await;

    let (_pool_id, client_id) = pool_and_client(&a, json!({}), json!({})).await;
    sign_up(&a, &client_id, "sam", "sam@example.com").await;
    let code = a.outbox_code("sam@example.com");
    b.public("ConfirmSignUp", json!({"ClientId": client_id, "Username": "sam", "ConfirmationCode": code}))
        .await
        .ok();

    let auth = password_auth(&a, &client_id, "sam", "Str0ng!pass").await.ok()["AuthenticationResult"].clone();
    b.public("GetUser", json!({"AccessToken": auth["AccessToken"]})).await.ok();
    b.public("RevokeToken", json!({"Token": auth["RefreshToken"], "ClientId": client_id})).await.ok();
    a.public("GetUser", json!({"AccessToken": auth["AccessToken"]}))
        .await
        .assert_error(400, "NotAuthorizedException");
    a.public(
        "InitiateAuth",
        json!({"ClientId": client_id, "AuthFlow": "REFRESH_TOKEN_AUTH",
               "AuthParameters": {"REFRESH_TOKEN": auth["RefreshToken"]}}),
    )
    .await
    .assert_error(400, "NotAuthorizedException");

    // A global sign-out on one instance ends every sign-in on the other.
    let second =
        password_auth(&b, &client_id, "sam", "Str0ng!pass").await.ok()["AuthenticationResult"].clone();
    a.public("GlobalSignOut", json!({"AccessToken": second["AccessToken"]})).await.ok();
    b.public("GetUser", json!({"AccessToken": second["AccessToken"]}))
        .await
        .assert_error(400, "NotAuthorizedException");
    b.finish().await;
    a.finish().await;
}

#[tokio::test]
async fn lockout_after_five_failures_then_doubling() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (pool_id, client_id) = pool_and_client(&s, json!({}), json!({})).await;
    sign_up(&s, &client_id, "lee", "lee@example.com").await;
    s.idp("AdminConfirmSignUp", json!({"UserPoolId": pool_id, "Username": "lee"})).await.ok();
    for _ in 0..5 {
        let r = password_auth(&s, &client_id, "lee", "Wrong!pass1").await;
        r.assert_error(400, "NotAuthorizedException");
        assert_eq!(r.body["message"], "Incorrect username or password.");
    }
    let r = password_auth(&s, &client_id, "lee", "Str0ng!pass").await;
    r.assert_error(400, "NotAuthorizedException");
    assert_eq!(r.body["message"], "Password attempts exceeded");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    password_auth(&s, &client_id, "lee", "Str0ng!pass").await.ok();
    s.finish().await;
}

#[tokio::test]
async fn unknown_users_cost_a_hash_when_existence_is_hidden() {
    // Real argon2 cost here: the point is that both paths hash.
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path(), Backend::Sqlite);
    config.argon2_memory_kib = 8 * 1024;
    config.argon2_iterations = 2;
    let s = TestServer::start_with(Backend::Sqlite, config, dir).await;
    let (_pool, client_id) =
        pool_and_client(&s, json!({}), json!({"PreventUserExistenceErrors": "ENABLED"})).await;
    sign_up(&s, &client_id, "kim", "kim@example.com").await;
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..4 {
        let t = Instant::now();
        let r = password_auth(&s, &client_id, "kim", "Wrong!pass1").await;
        wrong.push(t.elapsed());
        r.assert_error(400, "NotAuthorizedException");
        let t = Instant::now();
        let r = password_auth(&s, &client_id, &format!("nobody{i}"), "Wrong!pass1").await;
        unknown.push(t.elapsed());
        r.assert_error(400, "NotAuthorizedException");
        assert_eq!(r.body["message"], "Incorrect username or password.");
    }
    wrong.sort();
    unknown.sort();
    // Medians within a factor of 2.5 of each other (an unknown user without
    // the decoy hash answers ~10x faster).
    let (w, u) = (wrong[2].as_secs_f64(), unknown[2].as_secs_f64());
    assert!(u > w / 2.5 && u < w * 2.5, "wrong password {w:.4}s vs unknown user {u:.4}s");

    // LEGACY clients say so.
    let (_pool2, legacy) = pool_and_client(&s, json!({}), json!({})).await;
    password_auth(&s, &legacy, "nobody", "Wrong!pass1").await.assert_error(400, "UserNotFoundException");
    s.finish().await;
}

#[tokio::test]
async fn new_password_required_with_single_use_session() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (pool_id, client_id) = pool_and_client(&s, json!({}), json!({})).await;
    let created = s
        .idp(
            "AdminCreateUser",
            json!({"UserPoolId": pool_id, "Username": "ops", "TemporaryPassword": "Temp0rary!pw",
                   "MessageAction": "SUPPRESS",
                   "UserAttributes": [{"Name": "email", "Value": "ops@example.com"}, {"Name": "email_verified", "Value": "true"}]}),
        )
        .await
        .ok()["User"]
        .clone();
    assert_eq!(created["UserStatus"], "FORCE_CHANGE_PASSWORD");
    let challenge = s
        .idp(
            "AdminInitiateAuth",
            json!({"UserPoolId": pool_id, "ClientId": client_id, "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
                   "AuthParameters": {"USERNAME": "ops", "PASSWORD": "Temp0rary!pw"}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(challenge["ChallengeName"], "NEW_PASSWORD_REQUIRED");
    let session = challenge["Session"].as_str().unwrap().to_string();
    let attrs: Value =
        serde_json::from_str(challenge["ChallengeParameters"]["userAttributes"].as_str().unwrap()).unwrap();
    assert_eq!(attrs["email"], "ops@example.com");
    let answer = |password: &str| {
        json!({"ClientId": client_id, "ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": session,
               "ChallengeResponses": {"USERNAME": "ops", "NEW_PASSWORD": password}})
    };
    s.public("RespondToAuthChallenge", answer("short")).await.assert_error(400, "InvalidPasswordException");
    let done = s.public("RespondToAuthChallenge", answer("Perman3nt!pw")).await;
    assert!(done.ok()["AuthenticationResult"]["AccessToken"].is_string());
    s.public("RespondToAuthChallenge", answer("Perman3nt!pw2"))
        .await
        .assert_error(400, "NotAuthorizedException");
    password_auth(&s, &client_id, "ops", "Perman3nt!pw").await.ok();
    // A forged session does not open.
    let mut forged = answer("Perman3nt!pw");
    forged["Session"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    s.public("RespondToAuthChallenge", forged).await.assert_error(400, "NotAuthorizedException");
    s.finish().await;
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path(), Backend::Sqlite);
    // The restart gets another port; the issuer must not change with it.
    config.public_url = Some("https://id.example.test".into());
    let server = cirrus::start(config.clone()).await.unwrap();
    let s = TestServer::attach(&server);
    let (pool_id, client_id) = pool_and_client(&s, json!({}), json!({})).await;
    sign_up(&s, &client_id, "rob", "rob@example.com").await;
    s.idp("AdminConfirmSignUp", json!({"UserPoolId": pool_id, "Username": "rob"})).await.ok();
    let before =
        password_auth(&s, &client_id, "rob", "Str0ng!pass").await.ok()["AuthenticationResult"].clone();
    let old_kid = header_kid(before["AccessToken"].as_str().unwrap());
    server.shutdown().await.unwrap();

    let new_kid = cirrus::server::rotate_keys(&config, &pool_id).await.unwrap();
    assert_ne!(new_kid, old_kid);

    let server = cirrus::start(config.clone()).await.unwrap();
    let s = TestServer::attach(&server);
    let jwks: Value = s
        .http
        .get(format!("{}/{pool_id}/.well-known/jwks.json", s.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> =
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()), "{kids:?}");
    // Tokens from before the rotation still work; new ones use the new key.
    s.public("GetUser", json!({"AccessToken": before["AccessToken"]})).await.ok();
    let after =
        password_auth(&s, &client_id, "rob", "Str0ng!pass").await.ok()["AuthenticationResult"].clone();
    assert_eq!(header_kid(after["IdToken"].as_str().unwrap()), new_kid);
    server.shutdown().await.unwrap();
}

fn header_kid(jwt: &str) -> String {
    use base64::Engine;
    let h = jwt.split('.').next().unwrap();
    let v: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
    v["kid"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn expired_temporary_password_is_refused() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (pool_id, client_id) = pool_and_client(&s, json!({}), json!({})).await;
    s.idp(
        "AdminCreateUser",
        json!({"UserPoolId": pool_id, "Username": "late", "TemporaryPassword": "Temp0rary!pw", "MessageAction": "SUPPRESS"}),
    )
    .await
    .ok();
    // Eight days ago, past the default 7-day validity.
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", s.data_dir().join("cirrus.db").display()))
        .await
        .unwrap();
    let eight_days_ago = (time::OffsetDateTime::now_utc().unix_timestamp() - 8 * 86_400) * 1000;
    sqlx::query("UPDATE users SET password_set_at = $1 WHERE username = 'late'")
        .bind(eight_days_ago)
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let r = password_auth(&s, &client_id, "late", "Temp0rary!pw").await;
    r.assert_error(400, "NotAuthorizedException");
    assert!(r.body["message"].as_str().unwrap().contains("Temporary password has expired"));
    s.finish().await;
}
