//! SAML 2.0 service provider, per pool, through samael (xmlsec): SP
//! metadata, SP-initiated sign-in (HTTP-Redirect AuthnRequest), the
//! assertion consumer at `saml2/idpresponse` (HTTP-POST), and IdP-initiated
//! sign-in where the provider allows it.
//!
//! samael's defaults are overridden where they are unsafe: the signature
//! algorithms are pinned (RSA with SHA-256/384/512, ECDSA with SHA-256/384/
//! 512; SHA-1 refused), and a provider whose metadata has no signing
//! certificate is refused (samael would skip verification). samael verifies
//! the signature and reduces the document to what was signed before reading
//! it, which is what defeats signature wrapping; it checks Destination,
//! Recipient, Audience, InResponseTo, the validity window and the status.
//! Assertion ids are remembered until they expire: a replay is refused.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use samael::crypto::AllowedSignatureAlgorithm;
use samael::metadata::EntityDescriptor;
use samael::service_provider::ServiceProvider;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::UserPools;
use super::federation::FederatedSignIn;
use crate::error::{IdpError, Result};
use crate::model::IdentityProvider;

const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const STATE_AAD: &[u8] = b"cirrus/saml-relay-state/v1";
/// A SAML sign-in must come back within ten minutes.
const FLOW_LIFE_MS: i64 = 10 * 60 * 1000;
const METADATA_TTL: Duration = Duration::from_secs(600);
/// Clock skew allowed on NotBefore / NotOnOrAfter.
const CLOCK_SKEW_SECONDS: i64 = 60;
/// Assertions issued longer ago than this are refused.
const MAX_ISSUE_DELAY_SECONDS: i64 = 300;
const ALLOWED: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// IdP metadata fetched from a MetadataURL.
#[derive(Default)]
pub(super) struct SamlMetadataCache {
    urls: Mutex<HashMap<String, (Instant, String)>>,
}

/// The RelayState of an SP-initiated sign-in (sealed).
#[derive(Debug, Serialize, Deserialize)]
struct RelayState {
    id: String,
    pool: String,
    provider: String,
    params: BTreeMap<String, String>,
    request_id: String,
    binding: String,
    expires_ms: i64,
}

/// The audience and recipient of SAML responses meant for AWS (identity
/// pools' SAML logins): IdPs set up for AWS send these.
pub const AWS_AUDIENCE: &str = "urn:amazon:webservices";
pub const AWS_RECIPIENT: &str = "https://signin.aws.amazon.com/saml";

/// A verified SAML response for AWS: who it names and what it says.
#[derive(Debug, Clone)]
pub struct AwsSamlLogin {
    pub subject: String,
    pub issuer: String,
    pub attributes: Map<String, Value>,
}

/// The SP entity ID of a pool, as Cognito names it.
pub fn sp_entity_id(pool_id: &str) -> String {
    format!("urn:amazon:cognito:sp:{pool_id}")
}

fn refused(m: &str) -> IdpError {
    tracing::warn!(target: "audit", reason = m, "a SAML response was refused");
    IdpError::NotAuthorized(m.to_string())
}

/// A metadata document that names at least one signing certificate.
pub fn checked_metadata(xml: &str) -> Result<EntityDescriptor> {
    let metadata: EntityDescriptor = xml.parse().map_err(|_| {
        IdpError::InvalidParameter("The SAML metadata is not a valid EntityDescriptor.".into())
    })?;
    let probe = ServiceProvider { idp_metadata: metadata.clone(), ..ServiceProvider::default() };
    match probe.idp_signing_certs() {
        Ok(Some(certs)) if !certs.is_empty() => Ok(metadata),
        _ => Err(IdpError::InvalidParameter(
            "The SAML metadata has no signing certificate; responses could not be verified.".into(),
        )),
    }
}

