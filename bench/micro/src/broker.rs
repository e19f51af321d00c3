//! `cirrus-bench-broker`: the identity-pool broker's work in process, beside
//! the raw cryptography it cannot do without, on this machine and with the
//! server's crates. `bench/broker.sh` quotes the broker's HTTP throughput as
//! ratios to the two floors measured here.
//!
//! Floors (what one operation cannot cost less than):
//!
//! - `floor_credentials`: what GetCredentialsForIdentity must do at least:
//!   one RS256 verification (jsonwebtoken 11, `aws_lc_rs`, RSA-2048 key made
//!   and loaded like a pool key, prebuilt `DecodingKey`) of a user-pool ID
//!   token, plus one XChaCha20-Poly1305 seal (`secrets::MasterKey::seal`,
//!   the broker's sealing) of a session-claims plaintext shaped like the one
//!   the server mints.
//! - `floor_sigv4`: what verifying a SigV4 signature must do at least: the
//!   HMAC-SHA256 chain, signing-key derivation (date, region, service,
//!   `aws4_request`) and the HMAC of the string to sign, 5 HMACs, with the
//!   `hmac` 0.13 / `sha2` 0.11 crates aws-sigv4 (and so the server) uses.
//!
//! The broker's own figure:
//!
//! - `verify`: `sts_broker::verify::Verifier::authorize` on a GET signed the
//!   way botocore signs (header form: host, x-amz-date,
//!   x-amz-security-token) with credentials from `SessionKeys::issue`, the
//!   role policy allowing `photos:*` on the caller's own
//!   `${cognito-identity.amazonaws.com:sub}` folder.
//!
//! Parts (where the time goes), each measured alone: the RS256 verification
//! and the seal of the first floor separately; `verify_jwt` as
//! `TokenVerifier::verify_user_pool` calls it (JWKS from JSON, a
//! `DecodingKey` from the JWK, per token); `SessionKeys::issue`; the trust
//! policy parse + decision `mint` makes; and for a verification the
//! aws-sigv4 signature it recomputes, `SessionKeys::open`, and the policy
//! step (cache lookup, clone, context, `decide`).
//!
//! Every figure is measured by `--threads` threads (default: the number of
//! cores) running the operation back to back after one untimed operation
//! each, for `--seconds` (floors and `verify`, default 5) or
//! `--part-seconds` (parts, default 2); before the first figure all threads
//! run the first floor untimed for `--warmup` seconds (default 2). Prints
//! one JSON object on stdout.
//!
//! Usage: cirrus-bench-broker [--threads N] [--seconds S] [--part-seconds S] [--warmup S]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::IpAddr;
use std::process::exit;
use std::sync::Mutex;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, Uri};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrets::MasterKey;
use serde_json::{Map, Value, json};
use sha2::Sha256;
use sts_broker::credentials::{ContextValue, SessionClaims, SessionKeys};
use sts_broker::policy::{self, Decision, Policy, PolicyKind};
use sts_broker::verify::{RequestFacts, Verifier};

use common::{measure, uuid_like};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "000000000000";
const USER_POOL: &str = "us-east-1_Bench0001";
const CLIENT_ID: &str = "4bencha1b2c3d4e5f6g7h8i9j0";
const ISSUER: &str = "http://127.0.0.1:9229/us-east-1_Bench0001";
const SERVICE: &str = "photos";
const HOST: &str = "photos.example";
const ACTION: &str = "photos:GetPhoto";
const COGNITO: &str = "cognito-identity.amazonaws.com";
/// The role's one inline policy, as bench/broker_setup.py puts it.
const ROLE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["photos:GetPhoto","photos:PutPhoto"],"Resource":"arn:aws:photos:::photo/${cognito-identity.amazonaws.com:sub}/*"}]}"#;

/// Runs a future that never waits on I/O (the verifier's does not) to the end.
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The claims of a user pool's ID token (13, as the server issues them).
fn id_token_claims(now: i64) -> Value {
    json!({
        "sub": uuid_like(1),
        "email_verified": false,
        "iss": ISSUER,
        "cognito:username": "bench-user",
        "origin_jti": uuid_like(2),
        "aud": CLIENT_ID,
        "event_id": uuid_like(4),
        "token_use": "id",
        "auth_time": now,
        "exp": now + 3600,
        "iat": now,
        "jti": uuid_like(3),
        "email": "bench-user@example.com",
    })
}

