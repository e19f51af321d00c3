//! Boots `cirrus` for one test and signs requests as boto3 would.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use cirrus::{Config, RunningServer};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub const ACCESS_KEY: &str = "AKIATESTADMIN0000001";
pub const SECRET_KEY: &str = "test-admin-secret-0123456789abcdef";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// The PostgreSQL the suite runs against. `make test` always sets it; a
/// bare `cargo test` falls back to the machine's server. It is never
/// skipped: when it cannot be reached the PostgreSQL tests fail.
pub fn postgres_url() -> String {
    std::env::var("CIRRUS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub struct TestServer {
    pub url: String,
    pub config: Config,
    pub http: reqwest::Client,
    server: Option<RunningServer>,
    dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// `__type` of a JSON error, checked to match `x-amzn-ErrorType`.
    pub fn error_type(&self) -> &str {
        let t = self.body["__type"].as_str().unwrap_or("");
        let header = self.headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert_eq!(t, header, "__type and x-amzn-ErrorType differ: {}", self.text);
        t
    }

    #[track_caller]
    pub fn assert_error(&self, status: u16, name: &str) {
        assert_eq!(self.status.as_u16(), status, "status for {name}: {}", self.text);
        assert_eq!(self.error_type(), name, "{}", self.text);
        assert!(self.body["message"].is_string(), "error without message: {}", self.text);
        assert!(self.headers.contains_key("x-amzn-requestid"));
    }

    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        &self.body
    }
}

pub fn base_config(dir: &std::path::Path, backend: Backend) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        admin_access_key_id: Some(ACCESS_KEY.into()),
        admin_secret_access_key: Some(SECRET_KEY.into()),
        shutdown_grace_seconds: 5,
        log: "warn".into(),
        // Minimum-cost hashing: tests exercise the flow, not argon2's cost.
        argon2_memory_kib: 64,
        argon2_iterations: 1,
        ..Config::default()
    };
    if backend == Backend::Postgres {
        config.database_url = Some(postgres_url());
        config.database_schema = Some(format!("t_{}", uuid::Uuid::new_v4().simple()));
    }
    config
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = base_config(dir.path(), backend);
        Self::start_with(backend, config, dir).await
    }

    pub async fn start_with(backend: Backend, config: Config, dir: tempfile::TempDir) -> Self {
        let server = cirrus::start(config.clone())
            .await
            .unwrap_or_else(|e| panic!("starting cirrus on {backend:?}: {e:#}"));
        Self {
            url: format!("http://{}", server.local_addr),
            config,
            http: reqwest::Client::new(),
            server: Some(server),
            dir,
        }
    }

    /// A handle on a server the test started and stops itself.
    pub fn attach(server: &RunningServer) -> TestServer {
        TestServer {
            url: format!("http://{}", server.local_addr),
            config: Config::default(),
            http: reqwest::Client::new(),
            server: None,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Shuts the server down and drops its PostgreSQL schema.
    pub async fn finish(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("clean shutdown");
        }
        if let Some(schema) = &self.config.database_schema {
            use sqlx::Connection;
            let mut conn =
                sqlx::PgConnection::connect(&postgres_url()).await.expect("connect to drop schema");
            let drop = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
            sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&mut conn).await.expect("drop schema");
        }
    }

    /// A signed `AWSCognitoIdentityProviderService.<op>` call.
    pub async fn idp(&self, op: &str, body: Value) -> Reply {
        let headers = json_headers(&format!("AWSCognitoIdentityProviderService.{op}"));
        let body = body.to_string().into_bytes();
        self.signed(&headers, body, "cognito-idp", SystemTime::now(), SECRET_KEY).await
    }

    /// An unsigned `AWSCognitoIdentityProviderService.<op>` call, as the
    /// SDKs send the public operations.
    pub async fn public(&self, op: &str, body: Value) -> Reply {
        let headers: Vec<(String, String)> = json_headers(&format!("AWSCognitoIdentityProviderService.{op}"))
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        self.post(&headers, body.to_string().into_bytes()).await
    }

    /// The newest code sent by email to `to`, read from the outbox.
    pub fn outbox_code(&self, to: &str) -> String {
        let dir = self.data_dir().join("outbox");
        let mut newest: Option<(std::time::SystemTime, String)> = None;
        for entry in std::fs::read_dir(&dir).expect("outbox") {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("eml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            if !text.contains(&format!("To: {to}")) {
                continue;
            }
            let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
            if newest.as_ref().is_none_or(|(t, _)| modified >= *t) {
                newest = Some((modified, text));
            }
        }
        let text = newest.expect("an email to the address").1;
        let start = text.find("code is ").expect("a code in the message") + "code is ".len();
        text[start..start + 6].to_string()
    }

    /// Sends a POST / signed with `secret` at `at` for `service`.
    pub async fn signed(
        &self,
        headers: &[(&str, String)],
        body: Vec<u8>,
        service: &str,
        at: SystemTime,
        secret: &str,
    ) -> Reply {
        let signed = sign_headers(&self.host(), headers, &body, service, at, ACCESS_KEY, secret);
        self.post(&signed, body).await
    }

    pub fn host(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    pub async fn post(&self, headers: &[(String, String)], body: Vec<u8>) -> Reply {
        let mut req = self.http.post(format!("{}/", self.url)).body(body);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        into_reply(req.send().await.expect("request")).await
    }
}

pub async fn into_reply(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, headers, body, text }
}

pub fn json_headers(target: &str) -> Vec<(&'static str, String)> {
    vec![("content-type", "application/x-amz-json-1.1".into()), ("x-amz-target", target.to_string())]
}

/// Signs like botocore: every header given plus host and x-amz-date.
pub fn sign_headers(
    host: &str,
    headers: &[(&str, String)],
    body: &[u8],
    service: &str,
    at: SystemTime,
    access_key: &str,
    secret: &str,
) -> Vec<(String, String)> {
    let mut all: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.push(("host", host));
    let identity = Credentials::new(access_key, secret, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .expect("params")
        .into();
    let signable = SignableRequest::new("POST", "/", all.clone().into_iter(), SignableBody::Bytes(body))
        .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    let mut out: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    for (name, value) in instructions.headers() {
        out.push((name.to_string(), value.to_string()));
    }
    out
}

/// A CONFIRMED user with the password `Str0ng!pass` and these attributes.
pub async fn confirmed_user(s: &TestServer, pool_id: &str, username: &str, attrs: Value) {
    let create = serde_json::json!({"UserPoolId": pool_id, "Username": username, "MessageAction": "SUPPRESS",
        "TemporaryPassword": "Temp0rary!pw", "UserAttributes": attrs});
    s.idp("AdminCreateUser", create).await.ok();
    let password = serde_json::json!({"UserPoolId": pool_id, "Username": username, "Password": "Str0ng!pass",
        "Permanent": true});
    s.idp("AdminSetUserPassword", password).await.ok();
}

/// The payload of a JWT, unverified (tests read claims the server signed).
pub fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap())
        .unwrap()
}
