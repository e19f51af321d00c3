//! Verification of SigV4-signed requests (the `Authorization` header form).
//!
//! The request is re-signed with `aws-sigv4` over exactly the headers the
//! client listed in `SignedHeaders`, with the client's own timestamp, and the
//! two signatures are compared in constant time.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::{HeaderMap, StatusCode, Uri};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, macros::format_description};

use crate::AwsError;

/// How far a request's `X-Amz-Date` may be from the server's clock.
pub const MAX_SKEW: Duration = Duration::minutes(15);

/// Who a key belongs to, as told by a [`CredentialProvider`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalInfo {
    pub arn: String,
    pub user_id: String,
    pub account_id: String,
}

/// Decides whether a caller whose rights are limited (temporary
/// credentials scoped by a policy) may call `action` (`<service>:<Operation>`).
pub trait Authorize: Send + Sync {
    fn allows(&self, action: &str, source_ip: Option<&str>) -> bool;
}

/// A key's secret and owner.
#[derive(Clone)]
pub struct SigningIdentity {
    pub secret_access_key: String,
    pub principal: PrincipalInfo,
    /// `None`: the key may call every signed operation (the admin key).
    pub restriction: Option<Arc<dyn Authorize>>,
}

/// Resolves access key ids (and, for temporary keys, session tokens).
#[async_trait]
pub trait CredentialProvider: Send + Sync {
    async fn lookup(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<Option<SigningIdentity>, AwsError>;
}

/// A caller whose signature has been verified. Only [`verify`] makes one, so
/// an operation that takes a `&Principal` cannot run unauthenticated.
#[derive(Clone)]
pub struct Principal {
    info: PrincipalInfo,
    access_key_id: String,
    restriction: Option<Arc<dyn Authorize>>,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("info", &self.info)
            .field("access_key_id", &self.access_key_id)
            .field("restricted", &self.restriction.is_some())
            .finish()
    }
}

impl Principal {
    pub fn arn(&self) -> &str {
        &self.info.arn
    }
    pub fn user_id(&self) -> &str {
        &self.info.user_id
    }
    pub fn account_id(&self) -> &str {
        &self.info.account_id
    }
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
    /// Whether this caller may call `action` (`<service>:<Operation>`).
    pub fn may(&self, action: &str, source_ip: Option<&str>) -> bool {
        self.restriction.as_ref().is_none_or(|r| r.allows(action, source_ip))
    }
}

/// Why a signature was refused. Each protocol names these differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigV4Error {
    /// No `Authorization` header at all.
    Missing,
    /// The header is there but cannot be understood.
    Incomplete(String),
    /// The access key id is not known.
    UnknownKey,
    /// The signature, scope, date window or payload hash does not hold.
    Mismatch(String),
    /// The credential provider failed (logged; the client sees a fault).
    Provider(AwsError),
}

const MISMATCH: &str = "The request signature we calculated does not match the signature you \
    provided. Check your AWS Secret Access Key and signing method. Consult the service \
    documentation for details.";
const UNKNOWN_KEY: &str = "The security token included in the request is invalid.";

impl SigV4Error {
    /// The AWS JSON 1.1 rendering (`__type` names).
    pub fn to_json_error(&self) -> AwsError {
        match self {
            Self::Missing => {
                AwsError::new("MissingAuthenticationTokenException", "Missing Authentication Token")
            }
            Self::Incomplete(m) => AwsError::new("IncompleteSignatureException", m.clone()),
            Self::UnknownKey => AwsError::new("UnrecognizedClientException", UNKNOWN_KEY),
            Self::Mismatch(m) => AwsError::new("InvalidSignatureException", m.clone()),
            Self::Provider(e) => e.clone(),
        }
    }

    /// The Query rendering (STS and IAM codes and statuses).
    pub fn to_query_error(&self) -> AwsError {
        match self {
            Self::Missing => {
                AwsError::new("MissingAuthenticationToken", "Request is missing Authentication Token")
                    .with_status(StatusCode::FORBIDDEN)
            }
            Self::Incomplete(m) => AwsError::new("IncompleteSignature", m.clone()),
            Self::UnknownKey => {
                AwsError::new("InvalidClientTokenId", UNKNOWN_KEY).with_status(StatusCode::FORBIDDEN)
            }
            Self::Mismatch(m) => {
                AwsError::new("SignatureDoesNotMatch", m.clone()).with_status(StatusCode::FORBIDDEN)
            }
            Self::Provider(e) => e.clone(),
        }
    }
}

/// The parts of a request a signature covers.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

