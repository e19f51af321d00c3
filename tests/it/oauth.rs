//! OAuth 2.0 / OIDC through the hosted UI, driven as a browser without
//! JavaScript would: the authorization code grant with PKCE, single-use
//! codes, hosted-UI sessions across instances, pool domains and CSRF.

use std::collections::BTreeMap;

use reqwest::redirect::Policy;
use serde_json::{Value, json};

use crate::auth::pool_and_client;
use crate::harness::*;

const CALLBACK: &str = "http://localhost:3000/cb";
const SIGNED_OUT: &str = "http://localhost:3000/bye";
const NONCE: &str = "n-0S6_WzA2Mj";
const SESSION: &str = "cirrus_session";
/// RFC 7636 Appendix B: a verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A pool with a public client allowed the code grant, and the CONFIRMED
/// user `alice` (password `Str0ng!pass`, a verified email).
async fn oauth_pool(s: &TestServer) -> (String, String) {
    let client = json!({
        "CallbackURLs": [CALLBACK], "LogoutURLs": [SIGNED_OUT], "AllowedOAuthFlows": ["code"],
        "AllowedOAuthScopes": ["openid", "email", "profile"], "AllowedOAuthFlowsUserPoolClient": true,
        "SupportedIdentityProviders": ["COGNITO"],
    });
    let (pool_id, client_id) = pool_and_client(s, json!({}), client).await;
    let attrs =
        json!([{"Name": "email", "Value": "alice@example.com"}, {"Name": "email_verified", "Value": "true"}]);
    confirmed_user(s, &pool_id, "alice", attrs).await;
    (pool_id, client_id)
}

fn encode<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

fn authorize_url(base: &str, client_id: &str, state: &str) -> String {
    let query = encode([
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("state", state),
        ("scope", "openid email"),
        ("nonce", NONCE),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    format!("{base}/oauth2/authorize?{query}")
}

/// The query of a redirect to `target`.
#[track_caller]
fn redirect_query(location: &str, target: &str) -> BTreeMap<String, String> {
    let query = location
        .strip_prefix(target)
        .and_then(|rest| rest.strip_prefix('?'))
        .unwrap_or_else(|| panic!("a redirect to {target}, not {location:?}"));
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// The hidden inputs of a page's form, as the browser would post them.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        s.replace("&#x2f;", "/")
            .replace("&#x27;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    html.split(r#"<input type="hidden" name=""#)
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once('"').unwrap();
            let value = rest.strip_prefix(r#" value=""#).unwrap().split('"').next().unwrap();
            (unescape(name), unescape(value))
        })
        .collect()
}

/// A browser without JavaScript: it keeps cookies and follows no redirect
/// by itself.
#[derive(Clone)]
struct Browser {
    http: reqwest::Client,
    jar: BTreeMap<String, String>,
}

struct Page {
    status: u16,
    location: String,
    set_cookies: Vec<String>,
    html: String,
}

impl Page {
    fn sets_cookie(&self, name: &str) -> bool {
        self.set_cookies.iter().any(|c| c.starts_with(&format!("{name}=")))
    }
}

impl Browser {
    fn new() -> Self {
        let http = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
        Self { http, jar: BTreeMap::new() }
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.jar.get(name).cloned()
    }

    async fn get(&mut self, url: &str) -> Page {
        self.send(self.http.get(url)).await
    }

    async fn post(&mut self, url: &str, fields: &[(String, String)]) -> Page {
        let body = encode(fields.iter().map(|(k, v)| (k, v)));
        self.send(self.http.post(url).header("content-type", "application/x-www-form-urlencoded").body(body))
            .await
    }

    async fn send(&mut self, mut request: reqwest::RequestBuilder) -> Page {
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header("cookie", cookies.join("; "));
        }
        let response = request.send().await.expect("request");
        let header =
            |name: &str| response.headers().get_all(name).iter().map(|v| v.to_str().unwrap().to_string());
        let set_cookies: Vec<String> = header("set-cookie").collect();
        let location = header("location").next().unwrap_or_default();
        for cookie in &set_cookies {
            let (pair, attributes) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.split(';').any(|a| a.trim() == "Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_string(), value.to_string());
            }
        }
        let status = response.status().as_u16();
        Page { status, location, set_cookies, html: response.text().await.unwrap() }
    }
}

/// Signs `alice` in through the hosted UI at `base` (authorize, the login
/// page, its form) and returns the code sent to the callback.
async fn sign_in(browser: &mut Browser, base: &str, client_id: &str, state: &str) -> String {
    let r = browser.get(&authorize_url(base, client_id, state)).await;
    assert_eq!(r.status, 302, "{}", r.html);
    assert!(r.location.starts_with(&format!("{base}/login?")), "{}", r.location);
    let login = browser.get(&r.location).await;
    assert_eq!(login.status, 200, "{}", login.html);
    let mut fields = hidden_fields(&login.html);
    assert!(fields.iter().any(|(k, v)| k == "_csrf" && !v.is_empty()), "{}", login.html);
    assert!(fields.contains(&("code_challenge".into(), CHALLENGE.into())), "{fields:?}");
    fields.extend([("username".into(), "alice".into()), ("password".into(), "Str0ng!pass".into())]);

    let r = browser.post(&format!("{base}/login"), &fields).await;
    assert_eq!(r.status, 302, "{}", r.html);
    let session = r.set_cookies.iter().find(|c| c.starts_with(&format!("{SESSION}="))).expect("a session");
    let path = base.rsplit_once('/').unwrap().1;
    assert!(session.contains("; HttpOnly") && session.contains("; SameSite=Lax"), "{session}");
    assert!(session.contains(&format!("; Path=/{path};")), "{session}");
    let query = redirect_query(&r.location, CALLBACK);
    assert_eq!(query["state"], state);
    query["code"].clone()
}

/// `POST {base}/oauth2/token` with a form: the status and JSON body.
async fn token(base: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(form.iter().copied()))
        .send()
        .await
        .expect("token request");
    (response.status().as_u16(), response.json().await.expect("a JSON body"))
}

