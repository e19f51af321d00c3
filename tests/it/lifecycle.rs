//! Start-up: generated admin credentials, the master key, several
//! instances on one PostgreSQL.

use std::time::SystemTime;

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn generated_admin_credentials_are_stored_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path(), Backend::Sqlite);
    config.admin_access_key_id = None;
    config.admin_secret_access_key = None;

    let first = cirrus::start(config.clone()).await.unwrap();
    assert!(first.admin_generated);
    let id = first.admin.access_key_id.clone();
    let secret = first.admin.secret_access_key().to_string();
    assert!(id.starts_with("AKIA") && id.len() == 20, "{id}");
    assert!(secret.len() >= 40);
    first.shutdown().await.unwrap();
    assert!(dir.path().join("master.key").exists());

    let second = cirrus::start(config.clone()).await.unwrap();
    assert!(!second.admin_generated, "credentials are printed on the first start only");
    assert_eq!(second.admin.access_key_id, id);
    assert_eq!(second.admin.secret_access_key(), secret);
    let url = format!("http://{}", second.local_addr);
    let host = url.trim_start_matches("http://").to_string();
    let headers = json_headers("AWSCognitoIdentityProviderService.ListUserPools");
    let body = br#"{"MaxResults": 1}"#.to_vec();
    let signed = sign_headers(&host, &headers, &body, "cognito-idp", SystemTime::now(), &id, &secret);
    let mut req = reqwest::Client::new().post(format!("{url}/")).body(body);
    for (k, v) in &signed {
        req = req.header(k.as_str(), v.as_str());
    }
    let r = into_reply(req.send().await.unwrap()).await;
    r.ok();
    second.shutdown().await.unwrap();

    // Another master key cannot open what the first one sealed: refuse to start.
    std::fs::remove_file(dir.path().join("master.key")).unwrap();
    let err = cirrus::start(config).await.err().expect("start must fail");
    assert!(format!("{err:#}").contains("master key"), "{err:#}");
}

#[tokio::test]
async fn two_instances_on_one_postgres_act_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path(), Backend::Postgres);
    config.master_key = Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
    let a = TestServer::start_with(Backend::Postgres, config.clone(), dir).await;
    let b = TestServer::start_with(Backend::Postgres, config.clone(), tempfile::tempdir().unwrap()).await;
    let created = a.idp("CreateUserPool", json!({"PoolName": "shared"})).await.ok()["UserPool"]["Id"].clone();
    let client = a
        .idp(
            "CreateUserPoolClient",
            json!({"UserPoolId": created, "ClientName": "c", "GenerateSecret": true}),
        )
        .await
        .ok()["UserPoolClient"]
        .clone();
    let seen = b
        .idp("DescribeUserPoolClient", json!({"UserPoolId": created, "ClientId": client["ClientId"]}))
        .await
        .ok()["UserPoolClient"]
        .clone();
    assert_eq!(seen["ClientSecret"], client["ClientSecret"], "the other instance opens the sealed secret");
    b.idp("DeleteUserPool", json!({"UserPoolId": created})).await.ok();
    a.idp("DescribeUserPool", json!({"UserPoolId": created}))
        .await
        .assert_error(400, "ResourceNotFoundException");
    b.finish().await;
    a.finish().await;
}

#[tokio::test]
async fn migrate_applies_and_is_idempotent() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let config = base_config(dir.path(), backend);
        cirrus::server::migrate_only(&config).await.unwrap();
        cirrus::server::migrate_only(&config).await.unwrap();
        // A server on the migrated database starts and answers.
        let s = TestServer::start_with(backend, config, dir).await;
        s.idp("ListUserPools", json!({"MaxResults": 1})).await.ok();
        s.finish().await;
    }
}