/// The session GetCredentialsForIdentity mints (`Broker::mint` with
/// `cognito_web_identity`): role policies and context keys as the server
/// sets them for a user-pool login.
fn session_claims(identity_id: &str, user_sub: &str, now: i64) -> SessionClaims {
    let identity_pool = format!("{REGION}:{}", uuid_like(9));
    let provider = format!("cognito-idp.{REGION}.amazonaws.com/{USER_POOL}");
    let role_name = "cirrus-bench-photos";
    let session = "CognitoIdentityCredentials";
    let role_id = "AROABENCH0123456789AB";
    let one = |s: &str| ContextValue::One(s.to_string());
    let mut context = BTreeMap::new();
    context.insert(format!("{COGNITO}:aud"), one(&identity_pool));
    context.insert(format!("{COGNITO}:sub"), one(identity_id));
    context.insert(
        format!("{COGNITO}:amr"),
        ContextValue::Many(vec![
            "authenticated".into(),
            provider.clone(),
            format!("{provider}:CognitoSignIn:{user_sub}"),
        ]),
    );
    context.insert("aws:userid".into(), one(&format!("{role_id}:{session}")));
    context.insert("aws:PrincipalArn".into(), one(&format!("arn:aws:iam::{ACCOUNT}:role/{role_name}")));
    context.insert("aws:PrincipalAccount".into(), one(ACCOUNT));
    context.insert("aws:PrincipalType".into(), one("AssumedRole"));
    context.insert("aws:FederatedProvider".into(), one(COGNITO));
    context.insert("aws:TokenIssueTime".into(), one(&sts_broker::session::rfc3339(now)));
    SessionClaims {
        akid: String::new(),
        arn: format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{session}"),
        user_id: format!("{role_id}:{session}"),
        account: ACCOUNT.into(),
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/{role_name}"),
        iat: now,
        exp: now + 3600,
        policies: vec![ROLE_POLICY.into()],
        session_policies: None,
        context,
    }
}

/// The role trust policy bench/broker_setup.py creates (Cognito's usual one).
fn trust_policy(identity_pool: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": COGNITO}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {format!("{COGNITO}:aud"): identity_pool},
                      "ForAnyValue:StringLike": {format!("{COGNITO}:amr"): "authenticated"}}}]})
    .to_string()
}

/// A GET of `path` signed as botocore's SigV4Auth signs it (header form):
/// the path and query, and the headers as a resource server receives them.
fn signed_get(akid: &str, secret: &str, token: &str, path: &str) -> (Uri, HeaderMap) {
    let creds = Credentials::new(akid, secret, Some(token.to_string()), None, "bench");
    let identity = creds.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(SERVICE)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("signing params")
        .into();
    let url = format!("http://{HOST}{path}");
    let headers = [("host", HOST)];
    let signable = SignableRequest::new("GET", url.as_str(), headers.into_iter(), SignableBody::Bytes(b""))
        .expect("signable request");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    let mut req =
        http::Request::builder().method("GET").uri(&url).header("host", HOST).body(()).expect("request");
    instructions.apply_to_request_http1x(&mut req);
    let (parts, _) = req.into_parts();
    let uri: Uri = parts.uri.path_and_query().expect("path").as_str().parse().expect("uri");
    (uri, parts.headers)
}

/// The 5 HMAC-SHA256 of a SigV4 signature: kDate, kRegion, kService,
/// kSigning, then the signature of the string to sign.
fn sigv4_chain(secret_with_prefix: &[u8], date: &[u8], string_to_sign: &[u8]) -> [u8; 32] {
    let mac = |key: &[u8], msg: &[u8]| -> [u8; 32] {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
        m.update(msg);
        m.finalize().into_bytes().into()
    };
    let k_date = mac(secret_with_prefix, date);
    let k_region = mac(&k_date, REGION.as_bytes());
    let k_service = mac(&k_region, SERVICE.as_bytes());
    let k_signing = mac(&k_service, b"aws4_request");
    mac(&k_signing, string_to_sign)
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "cirrus-bench-broker: {msg}\nusage: cirrus-bench-broker [--threads N] [--seconds S] [--part-seconds S] [--warmup S]"
    );
    exit(2)
}