fn exchange<'a>(code: &'a str, client_id: &'a str) -> [(&'a str, &'a str); 5] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("client_id", client_id),
        ("code_verifier", VERIFIER),
    ]
}

async fn user_info(base: &str, access_token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{base}/oauth2/userInfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userInfo request");
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

/// SHA-256 of `data`. SigV4 states a payload's digest in
/// `x-amz-content-sha256`; borrowing it spares the suite a hashing crate.
fn sha256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}

/// OIDC Core §3.1.3.6: the left half of the access token's SHA-256.
fn at_hash(access_token: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sha256(access_token.as_bytes())[..16])
}

#[tokio::test]
async fn authorization_code_with_pkce_is_good_once_and_its_replay_revokes_the_grant() {
    for backend in BACKENDS {
        let s = TestServer::start(backend).await;
        let (pool_id, client_id) = oauth_pool(&s).await;
        let base = format!("{}/{pool_id}", s.url);
        let code = sign_in(&mut Browser::new(), &base, &client_id, "st-1").await;

        let (status, tokens) = token(&base, &exchange(&code, &client_id)).await;
        assert_eq!(status, 200, "{backend:?}: {tokens}");
        assert_eq!(tokens["token_type"], "Bearer");
        let access_token = tokens["access_token"].as_str().unwrap();
        let refresh_token = tokens["refresh_token"].as_str().expect("a refresh token");
        let id = claims(tokens["id_token"].as_str().expect("an ID token for openid"));
        assert_eq!(id["iss"], base);
        assert_eq!(id["aud"], client_id);
        assert_eq!(id["token_use"], "id");
        assert_eq!(id["nonce"], NONCE);
        assert_eq!(id["at_hash"], at_hash(access_token));
        assert_eq!(id["email"], "alice@example.com");
        let access = claims(access_token);
        assert_eq!(access["scope"], "openid email");
        assert_eq!(access["token_use"], "access");
        assert_eq!(access["client_id"], client_id);
        assert_eq!(access["version"], 2);
        let (status, info) = user_info(&base, access_token).await;
        assert_eq!(status, 200, "{info}");
        assert_eq!(
            (info["username"].as_str(), info["email"].as_str()),
            (Some("alice"), Some("alice@example.com"))
        );

        // The same code again: refused, and what its first use got is revoked.
        let (status, replay) = token(&base, &exchange(&code, &client_id)).await;
        assert_eq!((status, replay["error"].as_str()), (400, Some("invalid_grant")), "{backend:?}: {replay}");
        let refresh =
            [("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", &client_id)];
        let (status, refreshed) = token(&base, &refresh).await;
        assert_eq!((status, refreshed["error"].as_str()), (400, Some("invalid_grant")), "{refreshed}");
        let (status, info) = user_info(&base, access_token).await;
        assert_eq!((status, info["error"].as_str()), (401, Some("invalid_token")), "{info}");
        s.finish().await;
    }
}