/// A new RSA-2048 key and a self-signed certificate naming the SP (ten
/// years; IdPs only encrypt to it, trust comes from the metadata exchange).
fn new_sp_key(pool_id: &str) -> std::result::Result<(Vec<u8>, Vec<u8>), openssl::error::ErrorStack> {
    use openssl::asn1::Asn1Time;
    use openssl::bn::{BigNum, MsbOption};
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509, X509NameBuilder};
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", &sp_entity_id(pool_id))?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let mut cert = X509::builder()?;
    cert.set_version(2)?;
    let serial = serial.to_asn1_integer()?;
    cert.set_serial_number(&serial)?;
    cert.set_subject_name(&name)?;
    cert.set_issuer_name(&name)?;
    cert.set_pubkey(&key)?;
    let (from, until) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(3650)?);
    cert.set_not_before(&from)?;
    cert.set_not_after(&until)?;
    cert.sign(&key, MessageDigest::sha256())?;
    Ok((key.private_key_to_der()?, cert.build().to_der()?))
}

impl UserPools {
    /// Refuses an assertion issued in the future, then uses it up: once per
    /// `scope`, on every instance, for as long as samael would take it
    /// (issued at most 5 min ago, give or take the skew).
    async fn accept_once(&self, scope: &str, assertion: &samael::schema::Assertion) -> Result<()> {
        if assertion.issue_instant > chrono::Utc::now() + chrono::Duration::seconds(CLOCK_SKEW_SECONDS) {
            return Err(refused("The assertion is issued in the future."));
        }
        let expires =
            self.now_ms() + (MAX_ISSUE_DELAY_SECONDS + 2 * CLOCK_SKEW_SECONDS) * 1000 + FLOW_LIFE_MS;
        if !self.store.consume_session(&format!("{scope}:{}", assertion.id), expires, self.now_ms()).await? {
            tracing::warn!(target: "audit", scope, "a SAML assertion was replayed");
            return Err(refused("This response was used already."));
        }
        Ok(())
    }

    /// The pool's SAML encryption key and certificate (DER), made on first
    /// use and shared by every instance.
    async fn sp_key(&self, pool_id: &str) -> Result<(Vec<u8>, Vec<u8>)> {
        let aad = format!("saml-sp-key:{pool_id}");
        if let Some((sealed, cert)) = self.store.get_sp_key(pool_id).await? {
            let der = self
                .master_key
                .open(&sealed, aad.as_bytes())
                .map_err(|_| IdpError::Internal("the SAML SP key does not open".into()))?;
            return Ok((der, cert));
        }
        let id = pool_id.to_string();
        let (der, cert) = tokio::task::spawn_blocking(move || new_sp_key(&id))
            .await
            .map_err(|e| IdpError::Internal(format!("SP key task: {e}")))?
            .map_err(|e| IdpError::Internal(format!("SP key: {e}")))?;
        let sealed = self.master_key.seal(&der, aad.as_bytes());
        match self.store.insert_sp_key(pool_id, &sealed, &cert, self.now_ms()).await {
            Ok(()) => Ok((der, cert)),
            Err(crate::store::StoreError::Conflict) => Box::pin(self.sp_key(pool_id)).await,
            Err(e) => Err(e.into()),
        }
    }

    /// The certificate IdPs encrypt assertions to (base64 DER), as
    /// DescribeIdentityProvider's `ActiveEncryptionCertificate`.
    pub async fn saml_encryption_certificate(&self, pool_id: &str) -> Result<String> {
        use base64::engine::general_purpose::STANDARD;
        let (_, cert) = self.sp_key(pool_id).await?;
        Ok(STANDARD.encode(cert))
    }

    fn acs_url(&self, pool_id: &str) -> String {
        format!("{}/saml2/idpresponse", self.issuer(pool_id))
    }

