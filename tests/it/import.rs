//! Bulk import: a 10,000-row CSV with bcrypt hashes, a few bad rows
//! reported by line, imported users signing in with their old passwords.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::auth::pool_and_client;
use crate::harness::*;

#[tokio::test]
async fn ten_thousand_users_with_bcrypt_hashes() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (pool_id, client_id) = pool_and_client(&s, json!({"AliasAttributes": ["email"]}), json!({})).await;
    let header = s.idp("GetCSVHeader", json!({"UserPoolId": pool_id})).await.ok()["CSVHeader"].clone();
    let header: Vec<String> =
        header.as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_string()).collect();
    assert!(
        header.contains(&"cognito:username".to_string())
            && header.contains(&"cirrus:password_hash".to_string())
    );

    // A few distinct hashes reused across rows (bcrypt is slow on purpose).
    let passwords: Vec<String> = (0..4).map(|i| format!("legacy-pass-{i}")).collect();
    let hashes: Vec<String> = passwords.iter().map(|p| bcrypt::hash(p, 4).unwrap()).collect();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut csv = header.join(",") + "\n";
    let mut bad_lines = Vec::new();
    for i in 0..10_000usize {
        let mut row = vec![String::new(); header.len()];
        row[column("cognito:username")] = format!("user{i:05}");
        row[column("email")] = format!("user{i:05}@example.com");
        row[column("email_verified")] = "true".into();
        row[column("cognito:mfa_enabled")] = "false".into();
        row[column("cirrus:password_hash")] = hashes[i % hashes.len()].clone();
        // Line numbers count the header as line 1.
        let line = i + 2;
        match i {
            17 => {
                row[column("cognito:username")] = String::new();
                bad_lines.push(line);
            }
            2_000 => {
                row[column("email")] = "not-an-email".into();
                bad_lines.push(line);
            }
            5_000 => {
                row[column("cirrus:password_hash")] = "md5:5f4dcc3b5aa765d61d8327deb882cf99".into();
                bad_lines.push(line);
            }
            9_999 => {
                row[column("cognito:username")] = "user00001".into();
                row[column("email")] = "duplicate@example.com".into();
                bad_lines.push(line);
            }
            _ => {}
        }
        csv.push_str(&row.join(","));
        csv.push('\n');
    }

    let job = s
        .idp("CreateUserImportJob", json!({"UserPoolId": pool_id, "JobName": "legacy", "CloudWatchLogsRoleArn": "arn:aws:iam::000000000000:role/Import"}))
        .await
        .ok()["UserImportJob"]
        .clone();
    assert_eq!(job["Status"], "Created");
    let url = job["PreSignedUrl"].as_str().unwrap().to_string();
    let job_id = job["JobId"].as_str().unwrap().to_string();
    // The URL carries the server's public address; send it to this server.
    let path = url.split_once("/import-jobs/").unwrap().1;
    let upload = format!("{}/import-jobs/{path}", s.url);
    let wrong_token = upload.split("token=").next().unwrap().to_string() + "token=wrong";
    assert_eq!(s.http.put(&wrong_token).body(csv.clone()).send().await.unwrap().status(), 403);
    let put =
        s.http.put(&upload).header("x-amz-server-side-encryption", "aws:kms").body(csv).send().await.unwrap();
    assert_eq!(put.status(), 200);

    let started = Instant::now();
    s.idp("StartUserImportJob", json!({"UserPoolId": pool_id, "JobId": job_id})).await.ok();
    let done = loop {
        let job = s.idp("DescribeUserImportJob", json!({"UserPoolId": pool_id, "JobId": job_id})).await.ok()
            ["UserImportJob"]
            .clone();
        if job["Status"] != "InProgress" {
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "import still running: {job}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(done["Status"], "Succeeded", "{done}");
    assert_eq!(done["ImportedUsers"], 10_000 - bad_lines.len());
    assert_eq!(done["FailedUsers"], bad_lines.len());
    let message = done["CompletionMessage"].as_str().unwrap();
    assert!(message.len() <= 128 && message.contains("lines 19"), "{message}");

    let failures: Value = s
        .http
        .get(format!(
            "{}/import-jobs/{}/failures?token={}",
            s.url,
            job_id,
            upload.split("token=").nth(1).unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lines: Vec<usize> =
        failures.as_array().unwrap().iter().map(|f| f["line"].as_u64().unwrap() as usize).collect();
    assert_eq!(lines, bad_lines, "{failures}");

    // Imported users sign in with their old passwords, by username or email.
    for (name, i) in [("user00003", 3usize), ("user04242@example.com", 4242)] {
        let r = s
            .public(
                "InitiateAuth",
                json!({"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                       "AuthParameters": {"USERNAME": name, "PASSWORD": passwords[i % passwords.len()]}}),
            )
            .await;
        assert!(r.ok()["AuthenticationResult"]["IdToken"].is_string());
    }
    // The bcrypt hash was replaced by argon2id at that sign-in.
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", s.data_dir().join("cirrus.db").display()))
        .await
        .unwrap();
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE username = 'user00003'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    db.close().await;
    s.public(
        "InitiateAuth",
        json!({"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
               "AuthParameters": {"USERNAME": "user00003", "PASSWORD": passwords[3]}}),
    )
    .await
    .ok();
    let listed =
        s.idp("ListUserImportJobs", json!({"UserPoolId": pool_id, "MaxResults": 10})).await.ok().clone();
    assert_eq!(listed["UserImportJobs"].as_array().unwrap().len(), 1);
    s.finish().await;
}