/// The code exchanged by `n` tasks at once (released together).
async fn race(base: &str, code: &str, client_id: &str, n: usize) -> Vec<(u16, Value)> {
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (start, base, code, client_id) =
            (start.clone(), base.to_string(), code.to_string(), client_id.to_string());
        tasks.spawn(async move {
            start.wait().await;
            token(&base, &exchange(&code, &client_id)).await
        });
    }
    tasks.join_all().await
}

/// A code presented by 8 tasks at once: it is spent once, every other
/// presentation is `invalid_grant`, and because the code was presented
/// twice, no tokens from it stay usable (RFC 6749 §4.1.2): the exchange that
/// won is either refused too (it saw the replay after storing its refresh
/// token) or its tokens are revoked by the replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_code_presented_concurrently_leaves_no_usable_tokens() {
    for backend in BACKENDS {
        let s = TestServer::start(backend).await;
        let (pool_id, client_id) = oauth_pool(&s).await;
        let base = format!("{}/{pool_id}", s.url);
        for round in 0..3 {
            let code = sign_in(&mut Browser::new(), &base, &client_id, &format!("race{round}")).await;
            let results = race(&base, &code, &client_id, 8).await;
            let granted: Vec<&Value> =
                results.iter().filter(|(status, _)| *status == 200).map(|(_, body)| body).collect();
            assert!(granted.len() <= 1, "{backend:?}: {results:?}");
            for (status, body) in results.iter().filter(|(status, _)| *status != 200) {
                assert_eq!(
                    (*status, body["error"].as_str()),
                    (400, Some("invalid_grant")),
                    "{backend:?}: {body}"
                );
            }
            if let Some(granted) = granted.first() {
                let refresh_token = granted["refresh_token"].as_str().unwrap();
                let refresh = [
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token),
                    ("client_id", &client_id),
                ];
                let (status, refreshed) = token(&base, &refresh).await;
                assert_eq!(
                    (status, refreshed["error"].as_str()),
                    (400, Some("invalid_grant")),
                    "{backend:?}"
                );
                let (status, _) = user_info(&base, granted["access_token"].as_str().unwrap()).await;
                assert_eq!(status, 401, "{backend:?}: the access token outlives the replay");
            }
        }
        s.finish().await;
    }
}

/// A code exchanged once, alone, gives working tokens.
#[tokio::test]
async fn a_code_exchanged_once_gives_working_tokens() {
    for backend in BACKENDS {
        let s = TestServer::start(backend).await;
        let (pool_id, client_id) = oauth_pool(&s).await;
        let base = format!("{}/{pool_id}", s.url);
        let code = sign_in(&mut Browser::new(), &base, &client_id, "alone").await;
        let results = race(&base, &code, &client_id, 1).await;
        assert_eq!(results[0].0, 200, "{backend:?}: {results:?}");
        let (status, _) = user_info(&base, results[0].1["access_token"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{backend:?}");
        s.finish().await;
    }
}

#[tokio::test]
async fn two_instances_share_codes_and_hosted_ui_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path(), Backend::Postgres);
    config.master_key = Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
    let a = TestServer::start_with(Backend::Postgres, config.clone(), dir).await;
    let b = TestServer::start_with(Backend::Postgres, config, tempfile::tempdir().unwrap()).await;
    let (pool_id, client_id) = oauth_pool(&a).await;
    let (base_a, base_b) = (format!("{}/{pool_id}", a.url), format!("{}/{pool_id}", b.url));

    // One browser, as behind a load balancer: signed in at A, the code spent at B.
    let mut browser = Browser::new();
    let code = sign_in(&mut browser, &base_a, &client_id, "at-a").await;
    let (status, tokens) = token(&base_b, &exchange(&code, &client_id)).await;
    assert_eq!(status, 200, "{tokens}");
    let (status, replay) = token(&base_a, &exchange(&code, &client_id)).await;
    assert_eq!((status, replay["error"].as_str()), (400, Some("invalid_grant")), "{replay}");

    // A's session cookie signs the browser in at B without the login page.
    let session = browser.cookie(SESSION).expect("a session cookie from A");
    let r = browser.get(&authorize_url(&base_b, &client_id, "sso-b")).await;
    assert_eq!(r.status, 302, "{}", r.html);
    let sso = redirect_query(&r.location, CALLBACK);
    assert_eq!(sso["state"], "sso-b");
    let (status, tokens) = token(&base_a, &exchange(&sso["code"], &client_id)).await;
    assert_eq!(status, 200, "{tokens}");

    // Signing out at B ends the session for A too.
    let logout = encode([("client_id", client_id.as_str()), ("logout_uri", SIGNED_OUT)]);
    let r = browser.get(&format!("{base_b}/logout?{logout}")).await;
    assert_eq!((r.status, r.location.as_str()), (302, SIGNED_OUT), "{}", r.html);
    assert_eq!(browser.cookie(SESSION), None, "the cookie is cleared");
    let mut stale = Browser::new();
    stale.jar.insert(SESSION.into(), session);
    let r = stale.get(&authorize_url(&base_a, &client_id, "after")).await;
    assert_eq!(r.status, 302, "{}", r.html);
    assert!(
        r.location.starts_with(&format!("{base_a}/login?")),
        "the old cookie still signs in: {}",
        r.location
    );
    b.finish().await;
    a.finish().await;
}

