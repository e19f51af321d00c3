//! Identity pools, IAM and STS end to end on both backends: a user-pool
//! sign-in becomes temporary credentials that sign STS calls; developer
//! identities and their lookups, merges and unlinks go through the store.

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::auth::pool_and_client;
use crate::harness::*;

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish().into_bytes()
}

/// A Query call signed by the admin key (or by `creds`: akid, secret, token).
async fn query(
    s: &TestServer,
    service: &str,
    pairs: &[(&str, &str)],
    creds: Option<(&str, &str, &str)>,
) -> Reply {
    let body = form(pairs);
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded".to_string())];
    let (akid, secret) = match creds {
        Some((akid, secret, token)) => {
            headers.push(("x-amz-security-token", token.to_string()));
            (akid, secret)
        }
        None => (ACCESS_KEY, SECRET_KEY),
    };
    let signed = sign_headers(&s.host(), &headers, &body, service, SystemTime::now(), akid, secret);
    s.post(&signed, body).await
}

async fn identity(s: &TestServer, op: &str, body: Value, signed: bool) -> Reply {
    let target = format!("AWSCognitoIdentityService.{op}");
    let body = body.to_string().into_bytes();
    if signed {
        s.signed(&json_headers(&target), body, "cognito-identity", SystemTime::now(), SECRET_KEY).await
    } else {
        let headers: Vec<(String, String)> =
            json_headers(&target).into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        s.post(&headers, body).await
    }
}

fn xml_text(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("<{tag}> in {xml}")) + open.len();
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    xml[start..end].to_string()
}

