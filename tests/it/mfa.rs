//! MFA and SRP end to end: SRP on both backends (the client side played
//! with the same group arithmetic the compat tests check against pycognito
//! and amazon-cognito-identity-js), TOTP replay across two instances, SMS
//! codes from the outbox, SELECT_MFA_TYPE.

use std::collections::BTreeMap;

use idp::service::srp::{Group, hex, parse_hex, timestamp};
use serde_json::{Value, json};

use crate::auth::pool_and_client;
use crate::harness::*;

/// One SRP sign-in as identity-js does it; returns the RespondToAuthChallenge reply.
async fn srp_sign_in(
    s: &TestServer,
    pool_id: &str,
    client_id: &str,
    username: &str,
    password: &str,
) -> Reply {
    let group = Group::new();
    let (a, big_a) = group.client_ephemeral();
    let started = s
        .public(
            "InitiateAuth",
            json!({"ClientId": client_id, "AuthFlow": "USER_SRP_AUTH",
                   "AuthParameters": {"USERNAME": username, "SRP_A": hex(&big_a)}}),
        )
        .await;
    let params = started.ok()["ChallengeParameters"].clone();
    assert_eq!(started.body["ChallengeName"], "PASSWORD_VERIFIER");
    let p = |k: &str| params[k].as_str().unwrap().to_string();
    let block = p("SECRET_BLOCK");
    let block_bytes = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(&block).unwrap()
    };
    let ts = timestamp(time::OffsetDateTime::now_utc());
    let pool_name = pool_id.split_once('_').unwrap().1;
    let signature = group.client_signature(
        &a,
        &big_a,
        &parse_hex(&p("SRP_B")).unwrap(),
        &parse_hex(&p("SALT")).unwrap(),
        pool_name,
        &p("USER_ID_FOR_SRP"),
        password,
        &block_bytes,
        &ts,
    );
    let answer = json!({"ClientId": client_id, "ChallengeName": "PASSWORD_VERIFIER",
        "ChallengeResponses": {"USERNAME": p("USER_ID_FOR_SRP"), "PASSWORD_CLAIM_SECRET_BLOCK": block,
                               "PASSWORD_CLAIM_SIGNATURE": signature, "TIMESTAMP": ts}});
    let reply = s.public("RespondToAuthChallenge", answer.clone()).await;
    if reply.status == 200 {
        // The secret block opens once.
        s.public("RespondToAuthChallenge", answer).await.assert_error(400, "NotAuthorizedException");
    }
    reply
}

#[tokio::test]
async fn srp_sign_in_on_both_backends() {
    for backend in BACKENDS {
        let s = TestServer::start(backend).await;
        let (pool_id, client_id) = pool_and_client(
            &s,
            json!({}),
            json!({"ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}),
        )
        .await;
        confirmed_user(&s, &pool_id, "sara", json!([])).await;
        let ok = srp_sign_in(&s, &pool_id, &client_id, "sara", "Str0ng!pass").await;
        assert!(ok.ok()["AuthenticationResult"]["IdToken"].is_string(), "{backend:?}");
        srp_sign_in(&s, &pool_id, &client_id, "sara", "Wrong!pass1")
            .await
            .assert_error(400, "NotAuthorizedException");
        // A = N (so A mod N = 0) is refused outright.
        let n_hex = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";
        for bad in [n_hex, "0"] {
            s.public(
                "InitiateAuth",
                json!({"ClientId": client_id, "AuthFlow": "USER_SRP_AUTH",
                       "AuthParameters": {"USERNAME": "sara", "SRP_A": bad}}),
            )
            .await
            .assert_error(400, "NotAuthorizedException");
        }
        s.finish().await;
    }
}

fn totp_code(secret_base32: &str, at: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    totp.generate(at).to_string()
}

#[tokio::test]
async fn totp_codes_count_once_across_two_instances() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path(), Backend::Postgres);
    config.master_key = Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
    let a = TestServer::start_with(Backend::Postgres, config.clone(), dir).await;
    let dir_b = tempfile::tempdir().unwrap();
    let mut config_b = config.clone();
    config_b.data_dir = dir_b.path().to_path_buf();
    config_b.public_url = Some(a.url.clone());
    let b = TestServer::start_with(Backend::Postgres, config_b, dir_b).await;

    let (pool_id, client_id) = pool_and_client(&a, json!({}), json!({})).await;
    a.idp(
        "SetUserPoolMfaConfig",
        json!({"UserPoolId": pool_id, "SoftwareTokenMfaConfiguration": {"Enabled": true}, "MfaConfiguration": "OPTIONAL"}),
    )
    .await
    .ok();
    confirmed_user(&a, &pool_id, "tom", json!([])).await;
    let sign_in = json!({"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                         "AuthParameters": {"USERNAME": "tom", "PASSWORD": "Str0ng!pass"}});
    async fn password(server: &TestServer, body: &Value) -> Reply {
        server.public("InitiateAuth", body.clone()).await
    }
    let token = password(&a, &sign_in).await.ok()["AuthenticationResult"]["AccessToken"].clone();
    let secret = a.public("AssociateSoftwareToken", json!({"AccessToken": token})).await.ok()["SecretCode"]
        .as_str()
        .unwrap()
        .to_string();
    let now = || time::OffsetDateTime::now_utc().unix_timestamp() as u64;
    // Verify with the previous step's code, so the current one stays fresh.
    let verify = b
        .public(
            "VerifySoftwareToken",
            json!({"AccessToken": token, "UserCode": totp_code(&secret, now() - 30)}),
        )
        .await;
    assert_eq!(verify.ok()["Status"], "SUCCESS");
    b.public(
        "SetUserMFAPreference",
        json!({"AccessToken": token, "SoftwareTokenMfaSettings": {"Enabled": true, "PreferredMfa": true}}),
    )
    .await
    .ok();

    let code = totp_code(&secret, now());
    let first = password(&a, &sign_in).await.ok().clone();
    assert_eq!(first["ChallengeName"], "SOFTWARE_TOKEN_MFA");
    let answer = |session: &Value, code: &str| {
        json!({"ClientId": client_id, "ChallengeName": "SOFTWARE_TOKEN_MFA", "Session": session,
               "ChallengeResponses": {"USERNAME": "tom", "SOFTWARE_TOKEN_MFA_CODE": code}})
    };
    a.public("RespondToAuthChallenge", answer(&first["Session"], &code)).await.ok();
    // The same code on the other instance, in a new sign-in: refused.
    let second = password(&b, &sign_in).await.ok().clone();
    b.public("RespondToAuthChallenge", answer(&second["Session"], &code))
        .await
        .assert_error(400, "CodeMismatchException");
    let user = a.idp("AdminGetUser", json!({"UserPoolId": pool_id, "Username": "tom"})).await.ok().clone();
    assert_eq!(user["PreferredMfaSetting"], "SOFTWARE_TOKEN_MFA");
    b.finish().await;
    a.finish().await;
}

fn newest_sms(s: &TestServer) -> String {
    let dir = s.data_dir().join("outbox");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".sms.json"))
        .collect();
    files.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
    let body: Value = serde_json::from_slice(&std::fs::read(files.last().unwrap()).unwrap()).unwrap();
    let message = body["message"].as_str().unwrap();
    message.chars().filter(|c| c.is_ascii_digit()).collect::<String>()[..6].to_string()
}

