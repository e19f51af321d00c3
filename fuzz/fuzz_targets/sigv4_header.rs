//! Fuzz target `sigv4_header`: SigV4 request authentication (awsapi `sigv4` module).
//!
//! Checks that, for any UTF-8 input, nothing panics in:
//! - `check_authorization_header(text)` (the `Authorization` header grammar);
//! - `parse_presigned(text)` (the `X-Amz-*` query parameters of a presigned URL);
//! - `verify(..)` of a GET request carrying `text` as its `Authorization` header (when it is a
//!   valid header value), and of a GET request to `"/p?" + text` without one (when that is a valid
//!   URI), which takes the presigned-URL path. Each request is verified at the real clock
//!   (`OffsetDateTime::now_utc()`) and at a fixed clock matching its `X-Amz-Date` header
//!   (2026-01-01T00:00:00Z), so that inputs scoped to 20260101 get past the skew check into
//!   canonicalisation and re-signing. The credential provider knows every key, with one secret.
//!
//! Replaying one input with `CIRRUS_FUZZ_VERBOSE=1` in the environment prints each outcome.
#![no_main]

use std::sync::LazyLock;

use async_trait::async_trait;
use awsapi::sigv4::{self, SignedRequest};
use awsapi::{AwsError, CredentialProvider, PrincipalInfo, SigningIdentity};
use http::header::{AUTHORIZATION, HOST};
use http::{HeaderMap, HeaderValue, Uri};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;
use time::macros::datetime;

/// The secret of every access key, as in the AWS documentation examples.
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const HOST_NAME: &str = "sts.cirrus.test";
const FIXED_NOW: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);
const FIXED_AMZ_DATE: &str = "20260101T000000Z";

struct AnyKey;

#[async_trait]
impl CredentialProvider for AnyKey {
    async fn lookup(
        &self,
        access_key_id: &str,
        _session_token: Option<&str>,
    ) -> Result<Option<SigningIdentity>, AwsError> {
        Ok(Some(SigningIdentity {
            secret_access_key: SECRET.to_string(),
            principal: PrincipalInfo {
                arn: format!("arn:aws:iam::123456789012:user/{access_key_id}"),
                user_id: access_key_id.to_string(),
                account_id: "123456789012".to_string(),
            },
            restriction: None,
        }))
    }
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread().build().expect("tokio runtime")
});
static VERBOSE: LazyLock<bool> = LazyLock::new(|| std::env::var_os("CIRRUS_FUZZ_VERBOSE").is_some());

fn base_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_static(HOST_NAME));
    headers.insert("x-amz-date", HeaderValue::from_static(FIXED_AMZ_DATE));
    headers
}

fn verify_at_both_clocks(what: &str, uri: &Uri, headers: &HeaderMap) {
    let request = SignedRequest { method: "GET", uri, headers, body: &[] };
    for now in [OffsetDateTime::now_utc(), FIXED_NOW] {
        let outcome = RUNTIME.block_on(sigv4::verify(&request, "sts", now, &AnyKey));
        if *VERBOSE {
            eprintln!("verify({what}) at {now}: {outcome:?}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let header_syntax = sigv4::check_authorization_header(text);
    let presigned = sigv4::parse_presigned(text);
    if *VERBOSE {
        eprintln!("check_authorization_header: {header_syntax:?}");
        eprintln!("parse_presigned: {presigned:?}");
    }

    // The input as the Authorization header.
    if let Ok(value) = HeaderValue::from_str(text) {
        let mut headers = base_headers();
        headers.insert(AUTHORIZATION, value);
        verify_at_both_clocks("Authorization header", &Uri::from_static("/p"), &headers);
    }

    // The input as the query string (presigned URL: no Authorization header).
    if let Ok(uri) = format!("/p?{text}").parse::<Uri>() {
        verify_at_both_clocks("query string", &uri, &base_headers());
    }
});