struct AuthorizationHeader<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<AuthorizationHeader<'_>, SigV4Error> {
    let incomplete = |m: &str| SigV4Error::Incomplete(m.to_string());
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| incomplete("Unsupported Authorization header: only AWS4-HMAC-SHA256 is accepted."))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            return Err(incomplete("Authorization header parameters must have the form key=value."));
        };
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let mut missing = Vec::new();
    for (name, v) in [("Credential", credential), ("Signature", signature), ("SignedHeaders", signed)] {
        if v.is_none_or(str::is_empty) {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    if !missing.is_empty() {
        return Err(SigV4Error::Incomplete(missing.join(" ")));
    }
    let (credential, signed, signature) =
        (credential.unwrap_or_default(), signed.unwrap_or_default(), signature.unwrap_or_default());
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = scope[..] else {
        return Err(incomplete(
            "Credential must have the form <access key id>/<date>/<region>/<service>/aws4_request.",
        ));
    };
    if terminator != "aws4_request" || access_key_id.is_empty() {
        return Err(incomplete("Credential should be scoped with a valid terminator: 'aws4_request'."));
    }
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(incomplete("Signature must be 64 hexadecimal characters."));
    }
    Ok(AuthorizationHeader {
        access_key_id,
        date,
        region,
        service,
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

fn parse_amz_date(value: &str) -> Option<OffsetDateTime> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    PrimitiveDateTime::parse(value, format).ok().map(PrimitiveDateTime::assume_utc)
}

fn amz_date(t: OffsetDateTime) -> String {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    t.format(format).unwrap_or_default()
}

/// Verifies `req` as signed for `service` at `now` and returns the caller.
pub async fn verify(
    req: &SignedRequest<'_>,
    service: &str,
    now: OffsetDateTime,
    provider: &dyn CredentialProvider,
) -> Result<Principal, SigV4Error> {
    let header_str = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
    let Some(authorization) = req.headers.get(http::header::AUTHORIZATION) else {
        if req.uri.query().is_some_and(|q| q.contains("X-Amz-Signature=")) {
            return verify_presigned(req, service, now, provider).await;
        }
        return Err(SigV4Error::Missing);
    };
    let authorization = authorization
        .to_str()
        .map_err(|_| SigV4Error::Incomplete("Authorization header is not valid ASCII.".into()))?;
    let auth = parse_authorization(authorization)?;

    let date_text = header_str("x-amz-date").ok_or_else(|| {
        SigV4Error::Incomplete("Authorization header requires existence of a 'X-Amz-Date' header.".into())
    })?;
    let signed_at = parse_amz_date(date_text).ok_or_else(|| {
        SigV4Error::Incomplete(format!("X-Amz-Date '{date_text}' must have the form YYYYMMDD'T'HHMMSS'Z'."))
    })?;
    if signed_at < now - MAX_SKEW {
        return Err(SigV4Error::Mismatch(format!(
            "Signature expired: {date_text} is now earlier than {} ({} - 15 min.)",
            amz_date(now - MAX_SKEW),
            amz_date(now)
        )));
    }
    if signed_at > now + MAX_SKEW {
        return Err(SigV4Error::Mismatch(format!(
            "Signature not yet current: {date_text} is still later than {} ({} + 15 min.)",
            amz_date(now + MAX_SKEW),
            amz_date(now)
        )));
    }
    if !date_text.starts_with(auth.date) || auth.date.len() != 8 {
        return Err(SigV4Error::Mismatch(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
             '{}' != '{}'",
            auth.date,
            date_text.get(..8).unwrap_or(date_text)
        )));
    }
    if auth.service != service {
        return Err(SigV4Error::Mismatch(format!(
            "Credential should be scoped to correct service: '{service}'."
        )));
    }
    // aws-sigv4 signs `host` and `x-amz-date` itself; a client that did not
    // sign them cannot have produced a valid signature.
    for required in ["host", "x-amz-date"] {
        if !auth.signed_headers.contains(&required) {
            return Err(SigV4Error::Mismatch(format!("'{required}' must be a signed header.")));
        }
    }

    let headers = signed_header_values(req.headers, &auth.signed_headers)?;

    let body = match header_str("x-amz-content-sha256") {
        Some("UNSIGNED-PAYLOAD") => SignableBody::UnsignedPayload,
        Some(claimed) => {
            let actual = hex::encode(Sha256::digest(req.body));
            if !bool::from(actual.as_bytes().ct_eq(claimed.as_bytes())) {
                return Err(SigV4Error::Mismatch(
                    "The provided 'x-amz-content-sha256' header does not match what was computed.".into(),
                ));
            }
            SignableBody::Precomputed(actual)
        }
        None => SignableBody::Bytes(req.body),
    };

    let session_token = header_str("x-amz-security-token");
    let identity = provider
        .lookup(auth.access_key_id, session_token)
        .await
        .map_err(SigV4Error::Provider)?
        .ok_or(SigV4Error::UnknownKey)?;

    let path_and_query = req.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let signable = SignableRequest::new(req.method, Cow::Borrowed(path_and_query), headers.into_iter(), body)
        .map_err(|e| SigV4Error::Incomplete(format!("The request cannot be canonicalised: {e}")))?;
    let credentials =
        Credentials::new(auth.access_key_id, identity.secret_access_key.clone(), None, None, "cirrus");
    let identity_for_signing = credentials.into();
    let mut settings = SigningSettings::default();
    // Sign exactly what the client listed; the list was built from its request.
    settings.excluded_headers = Some(Vec::new());
    let params = v4::SigningParams::builder()
        .identity(&identity_for_signing)
        .region(auth.region)
        .name(service)
        .time(SystemTime::from(signed_at))
        .settings(settings)
        .build()
        .map_err(|e| SigV4Error::Provider(internal(e)))?
        .into();
    let expected = sign(signable, &params)
        .map_err(|e| SigV4Error::Incomplete(format!("The request cannot be canonicalised: {e}")))?
        .signature()
        .to_string();
    if bool::from(expected.as_bytes().ct_eq(auth.signature.to_ascii_lowercase().as_bytes())) {
        Ok(Principal {
            info: identity.principal,
            access_key_id: auth.access_key_id.to_string(),
            restriction: identity.restriction,
        })
    } else {
        Err(SigV4Error::Mismatch(MISMATCH.to_string()))
    }
}

/// The authentication parameters of a presigned URL.
#[derive(Debug, PartialEq, Eq)]
pub struct PresignedParams {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub amz_date: String,
    pub expires: u64,
    pub signed_headers: Vec<String>,
    pub signature: String,
    pub security_token: Option<String>,
    /// The query without the authentication parameters, as it was signed.
    pub rest_of_query: Vec<(String, String)>,
}

/// Parses the `X-Amz-*` parameters of a presigned request's query.
pub fn parse_presigned(query: &str) -> Result<PresignedParams, SigV4Error> {
    let incomplete = |m: &str| SigV4Error::Incomplete(m.to_string());
    let mut found: std::collections::HashMap<&'static str, String> = std::collections::HashMap::new();
    let mut rest = Vec::new();
    const AUTH: [&str; 7] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    ];
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match AUTH.iter().find(|a| **a == k) {
            Some(name) => {
                if found.insert(name, v.into_owned()).is_some() {
                    return Err(SigV4Error::Incomplete(format!("{name} is given more than once.")));
                }
            }
            None => rest.push((k.into_owned(), v.into_owned())),
        }
    }
    let mut take = |name: &str| {
        found.remove(name).filter(|v| !v.is_empty()).ok_or_else(|| {
            SigV4Error::Incomplete(format!("Query-string authentication requires the {name} parameter."))
        })
    };
    if take("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
        return Err(incomplete("Only AWS4-HMAC-SHA256 is accepted as X-Amz-Algorithm."));
    }
    let credential = take("X-Amz-Credential")?;
    let amz_date = take("X-Amz-Date")?;
    let expires = take("X-Amz-Expires")?;
    let signed = take("X-Amz-SignedHeaders")?;
    let signature = take("X-Amz-Signature")?;
    let security_token = found.remove("X-Amz-Security-Token");
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, "aws4_request"] = scope[..] else {
        return Err(incomplete(
            "X-Amz-Credential must have the form <access key id>/<date>/<region>/<service>/aws4_request.",
        ));
    };
    if access_key_id.is_empty() {
        return Err(incomplete("X-Amz-Credential names no access key id."));
    }
    let expires: u64 = expires
        .parse()
        .ok()
        .filter(|e| (1..=604_800).contains(e))
        .ok_or_else(|| incomplete("X-Amz-Expires must be a number of seconds from 1 to 604800."))?;
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(incomplete("X-Amz-Signature must be 64 hexadecimal characters."));
    }
    Ok(PresignedParams {
        access_key_id: access_key_id.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        amz_date,
        expires,
        signed_headers: signed.split(';').map(str::to_string).collect(),
        signature: signature.to_ascii_lowercase(),
        security_token,
        rest_of_query: rest,
    })
}