#[tokio::test]
async fn select_mfa_type_then_sms_code() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (pool_id, client_id) = pool_and_client(&s, json!({}), json!({})).await;
    s.idp(
        "SetUserPoolMfaConfig",
        json!({"UserPoolId": pool_id, "MfaConfiguration": "OPTIONAL",
               "SmsMfaConfiguration": {"SmsAuthenticationMessage": "Code: {####}"},
               "EmailMfaConfiguration": {"Message": "Your code is {####}", "Subject": "Code"}}),
    )
    .await
    .ok();
    confirmed_user(
        &s,
        &pool_id,
        "uma",
        json!([{"Name": "phone_number", "Value": "+15555550123"}, {"Name": "phone_number_verified", "Value": "true"},
               {"Name": "email", "Value": "uma@example.com"}, {"Name": "email_verified", "Value": "true"}]),
    )
    .await;
    s.idp(
        "AdminSetUserMFAPreference",
        json!({"UserPoolId": pool_id, "Username": "uma", "SMSMfaSettings": {"Enabled": true},
               "EmailMfaSettings": {"Enabled": true}}),
    )
    .await
    .ok();
    let first = s
        .public(
            "InitiateAuth",
            json!({"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                   "AuthParameters": {"USERNAME": "uma", "PASSWORD": "Str0ng!pass"}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(first["ChallengeName"], "SELECT_MFA_TYPE");
    let can: Vec<String> =
        serde_json::from_str(first["ChallengeParameters"]["MFAS_CAN_CHOOSE"].as_str().unwrap()).unwrap();
    assert_eq!(can, ["SMS_MFA", "EMAIL_OTP"]);
    let sms = s
        .public(
            "RespondToAuthChallenge",
            json!({"ClientId": client_id, "ChallengeName": "SELECT_MFA_TYPE", "Session": first["Session"],
                   "ChallengeResponses": {"USERNAME": "uma", "ANSWER": "SMS_MFA"}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(sms["ChallengeName"], "SMS_MFA");
    assert_eq!(sms["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"], "+*******0123");
    let code = newest_sms(&s);
    let mut responses = BTreeMap::new();
    responses.insert("USERNAME", "uma".to_string());
    responses.insert("SMS_MFA_CODE", if code == "000000" { "111111".into() } else { "000000".into() });
    let wrong = json!({"ClientId": client_id, "ChallengeName": "SMS_MFA", "Session": sms["Session"], "ChallengeResponses": responses});
    s.public("RespondToAuthChallenge", wrong).await.assert_error(400, "CodeMismatchException");
    responses.insert("SMS_MFA_CODE", code);
    let right = json!({"ClientId": client_id, "ChallengeName": "SMS_MFA", "Session": sms["Session"], "ChallengeResponses": responses});
    assert!(
        s.public("RespondToAuthChallenge", right.clone()).await.ok()["AuthenticationResult"]["AccessToken"]
            .is_string()
    );
    s.public("RespondToAuthChallenge", right).await.assert_error(400, "NotAuthorizedException");
    s.finish().await;
}