#[tokio::test]
async fn user_pool_sign_in_to_temporary_credentials() {
    for backend in BACKENDS {
        let s = TestServer::start(backend).await;
        let (pool_id, client_id) = pool_and_client(&s, json!({}), json!({})).await;
        confirmed_user(&s, &pool_id, "alice", json!([{"Name": "email", "Value": "alice@example.com"}])).await;
        let auth = s
            .idp(
                "AdminInitiateAuth",
                json!({"UserPoolId": pool_id, "ClientId": client_id, "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
                       "AuthParameters": {"USERNAME": "alice", "PASSWORD": "Str0ng!pass"}}),
            )
            .await;
        let id_token = auth.ok()["AuthenticationResult"]["IdToken"].as_str().unwrap().to_string();

        let provider = format!("cognito-idp.us-east-1.amazonaws.com/{pool_id}");
        let ipool = identity(
            &s,
            "CreateIdentityPool",
            json!({"IdentityPoolName": "app", "AllowUnauthenticatedIdentities": false,
                   "CognitoIdentityProviders": [{"ProviderName": provider, "ClientId": client_id}]}),
            true,
        )
        .await;
        let ipool_id = ipool.ok()["IdentityPoolId"].as_str().unwrap().to_string();

        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": ipool_id},
                          "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}}]})
        .to_string();
        let role = query(
            &s,
            "iam",
            &[
                ("Action", "CreateRole"),
                ("Version", "2010-05-08"),
                ("RoleName", "app-user"),
                ("AssumeRolePolicyDocument", &trust),
            ],
            None,
        )
        .await;
        assert_eq!(role.status, 200, "{}", role.text);
        let role_arn = xml_text(&role.text, "Arn");
        assert_eq!(role_arn, "arn:aws:iam::000000000000:role/app-user");
        let bad = query(
            &s,
            "iam",
            &[
                ("Action", "PutRolePolicy"),
                ("Version", "2010-05-08"),
                ("RoleName", "app-user"),
                ("PolicyName", "p"),
                ("PolicyDocument", r#"{"Statement": [{"Effect": "Maybe"}]}"#),
            ],
            None,
        )
        .await;
        assert_eq!(bad.status, 400);
        assert_eq!(xml_text(&bad.text, "Code"), "MalformedPolicyDocument");
        let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "cognito-idp:ListUserPools", "Resource": "*"}]})
        .to_string();
        let put = query(
            &s,
            "iam",
            &[
                ("Action", "PutRolePolicy"),
                ("Version", "2010-05-08"),
                ("RoleName", "app-user"),
                ("PolicyName", "list-pools"),
                ("PolicyDocument", &policy),
            ],
            None,
        )
        .await;
        assert_eq!(put.status, 200, "{}", put.text);
        identity(
            &s,
            "SetIdentityPoolRoles",
            json!({"IdentityPoolId": ipool_id, "Roles": {"authenticated": role_arn}}),
            true,
        )
        .await
        .ok();

        let logins = json!({ provider.clone(): id_token });
        let first = identity(&s, "GetId", json!({"IdentityPoolId": ipool_id, "Logins": logins}), false).await;
        let identity_id = first.ok()["IdentityId"].as_str().unwrap().to_string();
        let again = identity(&s, "GetId", json!({"IdentityPoolId": ipool_id, "Logins": logins}), false).await;
        assert_eq!(again.ok()["IdentityId"], identity_id.as_str(), "the same login finds the same identity");
        let creds = identity(
            &s,
            "GetCredentialsForIdentity",
            json!({"IdentityId": identity_id, "Logins": logins}),
            false,
        )
        .await;
        let c = creds.ok()["Credentials"].clone();
        let (akid, secret, token) = (
            c["AccessKeyId"].as_str().unwrap(),
            c["SecretKey"].as_str().unwrap(),
            c["SessionToken"].as_str().unwrap(),
        );
        assert!(akid.starts_with("ASIA") && akid.len() == 20, "{akid}");

        // The credentials sign STS and, within their policy, the admin API.
        let me = query(
            &s,
            "sts",
            &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
            Some((akid, secret, token)),
        )
        .await;
        assert_eq!(me.status, 200, "{}", me.text);
        assert_eq!(
            xml_text(&me.text, "Arn"),
            "arn:aws:sts::000000000000:assumed-role/app-user/CognitoIdentityCredentials"
        );
        let target = "AWSCognitoIdentityProviderService.ListUserPools";
        let mut headers = json_headers(target);
        headers.push(("x-amz-security-token", token.to_string()));
        let body = json!({"MaxResults": 10}).to_string().into_bytes();
        let listed = s
            .post(
                &sign_headers(&s.host(), &headers, &body, "cognito-idp", SystemTime::now(), akid, secret),
                body,
            )
            .await;
        assert_eq!(listed.status, 200, "{}", listed.text);
        let body = json!({"UserPoolId": pool_id}).to_string().into_bytes();
        let mut headers = json_headers("AWSCognitoIdentityProviderService.DescribeUserPool");
        headers.push(("x-amz-security-token", token.to_string()));
        let refused = s
            .post(
                &sign_headers(&s.host(), &headers, &body, "cognito-idp", SystemTime::now(), akid, secret),
                body,
            )
            .await;
        refused.assert_error(400, "AccessDeniedException");
        // A wrong secret is refused.
        let wrong = query(
            &s,
            "sts",
            &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
            Some((akid, "wrongwrongwrongwrongwrongwrongwrongwrong", token)),
        )
        .await;
        assert_eq!(wrong.status, 403);
        assert_eq!(xml_text(&wrong.text, "Code"), "SignatureDoesNotMatch");

        let described = identity(&s, "DescribeIdentity", json!({"IdentityId": identity_id}), true).await;
        assert_eq!(described.ok()["Logins"], json!([provider]));
        s.finish().await;
    }
}

