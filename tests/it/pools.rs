//! Pool and app-client management over HTTP, on SQLite and PostgreSQL.

use serde_json::{Value, json};

use crate::harness::*;

async fn create_pool(s: &TestServer, body: Value) -> Value {
    s.idp("CreateUserPool", body).await.ok()["UserPool"].clone()
}

#[tokio::test]
async fn pool_lifecycle_on_both_backends() {
    for backend in BACKENDS {
        let s = TestServer::start(backend).await;
        let pool = create_pool(
            &s,
            json!({
                "PoolName": "customers",
                "UsernameAttributes": ["email"],
                "AutoVerifiedAttributes": ["email"],
                "UsernameConfiguration": {"CaseSensitive": false},
                "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireSymbols": true}},
                "Schema": [
                    {"Name": "tenant", "AttributeDataType": "String", "Mutable": false,
                     "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"}},
                    {"Name": "email", "Required": true},
                ],
                "AccountRecoverySetting": {"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]},
                "DeletionProtection": "ACTIVE",
                "UserPoolTags": {"team": "identity"},
                "LambdaConfig": {"PreSignUp": "https://hooks.example/pre"},
            }),
        )
        .await;
        let id = pool["Id"].as_str().unwrap().to_string();
        let (region, suffix) = id.split_once('_').unwrap();
        assert_eq!(region, "us-east-1");
        assert_eq!(suffix.len(), 9);
        assert!(suffix.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(pool["Arn"], format!("arn:aws:cognito-idp:us-east-1:000000000000:userpool/{id}"));
        assert!(pool["CreationDate"].as_f64().unwrap() > 1.7e9);

        // What was stored comes back, with Cognito's defaults filled in.
        let described = s.idp("DescribeUserPool", json!({"UserPoolId": id})).await.ok()["UserPool"].clone();
        assert_eq!(described["Name"], "customers", "{backend:?}");
        assert_eq!(described["UsernameAttributes"], json!(["email"]));
        assert_eq!(described["UsernameConfiguration"], json!({"CaseSensitive": false}));
        assert_eq!(described["Policies"]["PasswordPolicy"]["MinimumLength"], 12);
        assert_eq!(described["Policies"]["PasswordPolicy"]["RequireUppercase"], false);
        assert_eq!(described["MfaConfiguration"], "OFF");
        assert_eq!(described["UserPoolTags"], json!({"team": "identity"}));
        assert_eq!(described["LambdaConfig"]["PreSignUp"], "https://hooks.example/pre");
        let schema = described["SchemaAttributes"].as_array().unwrap();
        let tenant = schema.iter().find(|a| a["Name"] == "custom:tenant").expect("custom attribute");
        assert_eq!(tenant["Mutable"], false);
        assert_eq!(tenant["StringAttributeConstraints"]["MaxLength"], "64");
        let email = schema.iter().find(|a| a["Name"] == "email").unwrap();
        assert_eq!(email["Required"], true);
        assert!(schema.iter().any(|a| a["Name"] == "sub" && a["Mutable"] == false));

        // Deletion protection holds until it is turned off.
        s.idp("DeleteUserPool", json!({"UserPoolId": id}))
            .await
            .assert_error(400, "InvalidParameterException");

        // UpdateUserPool: omitted settings return to defaults, immutable ones stay.
        s.idp(
            "UpdateUserPool",
            json!({"UserPoolId": id, "MfaConfiguration": "OPTIONAL", "DeletionProtection": "INACTIVE"}),
        )
        .await
        .ok();
        let updated = s.idp("DescribeUserPool", json!({"UserPoolId": id})).await.ok()["UserPool"].clone();
        assert_eq!(updated["MfaConfiguration"], "OPTIONAL");
        assert_eq!(updated["Policies"]["PasswordPolicy"]["MinimumLength"], 8, "policy back to default");
        assert!(updated.get("UserPoolTags").is_none());
        assert_eq!(updated["UsernameAttributes"], json!(["email"]));
        assert_eq!(updated["SchemaAttributes"], described["SchemaAttributes"]);
        assert!(updated["LastModifiedDate"].as_f64() >= described["LastModifiedDate"].as_f64());
        assert_eq!(updated["CreationDate"], described["CreationDate"]);

        s.idp("DeleteUserPool", json!({"UserPoolId": id})).await.ok();
        s.idp("DescribeUserPool", json!({"UserPoolId": id}))
            .await
            .assert_error(400, "ResourceNotFoundException");
        s.idp("DeleteUserPool", json!({"UserPoolId": id}))
            .await
            .assert_error(400, "ResourceNotFoundException");
        s.idp("UpdateUserPool", json!({"UserPoolId": id}))
            .await
            .assert_error(400, "ResourceNotFoundException");
        s.finish().await;
    }
}

