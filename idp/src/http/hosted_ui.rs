//! The hosted UI and the browser-facing OAuth 2.0 / OIDC endpoints of a
//! pool: discovery, `oauth2/authorize`, `oauth2/userInfo`, `logout`, and
//! the sign-in, sign-up, confirmation, password-reset and MFA pages.
//!
//! Pages are server-rendered from minijinja templates (`web/templates`,
//! built in; a directory given at start overrides them file by file) and
//! work without JavaScript. Every form carries a CSRF token bound to a
//! cookie, and the authorization request in hidden fields, re-checked on
//! each post. Sign-in steps run the same service code as the API (lockout,
//! triggers, MFA) inside [`in_hosted_ui`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use minijinja::{Environment, Value as Jinja, context};
use serde_json::json;

use crate::error::IdpError;
use crate::service::authorize::{Authorization, AuthorizeError, LogoutTarget, UI_SESSION_SECONDS};
use crate::service::signin::{Caller, Origin};
use crate::service::{AuthOutcome, Challenge, SignUpRequest, UserPools, in_hosted_ui};

const SESSION_COOKIE: &str = "cirrus_session";
/// Binds a federated sign-in's answer to the browser that started it.
const FEDERATION_COOKIE: &str = "cirrus_fed";
const CSRF_COOKIE: &str = "cirrus_csrf";
/// The authorization request's parameters, carried from page to page.
const CARRIED: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "login_hint",
    "identity_provider",
    "idp_identifier",
    "lang",
];
/// Paths a pool's own domain serves at its root.
const DOMAIN_PATHS: &[&str] = &[
    "/oauth2/",
    "/.well-known/",
    "/login",
    "/logout",
    "/signup",
    "/confirm",
    "/resend",
    "/forgotPassword",
    "/confirmForgotPassword",
    "/challenge",
    "/ui/",
    "/saml2/",
];
const CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../../web/templates/base.html")),
    ("hidden.html", include_str!("../../../web/templates/hidden.html")),
    ("login.html", include_str!("../../../web/templates/login.html")),
    ("signup.html", include_str!("../../../web/templates/signup.html")),
    ("confirm.html", include_str!("../../../web/templates/confirm.html")),
    ("forgot.html", include_str!("../../../web/templates/forgot.html")),
    ("reset.html", include_str!("../../../web/templates/reset.html")),
    ("challenge.html", include_str!("../../../web/templates/challenge.html")),
    ("error.html", include_str!("../../../web/templates/error.html")),
];
const STYLESHEET: &str = include_str!("../../../web/static/cirrus.css");

/// The hosted UI: the service and the page templates.
pub struct HostedUi {
    pools: Arc<UserPools>,
    templates: Environment<'static>,
}

impl HostedUi {
    /// `templates_dir`: a directory whose files replace the built-in
    /// templates of the same name (read at start).
    pub fn new(pools: Arc<UserPools>, templates_dir: Option<PathBuf>) -> Self {
        let mut templates = Environment::new();
        templates.set_loader(move |name| {
            if let Some(dir) = &templates_dir
                && !name.contains("..")
                && let Ok(text) = std::fs::read_to_string(dir.join(name))
            {
                return Ok(Some(text));
            }
            Ok(TEMPLATES.iter().find(|(n, _)| *n == name).map(|(_, t)| t.to_string()))
        });
        Self { pools, templates }
    }
}

pub fn router(ui: Arc<HostedUi>) -> Router {
    Router::new()
        .route("/{pool_id}/.well-known/openid-configuration", get(discovery))
        .route("/{pool_id}/oauth2/authorize", get(authorize))
        .route("/{pool_id}/oauth2/userInfo", get(user_info).post(user_info))
        .route("/{pool_id}/oauth2/idpresponse", get(idp_response).post(idp_response_post))
        .route("/{pool_id}/saml2/idpresponse", axum::routing::post(saml_response))
        .route("/{pool_id}/saml2/metadata", get(saml_metadata))
        .route("/{pool_id}/logout", get(logout))
        .route("/{pool_id}/login", get(login_page).post(login_post))
        .route("/{pool_id}/challenge", axum::routing::post(challenge_post))
        .route("/{pool_id}/signup", get(signup_page).post(signup_post))
        .route("/{pool_id}/confirm", get(confirm_page).post(confirm_post))
        .route("/{pool_id}/resend", axum::routing::post(resend_post))
        .route("/{pool_id}/forgotPassword", get(forgot_page).post(forgot_post))
        .route("/{pool_id}/confirmForgotPassword", get(reset_page).post(reset_post))
        .route("/{pool_id}/ui/cirrus.css", get(stylesheet))
        .route("/{pool_id}/ui/custom.css", get(custom_css))
        .route("/{pool_id}/ui/logo", get(logo))
        .with_state(ui)
}

/// A request that reached a pool through its domain: the base URL the
/// browser sees (`scheme://host`).
#[derive(Debug, Clone)]
struct DomainBase(String);

/// Serves a pool's endpoints at the root of its domain: requests whose
/// Host is a pool's domain get the pool's id put in front of the path.
pub async fn domain_routing(pools: Arc<UserPools>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if DOMAIN_PATHS.iter().any(|p| path.starts_with(p))
        && let Some(host) =
            request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string)
    {
        match pools.pool_for_host(&host).await {
            Ok(Some(pool_id)) => {
                let rewritten = match request.uri().query() {
                    Some(q) => format!("/{pool_id}{path}?{q}"),
                    None => format!("/{pool_id}{path}"),
                };
                if let Ok(uri) = rewritten.parse::<Uri>() {
                    let scheme = if pools.public_url().starts_with("https://") { "https" } else { "http" };
                    request.extensions_mut().insert(DomainBase(format!("{scheme}://{host}")));
                    *request.uri_mut() = uri;
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "resolving a pool domain"),
        }
    }
    next.run(request).await
}

/// Where a request's pages live.
struct Site {
    pool_id: String,
    /// The pool's base URL as the browser sees it.
    base: String,
    cookie_path: String,
}