#[tokio::test]
async fn developer_identities_link_lookup_merge_unlink() {
    for backend in BACKENDS {
        let s = TestServer::start(backend).await;
        let ipool = identity(
            &s,
            "CreateIdentityPool",
            json!({"IdentityPoolName": "dev", "AllowUnauthenticatedIdentities": true,
                   "DeveloperProviderName": "login.myapp"}),
            true,
        )
        .await;
        let ipool_id = ipool.ok()["IdentityPoolId"].as_str().unwrap().to_string();
        let token_for = |user: &str| json!({"IdentityPoolId": ipool_id, "Logins": {"login.myapp": user}, "TokenDuration": 600});
        let a = identity(&s, "GetOpenIdTokenForDeveloperIdentity", token_for("user-a"), true).await;
        let a_id = a.ok()["IdentityId"].as_str().unwrap().to_string();
        let token = a.ok()["Token"].as_str().unwrap().to_string();
        let payload = claims(&token);
        assert_eq!(payload["sub"], a_id.as_str());
        assert_eq!(payload["aud"], ipool_id.as_str());
        assert_eq!(payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(), 600);
        let again = identity(&s, "GetOpenIdTokenForDeveloperIdentity", token_for("user-a"), true).await;
        assert_eq!(again.ok()["IdentityId"], a_id.as_str());
        let b = identity(&s, "GetOpenIdTokenForDeveloperIdentity", token_for("user-b"), true).await;
        let b_id = b.ok()["IdentityId"].as_str().unwrap().to_string();
        assert_ne!(a_id, b_id);
        // user-b cannot be linked to a's identity: it has its own.
        let taken = identity(
            &s,
            "GetOpenIdTokenForDeveloperIdentity",
            json!({"IdentityPoolId": ipool_id, "IdentityId": a_id, "Logins": {"login.myapp": "user-b"}}),
            true,
        )
        .await;
        taken.assert_error(400, "DeveloperUserAlreadyRegisteredException");
        let lookup = identity(
            &s,
            "LookupDeveloperIdentity",
            json!({"IdentityPoolId": ipool_id, "DeveloperUserIdentifier": "user-b", "MaxResults": 10}),
            true,
        )
        .await;
        assert_eq!(lookup.ok()["IdentityId"], b_id.as_str());
        let merged = identity(
            &s,
            "MergeDeveloperIdentities",
            json!({"IdentityPoolId": ipool_id, "DeveloperProviderName": "login.myapp",
                   "SourceUserIdentifier": "user-b", "DestinationUserIdentifier": "user-a"}),
            true,
        )
        .await;
        assert_eq!(merged.ok()["IdentityId"], a_id.as_str());
        let users = identity(
            &s,
            "LookupDeveloperIdentity",
            json!({"IdentityPoolId": ipool_id, "IdentityId": a_id, "MaxResults": 10}),
            true,
        )
        .await;
        assert_eq!(users.ok()["DeveloperUserIdentifierList"], json!(["user-a", "user-b"]));
        let listed = identity(
            &s,
            "ListIdentities",
            json!({"IdentityPoolId": ipool_id, "MaxResults": 10, "HideDisabled": true}),
            true,
        )
        .await;
        let ids: Vec<&str> = listed.ok()["Identities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["IdentityId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![a_id.as_str()], "the merged-away identity is disabled");
        identity(
            &s,
            "UnlinkDeveloperIdentity",
            json!({"IdentityPoolId": ipool_id, "IdentityId": a_id, "DeveloperProviderName": "login.myapp",
                   "DeveloperUserIdentifier": "user-b"}),
            true,
        )
        .await
        .ok();
        let gone = identity(
            &s,
            "LookupDeveloperIdentity",
            json!({"IdentityPoolId": ipool_id, "DeveloperUserIdentifier": "user-b"}),
            true,
        )
        .await;
        gone.assert_error(400, "ResourceNotFoundException");
        // Unauthenticated identities: a new one per GetId without logins.
        let u1 = identity(&s, "GetId", json!({"IdentityPoolId": ipool_id}), false).await;
        let u2 = identity(&s, "GetId", json!({"IdentityPoolId": ipool_id}), false).await;
        assert_ne!(u1.ok()["IdentityId"], u2.ok()["IdentityId"]);
        let deleted =
            identity(&s, "DeleteIdentities", json!({"IdentityIdsToDelete": [u1.ok()["IdentityId"]]}), true)
                .await;
        assert_eq!(deleted.ok()["UnprocessedIdentityIds"], json!([]));
        let missing =
            identity(&s, "DescribeIdentity", json!({"IdentityId": u1.ok()["IdentityId"]}), true).await;
        missing.assert_error(400, "ResourceNotFoundException");
        s.finish().await;
    }
}

