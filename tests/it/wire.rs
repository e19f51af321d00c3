//! Point 2 of the foundation: every bad input of the AWS wire gets its
//! status and exception name, never a 500.

use std::time::{Duration, SystemTime};

use serde_json::json;

use crate::harness::*;

async fn raw(server: &TestServer, headers: &[(&str, &str)], body: &str) -> Reply {
    let headers: Vec<(String, String)> =
        headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    server.post(&headers, body.as_bytes().to_vec()).await
}

#[tokio::test]
async fn health_and_readiness() {
    let s = TestServer::start(Backend::Sqlite).await;
    for path in ["/healthz", "/readyz"] {
        let r = s.http.get(format!("{}{path}", s.url)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    s.finish().await;
}

#[tokio::test]
async fn unknown_operation_and_unknown_service() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.idp("FlyToTheMoon", json!({})).await.assert_error(400, "UnknownOperationException");
    let headers = json_headers("NoSuchService.DescribeUserPool");
    s.signed(&headers, b"{}".to_vec(), "cognito-idp", SystemTime::now(), SECRET_KEY)
        .await
        .assert_error(400, "UnknownOperationException");
    // Neither a target nor an Action.
    raw(&s, &[("content-type", "application/x-amz-json-1.1")], "{}")
        .await
        .assert_error(400, "UnknownOperationException");
    s.finish().await;
}

#[tokio::test]
async fn malformed_json_and_wrong_content_type() {
    let s = TestServer::start(Backend::Sqlite).await;
    let target = "AWSCognitoIdentityProviderService.ListUserPools";
    let headers = json_headers(target);
    let r =
        s.signed(&headers, b"{\"MaxResults\": ".to_vec(), "cognito-idp", SystemTime::now(), SECRET_KEY).await;
    r.assert_error(400, "SerializationException");
    let r = s.signed(&headers, b"[1,2]".to_vec(), "cognito-idp", SystemTime::now(), SECRET_KEY).await;
    r.assert_error(400, "SerializationException");
    // A member of the wrong JSON type.
    s.idp("ListUserPools", json!({"MaxResults": "ten"})).await.assert_error(400, "SerializationException");
    let headers = vec![("content-type", "text/plain".to_string()), ("x-amz-target", target.to_string())];
    let r = s
        .signed(&headers, b"{\"MaxResults\": 1}".to_vec(), "cognito-idp", SystemTime::now(), SECRET_KEY)
        .await;
    r.assert_error(400, "SerializationException");
    assert!(r.body["message"].as_str().unwrap().contains("Content-Type"));
    // application/json is accepted as JSON 1.1.
    let headers =
        vec![("content-type", "application/json".to_string()), ("x-amz-target", target.to_string())];
    let r = s
        .signed(&headers, b"{\"MaxResults\": 1}".to_vec(), "cognito-idp", SystemTime::now(), SECRET_KEY)
        .await;
    r.ok();
    s.finish().await;
}

#[tokio::test]
async fn missing_member_out_of_range_and_bad_enum() {
    let s = TestServer::start(Backend::Sqlite).await;
    let r = s.idp("CreateUserPool", json!({})).await;
    r.assert_error(400, "InvalidParameterException");
    assert!(r.body["message"].as_str().unwrap().contains("PoolName"), "{}", r.text);
    let r = s.idp("ListUserPools", json!({})).await;
    r.assert_error(400, "InvalidParameterException");
    assert!(r.text.contains("MaxResults"));
    for bad in [0, 61, -1] {
        s.idp("ListUserPools", json!({"MaxResults": bad}))
            .await
            .assert_error(400, "InvalidParameterException");
    }
    let r = s.idp("CreateUserPool", json!({"PoolName": "p", "MfaConfiguration": "SOMETIMES"})).await;
    r.assert_error(400, "InvalidParameterException");
    assert!(r.text.contains("SOMETIMES") && r.text.contains("OPTIONAL"), "{}", r.text);
    s.idp("CreateUserPool", json!({"PoolName": ""})).await.assert_error(400, "InvalidParameterException");
    s.idp("CreateUserPool", json!({"PoolName": "a/b"})).await.assert_error(400, "InvalidParameterException");
    s.idp("DescribeUserPool", json!({"UserPoolId": "not-a-pool-id"}))
        .await
        .assert_error(400, "InvalidParameterException");
    // JSON nulls are absent members, not errors.
    s.idp("ListUserPools", json!({"MaxResults": 5, "NextToken": null})).await.ok();
    s.finish().await;
}

#[tokio::test]
async fn signature_failures_have_aws_names() {
    let s = TestServer::start(Backend::Sqlite).await;
    let target = "AWSCognitoIdentityProviderService.ListUserPools";
    let body = br#"{"MaxResults": 5}"#.to_vec();
    let headers = json_headers(target);

    // No Authorization at all.
    let plain: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    s.post(&plain, body.clone()).await.assert_error(400, "MissingAuthenticationTokenException");

    // Wrong secret.
    s.signed(&headers, body.clone(), "cognito-idp", SystemTime::now(), "not-the-secret-at-all-0000")
        .await
        .assert_error(400, "InvalidSignatureException");

    // Unknown access key.
    let signed = sign_headers(
        &s.host(),
        &headers,
        &body,
        "cognito-idp",
        SystemTime::now(),
        "AKIAUNKNOWN000000000",
        SECRET_KEY,
    );
    s.post(&signed, body.clone()).await.assert_error(400, "UnrecognizedClientException");

    // Signed 20 minutes ago, and 20 minutes ahead.
    let past = SystemTime::now() - Duration::from_secs(20 * 60);
    let r = s.signed(&headers, body.clone(), "cognito-idp", past, SECRET_KEY).await;
    r.assert_error(400, "InvalidSignatureException");
    assert!(r.body["message"].as_str().unwrap().starts_with("Signature expired"), "{}", r.text);
    let future = SystemTime::now() + Duration::from_secs(20 * 60);
    let r = s.signed(&headers, body.clone(), "cognito-idp", future, SECRET_KEY).await;
    r.assert_error(400, "InvalidSignatureException");
    assert!(r.body["message"].as_str().unwrap().starts_with("Signature not yet current"), "{}", r.text);
    // 10 minutes of skew is inside the 15-minute window.
    let r = s
        .signed(
            &headers,
            body.clone(),
            "cognito-idp",
            SystemTime::now() - Duration::from_secs(600),
            SECRET_KEY,
        )
        .await;
    r.ok();

    // Scoped to another service.
    s.signed(&headers, body.clone(), "sts", SystemTime::now(), SECRET_KEY)
        .await
        .assert_error(400, "InvalidSignatureException");

    // Body changed after signing.
    let signed =
        sign_headers(&s.host(), &headers, &body, "cognito-idp", SystemTime::now(), ACCESS_KEY, SECRET_KEY);
    s.post(&signed, br#"{"MaxResults": 6}"#.to_vec()).await.assert_error(400, "InvalidSignatureException");

    // A signed header changed after signing.
    let mut tampered = signed.clone();
    for (k, v) in tampered.iter_mut() {
        if k == "x-amz-target" {
            *v = "AWSCognitoIdentityProviderService.ListUserPoolClients".into();
        }
    }
    s.post(&tampered, body.clone()).await.assert_error(400, "InvalidSignatureException");

    // Malformed Authorization headers.
    for auth in [
        "AWS4-HMAC-SHA256 Credential=AKIATESTADMIN0000001/20260101/us-east-1/cognito-idp/aws4_request",
        "AWS4-HMAC-SHA256 garbage",
        "Basic dXNlcjpwYXNz",
        "AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=host, Signature=00",
    ] {
        let mut h = plain.clone();
        h.push(("authorization".into(), auth.into()));
        h.push(("x-amz-date".into(), "20260101T000000Z".into()));
        s.post(&h, body.clone()).await.assert_error(400, "IncompleteSignatureException");
    }
    // Signed, but no X-Amz-Date.
    let mut no_date: Vec<(String, String)> =
        signed.iter().filter(|(k, _)| k != "x-amz-date").cloned().collect();
    no_date.retain(|(k, _)| k != "x-amz-date");
    s.post(&no_date, body.clone()).await.assert_error(400, "IncompleteSignatureException");
    s.finish().await;
}

fn form_headers() -> Vec<(&'static str, String)> {
    vec![("content-type", "application/x-www-form-urlencoded; charset=utf-8".into())]
}

#[tokio::test]
async fn query_protocol_answers_in_xml() {
    let s = TestServer::start(Backend::Sqlite).await;
    let body = b"Action=GetCallerIdentity&Version=2011-06-15".to_vec();
    let r = s.signed(&form_headers(), body.clone(), "sts", SystemTime::now(), SECRET_KEY).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.starts_with("<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">")
    );
    assert!(r.text.contains("<Account>000000000000</Account>"), "{}", r.text);
    assert!(r.text.contains(&format!("<UserId>{ACCESS_KEY}</UserId>")));
    let rid = r.headers["x-amzn-requestid"].to_str().unwrap().to_string();
    assert!(r.text.contains(&format!("<RequestId>{rid}</RequestId>")));

    let query_error = |r: &Reply, status: u16, code: &str| {
        assert_eq!(r.status.as_u16(), status, "{}", r.text);
        assert!(r.text.starts_with("<ErrorResponse"), "{}", r.text);
        assert!(r.text.contains(&format!("<Code>{code}</Code>")), "{}", r.text);
        assert!(r.text.contains("<Type>Sender</Type>"));
    };
    let r =
        s.signed(&form_headers(), body.clone(), "sts", SystemTime::now(), "wrong-secret-wrong-secret").await;
    query_error(&r, 403, "SignatureDoesNotMatch");
    let signed = sign_headers(
        &s.host(),
        &form_headers(),
        &body,
        "sts",
        SystemTime::now(),
        "AKIANOBODY0000000000",
        SECRET_KEY,
    );
    query_error(&s.post(&signed, body.clone()).await, 403, "InvalidClientTokenId");
    let plain = vec![("content-type".to_string(), "application/x-www-form-urlencoded".to_string())];
    query_error(&s.post(&plain, body.clone()).await, 403, "MissingAuthenticationToken");
    query_error(
        &s.post(&plain, b"Action=LaunchRocket&Version=2011-06-15".to_vec()).await,
        400,
        "InvalidAction",
    );
    query_error(&s.post(&plain, b"Version=2011-06-15".to_vec()).await, 400, "MissingAction");
    s.finish().await;
}

#[tokio::test]
async fn cors_preflight_and_exposed_headers() {
    let s = TestServer::start(Backend::Sqlite).await;
    let r = s
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/", s.url))
        .header("origin", "http://app.localhost:3000")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-amz-target,x-amz-user-agent")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(h["access-control-allow-headers"].to_str().unwrap().contains("x-amz-target"));
    assert!(h["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    let r = s.idp("ListUserPools", json!({"MaxResults": 1})).await;
    r.ok();
    let exposed = r.headers.get("access-control-expose-headers").map(|v| v.to_str().unwrap().to_string());
    // Only sent on cross-origin requests; make one.
    assert!(exposed.is_none() || exposed.unwrap().contains("x-amzn-requestid"));
    let r = s
        .http
        .post(format!("{}/", s.url))
        .header("origin", "http://app.localhost:3000")
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "AWSCognitoIdentityProviderService.Nope")
        .body("{}")
        .send()
        .await
        .unwrap();
    let exposed = r.headers()["access-control-expose-headers"].to_str().unwrap().to_string();
    assert!(exposed.contains("x-amzn-requestid") && exposed.contains("x-amzn-errortype"), "{exposed}");
    s.finish().await;
}