fn main() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let mut threads = cores;
    let mut seconds = 5.0f64;
    let mut part_seconds = 2.0f64;
    let mut warmup = 2.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        let positive = |v: String, what: &str| -> f64 {
            v.parse().ok().filter(|&s: &f64| s > 0.0).unwrap_or_else(|| usage(&format!("bad {what}")))
        };
        match arg.as_str() {
            "--threads" => {
                threads = value().parse().ok().filter(|&n| n > 0).unwrap_or_else(|| usage("bad --threads"));
            }
            "--seconds" => seconds = positive(value(), "--seconds"),
            "--part-seconds" => part_seconds = positive(value(), "--part-seconds"),
            "--warmup" => {
                warmup =
                    value().parse().ok().filter(|&s: &f64| s >= 0.0).unwrap_or_else(|| usage("bad --warmup"));
            }
            "-h" | "--help" => usage("the broker's in-process rates and their cryptographic floors, as JSON"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let duration = Duration::from_secs_f64(seconds);
    let part = Duration::from_secs_f64(part_seconds);
    let now = now_secs();

    // A user pool's RSA-2048 key, made, stored and loaded like the server's.
    let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA-2048 keygen");
    let der = pair.as_der().expect("PKCS#8 DER");
    let encoding = EncodingKey::from_rsa_pem(secrets::pkcs8_pem(der.as_ref()).as_bytes())
        .expect("EncodingKey::from_rsa_pem");
    let kid = "BenchKid0123456789abcd";
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("JWK");
    jwk.common.key_id = Some(kid.into());
    let decoding = DecodingKey::from_jwk(&jwk).expect("DecodingKey");
    // The pool's JWKS as the user-pool directory hands it to the broker.
    let jwks_value = json!({ "keys": [serde_json::to_value(&jwk).expect("JWK as JSON")] });
    let id_claims = id_token_claims(now);
    let id_claim_count = id_claims.as_object().map_or(0, Map::len);
    let id_token = {
        let mut h = Header::new(Algorithm::RS256);
        h.typ = None;
        h.kid = Some(kid.into());
        jsonwebtoken::encode(&h, &id_claims, &encoding).expect("RS256 sign")
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    jsonwebtoken::decode::<Map<String, Value>>(&id_token, &decoding, &validation).expect("ID token verifies");

    // Session keys from a master key, as the server derives them.
    let master = MasterKey::from_bytes(&[0x5a; 32]).expect("master key");
    let keys = SessionKeys::derive(&master, 1, &[]).expect("session keys");
    let identity_id = format!("{REGION}:{}", uuid_like(7));
    let claims = session_claims(&identity_id, &uuid_like(1), now);
    // The plaintext `issue` seals: the claims with a 20-character akid.
    let plaintext = {
        let mut c = claims.clone();
        c.akid = "ASIABENCH00000000000".into();
        serde_json::to_vec(&c).expect("claims JSON")
    };
    let seal_key = MasterKey::from_bytes(master.derive("sts-session/1/seal").as_ref()).expect("seal key");
    let aad = [1u8, 0, 0, 0, 1];
    assert!(seal_key.open(&seal_key.seal(&plaintext, &aad), &aad).is_ok(), "seal does not open");

    // Credentials, and a request signed with them.
    let creds = keys.issue(claims.clone()).expect("issue");
    let path = format!("/photos/{identity_id}/a.jpg");
    let resource = format!("arn:aws:photos:::photo/{identity_id}/a.jpg");
    let (uri, headers) =
        signed_get(&creds.access_key_id, &creds.secret_access_key, &creds.session_token, &path);
    let verifier = Verifier::new(keys.clone());
    let facts = RequestFacts {
        source_ip: Some("203.0.113.9".parse::<IpAddr>().expect("ip")),
        secure_transport: true,
        user_agent: None,
        region: None,
    };
    let authorize = || {
        let req = awsapi::sigv4::SignedRequest { method: "GET", uri: &uri, headers: &headers, body: b"" };
        block_on(verifier.authorize(&req, SERVICE, ACTION, &resource, &facts))
    };
    let allowed = authorize().unwrap_or_else(|r| panic!("the signed request is refused: {r:?}"));
    assert_eq!(allowed.arn, claims.arn);
    {
        // Someone else's folder is refused: the policy really is evaluated.
        let req = awsapi::sigv4::SignedRequest { method: "GET", uri: &uri, headers: &headers, body: b"" };
        let other = "arn:aws:photos:::photo/us-east-1:someone-else/a.jpg";
        assert!(block_on(verifier.authorize(&req, SERVICE, ACTION, other, &facts)).is_err());
    }

    // The SigV4 chain's inputs, the sizes the real request has.
    let amz_date = headers.get("x-amz-date").and_then(|v| v.to_str().ok()).expect("x-amz-date").to_string();
    let date = amz_date[..8].to_string();
    let string_to_sign =
        format!("AWS4-HMAC-SHA256\n{amz_date}\n{date}/{REGION}/{SERVICE}/aws4_request\n{}", "0f".repeat(32));
    let prefixed_secret = format!("AWS4{}", creds.secret_access_key);

    // The policy step of a verification, approximately: cache lookup by
    // text, clone of the parsed policy, context, decide.
    let policy_cache: Mutex<HashMap<String, Policy>> = Mutex::new(HashMap::from([(
        ROLE_POLICY.to_string(),
        Policy::parse(ROLE_POLICY, PolicyKind::Identity).expect("role policy"),
    )]));
    let policy_step = || {
        let parsed = {
            let cache = policy_cache.lock().expect("cache");
            vec![cache.get(ROLE_POLICY).expect("cached").clone()]
        };
        let mut ctx = policy::Context::new();
        for (k, v) in &claims.context {
            match v {
                ContextValue::One(s) => ctx.insert(k, s.clone()),
                ContextValue::Many(l) => ctx.insert_multi(k, l.clone()),
            }
        }
        ctx.insert("aws:SourceIp", "203.0.113.9".to_string());
        ctx.insert("aws:SecureTransport", "true".to_string());
        let t = now_secs();
        ctx.insert("aws:CurrentTime", sts_broker::session::rfc3339(t));
        ctx.insert("aws:EpochTime", t.to_string());
        let request = policy::Request { action: ACTION, resource: &resource, principal: None, context: &ctx };
        policy::decide(&parsed, None, &request)
    };
    assert_eq!(policy_step(), Decision::Allow);

    // The trust check `mint` makes on every GetCredentialsForIdentity.
    let identity_pool = match claims.context.get(&format!("{COGNITO}:aud")) {
        Some(ContextValue::One(p)) => p.clone(),
        _ => unreachable!("aud is set above"),
    };
    let trust = trust_policy(&identity_pool);
    let trust_step = || {
        let parsed = Policy::parse(&trust, PolicyKind::Trust).expect("trust policy");
        let mut ctx = policy::Context::new();
        for (k, v) in &claims.context {
            if k.starts_with(COGNITO) {
                match v {
                    ContextValue::One(s) => ctx.insert(k, s.clone()),
                    ContextValue::Many(l) => ctx.insert_multi(k, l.clone()),
                }
            }
        }
        ctx.insert("aws:FederatedProvider", COGNITO.to_string());
        let request = policy::Request {
            action: "sts:AssumeRoleWithWebIdentity",
            resource: &claims.role_arn,
            principal: Some(("Federated", COGNITO)),
            context: &ctx,
        };
        policy::decide(std::slice::from_ref(&parsed), None, &request)
    };
    assert_eq!(trust_step(), Decision::Allow);

    // The signature a verification recomputes, as awsapi::sigv4::verify
    // asks aws-sigv4 for it: the signed headers as listed, no session token
    // in the credentials (it is one of the headers).
    let listed: Vec<(String, String)> = ["host", "x-amz-date", "x-amz-security-token"]
        .iter()
        .map(|n| (n.to_string(), headers.get(*n).and_then(|v| v.to_str().ok()).expect("header").to_string()))
        .collect();
    let signed_at = {
        let t = time::PrimitiveDateTime::parse(
            &amz_date,
            time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
        )
        .expect("x-amz-date")
        .assume_utc();
        SystemTime::from(t)
    };
    let recompute = || {
        let creds =
            Credentials::new(&creds.access_key_id, creds.secret_access_key.clone(), None, None, "cirrus");
        let identity = creds.into();
        let mut settings = SigningSettings::default();
        settings.excluded_headers = Some(Vec::new());
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name(SERVICE)
            .time(signed_at)
            .settings(settings)
            .build()
            .expect("params")
            .into();
        let signable = SignableRequest::new(
            "GET",
            uri.path_and_query().map_or("/", |p| p.as_str()),
            listed.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(b""),
        )
        .expect("signable");
        sign(signable, &params).expect("sign").signature().to_string()
    };
    let expected = headers.get("authorization").and_then(|v| v.to_str().ok()).expect("authorization");
    assert!(expected.ends_with(&recompute()), "recomputed signature differs from the request's");

    eprintln!("broker micro: warm-up, RS256 verify + seal on {threads} threads for {warmup} s (untimed)");
    let floor_a_op = || {
        let c = jsonwebtoken::decode::<Map<String, Value>>(&id_token, &decoding, &validation).expect("RS256");
        std::hint::black_box(c);
        std::hint::black_box(seal_key.seal(&plaintext, &aad));
    };
    measure(threads, Duration::from_secs_f64(warmup), || floor_a_op);

    eprintln!(
        "broker micro: floor (a) RS256 verify + XChaCha20-Poly1305 seal, {threads} threads, {seconds} s"
    );
    let floor_credentials = measure(threads, duration, || floor_a_op);
    eprintln!("broker micro: floor (b) SigV4 HMAC-SHA256 chain (5 HMACs), {threads} threads, {seconds} s");
    let floor_b_op = || {
        let key = std::hint::black_box(prefixed_secret.as_bytes());
        std::hint::black_box(sigv4_chain(key, date.as_bytes(), string_to_sign.as_bytes()));
    };
    let floor_sigv4 = measure(threads, duration, || floor_b_op);
    eprintln!("broker micro: Verifier::authorize, {threads} threads, {seconds} s");
    let verify_op = || assert!(authorize().is_ok(), "verification failed");
    let verify = measure(threads, duration, || verify_op);

    // The parts. Each operation is a closure over shared references only,
    // hence Copy: every thread gets its own copy.
    let clients = vec![CLIENT_ID.to_string()];
    let rs256_op = || {
        let c = jsonwebtoken::decode::<Map<String, Value>>(&id_token, &decoding, &validation);
        std::hint::black_box(c.expect("RS256"));
    };
    let seal_op = || {
        std::hint::black_box(seal_key.seal(&plaintext, &aad));
    };
    let verify_jwt_op = || {
        let set: JwkSet = serde_json::from_value(jwks_value.clone()).expect("JWKS");
        let c = sts_broker::providers::verify_jwt(&id_token, &set, ISSUER, &clients, &[Algorithm::RS256])
            .expect("verify_jwt");
        assert_eq!(c.get("token_use").and_then(Value::as_str), Some("id"));
    };
    let trust_op = || assert_eq!(trust_step(), Decision::Allow);
    let issue_op = || {
        std::hint::black_box(keys.issue(claims.clone()).expect("issue"));
    };
    let recompute_op = || {
        std::hint::black_box(recompute());
    };
    let open_op = || {
        let opened = keys.open(&creds.access_key_id, &creds.session_token, now_secs());
        std::hint::black_box(opened.expect("open"));
    };
    let policy_op = || assert_eq!(policy_step(), Decision::Allow);

    let mut parts = serde_json::Map::new();
    let mut part_figure = |name: &str, rate: common::Rate| {
        eprintln!("broker micro: part {name}: {:.0}/s", rate.per_sec());
        parts.insert(name.to_string(), rate.json());
    };
    part_figure("rs256_verify", measure(threads, part, || rs256_op));
    part_figure("seal", measure(threads, part, || seal_op));
    part_figure("verify_jwt_from_jwks", measure(threads, part, || verify_jwt_op));
    part_figure("trust_policy", measure(threads, part, || trust_op));
    part_figure("issue", measure(threads, part, || issue_op));
    part_figure("sigv4_recompute", measure(threads, part, || recompute_op));
    part_figure("open", measure(threads, part, || open_op));
    part_figure("policy_step", measure(threads, part, || policy_op));

    let out = json!({
        "threads": threads,
        "cores": cores,
        "seconds_per_figure": seconds,
        "seconds_per_part": part_seconds,
        "warmup_seconds": warmup,
        "floor_credentials": {
            "what": "jsonwebtoken::decode RS256 (RSA-2048, prebuilt DecodingKey) + secrets::MasterKey::seal (XChaCha20-Poly1305)",
            "id_token_claims": id_claim_count,
            "id_token_bytes": id_token.len(),
            "plaintext_bytes": plaintext.len(),
            "rate": floor_credentials.json(),
        },
        "floor_sigv4": {
            "what": "5 HMAC-SHA256 (hmac 0.13 + sha2 0.11): kDate, kRegion, kService, kSigning, signature",
            "string_to_sign_bytes": string_to_sign.len(),
            "rate": floor_sigv4.json(),
        },
        "verify": {
            "what": "sts_broker::verify::Verifier::authorize, GET signed in the header form, one-statement role policy with ${cognito-identity.amazonaws.com:sub}",
            "session_token_bytes": creds.session_token.len(),
            "role_policy_bytes": ROLE_POLICY.len(),
            "signed_headers": ["host", "x-amz-date", "x-amz-security-token"],
            "rate": verify.json(),
        },
        "parts": parts,
    });
    println!("{out}");
}