/// Credentials minted by one instance verify on another sharing the
/// master key; rotating `session_key_id` keeps the previous key's
/// credentials valid and retires older ones.
#[tokio::test]
async fn session_keys_rotate_across_instances() {
    let master = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path(), Backend::Postgres);
    config.master_key = Some(master.into());
    let instance = |n: u32| {
        let mut c = config.clone();
        c.session_key_id = n;
        let d = tempfile::tempdir().unwrap();
        c.data_dir = d.path().to_path_buf();
        (c, d)
    };
    let a = TestServer::start_with(Backend::Postgres, config.clone(), dir).await;
    let (cb, db) = instance(2);
    let b = TestServer::start_with(Backend::Postgres, cb, db).await;
    let (cc, dc) = instance(3);
    let c = TestServer::start_with(Backend::Postgres, cc, dc).await;

    let ipool = identity(
        &a,
        "CreateIdentityPool",
        json!({"IdentityPoolName": "rot", "AllowUnauthenticatedIdentities": false, "DeveloperProviderName": "login.rot"}),
        true,
    )
    .await;
    let ipool_id = ipool.ok()["IdentityPoolId"].as_str().unwrap().to_string();
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Federated": "cognito-identity.amazonaws.com"}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": ipool_id}}}]})
    .to_string();
    let role = query(
        &a,
        "iam",
        &[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", "rot"),
            ("AssumeRolePolicyDocument", &trust),
        ],
        None,
    )
    .await;
    let role_arn = xml_text(&role.text, "Arn");
    identity(
        &a,
        "SetIdentityPoolRoles",
        json!({"IdentityPoolId": ipool_id, "Roles": {"authenticated": role_arn}}),
        true,
    )
    .await
    .ok();

    let from_a = creds_from(&a, &ipool_id).await;
    let from_b = creds_from(&b, &ipool_id).await;
    assert_eq!(who(&a, from_a.clone()).await.status, 200);
    assert_eq!(who(&b, from_a.clone()).await.status, 200, "key 2 still accepts key 1's credentials");
    let retired = who(&c, from_a).await;
    assert_eq!(retired.status, 403, "key 3 no longer accepts key 1's: {}", retired.text);
    assert_eq!(xml_text(&retired.text, "Code"), "InvalidClientTokenId");
    let ok = who(&c, from_b).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert!(xml_text(&ok.text, "Arn").ends_with("assumed-role/rot/CognitoIdentityCredentials"));
    b.finish().await;
    c.finish().await;
    a.finish().await;
}

/// Developer-identity credentials from instance `minter` (its current
/// session key), as (akid, secret, token).
async fn creds_from(minter: &TestServer, ipool_id: &str) -> (String, String, String) {
    let t = identity(
        minter,
        "GetOpenIdTokenForDeveloperIdentity",
        json!({"IdentityPoolId": ipool_id, "Logins": {"login.rot": "user-1"}}),
        true,
    )
    .await;
    let (iid, token) = (t.ok()["IdentityId"].clone(), t.ok()["Token"].clone());
    let r = identity(
        minter,
        "GetCredentialsForIdentity",
        json!({"IdentityId": iid, "Logins": {"cognito-identity.amazonaws.com": token}}),
        false,
    )
    .await;
    let c = r.ok()["Credentials"].clone();
    let text = |k: &str| c[k].as_str().unwrap().to_string();
    (text("AccessKeyId"), text("SecretKey"), text("SessionToken"))
}

async fn who(s: &TestServer, (akid, secret, token): (String, String, String)) -> Reply {
    query(
        s,
        "sts",
        &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
        Some((&akid, &secret, &token)),
    )
    .await
}