#[tokio::test]
async fn invalid_pool_settings_are_refused() {
    let s = TestServer::start(Backend::Sqlite).await;
    for (body, name) in [
        (
            json!({"PoolName": "p", "UsernameAttributes": ["email"], "AliasAttributes": ["email"]}),
            "InvalidParameterException",
        ),
        (
            json!({"PoolName": "p", "Policies": {"PasswordPolicy": {"MinimumLength": 5}}}),
            "InvalidParameterException",
        ),
        (
            json!({"PoolName": "p", "Policies": {"PasswordPolicy": {"MinimumLength": 100}}}),
            "InvalidParameterException",
        ),
        (json!({"PoolName": "p", "EmailVerificationMessage": "no placeholder"}), "InvalidParameterException"),
        (json!({"PoolName": "p", "UsernameConfiguration": {}}), "InvalidParameterException"),
        (json!({"PoolName": "p", "Schema": [{"Name": "x", "Required": true}]}), "InvalidParameterException"),
        (json!({"PoolName": "p", "AliasAttributes": ["nickname"]}), "InvalidParameterException"),
        (
            json!({"PoolName": "p", "AccountRecoverySetting": {"RecoveryMechanisms": [
                {"Priority": 1, "Name": "admin_only"}, {"Priority": 2, "Name": "verified_email"}]}}),
            "InvalidParameterException",
        ),
        (json!({"PoolName": "p", "LambdaConfig": "not an object"}), "SerializationException"),
    ] {
        s.idp("CreateUserPool", body.clone()).await.assert_error(400, name);
    }
    let listed = s.idp("ListUserPools", json!({"MaxResults": 60})).await.ok()["UserPools"].clone();
    assert_eq!(listed.as_array().unwrap().len(), 0, "a refused pool must not be stored");
    s.finish().await;
}