    /// The IdP's metadata: the MetadataFile, or the MetadataURL's document
    /// (cached ten minutes).
    pub(super) async fn saml_metadata(&self, provider: &IdentityProvider) -> Result<EntityDescriptor> {
        if let Some(file) = provider.details.get("MetadataFile") {
            return checked_metadata(file);
        }
        let url = provider
            .details
            .get("MetadataURL")
            .ok_or_else(|| IdpError::InvalidParameter("The SAML provider has no metadata.".into()))?;
        if let Ok(cache) = self.saml_cache.urls.lock()
            && let Some((at, xml)) = cache.get(url)
            && at.elapsed() < METADATA_TTL
        {
            return checked_metadata(xml);
        }
        let xml = self.fetch_saml_metadata(url).await?;
        let metadata = checked_metadata(&xml)?;
        if let Ok(mut cache) = self.saml_cache.urls.lock() {
            cache.insert(url.clone(), (Instant::now(), xml));
        }
        Ok(metadata)
    }

    pub(super) async fn fetch_saml_metadata(&self, url: &str) -> Result<String> {
        let response = self.upstream_http.get(url).send().await.map_err(|e| {
            IdpError::InvalidParameter(format!("The SAML metadata could not be fetched from {url}: {e}"))
        })?;
        if !response.status().is_success() {
            return Err(IdpError::InvalidParameter(format!(
                "The SAML metadata URL answered {}.",
                response.status()
            )));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| IdpError::InvalidParameter(format!("The SAML metadata did not arrive: {e}")))?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| IdpError::InvalidParameter("The SAML metadata is not UTF-8.".into()))
    }

    fn service_provider(
        &self,
        pool_id: &str,
        metadata: EntityDescriptor,
        idp_initiated: bool,
    ) -> ServiceProvider {
        ServiceProvider {
            entity_id: Some(sp_entity_id(pool_id)),
            metadata_url: Some(format!("{}/saml2/metadata", self.issuer(pool_id))),
            acs_url: Some(self.acs_url(pool_id)),
            slo_url: None,
            idp_metadata: metadata,
            allow_idp_initiated: idp_initiated,
            max_issue_delay: chrono::Duration::seconds(MAX_ISSUE_DELAY_SECONDS),
            max_clock_skew: chrono::Duration::seconds(CLOCK_SKEW_SECONDS),
            allowed_signature_algorithms: Some(ALLOWED.to_vec()),
            ..ServiceProvider::default()
        }
    }

    /// The pool's SP metadata: entity ID and the assertion consumer
    /// (HTTP-POST). Written here rather than by samael, whose generator
    /// insists on a single-logout service this SP does not offer.
    pub async fn sp_metadata(&self, pool_id: &str) -> Result<String> {
        self.describe_pool(pool_id).await?;
        let certificate = self.saml_encryption_certificate(pool_id).await?;
        let escape = |s: &str| {
            s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
        };
        Ok(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{}\">\n\
             <md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\" \
             protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n\
             <md:KeyDescriptor use=\"encryption\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\
             <ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
             </md:KeyDescriptor>\n\
             <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>\n\
             <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
             Location=\"{}\" index=\"1\" isDefault=\"true\"/>\n\
             </md:SPSSODescriptor>\n\
             </md:EntityDescriptor>\n",
            escape(&sp_entity_id(pool_id)),
            certificate,
            escape(&self.acs_url(pool_id)),
        ))
    }

    /// SP-initiated sign-in: the IdP's SSO URL with the AuthnRequest, and
    /// the cookie value binding the answer to this browser.
    pub(super) async fn start_saml(
        &self,
        auth: &super::authorize::Authorization,
        provider: &IdentityProvider,
    ) -> Result<(String, String)> {
        let metadata = self.saml_metadata(provider).await?;
        let sp = self.service_provider(&auth.pool.id, metadata, false);
        let sso = sp.sso_binding_location(HTTP_REDIRECT).ok_or_else(|| {
            IdpError::InvalidParameter("The IdP metadata has no HTTP-Redirect SSO service.".into())
        })?;
        let mut request = sp
            .make_authentication_request(&sso)
            .map_err(|e| IdpError::Internal(format!("AuthnRequest: {e}")))?;
        // samael's ids are 32 random bits: too few to bind a response to.
        request.id = format!("_{}", secrets::random_string(32, secrets::ALNUM));
        let binding = secrets::random_string(32, secrets::ALNUM);
        let state = RelayState {
            id: uuid::Uuid::new_v4().to_string(),
            pool: auth.pool.id.clone(),
            provider: provider.name.clone(),
            params: auth.request.to_params(),
            request_id: request.id.clone(),
            binding: super::authorize::binding_hash(&binding),
            expires_ms: self.now_ms() + FLOW_LIFE_MS,
        };
        let plain = serde_json::to_vec(&state).map_err(|e| IdpError::Internal(e.to_string()))?;
        let relay = URL_SAFE_NO_PAD.encode(self.master_key.seal(&plain, STATE_AAD));
        let url = request
            .redirect(&relay)
            .map_err(|e| IdpError::Internal(format!("AuthnRequest redirect: {e}")))?
            .ok_or_else(|| IdpError::Internal("AuthnRequest without destination".into()))?;
        Ok((url.to_string(), binding))
    }

    /// The assertion consumer: a signed response checked against the
    /// request it answers (or, where allowed, an IdP-initiated one), its
    /// assertion used once, the user found or made.
    pub async fn finish_saml(
        &self,
        pool_id: &str,
        form: &BTreeMap<String, String>,
        binding_cookie: Option<&str>,
    ) -> Result<FederatedSignIn> {
        let response =
            form.get("SAMLResponse").ok_or_else(|| refused("The request carries no SAMLResponse."))?;
        let relay = form.get("RelayState").filter(|r| !r.is_empty());
        let opened = relay.and_then(|r| {
            URL_SAFE_NO_PAD
                .decode(r)
                .ok()
                .and_then(|b| self.master_key.open(&b, STATE_AAD).ok())
                .and_then(|p| serde_json::from_slice::<RelayState>(&p).ok())
        });
        let (provider_name, params, request_id) = match opened {
            Some(state) => {
                if state.pool != pool_id || state.expires_ms < self.now_ms() {
                    return Err(refused("The sign-in took too long or belongs elsewhere; start again."));
                }
                let bound = super::authorize::binding_matches(binding_cookie, &state.binding);
                // The IdP posts here cross-site: the binding cookie comes back
                // only as `SameSite=None; Secure`, that is on https. On plain
                // http (development) a cookie that does come back must match.
                let required = self.settings.public_url.starts_with("https://");
                if !bound && (required || binding_cookie.is_some()) {
                    return Err(refused("This sign-in was not started in this browser; start again."));
                }
                (state.provider, state.params, Some(state.request_id))
            }
            None => {
                // IdP-initiated: the RelayState, if any, is the client's
                // authorization request as a query string. Anything else
                // (a state of ours that does not open) is refused.
                if relay.is_some_and(|r| !r.contains("client_id=")) {
                    return Err(refused("The RelayState is not one this server made."));
                }
                let params: BTreeMap<String, String> = relay
                    .map(|r| form_urlencoded::parse(r.as_bytes()).into_owned().collect())
                    .unwrap_or_default();
                let provider = form
                    .get("provider")
                    .cloned()
                    .or_else(|| params.get("identity_provider").cloned())
                    .ok_or_else(|| refused("An unsolicited response must name its provider."))?;
                (provider, params, None)
            }
        };
        let provider = self
            .describe_identity_provider(pool_id, &provider_name)
            .await
            .map_err(|_| refused("The identity provider is not known."))?;
        if provider.provider_type != "SAML" {
            return Err(refused("The identity provider is not a SAML provider."));
        }
        let idp_initiated = request_id.is_none();
        if idp_initiated && provider.details.get("IDPInit").map(String::as_str) != Some("true") {
            return Err(refused("This identity provider may not start sign-ins (IDPInit is off)."));
        }
        let shape = single_assertion(response)?;
        if provider.details.get("EncryptedResponses").map(String::as_str) == Some("true") && !shape.encrypted
        {
            return Err(refused("This identity provider must encrypt its assertions."));
        }
        if idp_initiated && shape.answers {
            // An answer to some request, posted without that request's
            // state: a response taken from another sign-in.
            return Err(refused("A response to a request cannot be used unsolicited."));
        }
        let metadata = self.saml_metadata(&provider).await?;
        let mut sp = self.service_provider(pool_id, metadata, idp_initiated);
        if provider.details.get("EncryptedResponses").map(String::as_str) == Some("true") {
            let (der, _) = self.sp_key(pool_id).await?;
            let key = openssl::pkey::PKey::private_key_from_der(&der)
                .map_err(|e| IdpError::Internal(format!("SP key: {e}")))?;
            sp.key = Some(key);
        }
        let ids: Vec<&str> = request_id.iter().map(String::as_str).collect();
        let assertion = parse_guarded(&sp, response, if ids.is_empty() { None } else { Some(&ids) })
            .map_err(|e| {
                tracing::warn!(target: "audit", pool = %pool_id, provider = %provider.name, error = %e,
                    "a SAML response was refused");
                refused("The identity provider's response did not verify.")
            })?;
        self.accept_once(&format!("saml:{pool_id}:{}", provider.name), &assertion).await?;
        let authorization = self
            .check_authorize(pool_id, &params)
            .await
            .map_err(|_| refused("The application's sign-in request is not valid."))?;
        if !super::authorize::client_providers(&authorization.client).contains(&provider.name) {
            return Err(refused("The application does not allow this identity provider."));
        }
        let name_id = name_id(&assertion)?;
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::String(name_id));
        for statement in assertion.attribute_statements.iter().flatten() {
            for attribute in &statement.attributes {
                let Some(value) = attribute.values.iter().find_map(|v| v.value.clone()) else { continue };
                for name in [&attribute.name, &attribute.friendly_name].into_iter().flatten() {
                    claims.entry(name.clone()).or_insert_with(|| Value::String(value.clone()));
                }
            }
        }
        let (user, _) = self.federated_user(&authorization.pool, &provider, &claims).await?;
        if !user.enabled {
            return Err(IdpError::NotAuthorized("User is disabled.".into()));
        }
        Ok(FederatedSignIn {
            authorization,
            user,
            auth_time: self.now_ms() / 1000,
            provider: provider.name.clone(),
        })
    }
}