fn site(ui: &HostedUi, pool_id: &str, domain: Option<&DomainBase>) -> Site {
    match domain {
        Some(DomainBase(base)) => {
            Site { pool_id: pool_id.to_string(), base: base.clone(), cookie_path: "/".into() }
        }
        None => {
            let base = format!("{}/{pool_id}", ui.pools.public_url());
            let cookie_path =
                url::Url::parse(&base).map(|u| u.path().to_string()).unwrap_or_else(|_| "/".into());
            Site { pool_id: pool_id.to_string(), base, cookie_path }
        }
    }
}

fn cookies(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for value in headers.get_all(header::COOKIE) {
        if let Ok(text) = value.to_str() {
            for pair in text.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=') {
                    out.entry(k.to_string()).or_insert_with(|| v.to_string());
                }
            }
        }
    }
    out
}

fn form(body: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

fn carried(params: &BTreeMap<String, String>) -> Vec<(&'static str, String)> {
    CARRIED.iter().filter_map(|k| params.get(*k).filter(|v| !v.is_empty()).map(|v| (*k, v.clone()))).collect()
}

fn query_string(pairs: &[(&str, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A page being answered, with the cookies it sets.
struct Reply {
    site: Site,
    csrf_cookie: String,
    set_cookies: Vec<String>,
}

impl Reply {
    fn cookie(&self, name: &str, value: &str, max_age: i64) -> String {
        let secure = if self.secure() { "; Secure" } else { "" };
        format!(
            "{name}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
            self.site.cookie_path
        )
    }

    /// A cookie that must come back on a cross-site POST (a SAML IdP's
    /// form): SameSite=None where the site is https; Lax on plain http,
    /// where browsers refuse None (the IdP is then same-site in practice:
    /// loopback in development).
    fn cross_site_cookie(&self, name: &str, value: &str, max_age: i64) -> String {
        if self.secure() {
            format!(
                "{name}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=None; Secure",
                self.site.cookie_path
            )
        } else {
            self.cookie(name, value, max_age)
        }
    }

    fn secure(&self) -> bool {
        self.site.base.starts_with("https://")
    }

    fn with_headers(&self, mut response: Response) -> Response {
        let h = response.headers_mut();
        for c in &self.set_cookies {
            if let Ok(v) = HeaderValue::from_str(c) {
                h.append(header::SET_COOKIE, v);
            }
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        response
    }

    fn redirect(&self, location: &str) -> Response {
        let response = match HeaderValue::from_str(location) {
            Ok(v) => (StatusCode::FOUND, [(header::LOCATION, v)]).into_response(),
            Err(_) => StatusCode::BAD_REQUEST.into_response(),
        };
        self.with_headers(response)
    }
}

impl HostedUi {
    /// Starts a reply: the CSRF cookie is reused, or made and set.
    fn reply(&self, site: Site, headers: &HeaderMap) -> Reply {
        let jar = cookies(headers);
        let existing = jar.get(CSRF_COOKIE).filter(|c| (20..=64).contains(&c.len())).cloned();
        let mut reply = Reply { site, csrf_cookie: String::new(), set_cookies: Vec::new() };
        match existing {
            Some(c) => reply.csrf_cookie = c,
            None => {
                reply.csrf_cookie = secrets::random_string(32, secrets::ALNUM);
                let cookie = reply.cookie(CSRF_COOKIE, &reply.csrf_cookie, 86_400);
                reply.set_cookies.push(cookie);
            }
        }
        reply
    }

    fn render(&self, reply: &Reply, status: StatusCode, template: &str, ctx: Jinja) -> Response {
        let page = self.templates.get_template(template).and_then(|t| t.render(ctx));
        let response = match page {
            Ok(html) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
            Err(e) => {
                tracing::error!(template, error = %e, "rendering a hosted-UI page");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [(header::CONTENT_TYPE, "text/plain")],
                    "The page could not be shown.",
                )
                    .into_response()
            }
        };
        reply.with_headers(response)
    }

    fn error_page(&self, reply: &Reply, status: StatusCode, message: &str) -> Response {
        let ctx = context! {
            lang => "en", title => "Something went wrong", app_name => "Sign in", base => reply.site.base,
            message => message, csrf => "", carry => Vec::<Jinja>::new(),
        };
        self.render(reply, status, "error.html", ctx)
    }

    /// The context every form page shares.
    async fn page_context(
        &self,
        reply: &Reply,
        auth: &Authorization,
        params: &BTreeMap<String, String>,
    ) -> Jinja {
        let carry = carried(params);
        let branding = self.pools.branding(&auth.pool.id, &auth.client.client_id).await.ok().flatten();
        let client = &auth.client.client_id;
        let custom_css = branding.as_ref().filter(|b| b.css.is_some()).map(|b| {
            format!("{}/ui/custom.css?client_id={}&v={}", reply.site.base, b.client_id, b.updated_ms)
        });
        let logo = branding
            .as_ref()
            .filter(|b| b.image.is_some())
            .map(|b| format!("{}/ui/logo?client_id={client}&v={}", reply.site.base, b.updated_ms));
        let forms = self.pools.pool_forms(&auth.pool);
        let username_label = match forms.username_attributes.as_slice() {
            [a] if a == "email" => "Email",
            [a] if a == "phone_number" => "Phone number",
            [] => "Username",
            _ => "Email or phone number",
        };
        context! {
            lang => auth.request.lang.clone().filter(|l| l.len() <= 16 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')).unwrap_or_else(|| "en".into()),
            app_name => auth.client.name.clone(),
            base => reply.site.base.clone(),
            csrf => self.pools.csrf_token(&reply.csrf_cookie),
            carry => carry.iter().map(|(k, v)| context! { name => *k, value => v }).collect::<Vec<_>>(),
            query => query_string(&carry),
            custom_css => custom_css,
            logo => logo,
            username_label => username_label,
            signup_allowed => forms.signup_allowed,
            providers => crate::service::authorize::client_providers(&auth.client)
                .into_iter()
                .filter(|p| p != "COGNITO")
                .map(|p| {
                    let mut q = carry.clone();
                    q.retain(|(k, _)| *k != "identity_provider" && *k != "idp_identifier");
                    q.push(("identity_provider", p.clone()));
                    context! { name => p, href => format!("{}/oauth2/authorize?{}", reply.site.base, query_string(&q)) }
                })
                .collect::<Vec<_>>(),
            cognito => crate::service::authorize::client_providers(&auth.client).iter().any(|p| p == "COGNITO"),
            password_hint => forms.password_hint,
        }
    }

    /// Checks the authorization request a page carries; on failure the
    /// response to give (an error page, or the error sent to the client).
    async fn checked(
        &self,
        reply: &Reply,
        params: &BTreeMap<String, String>,
    ) -> Result<Authorization, Response> {
        match self.pools.check_authorize(&reply.site.pool_id, params).await {
            Ok(auth) => Ok(auth),
            Err(AuthorizeError::Page(m)) => Err(self.error_page(reply, StatusCode::BAD_REQUEST, &m)),
            Err(e) => match e.location() {
                Some(location) => Err(reply.redirect(&location)),
                None => Err(self.error_page(reply, StatusCode::BAD_REQUEST, "The request is not valid.")),
            },
        }
    }

    /// [`Self::checked`] for the pool's own pages (password sign-in,
    /// sign-up, confirmation, reset, MFA): the client must allow COGNITO.
    async fn checked_native(
        &self,
        reply: &Reply,
        params: &BTreeMap<String, String>,
    ) -> Result<Authorization, Response> {
        let auth = self.checked(reply, params).await?;
        if !crate::service::authorize::client_providers(&auth.client).iter().any(|p| p == "COGNITO") {
            return Err(self.error_page(
                reply,
                StatusCode::BAD_REQUEST,
                "This application signs in only through its identity providers.",
            ));
        }
        Ok(auth)
    }

    /// A form posted to one of the pool's own pages: its fields and the
    /// authorization request they carry, once the CSRF token and the request
    /// check out.
    async fn native_form(
        &self,
        reply: &Reply,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(BTreeMap<String, String>, Authorization), Response> {
        let params = form(body);
        if !self.csrf_ok(headers, &params) {
            return Err(self.csrf_refused(reply));
        }
        let auth = self.checked_native(reply, &params).await?;
        Ok((params, auth))
    }

    /// A POST must carry the CSRF token of the browser's cookie.
    fn csrf_ok(&self, headers: &HeaderMap, form: &BTreeMap<String, String>) -> bool {
        let jar = cookies(headers);
        match (jar.get(CSRF_COOKIE), form.get("_csrf")) {
            (Some(cookie), Some(token)) => self.pools.csrf_matches(cookie, token),
            _ => false,
        }
    }

    fn csrf_refused(&self, reply: &Reply) -> Response {
        self.error_page(
            reply,
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from this site. Go back, reload the page and try again.",
        )
    }

    /// The end of a sign-in: a hosted-UI session and the code (or tokens)
    /// sent to the client; or the next challenge's page.
    async fn signed_in_or_next(
        &self,
        mut reply: Reply,
        auth: &Authorization,
        params: &BTreeMap<String, String>,
        username: &str,
        outcome: Result<AuthOutcome, IdpError>,
        retry: impl FnOnce(String) -> Option<Challenge>,
    ) -> Response {
        match outcome {
            Ok(AuthOutcome::SignedIn { user, auth_time }) => {
                let session = match self.pools.start_ui_session(&auth.pool, &user, auth_time, "COGNITO").await
                {
                    Ok(s) => s,
                    Err(e) => return self.server_error(&reply, e),
                };
                let cookie = reply.cookie(SESSION_COOKIE, &session, UI_SESSION_SECONDS);
                reply.set_cookies.push(cookie);
                match self.pools.complete_authorization(auth, &user, auth_time).await {
                    Ok(location) => reply.redirect(&location),
                    Err(e) => self.server_error(&reply, e),
                }
            }
            Ok(AuthOutcome::Challenge(c)) => {
                self.challenge_page(&reply, auth, params, username, &c, None).await
            }
            Ok(AuthOutcome::Tokens(_)) => {
                self.server_error(&reply, IdpError::Internal("tokens in the hosted UI".into()))
            }
            Err(e) => {
                let message = user_message(&e);
                match retry(message.clone()) {
                    Some(c) => self.challenge_page(&reply, auth, params, username, &c, Some(&message)).await,
                    None => {
                        let mut ctx = self.page_context(&reply, auth, params).await;
                        ctx = merge(
                            ctx,
                            context! { title => "Sign in", error => message, username => username },
                        );
                        if matches!(e, IdpError::UserNotConfirmed(_)) {
                            let mut carry = carried(params);
                            carry.push(("username", username.to_string()));
                            return reply.redirect(&format!(
                                "{}/confirm?{}",
                                reply.site.base,
                                query_string(&carry)
                            ));
                        }
                        if matches!(e, IdpError::PasswordResetRequired(_)) {
                            let mut carry = carried(params);
                            carry.push(("username", username.to_string()));
                            return reply.redirect(&format!(
                                "{}/forgotPassword?{}",
                                reply.site.base,
                                query_string(&carry)
                            ));
                        }
                        self.render(&reply, StatusCode::OK, "login.html", ctx)
                    }
                }
            }
        }
    }

    /// Sends the browser to an identity provider, with the cookie that
    /// binds its answer to this browser.
    async fn federate(&self, mut reply: Reply, auth: &Authorization, provider: &str) -> Response {
        match self.pools.start_federation(auth, provider).await {
            Ok((location, binding)) => {
                let cookie = reply.cross_site_cookie(FEDERATION_COOKIE, &binding, 600);
                reply.set_cookies.push(cookie);
                reply.redirect(&location)
            }
            Err(e) => self.error_page(&reply, StatusCode::BAD_REQUEST, &user_message(&e)),
        }
    }

    /// A federated sign-in that went through: the hosted-UI session and the
    /// client's code.
    async fn federated(
        &self,
        mut reply: Reply,
        done: crate::service::federation::FederatedSignIn,
    ) -> Response {
        let session = match self
            .pools
            .start_ui_session(&done.authorization.pool, &done.user, done.auth_time, &done.provider)
            .await
        {
            Ok(s) => s,
            Err(e) => return self.server_error(&reply, e),
        };
        let cookie = reply.cookie(SESSION_COOKIE, &session, UI_SESSION_SECONDS);
        reply.set_cookies.push(cookie);
        match self.pools.complete_authorization(&done.authorization, &done.user, done.auth_time).await {
            Ok(location) => reply.redirect(&location),
            Err(e) => self.server_error(&reply, e),
        }
    }

    fn server_error(&self, reply: &Reply, e: IdpError) -> Response {
        tracing::error!(error = %e, "hosted UI");
        self.error_page(
            reply,
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server could not finish this step; try again.",
        )
    }

    async fn challenge_page(
        &self,
        reply: &Reply,
        auth: &Authorization,
        params: &BTreeMap<String, String>,
        username: &str,
        c: &Challenge,
        error: Option<&str>,
    ) -> Response {
        let base = self.page_context(reply, auth, params).await;
        let mut session = c.session.clone();
        let mut extra = context! {};
        let p = |k: &str| c.parameters.get(k).cloned().unwrap_or_default();
        let (title, prompt, code_label) = match c.name {
            "SOFTWARE_TOKEN_MFA" => {
                ("Two-step verification", "Enter the code from your authenticator app.".to_string(), "Code")
            }
            "SMS_MFA" => (
                "Two-step verification",
                format!("We sent a code by text message to {}.", p("CODE_DELIVERY_DESTINATION")),
                "Code",
            ),
            "EMAIL_OTP" => (
                "Two-step verification",
                format!("We sent a code by email to {}.", p("CODE_DELIVERY_DESTINATION")),
                "Code",
            ),
            "SELECT_MFA_TYPE" => {
                let offered: Vec<String> = serde_json::from_str(&p("MFAS_CAN_CHOOSE")).unwrap_or_default();
                let options: Vec<Jinja> = offered
                    .iter()
                    .map(|o| {
                        let label = match o.as_str() {
                            "SOFTWARE_TOKEN_MFA" => "Authenticator app",
                            "SMS_MFA" => "Text message",
                            "EMAIL_OTP" => "Email",
                            other => other,
                        };
                        context! { value => o, label => label }
                    })
                    .collect();
                extra = context! { options => options };
                ("Choose a sign-in method", String::new(), "")
            }
            "NEW_PASSWORD_REQUIRED" => {
                let required: Vec<String> =
                    serde_json::from_str(&p("requiredAttributes")).unwrap_or_default();
                let fields: Vec<Jinja> = required
                    .iter()
                    .map(|a| a.trim_start_matches("userAttributes.").to_string())
                    .map(|a| {
                        let (label, kind, auto) = field_look(&a);
                        context! { name => a, label => label, type => kind, autocomplete => auto }
                    })
                    .collect();
                extra = context! { fields => fields };
                ("Set a new password", "Choose a new password to finish signing in.".to_string(), "")
            }
            "MFA_SETUP" => {
                let can: Vec<String> = serde_json::from_str(&p("MFAS_CAN_SETUP")).unwrap_or_default();
                if !can.iter().any(|f| f == "SOFTWARE_TOKEN_MFA") {
                    return self.error_page(
                        reply,
                        StatusCode::OK,
                        "This account needs a second sign-in factor that can only be set up through the app.",
                    );
                }
                match in_hosted_ui(self.pools.associate_software_token(None, Some(&c.session))).await {
                    Ok((secret, next)) => {
                        session = next.unwrap_or_default();
                        let label = format!("{}:{username}", auth.pool.name);
                        let uri = format!(
                            "otpauth://totp/{}?secret={secret}&issuer={}",
                            urlencode(&label),
                            urlencode(&auth.pool.name)
                        );
                        extra = context! { secret => secret, qr_svg => qr_svg(&uri) };
                    }
                    Err(e) => return self.error_page(reply, StatusCode::OK, &user_message(&e)),
                }
                ("Set up an authenticator app", String::new(), "")
            }
            _ => {
                return self.error_page(
                    reply,
                    StatusCode::OK,
                    "This sign-in needs a step the hosted pages do not offer; sign in through the app.",
                );
            }
        };
        let ctx = merge(
            merge(base, extra),
            context! {
                title => title, prompt => prompt, code_label => code_label, challenge => c.name,
                session => session, username => username, error => error,
            },
        );
        self.render(reply, StatusCode::OK, "challenge.html", ctx)
    }
}

fn merge(a: Jinja, b: Jinja) -> Jinja {
    context! { ..b, ..a }
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

/// A QR code of `text` as inline SVG.
fn qr_svg(text: &str) -> String {
    use qrcodegen::{QrCode, QrCodeEcc};
    let Ok(qr) = QrCode::encode_text(text, QrCodeEcc::Medium) else { return String::new() };
    let size = qr.size();
    let border = 4;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let dim = size + border * 2;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\" role=\"img\" aria-label=\"QR code\" \
         shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\
         <path d=\"{path}\" fill=\"#000\"/></svg>"
    )
}

/// A label, input type and autocomplete hint for an attribute.
fn field_look(name: &str) -> (String, &'static str, &'static str) {
    match name {
        "email" => ("Email".into(), "email", "email"),
        "phone_number" => ("Phone number".into(), "tel", "tel"),
        "given_name" => ("Given name".into(), "text", "given-name"),
        "family_name" => ("Family name".into(), "text", "family-name"),
        "name" => ("Name".into(), "text", "name"),
        "nickname" => ("Nickname".into(), "text", "nickname"),
        "preferred_username" => ("Preferred user name".into(), "text", "username"),
        "birthdate" => ("Birth date (YYYY-MM-DD)".into(), "text", "bday"),
        "address" => ("Address".into(), "text", "street-address"),
        "gender" => ("Gender".into(), "text", "sex"),
        "locale" => ("Locale".into(), "text", "language"),
        "website" => ("Website".into(), "text", "url"),
        "zoneinfo" => ("Time zone".into(), "text", "off"),
        other => {
            let plain = other.trim_start_matches("custom:").replace('_', " ");
            let mut chars = plain.chars();
            let label = chars
                .next()
                .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
                .unwrap_or_default();
            (label, "text", "off")
        }
    }
}

/// What the browser is told of a failure: the service's message for the
/// user's own mistakes, a generic one otherwise.
fn user_message(e: &IdpError) -> String {
    match e {
        IdpError::Internal(_) | IdpError::Store(_) => {
            "The server could not finish this step; try again.".into()
        }
        IdpError::Wire(w) if w.status.is_server_error() => {
            "The server could not finish this step; try again.".into()
        }
        IdpError::Wire(w) => w.message.clone(),
        other => other.to_string(),
    }
}

fn origin(headers: &HeaderMap) -> Origin {
    Origin {
        ip_address: None,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
    }
}

// ---------------------------------------------------------------------------
// Discovery, authorize, userInfo, logout
// ---------------------------------------------------------------------------

async fn discovery(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
) -> Response {
    if ui.pools.describe_pool(&pool_id).await.is_err() {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            json!({"error": "unknown user pool"}).to_string(),
        )
            .into_response();
    }
    let s = site(&ui, &pool_id, domain.as_deref());
    let issuer = ui.pools.issuer(&pool_id);
    let mut scopes = vec!["openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"];
    scopes.dedup();
    let body = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{}/oauth2/authorize", s.base),
        "token_endpoint": format!("{}/oauth2/token", s.base),
        "userinfo_endpoint": format!("{}/oauth2/userInfo", s.base),
        "revocation_endpoint": format!("{}/oauth2/revoke", s.base),
        "end_session_endpoint": format!("{}/logout", s.base),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": ["code", "token"],
        "response_modes_supported": ["query", "fragment"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "implicit"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": scopes,
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "email", "email_verified",
            "phone_number", "phone_number_verified", "name", "given_name", "family_name", "cognito:username",
            "cognito:groups"
        ],
        "prompt_values_supported": ["none", "login"],
        "request_parameter_supported": false,
        "claims_parameter_supported": false,
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            // The endpoints follow the Host a pool's domain came in on.
            (header::VARY, "Host"),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn authorize(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    Query(params): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let reply = ui.reply(site(&ui, &pool_id, domain.as_deref()), &headers);
    let auth = match ui.checked(&reply, &params).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    // A named provider, or the client's only one: straight to it.
    let providers = crate::service::authorize::client_providers(&auth.client);
    let external = match (&auth.request.identity_provider, providers.as_slice()) {
        (Some(p), _) if p != "COGNITO" => Some(p.clone()),
        (None, [only]) if only != "COGNITO" => Some(only.clone()),
        _ => None,
    };
    if let Some(provider) = external {
        return ui.federate(reply, &auth, &provider).await;
    }
    let session = cookies(&headers).get(SESSION_COOKIE).cloned().unwrap_or_default();
    let signed_in = match ui.pools.ui_session(&pool_id, &session).await {
        Ok(s) => s,
        Err(e) => return ui.server_error(&reply, e),
    };
    // Single sign-on only for a client that allows how the user signed in.
    let signed_in = signed_in.filter(|s| providers.contains(&s.provider));
    if !auth.request.prompt("login")
        && let Some(s) = signed_in
    {
        return match ui.pools.complete_authorization(&auth, &s.user, s.auth_time).await {
            Ok(location) => reply.redirect(&location),
            Err(e) => ui.server_error(&reply, e),
        };
    }
    if auth.request.prompt("none") {
        let error = AuthorizeError::Redirect {
            redirect_uri: auth.request.redirect_uri.clone(),
            fragment: auth.request.implicit(),
            error: "login_required",
            description: "The user is not signed in.".into(),
            state: auth.request.state.clone(),
        };
        return reply.redirect(&error.location().unwrap_or_default());
    }
    reply.redirect(&format!("{}/login?{}", reply.site.base, query_string(&carried(&params))))
}

async fn user_info(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let challenge = |status: StatusCode, value: &'static str, error: &str| {
        (
            status,
            [
                (header::WWW_AUTHENTICATE, value),
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            json!({ "error": error }).to_string(),
        )
            .into_response()
    };
    let Some(token) = bearer.filter(|t| !t.is_empty()) else {
        // RFC 6750 §3.1: no credentials, no error code.
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer"), (header::CACHE_CONTROL, "no-store")],
        )
            .into_response();
    };
    match ui.pools.user_info(&pool_id, token).await {
        Ok(claims) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")],
            claims.to_string(),
        )
            .into_response(),
        Err(None) => challenge(
            StatusCode::UNAUTHORIZED,
            "Bearer error=\"invalid_token\", error_description=\"Access token is not valid\"",
            "invalid_token",
        ),
        Err(Some(_)) => challenge(
            StatusCode::FORBIDDEN,
            "Bearer error=\"insufficient_scope\", scope=\"openid\"",
            "insufficient_scope",
        ),
    }
}

async fn logout(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    Query(params): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut reply = ui.reply(site(&ui, &pool_id, domain.as_deref()), &headers);
    let target = match ui.pools.logout_target(&pool_id, &params).await {
        Ok(t) => t,
        Err(m) => return ui.error_page(&reply, StatusCode::BAD_REQUEST, &m),
    };
    if let Some(session) = cookies(&headers).get(SESSION_COOKIE)
        && let Err(e) = ui.pools.end_ui_session(session).await
    {
        return ui.server_error(&reply, e);
    }
    let cleared = reply.cookie(SESSION_COOKIE, "", 0);
    reply.set_cookies.push(cleared);
    match target {
        LogoutTarget::Uri(uri) => reply.redirect(&uri),
        LogoutTarget::Login(p) => {
            reply.redirect(&format!("{}/login?{}", reply.site.base, query_string(&carried(&p))))
        }
    }
}

/// `oauth2/idpresponse`: an identity provider's answer. A sign-in that
/// checks out gets a hosted-UI session and the client its code; anything
/// else an error page, and no session.
async fn idp_response(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    Query(params): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut reply = ui.reply(site(&ui, &pool_id, domain.as_deref()), &headers);
    let jar = cookies(&headers);
    let cleared = reply.cross_site_cookie(FEDERATION_COOKIE, "", 0);
    reply.set_cookies.push(cleared);
    let done = match ui
        .pools
        .finish_federation(&pool_id, &params, jar.get(FEDERATION_COOKIE).map(String::as_str))
        .await
    {
        Ok(done) => done,
        Err(e) => return ui.error_page(&reply, StatusCode::BAD_REQUEST, &user_message(&e)),
    };
    ui.federated(reply, done).await
}

/// `oauth2/idpresponse` by `response_mode=form_post` (Sign in with Apple).
async fn idp_response_post(
    state: State<Arc<HostedUi>>,
    path: Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    idp_response(state, path, domain, Query(form(&body)), headers).await
}

/// `saml2/idpresponse`: the assertion consumer (HTTP-POST binding).
async fn saml_response(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut reply = ui.reply(site(&ui, &pool_id, domain.as_deref()), &headers);
    let form = form(&body);
    let jar = cookies(&headers);
    let cleared = reply.cross_site_cookie(FEDERATION_COOKIE, "", 0);
    reply.set_cookies.push(cleared);
    let done =
        match ui.pools.finish_saml(&pool_id, &form, jar.get(FEDERATION_COOKIE).map(String::as_str)).await {
            Ok(done) => done,
            Err(e) => return ui.error_page(&reply, StatusCode::BAD_REQUEST, &user_message(&e)),
        };
    ui.federated(reply, done).await
}

async fn saml_metadata(State(ui): State<Arc<HostedUi>>, Path(pool_id): Path<String>) -> Response {
    match ui.pools.sp_metadata(&pool_id).await {
        Ok(xml) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/samlmetadata+xml")], xml).into_response()
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

// ---------------------------------------------------------------------------
// Sign-in
// ---------------------------------------------------------------------------

async fn login_page(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    Query(params): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let reply = ui.reply(site(&ui, &pool_id, domain.as_deref()), &headers);
    let auth = match ui.checked(&reply, &params).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let username = params.get("username").or(auth.request.login_hint.as_ref()).cloned().unwrap_or_default();
    let info = params
        .get("confirmed")
        .map(|_| "Your account is confirmed. Sign in to continue.")
        .or_else(|| params.get("reset").map(|_| "Your password is changed. Sign in with the new one."));
    let ctx = merge(
        ui.page_context(&reply, &auth, &params).await,
        context! { title => "Sign in", username => username, info => info },
    );
    ui.render(&reply, StatusCode::OK, "login.html", ctx)
}

async fn login_post(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = ui.reply(site(&ui, &pool_id, domain.as_deref()), &headers);
    let (params, auth) = match ui.native_form(&reply, &headers, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let username = params.get("username").map(|u| u.trim().to_string()).unwrap_or_default();
    let password = params.get("password").cloned().unwrap_or_default();
    let outcome = if username.is_empty() || password.is_empty() {
        Err(IdpError::InvalidParameter("Enter your user name and password.".into()))
    } else {
        let mut p = BTreeMap::new();
        p.insert("USERNAME".to_string(), username.clone());
        p.insert("PASSWORD".to_string(), password);
        in_hosted_ui(ui.pools.initiate_auth(
            Caller::Public,
            &auth.client.client_id,
            "USER_PASSWORD_AUTH",
            &p,
            &origin(&headers),
        ))
        .await
    };
    ui.signed_in_or_next(reply, &auth, &params, &username, outcome, |_| None).await
}

async fn challenge_post(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = ui.reply(site(&ui, &pool_id, domain.as_deref()), &headers);
    let (params, auth) = match ui.native_form(&reply, &headers, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let get = |k: &str| params.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let (challenge, mut session, username) = (get("challenge"), get("session"), get("username"));
    let mut responses = BTreeMap::new();
    responses.insert("USERNAME".to_string(), username.clone());
    let name: &'static str = match challenge.as_str() {
        "SOFTWARE_TOKEN_MFA" => {
            responses.insert("SOFTWARE_TOKEN_MFA_CODE".into(), get("code"));
            "SOFTWARE_TOKEN_MFA"
        }
        "SMS_MFA" => {
            responses.insert("SMS_MFA_CODE".into(), get("code"));
            "SMS_MFA"
        }
        "EMAIL_OTP" => {
            responses.insert("EMAIL_OTP_CODE".into(), get("code"));
            "EMAIL_OTP"
        }
        "SELECT_MFA_TYPE" => {
            responses.insert("ANSWER".into(), get("answer"));
            "SELECT_MFA_TYPE"
        }
        "NEW_PASSWORD_REQUIRED" => {
            responses.insert("NEW_PASSWORD".into(), params.get("new_password").cloned().unwrap_or_default());
            for (k, v) in &params {
                if let Some(attr) = k.strip_prefix("attr_") {
                    responses.insert(format!("userAttributes.{attr}"), v.trim().to_string());
                }
            }
            "NEW_PASSWORD_REQUIRED"
        }
        "MFA_SETUP" => {
            match in_hosted_ui(ui.pools.verify_software_token(None, Some(&session), &get("code"), None)).await
            {
                Ok(next) => session = next.unwrap_or_default(),
                Err(e) => {
                    let c = Challenge {
                        name: "MFA_SETUP",
                        session: session.clone(),
                        parameters: [("MFAS_CAN_SETUP".to_string(), "[\"SOFTWARE_TOKEN_MFA\"]".to_string())]
                            .into(),
                        available: Vec::new(),
                    };
                    return ui
                        .signed_in_or_next(reply, &auth, &params, &username, Err(e), move |_| Some(c))
                        .await;
                }
            }
            "MFA_SETUP"
        }
        _ => return ui.error_page(&reply, StatusCode::BAD_REQUEST, "The sign-in step is not known."),
    };
    let outcome = in_hosted_ui(ui.pools.respond_to_auth_challenge(
        Caller::Public,
        &auth.client.client_id,
        name,
        Some(&session),
        &responses,
    ))
    .await;
    // A wrong code may be tried again on the same page (the service counts
    // the tries); an expired session starts over at the sign-in form.
    let again = match (&outcome, name) {
        (
            Err(IdpError::CodeMismatch(_) | IdpError::InvalidPassword(_) | IdpError::InvalidParameter(_)),
            n,
        ) if n != "MFA_SETUP" && n != "SELECT_MFA_TYPE" => {
            let mut parameters = BTreeMap::new();
            if let Some(d) = params.get("destination") {
                parameters.insert("CODE_DELIVERY_DESTINATION".to_string(), d.clone());
            }
            if n == "NEW_PASSWORD_REQUIRED" {
                let attrs: Vec<String> = params
                    .keys()
                    .filter_map(|k| k.strip_prefix("attr_"))
                    .map(|a| format!("userAttributes.{a}"))
                    .collect();
                parameters.insert("requiredAttributes".to_string(), json!(attrs).to_string());
            }
            Some(Challenge { name: n, session: session.clone(), parameters, available: Vec::new() })
        }
        _ => None,
    };
    ui.signed_in_or_next(reply, &auth, &params, &username, outcome, move |_| again).await
}

// ---------------------------------------------------------------------------
// Sign-up and confirmation
// ---------------------------------------------------------------------------

/// The sign-up form's fields: the username (unless email or phone is the
/// username), the password, email, and the pool's required attributes.
fn signup_fields(
    forms: &crate::service::authorize::PoolForms,
    values: &BTreeMap<String, String>,
) -> Vec<Jinja> {
    let mut names: Vec<String> = Vec::new();
    if forms.username_attributes.is_empty() {
        names.push("username".into());
    }
    for a in forms.username_attributes.iter().chain(forms.required.iter()) {
        if !names.contains(a) {
            names.push(a.clone());
        }
    }
    if !names.iter().any(|n| n == "email") {
        names.push("email".into());
    }
    let mut out = Vec::new();
    for name in &names {
        let (label, kind, auto) = match name.as_str() {
            "username" => ("Username".to_string(), "text", "username"),
            other => field_look(other),
        };
        let required =
            name == "username" || forms.username_attributes.contains(name) || forms.required.contains(name);
        let hint = (name == "phone_number").then_some("International format, for example +14325551212.");
        out.push(context! {
            name => name, label => label, type => kind, autocomplete => auto, required => required,
            value => values.get(name).cloned().unwrap_or_default(), hint => hint,
        });
    }
    out.push(context! {
        name => "password", label => "Password", type => "password", autocomplete => "new-password",
        required => true, value => "", hint => forms.password_hint.clone(),
    });
    out
}

async fn signup_page(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    Query(params): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let reply = ui.reply(site(&ui, &pool_id, domain.as_deref()), &headers);
    let auth = match ui.checked_native(&reply, &params).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let forms = ui.pools.pool_forms(&auth.pool);
    if !forms.signup_allowed {
        return ui.error_page(&reply, StatusCode::FORBIDDEN, "Sign-up is not open for this application.");
    }
    let ctx = merge(
        ui.page_context(&reply, &auth, &params).await,
        context! { title => "Sign up", fields => signup_fields(&forms, &BTreeMap::new()) },
    );
    ui.render(&reply, StatusCode::OK, "signup.html", ctx)
}

async fn signup_post(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = ui.reply(site(&ui, &pool_id, domain.as_deref()), &headers);
    let (params, auth) = match ui.native_form(&reply, &headers, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let forms = ui.pools.pool_forms(&auth.pool);
    let value = |k: &str| params.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let username = if forms.username_attributes.is_empty() {
        value("username")
    } else {
        forms.username_attributes.iter().find_map(|a| value(a))
    }
    .unwrap_or_default();
    let mut attributes = Vec::new();
    for field in forms
        .username_attributes
        .iter()
        .chain(forms.required.iter())
        .chain(std::iter::once(&"email".to_string()))
    {
        if let Some(v) = value(field)
            && !attributes.iter().any(|(n, _): &(String, String)| n == field)
        {
            attributes.push((field.clone(), v));
        }
    }
    let request = SignUpRequest {
        client_id: auth.client.client_id.clone(),
        secret_hash: None,
        username: username.clone(),
        password: params.get("password").cloned(),
        attributes,
        validation_data: Vec::new(),
        client_metadata: BTreeMap::new(),
    };
    let result = if username.is_empty() {
        Err(IdpError::InvalidParameter("Enter a user name.".into()))
    } else {
        in_hosted_ui(ui.pools.sign_up(request)).await
    };
    match result {
        Ok(done) => {
            let mut carry = carried(&params);
            carry.push(("username", username));
            if done.confirmed {
                carry.push(("confirmed", "1".into()));
                return reply.redirect(&format!("{}/login?{}", reply.site.base, query_string(&carry)));
            }
            if let Some(d) = done.delivery {
                carry.push(("destination", d.destination));
            }
            reply.redirect(&format!("{}/confirm?{}", reply.site.base, query_string(&carry)))
        }
        Err(e) => {
            let mut values = params.clone();
            values.remove("password");
            let ctx = merge(
                ui.page_context(&reply, &auth, &params).await,
                context! { title => "Sign up", fields => signup_fields(&forms, &values), error => user_message(&e) },
            );
            ui.render(&reply, StatusCode::OK, "signup.html", ctx)
        }
    }
}

async fn confirm_view(
    ui: &HostedUi,
    reply: &Reply,
    auth: &Authorization,
    params: &BTreeMap<String, String>,
    error: Option<String>,
    info: Option<&str>,
) -> Response {
    let username = params.get("username").cloned().unwrap_or_default();
    let prompt = match params.get("destination") {
        Some(d) => format!("We sent a code to {d}. Enter it to confirm your account."),
        None => "Enter the code we sent you to confirm your account.".into(),
    };
    let ctx = merge(
        ui.page_context(reply, auth, params).await,
        context! { title => "Confirm your account", username => username, prompt => prompt, error => error, info => info },
    );
    ui.render(reply, StatusCode::OK, "confirm.html", ctx)
}

async fn confirm_page(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    Query(params): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let reply = ui.reply(site(&ui, &pool_id, domain.as_deref()), &headers);
    let auth = match ui.checked_native(&reply, &params).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    confirm_view(&ui, &reply, &auth, &params, None, None).await
}

async fn confirm_post(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = ui.reply(site(&ui, &pool_id, domain.as_deref()), &headers);
    let (params, auth) = match ui.native_form(&reply, &headers, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let username = params.get("username").cloned().unwrap_or_default();
    let code = params.get("code").map(|c| c.trim().to_string()).unwrap_or_default();
    match in_hosted_ui(ui.pools.confirm_sign_up(&auth.client.client_id, None, &username, &code, false)).await
    {
        Ok(()) => {
            let mut carry = carried(&params);
            carry.push(("username", username));
            carry.push(("confirmed", "1".into()));
            reply.redirect(&format!("{}/login?{}", reply.site.base, query_string(&carry)))
        }
        Err(e) => confirm_view(&ui, &reply, &auth, &params, Some(user_message(&e)), None).await,
    }
}

async fn resend_post(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = ui.reply(site(&ui, &pool_id, domain.as_deref()), &headers);
    let (params, auth) = match ui.native_form(&reply, &headers, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let username = params.get("username").cloned().unwrap_or_default();
    match in_hosted_ui(ui.pools.resend_confirmation_code(&auth.client.client_id, None, &username)).await {
        Ok(_) => confirm_view(&ui, &reply, &auth, &params, None, Some("We sent a new code.")).await,
        Err(e) => confirm_view(&ui, &reply, &auth, &params, Some(user_message(&e)), None).await,
    }
}

// ---------------------------------------------------------------------------
// Password reset
// ---------------------------------------------------------------------------

async fn forgot_page(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    Query(params): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let reply = ui.reply(site(&ui, &pool_id, domain.as_deref()), &headers);
    let auth = match ui.checked_native(&reply, &params).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let username = params.get("username").cloned().unwrap_or_default();
    let ctx = merge(
        ui.page_context(&reply, &auth, &params).await,
        context! { title => "Forgot your password?", username => username },
    );
    ui.render(&reply, StatusCode::OK, "forgot.html", ctx)
}

async fn forgot_post(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = ui.reply(site(&ui, &pool_id, domain.as_deref()), &headers);
    let (params, auth) = match ui.native_form(&reply, &headers, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let username = params.get("username").map(|u| u.trim().to_string()).unwrap_or_default();
    match in_hosted_ui(ui.pools.forgot_password(&auth.client.client_id, None, &username)).await {
        Ok(delivery) => {
            let mut carry = carried(&params);
            carry.push(("username", username));
            carry.push(("destination", delivery.destination));
            reply.redirect(&format!("{}/confirmForgotPassword?{}", reply.site.base, query_string(&carry)))
        }
        Err(e) => {
            let ctx = merge(
                ui.page_context(&reply, &auth, &params).await,
                context! { title => "Forgot your password?", username => username, error => user_message(&e) },
            );
            ui.render(&reply, StatusCode::OK, "forgot.html", ctx)
        }
    }
}

async fn reset_view(
    ui: &HostedUi,
    reply: &Reply,
    auth: &Authorization,
    params: &BTreeMap<String, String>,
    error: Option<String>,
) -> Response {
    let username = params.get("username").cloned().unwrap_or_default();
    let prompt = match params.get("destination") {
        Some(d) => format!("We sent a code to {d}. Enter it with your new password."),
        None => "Enter the code we sent you with your new password.".into(),
    };
    let ctx = merge(
        ui.page_context(reply, auth, params).await,
        context! { title => "Reset your password", username => username, prompt => prompt, error => error },
    );
    ui.render(reply, StatusCode::OK, "reset.html", ctx)
}

async fn reset_page(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    Query(params): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let reply = ui.reply(site(&ui, &pool_id, domain.as_deref()), &headers);
    let auth = match ui.checked_native(&reply, &params).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    reset_view(&ui, &reply, &auth, &params, None).await
}

async fn reset_post(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    domain: Option<axum::Extension<DomainBase>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = ui.reply(site(&ui, &pool_id, domain.as_deref()), &headers);
    let (params, auth) = match ui.native_form(&reply, &headers, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let username = params.get("username").cloned().unwrap_or_default();
    let code = params.get("code").map(|c| c.trim().to_string()).unwrap_or_default();
    let password = params.get("password").cloned().unwrap_or_default();
    match in_hosted_ui(ui.pools.confirm_forgot_password(
        &auth.client.client_id,
        None,
        &username,
        &code,
        &password,
    ))
    .await
    {
        Ok(()) => {
            let mut carry = carried(&params);
            carry.push(("username", username));
            carry.push(("reset", "1".into()));
            reply.redirect(&format!("{}/login?{}", reply.site.base, query_string(&carry)))
        }
        Err(e) => reset_view(&ui, &reply, &auth, &params, Some(user_message(&e))).await,
    }
}

// ---------------------------------------------------------------------------
// Assets
// ---------------------------------------------------------------------------

async fn stylesheet() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        STYLESHEET,
    )
        .into_response()
}

async fn custom_css(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let client = params.get("client_id").map(String::as_str).unwrap_or("ALL");
    match ui.pools.branding(&pool_id, client).await {
        Ok(Some(b)) if b.css.is_some() => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=300"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            b.css.unwrap_or_default(),
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn logo(
    State(ui): State<Arc<HostedUi>>,
    Path(pool_id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let client = params.get("client_id").map(String::as_str).unwrap_or("ALL");
    match ui.pools.branding_logo(&pool_id, client).await {
        Ok(Some((kind, bytes))) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, kind),
                (header::CACHE_CONTROL, "public, max-age=300"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            bytes,
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