#[tokio::test]
async fn listing_pages_through_every_pool_once() {
    for backend in BACKENDS {
        let s = TestServer::start(backend).await;
        let mut created = Vec::new();
        for i in 0..7 {
            created.push(
                create_pool(&s, json!({"PoolName": format!("pool-{i}")})).await["Id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut req = json!({"MaxResults": 3});
            if let Some(t) = &token {
                req["NextToken"] = json!(t);
            }
            let page = s.idp("ListUserPools", req).await.ok().clone();
            pages += 1;
            for p in page["UserPools"].as_array().unwrap() {
                assert!(p.get("LambdaConfig").is_some());
                seen.push(p["Id"].as_str().unwrap().to_string());
            }
            match page.get("NextToken").and_then(Value::as_str) {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        assert_eq!(pages, 3, "{backend:?}");
        seen.sort();
        created.sort();
        assert_eq!(seen, created);
        s.idp("ListUserPools", json!({"MaxResults": 3, "NextToken": "%%%"}))
            .await
            .assert_error(400, "InvalidParameterException");
        s.finish().await;
    }
}

#[tokio::test]
async fn client_lifecycle_on_both_backends() {
    for backend in BACKENDS {
        let s = TestServer::start(backend).await;
        let pool = create_pool(&s, json!({"PoolName": "apps", "Schema": [{"Name": "plan"}]})).await;
        let pool_id = pool["Id"].as_str().unwrap();
        let created = s
            .idp(
                "CreateUserPoolClient",
                json!({
                    "UserPoolId": pool_id,
                    "ClientName": "web",
                    "GenerateSecret": true,
                    "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                    "AccessTokenValidity": 30,
                    "TokenValidityUnits": {"AccessToken": "minutes"},
                    "CallbackURLs": ["https://app.example/cb", "http://localhost:3000/cb"],
                    "LogoutURLs": ["https://app.example/bye"],
                    "DefaultRedirectURI": "https://app.example/cb",
                    "AllowedOAuthFlows": ["code"],
                    "AllowedOAuthScopes": ["openid", "email"],
                    "AllowedOAuthFlowsUserPoolClient": true,
                    "SupportedIdentityProviders": ["COGNITO"],
                    "ReadAttributes": ["email", "custom:plan"],
                    "WriteAttributes": ["email"],
                    "PreventUserExistenceErrors": "ENABLED",
                }),
            )
            .await
            .ok()["UserPoolClient"]
            .clone();
        let client_id = created["ClientId"].as_str().unwrap().to_string();
        assert_eq!(client_id.len(), 26);
        assert!(client_id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        let secret = created["ClientSecret"].as_str().unwrap().to_string();
        assert!(secret.len() >= 24);

        let described =
            s.idp("DescribeUserPoolClient", json!({"UserPoolId": pool_id, "ClientId": client_id})).await.ok()
                ["UserPoolClient"]
                .clone();
        assert_eq!(described["ClientSecret"], secret.as_str(), "{backend:?}");
        assert_eq!(described["AccessTokenValidity"], 30);
        assert_eq!(described["TokenValidityUnits"]["AccessToken"], "minutes");
        assert_eq!(described["TokenValidityUnits"]["IdToken"], "minutes");
        assert_eq!(described["IdTokenValidity"], 60);
        assert_eq!(described["RefreshTokenValidity"], 30);
        assert_eq!(described["CallbackURLs"], json!(["https://app.example/cb", "http://localhost:3000/cb"]));
        assert_eq!(described["PreventUserExistenceErrors"], "ENABLED");
        assert_eq!(described["EnableTokenRevocation"], true);
        assert_eq!(
            described["ExplicitAuthFlows"],
            json!(["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
        );

        // The secret is sealed at rest: its bytes are not in the database.
        if backend == Backend::Sqlite {
            let db = std::fs::read(s.data_dir().join("cirrus.db")).unwrap();
            let wal = std::fs::read(s.data_dir().join("cirrus.db-wal")).unwrap_or_default();
            let hay = [db, wal].concat();
            assert!(
                !hay.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "client secret stored in clear"
            );
        }

        // Update resets omitted settings; the secret and name stay.
        let updated = s
            .idp(
                "UpdateUserPoolClient",
                json!({"UserPoolId": pool_id, "ClientId": client_id, "RefreshTokenValidity": 7}),
            )
            .await
            .ok()["UserPoolClient"]
            .clone();
        assert_eq!(updated["ClientName"], "web");
        assert_eq!(updated["RefreshTokenValidity"], 7);
        assert_eq!(updated["AccessTokenValidity"], 60);
        assert!(updated.get("CallbackURLs").is_none());
        assert_eq!(updated["ClientSecret"], secret.as_str());

        // A second client without secret; listing sees both.
        let public =
            s.idp("CreateUserPoolClient", json!({"UserPoolId": pool_id, "ClientName": "mobile"})).await.ok()
                ["UserPoolClient"]
                .clone();
        assert!(public.get("ClientSecret").is_none());
        assert_eq!(
            public["ExplicitAuthFlows"],
            json!(["ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
        );
        let first =
            s.idp("ListUserPoolClients", json!({"UserPoolId": pool_id, "MaxResults": 1})).await.ok().clone();
        assert_eq!(first["UserPoolClients"].as_array().unwrap().len(), 1);
        let token = first["NextToken"].as_str().expect("a second page").to_string();
        let second = s
            .idp("ListUserPoolClients", json!({"UserPoolId": pool_id, "MaxResults": 1, "NextToken": token}))
            .await
            .ok()
            .clone();
        assert!(second.get("NextToken").is_none());
        let mut names = vec![
            first["UserPoolClients"][0]["ClientName"].as_str().unwrap().to_string(),
            second["UserPoolClients"][0]["ClientName"].as_str().unwrap().to_string(),
        ];
        names.sort();
        assert_eq!(names, vec!["mobile", "web"]);

        s.idp("DeleteUserPoolClient", json!({"UserPoolId": pool_id, "ClientId": client_id})).await.ok();
        s.idp("DescribeUserPoolClient", json!({"UserPoolId": pool_id, "ClientId": client_id}))
            .await
            .assert_error(400, "ResourceNotFoundException");
        // Deleting the pool takes its clients with it.
        let public_id = public["ClientId"].as_str().unwrap();
        s.idp("DeleteUserPool", json!({"UserPoolId": pool_id})).await.ok();
        s.idp("DescribeUserPoolClient", json!({"UserPoolId": pool_id, "ClientId": public_id}))
            .await
            .assert_error(400, "ResourceNotFoundException");
        s.finish().await;
    }
}

#[tokio::test]
async fn invalid_client_settings_are_refused() {
    let s = TestServer::start(Backend::Sqlite).await;
    let pool = create_pool(&s, json!({"PoolName": "apps"})).await;
    let pool_id = pool["Id"].as_str().unwrap();
    let base = |extra: Value| {
        let mut b = json!({"UserPoolId": pool_id, "ClientName": "c"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (extra, name) in [
        (
            json!({"AllowedOAuthFlows": ["client_credentials"], "AllowedOAuthScopes": ["openid"]}),
            "InvalidOAuthFlowException",
        ),
        (
            json!({"GenerateSecret": true, "AllowedOAuthFlows": ["client_credentials", "code"]}),
            "InvalidOAuthFlowException",
        ),
        (json!({"AllowedOAuthScopes": ["orders/read"]}), "ScopeDoesNotExistException"),
        (
            json!({"AccessTokenValidity": 2, "TokenValidityUnits": {"AccessToken": "days"}}),
            "InvalidParameterException",
        ),
        (
            json!({"AccessTokenValidity": 4, "TokenValidityUnits": {"AccessToken": "minutes"}}),
            "InvalidParameterException",
        ),
        (
            json!({"RefreshTokenValidity": 30, "TokenValidityUnits": {"RefreshToken": "minutes"}}),
            "InvalidParameterException",
        ),
        (json!({"CallbackURLs": ["http://app.example/cb"]}), "InvalidParameterException"),
        (
            json!({"CallbackURLs": ["https://app.example/cb"], "DefaultRedirectURI": "https://other.example/"}),
            "InvalidParameterException",
        ),
        (
            json!({"ExplicitAuthFlows": ["USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH"]}),
            "InvalidParameterException",
        ),
        (json!({"ExplicitAuthFlows": ["ALLOW_MAGIC"]}), "InvalidParameterException"),
        (json!({"SupportedIdentityProviders": ["Google"]}), "InvalidParameterException"),
        (json!({"ReadAttributes": ["custom:nope"]}), "InvalidParameterException"),
        (json!({"AuthSessionValidity": 20}), "InvalidParameterException"),
        (json!({"ClientSecret": "short"}), "InvalidParameterException"),
        (json!({"AllowedOAuthFlowsUserPoolClient": true}), "InvalidOAuthFlowException"),
    ] {
        s.idp("CreateUserPoolClient", base(extra.clone())).await.assert_error(400, name);
    }
    s.idp("CreateUserPoolClient", json!({"UserPoolId": "us-east-1_missing00", "ClientName": "c"}))
        .await
        .assert_error(400, "ResourceNotFoundException");
    // client_credentials is fine with a secret.
    s.idp(
        "CreateUserPoolClient",
        base(json!({"GenerateSecret": true, "AllowedOAuthFlows": ["client_credentials"]})),
    )
    .await
    .ok();
    s.finish().await;
}