/// The values of the headers a client says it signed, each of which must be
/// in the request.
fn signed_header_values<'a>(
    headers: &'a HeaderMap,
    names: &[&'a str],
) -> Result<Vec<(&'a str, &'a str)>, SigV4Error> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let mut any = false;
        for v in headers.get_all(*name) {
            let v = v
                .to_str()
                .map_err(|_| SigV4Error::Incomplete(format!("Signed header '{name}' is not valid ASCII.")))?;
            out.push((*name, v));
            any = true;
        }
        if !any {
            return Err(SigV4Error::Mismatch(format!("Signed header '{name}' is not in the request.")));
        }
    }
    Ok(out)
}

/// Checks the `Authorization` header's syntax only (fuzzing, diagnostics).
pub fn check_authorization_header(value: &str) -> Result<(), SigV4Error> {
    parse_authorization(value).map(|_| ())
}

async fn verify_presigned(
    req: &SignedRequest<'_>,
    service: &str,
    now: OffsetDateTime,
    provider: &dyn CredentialProvider,
) -> Result<Principal, SigV4Error> {
    let p = parse_presigned(req.uri.query().unwrap_or_default())?;
    let signed_at = parse_amz_date(&p.amz_date).ok_or_else(|| {
        SigV4Error::Incomplete(format!(
            "X-Amz-Date '{}' must have the form YYYYMMDD'T'HHMMSS'Z'.",
            p.amz_date
        ))
    })?;
    if signed_at > now + MAX_SKEW {
        return Err(SigV4Error::Mismatch("Request is not yet valid: X-Amz-Date is in the future.".into()));
    }
    if now > signed_at + Duration::seconds(p.expires as i64) {
        return Err(SigV4Error::Mismatch("Request has expired.".into()));
    }
    if !p.amz_date.starts_with(&p.date) || p.date.len() != 8 {
        return Err(SigV4Error::Mismatch("Date in X-Amz-Credential does not match X-Amz-Date.".into()));
    }
    if p.service != service {
        return Err(SigV4Error::Mismatch(format!(
            "Credential should be scoped to correct service: '{service}'."
        )));
    }
    if !p.signed_headers.iter().any(|h| h == "host") {
        return Err(SigV4Error::Mismatch("'host' must be a signed header.".into()));
    }
    let names: Vec<&str> = p.signed_headers.iter().map(String::as_str).collect();
    let headers = signed_header_values(req.headers, &names)?;
    let identity = provider
        .lookup(&p.access_key_id, p.security_token.as_deref())
        .await
        .map_err(SigV4Error::Provider)?
        .ok_or(SigV4Error::UnknownKey)?;
    let mut target = req.uri.path().to_string();
    if !p.rest_of_query.is_empty() {
        target.push('?');
        target.push_str(
            &form_urlencoded::Serializer::new(String::new()).extend_pairs(&p.rest_of_query).finish(),
        );
    }
    let credentials = Credentials::new(
        &p.access_key_id,
        identity.secret_access_key.clone(),
        p.security_token.clone(),
        None,
        "cirrus",
    );
    let identity_for_signing = credentials.into();
    // Clients hash the payload (botocore over http) or send it unsigned (S3-style presigning).
    for body in [SignableBody::Bytes(req.body), SignableBody::UnsignedPayload] {
        let signable =
            SignableRequest::new(req.method, Cow::Borrowed(target.as_str()), headers.iter().copied(), body)
                .map_err(|e| SigV4Error::Incomplete(format!("The request cannot be canonicalised: {e}")))?;
        let mut settings = SigningSettings::default();
        settings.excluded_headers = Some(Vec::new());
        settings.signature_location = aws_sigv4::http_request::SignatureLocation::QueryParams;
        settings.expires_in = Some(std::time::Duration::from_secs(p.expires));
        let params = v4::SigningParams::builder()
            .identity(&identity_for_signing)
            .region(&p.region)
            .name(service)
            .time(SystemTime::from(signed_at))
            .settings(settings)
            .build()
            .map_err(|e| SigV4Error::Provider(internal(e)))?
            .into();
        let expected = sign(signable, &params)
            .map_err(|e| SigV4Error::Incomplete(format!("The request cannot be canonicalised: {e}")))?
            .signature()
            .to_string();
        if bool::from(expected.as_bytes().ct_eq(p.signature.as_bytes())) {
            return Ok(Principal {
                info: identity.principal,
                access_key_id: p.access_key_id,
                restriction: identity.restriction,
            });
        }
    }
    Err(SigV4Error::Mismatch(MISMATCH.to_string()))
}

fn internal(e: impl std::fmt::Display) -> AwsError {
    tracing::error!(error = %e, "sigv4 signing parameters");
    AwsError::internal()
}