impl UserPools {
    /// Checks a SAML response addressed to AWS (audience
    /// `urn:amazon:webservices`, recipient `https://signin.aws.amazon.com/saml`,
    /// unsolicited) against an IdP's metadata, with the same rules as the
    /// pools' own SAML sign-in, and uses its assertion up.
    pub async fn verify_aws_saml(&self, metadata_xml: &str, response: &str) -> Result<AwsSamlLogin> {
        single_assertion(response)?;
        let metadata = checked_metadata(metadata_xml)?;
        let issuer = metadata.entity_id.clone().unwrap_or_default();
        let sp = ServiceProvider {
            entity_id: Some(AWS_AUDIENCE.to_string()),
            acs_url: Some(AWS_RECIPIENT.to_string()),
            slo_url: None,
            idp_metadata: metadata,
            allow_idp_initiated: true,
            max_issue_delay: chrono::Duration::seconds(MAX_ISSUE_DELAY_SECONDS),
            max_clock_skew: chrono::Duration::seconds(CLOCK_SKEW_SECONDS),
            allowed_signature_algorithms: Some(ALLOWED.to_vec()),
            ..ServiceProvider::default()
        };
        let assertion = parse_guarded(&sp, response, None).map_err(|e| {
            tracing::warn!(target: "audit", issuer = %issuer, error = %e, "a SAML login was refused");
            refused("The SAML response did not verify.")
        })?;
        self.accept_once(&format!("aws-saml:{issuer}"), &assertion).await?;
        let subject = name_id(&assertion)?;
        let mut attributes = Map::new();
        for statement in assertion.attribute_statements.iter().flatten() {
            for attribute in &statement.attributes {
                let values: Vec<Value> =
                    attribute.values.iter().filter_map(|v| v.value.clone()).map(Value::String).collect();
                if let (Some(name), false) = (&attribute.name, values.is_empty()) {
                    let value = if values.len() == 1 { values[0].clone() } else { Value::Array(values) };
                    attributes.insert(name.clone(), value);
                }
            }
        }
        Ok(AwsSamlLogin { subject, issuer, attributes })
    }
}