#[tokio::test]
async fn a_pool_domain_serves_the_pool_at_its_host_until_deleted() {
    for backend in BACKENDS {
        let s = TestServer::start(backend).await;
        let (pool_id, _) = oauth_pool(&s).await;
        let host = "alices-shop.auth.example";
        let discovery = || async {
            let response = reqwest::Client::new()
                .get(format!("{}/.well-known/openid-configuration", s.url))
                .header("host", host)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
        };
        // Host lookups are cached per process; creating or deleting a
        // domain clears the cache.
        assert_eq!(discovery().await.0, 404, "{backend:?}: no domain yet");

        s.idp("CreateUserPoolDomain", json!({"UserPoolId": pool_id, "Domain": "alices-shop"})).await.ok();
        let described = s.idp("DescribeUserPoolDomain", json!({"Domain": "alices-shop"})).await;
        assert_eq!(described.ok()["DomainDescription"]["UserPoolId"], pool_id.as_str());
        let (status, config) = discovery().await;
        assert_eq!(status, 200, "{backend:?}: {config}");
        assert_eq!(config["issuer"], format!("{}/{pool_id}", s.url));
        assert_eq!(config["authorization_endpoint"], format!("http://{host}/oauth2/authorize"));

        s.idp("DeleteUserPoolDomain", json!({"UserPoolId": pool_id, "Domain": "alices-shop"})).await.ok();
        assert_eq!(discovery().await.0, 404, "{backend:?}: the domain is gone");
        s.finish().await;
    }
}

#[tokio::test]
async fn a_login_post_without_its_csrf_cookie_and_token_is_refused() {
    for backend in BACKENDS {
        let s = TestServer::start(backend).await;
        let (pool_id, client_id) = oauth_pool(&s).await;
        let base = format!("{}/{pool_id}", s.url);
        let mut browser = Browser::new();
        let r = browser.get(&authorize_url(&base, &client_id, "csrf")).await;
        let login = browser.get(&r.location).await;
        let mut fields = hidden_fields(&login.html);
        fields.extend([("username".into(), "alice".into()), ("password".into(), "Str0ng!pass".into())]);
        let without_token: Vec<_> = fields.iter().filter(|(k, _)| k != "_csrf").cloned().collect();

        // A cross-site form (no cookie, no token); the page's token with
        // another browser's cookie; the cookie without a token.
        let mut stranger = Browser::new();
        stranger.get(&r.location).await;
        assert!(stranger.cookie("cirrus_csrf").is_some_and(|c| browser.cookie("cirrus_csrf") != Some(c)));
        let refused = [
            (Browser::new(), without_token.clone()),
            (stranger, fields.clone()),
            (browser.clone(), without_token),
        ];
        for (mut other, form) in refused {
            let r = other.post(&format!("{base}/login"), &form).await;
            assert_eq!(r.status, 403, "{backend:?}: {}", r.html);
            assert!(!r.sets_cookie(SESSION), "{backend:?}: {:?}", r.set_cookies);
            assert!(r.location.is_empty(), "{}", r.location);
        }
        // The same form with both signs in.
        let r = browser.post(&format!("{base}/login"), &fields).await;
        assert_eq!(r.status, 302, "{backend:?}: {}", r.html);
        assert!(r.sets_cookie(SESSION));
        s.finish().await;
    }
}