/// The assertion's subject: its NameID.
fn name_id(assertion: &samael::schema::Assertion) -> Result<String> {
    assertion
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .map(|n| n.value.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| refused("The assertion names no subject."))
}

/// samael's parse, with a panic inside it (its decryption path unwraps on
/// malformed plaintext) turned into a refusal instead of a dropped request.
fn parse_guarded(
    sp: &ServiceProvider,
    response: &str,
    ids: Option<&[&str]>,
) -> std::result::Result<samael::schema::Assertion, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sp.parse_base64_response(response, ids))) {
        Ok(Ok(assertion)) => Ok(assertion),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the SAML library failed on this document".into()),
    }
}

/// A Response must hold exactly one assertion (plain or encrypted), as a
/// direct child: anything else is a document shaped to confuse (signature
/// wrapping), even where the signature check would find the genuine part.
/// What the pre-check saw: whether the document answers a request (carries
/// InResponseTo), and whether its assertion is encrypted.
struct Shape {
    answers: bool,
    encrypted: bool,
}

fn single_assertion(encoded: &str) -> Result<Shape> {
    use base64::engine::general_purpose::STANDARD;
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    const ASSERTION_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
    const PROTOCOL_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
    let bytes = STANDARD
        .decode(encoded.split_whitespace().collect::<String>())
        .map_err(|_| refused("The SAMLResponse is not base64."))?;
    let xml = std::str::from_utf8(&bytes).map_err(|_| refused("The SAMLResponse is not UTF-8."))?;
    let mut reader = quick_xml::NsReader::from_str(xml);
    let (mut depth, mut assertions, mut root_is_response, mut answers) = (0usize, 0usize, false, false);
    let mut encrypted = false;
    loop {
        let (ns, event) =
            reader.read_resolved_event().map_err(|_| refused("The SAMLResponse is not well-formed XML."))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if e.attributes().flatten().any(|a| a.key.local_name().as_ref() == b"InResponseTo") {
                    answers = true;
                }
                let local = e.local_name();
                let in_ns = |want: &[u8]| matches!(ns, ResolveResult::Bound(n) if n.as_ref() == want);
                if depth == 0 {
                    root_is_response = in_ns(PROTOCOL_NS) && local.as_ref() == b"Response";
                }
                if in_ns(ASSERTION_NS) && matches!(local.as_ref(), b"Assertion" | b"EncryptedAssertion") {
                    assertions += 1;
                    encrypted = local.as_ref() == b"EncryptedAssertion";
                    if depth != 1 {
                        return Err(refused("The assertion is not where a Response puts it."));
                    }
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::DocType(_) => return Err(refused("A SAMLResponse may not carry a document type.")),
            Event::PI(_) => return Err(refused("A SAMLResponse may not carry processing instructions.")),
            // quick-xml reads UTF-8 only; a document declaring another
            // encoding would be read differently by libxml2.
            Event::Decl(ref d) => {
                let encoding = d.encoding().transpose().ok().flatten();
                if encoding.is_some_and(|e| !e.as_ref().eq_ignore_ascii_case(b"utf-8")) {
                    return Err(refused("A SAMLResponse must be UTF-8."));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_is_response || assertions != 1 {
        return Err(refused("The SAMLResponse must be one Response holding one assertion."));
    }
    Ok(Shape { answers, encrypted })
}
