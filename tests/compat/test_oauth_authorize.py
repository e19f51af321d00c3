"""The OAuth 2.0 / OIDC authorization endpoint and the hosted UI (spec
user-pools.md §6, user-pools-operations.md §2.14), driven at the protocol
level with `requests`: no browser, no JavaScript. A tiny `Browser` keeps
cookies per host and path, follows no redirect by itself and parses the
server-rendered forms (the `_csrf` token and the authorize parameters travel
in hidden inputs).

Covered: the discovery document and JWKS; authorization code + PKCE (S256)
end to end, ID token (`nonce`, `at_hash`) and access token (`scope`,
`token_use`, `version`) verified with PyJWT against the JWKS; refresh; the
hosted-UI session (single sign-on across clients, `prompt=login`,
`prompt=none`); the implicit flow; RFC 6749 errors at both endpoints (no
redirect to an unregistered redirect_uri, PKCE, code reuse revoking the
tokens it gave, codes bound to client and redirect_uri); CSRF; userInfo
scope filtering and refusals; logout; sign-up, confirmation, forgotten
password, NEW_PASSWORD_REQUIRED, SMS / email / TOTP MFA pages; lockout
shared with InitiateAuth; security headers and cookie flags; pool domains
(Create/Describe/DeleteUserPoolDomain and Host-header routing); UI
customization (Set/GetUICustomization and the login page using it)."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, urlencode, urljoin, urlsplit, urlunsplit

import pytest
import requests
from botocore.exceptions import ClientError

from harness import (OTHER_PASSWORD, PASSWORD, TEMP_PASSWORD, Totp, admin_user, attrs_list, expect_error,
                     fetch_jwks, new_app_client, new_email, new_phone, new_pool, password_auth, unique,
                     verify_jwt)
from smtp_sink import extract_code

ALL_SCOPES = ["openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"]
CB = "https://app.example.test/callback"
CB2 = "http://localhost:8123/cb"
LOGOUT = "https://app.example.test/signed-out"
CONF_CB = "https://conf.example.test/cb"
IMPLICIT_CB = "https://implicit.example.test/cb"
REDIRECTS = (302, 303)
NEW_PASSWORD = "New-Hosted-Pw7!"
# A valid 1x1 PNG (the logo of the UI customization tests).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


# =========================================================================
# a minimal browser: cookies, forms, no automatic redirects
# =========================================================================

VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Form:
    action: str
    method: str
    fields: list = field(default_factory=list)     # dicts: name, type, value, checked
    buttons: list = field(default_factory=list)    # dicts: type, name, value, text

    def names(self) -> set:
        return {f["name"] for f in self.fields if f["name"]}

    def field(self, name: str) -> dict | None:
        return next((f for f in self.fields if f["name"] == name), None)

    def hidden(self) -> dict:
        return {f["name"]: f["value"] for f in self.fields if f["name"] and f["type"] == "hidden"}

    def values(self, **overrides) -> dict:
        """What a browser would submit: every named input (radios and
        checkboxes only when checked), then `overrides` (None removes)."""
        data = {}
        for f in self.fields:
            if not f["name"] or f["type"] in ("submit", "button", "image", "reset", "file"):
                continue
            if f["type"] in ("radio", "checkbox") and not f["checked"]:
                continue
            data[f["name"]] = f["value"]
        for k, v in overrides.items():
            if v is None:
                data.pop(k, None)
            else:
                data[k] = v
        return data


class _PageParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._captures: list = []          # [key, depth, parts]
        self.captured: dict = {}           # key -> list of texts
        self.stylesheets: list[str] = []
        self.styles: list[str] = []
        self.images: list[dict] = []
        self.svgs: list[dict] = []
        self.links: list[str] = []
        self._in_style = False
        self._button: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k.lower(): (v if v is not None else "") for k, v in attrs}
        if tag not in VOID_TAGS:
            for c in self._captures:
                c[1] += 1
        if tag == "form":
            self._form = Form(action=a.get("action", ""), method=a.get("method", "get").lower())
            self.forms.append(self._form)
        elif tag in ("input", "textarea", "select") and self._form is not None:
            self._form.fields.append({"name": a.get("name", ""), "type": a.get("type", "text").lower()
                                      if tag == "input" else tag, "value": a.get("value", ""),
                                      "checked": "checked" in a, "attrs": a})
        elif tag == "button":
            self._button = {"type": a.get("type", "submit").lower(), "name": a.get("name", ""),
                            "value": a.get("value", ""), "text": ""}
            if self._form is not None:
                self._form.buttons.append(self._button)
        elif tag == "link" and "stylesheet" in a.get("rel", "").lower().split():
            self.stylesheets.append(a.get("href", ""))
        elif tag == "style":
            self._in_style = True
            self.styles.append("")
        elif tag == "img":
            self.images.append(a)
        elif tag == "svg":
            self.svgs.append(a)
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])
        keys = []
        if a.get("role", "").lower() == "alert":
            keys.append("alert")
        if a.get("id"):
            keys.append("id:" + a["id"])
        if tag not in VOID_TAGS:
            for key in keys:
                self._captures.append([key, 1, []])
        else:
            for key in keys:
                self.captured.setdefault(key, []).append(a.get("value", ""))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in VOID_TAGS:
            return
        if tag == "form":
            self._form = None
        elif tag == "style":
            self._in_style = False
        elif tag == "button":
            self._button = None
        still = []
        for c in self._captures:
            c[1] -= 1
            if c[1] <= 0:
                self.captured.setdefault(c[0], []).append(" ".join("".join(c[2]).split()))
            else:
                still.append(c)
        self._captures = still

    def handle_data(self, data):
        for c in self._captures:
            c[2].append(data)
        if self._in_style and self.styles:
            self.styles[-1] += data
        if self._button is not None:
            self._button["text"] += data


class Page:
    def __init__(self, resp: requests.Response, url: str):
        self.resp = resp
        self.url = url
        self.text = resp.text
        parser = _PageParser()
        parser.feed(self.text)
        parser.close()
        self.forms = parser.forms
        self.captured = parser.captured
        self.stylesheets = parser.stylesheets
        self.styles = parser.styles
        self.images = parser.images
        self.svgs = parser.svgs
        self.links = parser.links

    @property
    def alerts(self) -> list[str]:
        return self.captured.get("alert", [])

    def by_id(self, ident: str) -> str | None:
        found = self.captured.get("id:" + ident)
        return found[0] if found else None

    def form_with(self, name: str) -> Form:
        for f in self.forms:
            if name in f.names():
                return f
        pytest.fail(f"no form with a field {name!r} on {self.url} (HTTP {self.resp.status_code}); forms: "
                    f"{[(f.action, sorted(f.names())) for f in self.forms]}\n{self.text[:1500]}")

    def action_url(self, form: Form) -> str:
        return urljoin(self.url, form.action or self.url)


def parse_set_cookie(header: str) -> dict:
    parts = [p.strip() for p in header.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip()
    return {"name": name.strip(), "value": value.strip(), "attrs": attrs, "raw": header}


def cookie_cleared(cookie: dict) -> bool:
    """Max-Age <= 0 or an Expires in the past (RFC 6265 §5.2.1-2)."""
    attrs = cookie["attrs"]
    if "max-age" in attrs:
        try:
            return int(attrs["max-age"]) <= 0
        except ValueError:
            return False
    if "expires" in attrs:
        try:
            when = email.utils.parsedate_to_datetime(attrs["expires"])
        except (TypeError, ValueError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        return when <= dt.datetime.now(dt.timezone.utc)
    return False


def set_cookies(resp: requests.Response) -> list[dict]:
    return [parse_set_cookie(h) for h in resp.raw.headers.getlist("Set-Cookie")]


def describe(resp: requests.Response) -> str:
    return (f"HTTP {resp.status_code} {resp.request.method} {resp.request.url}\n"
            f"Location: {resp.headers.get('Location')!r}\nSet-Cookie: {resp.raw.headers.getlist('Set-Cookie')!r}\n"
            f"body: {resp.text[:800]!r}")


class Browser:
    """Cookies keyed by (host, path, name), sent on path-prefix match (the
    Secure flag is ignored, as browsers do for localhost); no redirects are
    followed. With `host`, every request carries that Host header, and
    absolute URLs on that host are sent to `endpoint` (a pool domain)."""

    def __init__(self, endpoint: str, host: str | None = None):
        self.endpoint = endpoint
        self.host = host
        self.jar: dict = {}

    def _route(self, url: str) -> tuple[str, str]:
        parts = urlsplit(url)
        if self.host is not None:
            if parts.hostname == self.host.split(":")[0]:
                ep = urlsplit(self.endpoint)
                url = urlunsplit((ep.scheme, ep.netloc, parts.path, parts.query, ""))
            return url, self.host.split(":")[0]
        return url, parts.hostname

    def cookie(self, name: str) -> str | None:
        for (_, _, n), v in self.jar.items():
            if n == name:
                return v
        return None

    def request(self, method: str, url: str, data=None, headers=None) -> requests.Response:
        url, host = self._route(url)
        path = urlsplit(url).path or "/"
        hdrs = dict(headers or {})
        if self.host is not None:
            hdrs["Host"] = self.host
        sent = [f"{n}={v}" for (h, p, n), v in self.jar.items()
                if h == host and (path == p or path.startswith(p.rstrip("/") + "/") or p == "/")]
        if sent:
            hdrs["Cookie"] = "; ".join(sent)
        resp = requests.request(method, url, data=data, headers=hdrs, allow_redirects=False, timeout=20)
        default_path = path.rsplit("/", 1)[0] or "/"
        for c in set_cookies(resp):
            key = (host, c["attrs"].get("path") or default_path, c["name"])
            if cookie_cleared(c):
                self.jar.pop(key, None)
            else:
                self.jar[key] = c["value"]
        return resp

    def get(self, url: str, **kw) -> requests.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, data: dict, **kw) -> requests.Response:
        return self.request("POST", url, data=data, **kw)

    def page(self, url: str, status: int = 200) -> Page:
        resp = self.get(url)
        assert resp.status_code == status, describe(resp)
        return Page(resp, resp.request.url if self.host is None else url)

    def submit(self, page: Page, form: Form, **fields) -> requests.Response:
        assert form.method == "post", f"form {form.action!r} uses method {form.method!r}, expected post"
        return self.post(page.action_url(form), form.values(**fields))


# =========================================================================
# OAuth helpers
# =========================================================================

def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)                       # 64 chars, RFC 7636 §4.1
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


def new_state() -> str:
    """Opaque, with characters that must survive URL encoding both ways."""
    return f"st {secrets.token_hex(4)}/+&=%?#~"


@dataclass
class Env:
    endpoint: str
    pool: str
    base: str
    clients: dict

    def jwks(self) -> dict:
        return fetch_jwks(self.endpoint, self.pool)


@dataclass
class Flow:
    base: str
    client: dict
    params: dict
    verifier: str | None

    @property
    def redirect_uri(self) -> str:
        return self.params["redirect_uri"]

    @property
    def state(self) -> str | None:
        return self.params.get("state")

    def authorize_url(self, quote_via=quote) -> str:
        return f"{self.base}/oauth2/authorize?{urlencode(self.params, quote_via=quote_via)}"


def new_flow(base: str, client: dict, *, redirect_uri: str | None = None, scope: str | None = "openid email profile",
             pkce: bool = True, response_type: str = "code", **extra) -> Flow:
    params = {"response_type": response_type, "client_id": client["ClientId"],
              "redirect_uri": redirect_uri or client["CallbackURLs"][0], "state": new_state()}
    if scope is not None:
        params["scope"] = scope
    verifier = None
    if pkce:
        verifier, challenge = pkce_pair()
        params.update(code_challenge=challenge, code_challenge_method="S256")
    for k, v in extra.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = v
    return Flow(base=base, client=client, params=params, verifier=verifier)


def location(resp: requests.Response) -> str:
    assert resp.status_code in REDIRECTS, f"expected a redirect\n{describe(resp)}"
    loc = resp.headers.get("Location")
    assert loc, f"redirect without Location\n{describe(resp)}"
    return urljoin(resp.request.url, loc)


def single(qs: dict) -> dict:
    out = {}
    for k, v in qs.items():
        assert len(v) == 1, f"parameter {k!r} repeated: {v!r}"
        out[k] = v[0]
    return out


def callback(resp: requests.Response, redirect_uri: str, fragment: bool = False) -> dict:
    """The parameters of a redirect to `redirect_uri` (query, or fragment)."""
    loc = location(resp)
    cut = "#" if fragment else "?"
    head = loc.split(cut, 1)[0] if cut in loc else loc
    assert head == redirect_uri, f"redirected to {loc!r}, not to {redirect_uri!r}"
    parts = urlsplit(loc)
    return single(parse_qs(parts.fragment if fragment else parts.query, keep_blank_values=True))


def error_callback(resp: requests.Response, flow: Flow) -> dict:
    """An RFC 6749 §4.1.2.1 error redirect carrying `state`; the parameters
    are read from the query, or from the fragment for response_type=token
    (RFC 6749 §4.2.2.1 allows either reading here)."""
    loc = location(resp)
    assert loc.split("?")[0].split("#")[0] == flow.redirect_uri, \
        f"error redirect to {loc!r}, not to {flow.redirect_uri!r}"
    parts = urlsplit(loc)
    params = single(parse_qs(parts.query, keep_blank_values=True))
    if "error" not in params and parts.fragment:
        params = single(parse_qs(parts.fragment, keep_blank_values=True))
    assert "error" in params, f"no error parameter in {loc!r}"
    assert "code" not in params and "access_token" not in params, f"error redirect carries a grant: {loc!r}"
    assert params.get("state") == flow.state, f"state {params.get('state')!r} != {flow.state!r} in {loc!r}"
    return params


def assert_login_redirect(resp: requests.Response, flow: Flow) -> str:
    """302 to `{base}/login` with the same authorize parameters."""
    loc = location(resp)
    parts = urlsplit(loc)
    assert parts.path == urlsplit(flow.base).path + "/login", f"expected the login page, got {loc!r}"
    got = single(parse_qs(parts.query, keep_blank_values=True))
    for k, v in flow.params.items():
        assert got.get(k) == v, f"login redirect lost {k}={v!r}: {got!r}"
    return loc


def assert_error_page(resp: requests.Response, status: int = 400) -> None:
    """An HTML error page, and no redirect at all."""
    assert resp.status_code == status, f"expected HTTP {status} page\n{describe(resp)}"
    assert "Location" not in resp.headers, f"error page with a Location header\n{describe(resp)}"
    assert resp.headers.get("Content-Type", "").startswith("text/html"), describe(resp)


def open_login(browser: Browser, flow: Flow) -> Page:
    loc = assert_login_redirect(browser.get(flow.authorize_url()), flow)
    return browser.page(loc)


def submit_login(browser: Browser, page: Page, username: str, password: str) -> requests.Response:
    return browser.submit(page, page.form_with("password"), username=username, password=password)


def login(browser: Browser, flow: Flow, username: str, password: str = PASSWORD) -> requests.Response:
    return submit_login(browser, open_login(browser, flow), username, password)


def code_from(resp: requests.Response, flow: Flow) -> str:
    params = callback(resp, flow.redirect_uri)
    assert "error" not in params, f"error instead of a code: {params!r}"
    assert params.get("state") == flow.state, f"state {params.get('state')!r} != {flow.state!r}"
    assert params.get("code"), f"no code: {params!r}"
    return params["code"]


def sign_in_code(browser: Browser, flow: Flow, user: dict) -> str:
    return code_from(login(browser, flow, user["username"], user["password"]), flow)


def token_post(base: str, data: dict, auth=None, host: str | None = None, endpoint: str | None = None):
    url = f"{base}/oauth2/token"
    headers = {}
    if host is not None:
        ep = urlsplit(endpoint)
        url = urlunsplit((ep.scheme, ep.netloc, "/oauth2/token", "", ""))
        headers["Host"] = host
    return requests.post(url, data=data, auth=auth, headers=headers, timeout=20)


def exchange(flow: Flow, code: str, *, verifier: str | None = "flow", redirect_uri: str | None = None,
             client: dict | None = None, auth: str = "auto", **kw) -> requests.Response:
    """POST grant_type=authorization_code; public clients send client_id,
    clients with a secret use client_secret_basic (or `auth="post"`)."""
    client = client or flow.client
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri or flow.redirect_uri}
    if verifier == "flow":
        verifier = flow.verifier
    if verifier is not None:
        data["code_verifier"] = verifier
    basic = None
    if client.get("ClientSecret") and auth in ("auto", "basic"):
        basic = (client["ClientId"], client["ClientSecret"])
    else:
        data["client_id"] = client["ClientId"]
        if client.get("ClientSecret") and auth == "post":
            data["client_secret"] = client["ClientSecret"]
    return token_post(flow.base, data, auth=basic, **kw)


def tokens_ok(resp: requests.Response) -> dict:
    assert resp.status_code == 200, describe(resp)
    assert resp.headers.get("Cache-Control") == "no-store", resp.headers
    body = resp.json()
    assert body.get("token_type") == "Bearer" and body.get("expires_in") == 3600, body
    assert body.get("access_token"), body
    return body


def grant_error(resp: requests.Response, error: str, status: int = 400) -> dict:
    assert resp.status_code == status, f"expected HTTP {status} {error}\n{describe(resp)}"
    body = resp.json()
    assert body.get("error") == error, f"expected {error}, got {body!r}"
    return body


def at_hash(access_token: str) -> str:
    return b64url(hashlib.sha256(access_token.encode()).digest()[:16])


def refresh(base: str, client: dict, refresh_token: str) -> requests.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    auth = None
    if client.get("ClientSecret"):
        auth = (client["ClientId"], client["ClientSecret"])
    else:
        data["client_id"] = client["ClientId"]
    return token_post(base, data, auth=auth)


def userinfo(base: str, access_token: str, method: str = "GET") -> requests.Response:
    return requests.request(method, f"{base}/oauth2/userInfo", headers={"Authorization": f"Bearer {access_token}"},
                            timeout=20)


def assert_invalid_token(resp: requests.Response) -> None:
    assert resp.status_code == 401, describe(resp)
    www = resp.headers.get("WWW-Authenticate", "")
    assert www.startswith("Bearer") and 'error="invalid_token"' in www, f"WWW-Authenticate: {www!r}"


def is_redirect_to_callback(resp: requests.Response) -> bool:
    loc = resp.headers.get("Location", "")
    return resp.status_code in REDIRECTS and ("code=" in loc or "access_token=" in loc)


# =========================================================================
# fixtures
# =========================================================================

def oauth_client(idp, pool_id: str, *, flows=("code",), scopes=ALL_SCOPES, callbacks=(CB, CB2), logouts=(LOGOUT,),
                 enabled: bool = True, **kwargs) -> dict:
    client = new_app_client(idp, pool_id, AllowedOAuthFlows=list(flows), AllowedOAuthScopes=list(scopes),
                            AllowedOAuthFlowsUserPoolClient=enabled, CallbackURLs=list(callbacks),
                            LogoutURLs=list(logouts), SupportedIdentityProviders=["COGNITO"], **kwargs)
    client.setdefault("CallbackURLs", list(callbacks))
    return client


@pytest.fixture(scope="module")
def env(auth_server, auth_idp) -> Env:
    """One pool (email auto-verified and the recovery channel, MFA optional
    with SMS, email and TOTP)
    and its app clients:
      public        code flow, no secret, all standard scopes, CB and CB2
      public2       the same settings (codes must not cross clients)
      confidential  code flow with a secret, CONF_CB
      implicit      implicit flow only, IMPLICIT_CB
      limited       code flow, scopes openid + email only
      no_oauth      callbacks and flows but AllowedOAuthFlowsUserPoolClient=false"""
    idp = auth_idp
    pool = new_pool(idp, AutoVerifiedAttributes=["email"],
                    AccountRecoverySetting={"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]})
    idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OPTIONAL",
                                 SmsMfaConfiguration={"SmsAuthenticationMessage": "Hosted MFA code {####}"},
                                 SoftwareTokenMfaConfiguration={"Enabled": True},
                                 EmailMfaConfiguration={"Message": "Hosted email MFA code {####}",
                                                        "Subject": "Hosted MFA"})
    clients = {
        "public": oauth_client(idp, pool),
        "public2": oauth_client(idp, pool),
        "confidential": oauth_client(idp, pool, GenerateSecret=True, callbacks=(CONF_CB,)),
        "implicit": oauth_client(idp, pool, flows=("implicit",), scopes=["openid", "email", "profile"],
                                 callbacks=(IMPLICIT_CB,)),
        "limited": oauth_client(idp, pool, scopes=["openid", "email"]),
        "no_oauth": oauth_client(idp, pool, enabled=False),
    }
    return Env(endpoint=auth_server.endpoint, pool=pool, base=f"{auth_server.endpoint}/{pool}", clients=clients)


def make_user(idp, env: Env, **extra) -> dict:
    """A CONFIRMED user with verified email and phone, a name and a family name."""
    attrs = {"email": new_email("h"), "email_verified": "true", "phone_number": new_phone(),
             "phone_number_verified": "true", "name": "Hosted Tester", "family_name": "Tester"}
    attrs.update(extra)
    return admin_user(idp, env.pool, attrs=attrs)


@pytest.fixture(scope="module")
def alice(auth_idp, env) -> dict:
    """A user no test signs out, locks or changes."""
    return make_user(auth_idp, env)


@pytest.fixture
def user(auth_idp, env) -> dict:
    """A fresh user per test (for tests that sign out, lock or change it)."""
    return make_user(auth_idp, env)


def public_flow(env: Env, **kw) -> Flow:
    return new_flow(env.base, env.clients["public"], **kw)


def verified_tokens(env: Env, flow: Flow, body: dict) -> tuple[dict | None, dict]:
    """(ID token claims or None, access token claims), both verified against the JWKS."""
    jwks = env.jwks()
    access = verify_jwt(body["access_token"], jwks, env.base)
    id_claims = None
    if "id_token" in body:
        id_claims = verify_jwt(body["id_token"], jwks, env.base, audience=flow.client["ClientId"])
    return id_claims, access


# =========================================================================
# discovery
# =========================================================================

def test_discovery_document(env):
    resp = requests.get(f"{env.base}/.well-known/openid-configuration", timeout=20)
    assert resp.status_code == 200, describe(resp)
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    doc = resp.json()
    issuer = env.base
    assert doc["issuer"] == issuer
    assert doc["authorization_endpoint"] == f"{issuer}/oauth2/authorize"
    assert doc["token_endpoint"] == f"{issuer}/oauth2/token"
    assert doc["userinfo_endpoint"] == f"{issuer}/oauth2/userInfo"
    assert doc["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert doc["end_session_endpoint"] == f"{issuer}/logout"
    assert doc["revocation_endpoint"] == f"{issuer}/oauth2/revoke"
    assert sorted(doc["response_types_supported"]) == ["code", "token"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "refresh_token"} <= set(doc["grant_types_supported"]), doc
    assert {"openid", "email", "phone", "profile"} <= set(doc["scopes_supported"]), doc
    assert "public" in doc["subject_types_supported"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert sorted(doc["token_endpoint_auth_methods_supported"]) == \
        ["client_secret_basic", "client_secret_post", "none"]


def test_discovery_endpoints_answer(env):
    doc = requests.get(f"{env.base}/.well-known/openid-configuration", timeout=20).json()
    jwks = requests.get(doc["jwks_uri"], timeout=20)
    assert jwks.status_code == 200, describe(jwks)
    keys = jwks.json()["keys"]
    assert keys and all(k["kty"] == "RSA" and k["alg"] == "RS256" and k["use"] == "sig" and k["kid"]
                        for k in keys), keys
    assert_error_page(requests.get(doc["authorization_endpoint"], allow_redirects=False, timeout=20))
    token = requests.post(doc["token_endpoint"], data={"grant_type": "urn:nope"}, timeout=20)
    grant_error(token, "unsupported_grant_type")
    info = requests.get(doc["userinfo_endpoint"], headers={"Authorization": "Bearer not-a-token"}, timeout=20)
    assert_invalid_token(info)
    revoke = requests.post(doc["revocation_endpoint"], data={"client_id": env.clients["public"]["ClientId"]},
                           timeout=20)
    grant_error(revoke, "invalid_request")
    logout = requests.get(doc["end_session_endpoint"], params={"client_id": env.clients["public"]["ClientId"],
                                                               "logout_uri": "https://evil.example.test/"},
                          allow_redirects=False, timeout=20)
    assert_error_page(logout)


def test_discovery_of_unknown_pool_is_404(env):
    resp = requests.get(f"{env.endpoint}/us-east-1_NoSuchPool/.well-known/openid-configuration", timeout=20)
    assert resp.status_code == 404, describe(resp)


# =========================================================================
# authorization code + PKCE
# =========================================================================

def test_authorize_without_session_redirects_to_login(env):
    flow = public_flow(env, nonce="n-" + uuid.uuid4().hex, login_hint="someone")
    assert_login_redirect(Browser(env.endpoint).get(flow.authorize_url()), flow)


def test_login_page_form(env):
    flow = public_flow(env, nonce="n-1")
    browser = Browser(env.endpoint)
    page = open_login(browser, flow)
    form = page.form_with("password")
    assert form.method == "post"
    assert urlsplit(page.action_url(form)).path == f"/{env.pool}/login", form.action
    assert {"username", "password", "_csrf"} <= form.names()
    assert form.field("_csrf")["type"] == "hidden" and len(form.field("_csrf")["value"]) >= 16
    assert form.field("password")["type"] == "password"
    hidden = form.hidden()
    for k in ("client_id", "redirect_uri", "state", "scope", "code_challenge", "code_challenge_method", "nonce"):
        assert hidden.get(k) == flow.params[k], f"hidden {k}: {hidden.get(k)!r} != {flow.params[k]!r}"
    assert any(b["type"] == "submit" and "Sign in" in b["text"] for b in form.buttons), form.buttons
    assert browser.cookie("cirrus_csrf"), "GET login did not set the cirrus_csrf cookie"


def test_code_flow_with_pkce_end_to_end(env, alice):
    nonce = "nonce-" + uuid.uuid4().hex
    flow = public_flow(env, scope="openid email profile", nonce=nonce)
    browser = Browser(env.endpoint)
    code = sign_in_code(browser, flow, alice)
    body = tokens_ok(exchange(flow, code))
    assert body.get("refresh_token") and body.get("id_token"), body
    id_claims, access = verified_tokens(env, flow, body)

    assert jwt_header_alg(body["id_token"]) == jwt_header_alg(body["access_token"]) == "RS256"
    assert id_claims["token_use"] == "id" and id_claims["sub"] == alice["sub"]
    assert id_claims["cognito:username"] == alice["username"]
    assert id_claims["nonce"] == nonce
    assert id_claims["at_hash"] == at_hash(body["access_token"])
    assert isinstance(id_claims["auth_time"], int) and id_claims["auth_time"] <= id_claims["iat"]

    assert access["token_use"] == "access" and access["sub"] == alice["sub"]
    assert access["client_id"] == flow.client["ClientId"] and access["username"] == alice["username"]
    assert sorted(access["scope"].split()) == ["email", "openid", "profile"], access["scope"]
    assert access["version"] == 2
    assert "aud" not in access


def jwt_header_alg(token: str) -> str:
    import jwt
    return jwt.get_unverified_header(token)["alg"]


def test_refresh_token_grant_keeps_the_granted_scopes(env, alice):
    flow = public_flow(env, scope="openid phone")
    body = tokens_ok(exchange(flow, sign_in_code(Browser(env.endpoint), flow, alice)))
    again = tokens_ok(refresh(env.base, flow.client, body["refresh_token"]))
    assert "refresh_token" not in again, again
    id_claims, access = verified_tokens(env, flow, again)
    assert access["sub"] == alice["sub"] and access["token_use"] == "access"
    assert sorted(access["scope"].split()) == ["openid", "phone"], access["scope"]
    assert id_claims is not None and id_claims["sub"] == alice["sub"]


def test_no_id_token_without_openid(env, alice):
    flow = public_flow(env, scope="aws.cognito.signin.user.admin")
    body = tokens_ok(exchange(flow, sign_in_code(Browser(env.endpoint), flow, alice)))
    assert "id_token" not in body, body
    assert body.get("refresh_token"), body
    access = verify_jwt(body["access_token"], env.jwks(), env.base)
    assert access["scope"] == "aws.cognito.signin.user.admin"


def test_no_scope_grants_all_allowed_scopes(env, alice):
    flow = new_flow(env.base, env.clients["limited"], scope=None)
    body = tokens_ok(exchange(flow, sign_in_code(Browser(env.endpoint), flow, alice)))
    access = verify_jwt(body["access_token"], env.jwks(), env.base)
    assert sorted(access["scope"].split()) == ["email", "openid"], access["scope"]


def test_identity_provider_cognito_goes_to_the_login_page(env):
    flow = public_flow(env, identity_provider="COGNITO")
    assert_login_redirect(Browser(env.endpoint).get(flow.authorize_url()), flow)


def test_callback_with_a_query_keeps_it(env, auth_idp, alice):
    """RFC 6749 §3.1.2: the redirection URI's query is retained, the
    response parameters are added to it."""
    registered = "https://q.example.test/cb?tenant=a%20b&x=1"
    client = oauth_client(auth_idp, env.pool, callbacks=(registered,))
    flow = new_flow(env.base, client, redirect_uri=registered, prompt="none")
    resp = Browser(env.endpoint).get(flow.authorize_url())
    loc = location(resp)
    q = single(parse_qs(urlsplit(loc).query))
    assert loc.startswith("https://q.example.test/cb?"), loc
    assert q.get("tenant") == "a b" and q.get("x") == "1" and q.get("error") == "login_required", loc
    assert q.get("state") == flow.state, loc
    flow = new_flow(env.base, client, redirect_uri=registered)
    resp = login(Browser(env.endpoint), flow, alice["username"], alice["password"])
    loc = location(resp)
    q = single(parse_qs(urlsplit(loc).query))
    assert loc.startswith("https://q.example.test/cb?"), loc
    assert q.get("tenant") == "a b" and q.get("x") == "1" and q.get("code") and q.get("state") == flow.state, loc
    tokens_ok(exchange(flow, q["code"]))


def test_plus_encoded_query_and_second_callback(env, alice):
    """`scope=openid+email` (application/x-www-form-urlencoded, as Python
    and many libraries encode) and the client's second CallbackURL."""
    flow = public_flow(env, scope="openid email", redirect_uri=CB2)
    browser = Browser(env.endpoint)
    resp = browser.get(flow.authorize_url(quote_via=lambda s, *a: quote(s, safe="").replace("%20", "+")))
    assert "+" in resp.request.url
    page = browser.page(assert_login_redirect(resp, flow))
    code = code_from(submit_login(browser, page, alice["username"], alice["password"]), flow)
    body = tokens_ok(exchange(flow, code))
    access = verify_jwt(body["access_token"], env.jwks(), env.base)
    assert sorted(access["scope"].split()) == ["email", "openid"]


# =========================================================================
# the hosted-UI session
# =========================================================================

def test_session_signs_into_another_client_without_login(env, alice):
    browser = Browser(env.endpoint)
    first = public_flow(env)
    first_tokens = tokens_ok(exchange(first, sign_in_code(browser, first, alice)))
    login_time = verified_tokens(env, first, first_tokens)[0]["auth_time"]
    conf = env.clients["confidential"]
    for auth in ("basic", "post"):
        flow = new_flow(env.base, conf, pkce=False, nonce="sso-" + auth)
        code = code_from(browser.get(flow.authorize_url()), flow)
        body = tokens_ok(exchange(flow, code, auth=auth))
        id_claims, access = verified_tokens(env, flow, body)
        assert id_claims["sub"] == access["sub"] == alice["sub"]
        assert id_claims["aud"] == conf["ClientId"] and access["client_id"] == conf["ClientId"]
        assert id_claims["nonce"] == "sso-" + auth
        assert id_claims["auth_time"] == access["auth_time"] == login_time, "auth_time is the hosted-UI login time"


def test_session_of_one_pool_is_worthless_in_another(env, auth_idp, alice):
    other = new_pool(auth_idp)
    client = oauth_client(auth_idp, other)
    browser = Browser(env.endpoint)
    sign_in_code(browser, public_flow(env), alice)
    thief = Browser(env.endpoint)
    thief.jar = {(h, f"/{other}", n): v for (h, p, n), v in browser.jar.items()}
    flow = new_flow(f"{env.endpoint}/{other}", client)
    assert_login_redirect(thief.get(flow.authorize_url()), flow)
    flow = new_flow(f"{env.endpoint}/{other}", client, prompt="none")
    assert error_callback(thief.get(flow.authorize_url()), flow)["error"] == "login_required"


@pytest.mark.parametrize("change", ["disable", "delete"])
def test_session_of_a_disabled_or_deleted_user_gives_no_tokens(env, auth_idp, user, change):
    browser = Browser(env.endpoint)
    sign_in_code(browser, public_flow(env), user)
    if change == "disable":
        auth_idp.admin_disable_user(UserPoolId=env.pool, Username=user["username"])
    else:
        auth_idp.admin_delete_user(UserPoolId=env.pool, Username=user["username"])
    flow = public_flow(env)
    resp = browser.get(flow.authorize_url())
    if is_redirect_to_callback(resp):
        code = callback(resp, flow.redirect_uri)["code"]
        got = exchange(flow, code)
        assert got.status_code == 400, f"tokens for a {change}d user from an old session\n{describe(got)}"
    else:
        assert "code=" not in resp.headers.get("Location", ""), describe(resp)


def test_authorize_without_state_has_no_state(env, alice):
    browser = Browser(env.endpoint)
    sign_in_code(browser, public_flow(env), alice)
    flow = public_flow(env, state=None)
    params = callback(browser.get(flow.authorize_url()), flow.redirect_uri)
    assert params.get("code") and "state" not in params, params


def test_prompt_login_forces_the_login_page(env, alice):
    browser = Browser(env.endpoint)
    sign_in_code(browser, public_flow(env), alice)
    flow = public_flow(env, prompt="login")
    page = browser.page(assert_login_redirect(browser.get(flow.authorize_url()), flow))
    code_from(submit_login(browser, page, alice["username"], alice["password"]), flow)


def test_prompt_none(env, alice):
    flow = public_flow(env, prompt="none")
    params = error_callback(Browser(env.endpoint).get(flow.authorize_url()), flow)
    assert params["error"] == "login_required", params
    browser = Browser(env.endpoint)
    sign_in_code(browser, public_flow(env), alice)
    flow = public_flow(env, prompt="none")
    code = code_from(browser.get(flow.authorize_url()), flow)
    tokens_ok(exchange(flow, code))


def test_session_cookie_flags(env, alice):
    browser = Browser(env.endpoint)
    resp = login(browser, public_flow(env), alice["username"], alice["password"])
    assert is_redirect_to_callback(resp), describe(resp)
    cookies = [c for c in set_cookies(resp) if c["name"] == "cirrus_session"]
    assert len(cookies) == 1, describe(resp)
    attrs = cookies[0]["attrs"]
    assert "httponly" in attrs, cookies[0]["raw"]
    assert attrs.get("samesite", "").lower() == "lax", cookies[0]["raw"]
    assert attrs.get("path") == f"/{env.pool}", cookies[0]["raw"]
    assert len(cookies[0]["value"]) >= 20, "session cookie value looks guessable"


# =========================================================================
# authorization endpoint errors
# =========================================================================

@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example.test/callback",
    CB + "/extra",                                  # registered URI as a prefix
    CB[:-3],                                        # a prefix of the registered URI
    "https://app.example.test/Callback",            # case
    "http://localhost:8124/cb",                     # another port
    CB2.replace("localhost", "127.0.0.1"),          # another loopback spelling
    CB + "?next=https://evil.example.test",
])
def test_unregistered_redirect_uri_gets_an_error_page(env, redirect_uri):
    flow = public_flow(env, redirect_uri=redirect_uri)
    assert_error_page(Browser(env.endpoint).get(flow.authorize_url()))


def test_unregistered_redirect_uri_refused_even_with_a_session(env, alice):
    browser = Browser(env.endpoint)
    sign_in_code(browser, public_flow(env), alice)
    flow = public_flow(env, redirect_uri="https://evil.example.test/callback")
    assert_error_page(browser.get(flow.authorize_url()))
    flow = public_flow(env, redirect_uri="https://evil.example.test/callback", prompt="none")
    assert_error_page(browser.get(flow.authorize_url()))


@pytest.mark.parametrize("client_id", ["nosuchclient1234567890abcd", None])
def test_unknown_or_missing_client_gets_an_error_page(env, client_id):
    flow = public_flow(env, client_id=client_id)
    assert_error_page(Browser(env.endpoint).get(flow.authorize_url()))


def test_client_of_another_pool_gets_an_error_page(env, auth_idp):
    other = new_pool(auth_idp)
    client = oauth_client(auth_idp, other)
    flow = new_flow(env.base, client)
    assert_error_page(Browser(env.endpoint).get(flow.authorize_url()))


def test_public_client_must_send_a_code_challenge(env):
    flow = public_flow(env, pkce=False)
    params = error_callback(Browser(env.endpoint).get(flow.authorize_url()), flow)
    assert params["error"] == "invalid_request", params


def test_plain_code_challenge_method_is_refused(env):
    verifier = secrets.token_urlsafe(48)
    flow = public_flow(env, pkce=False, code_challenge=verifier, code_challenge_method="plain")
    params = error_callback(Browser(env.endpoint).get(flow.authorize_url()), flow)
    assert params["error"] == "invalid_request", params


def test_scope_not_allowed_for_the_client(env):
    for scope in ("openid phone", "openid orders/read", "openid email nonsense"):
        flow = new_flow(env.base, env.clients["limited"], scope=scope)
        params = error_callback(Browser(env.endpoint).get(flow.authorize_url()), flow)
        assert params["error"] == "invalid_scope", (scope, params)


@pytest.mark.parametrize("response_type", ["id_token", "code token", "bogus"])
def test_unsupported_response_type(env, response_type):
    flow = public_flow(env, response_type=response_type)
    params = error_callback(Browser(env.endpoint).get(flow.authorize_url()), flow)
    assert params["error"] in ("unsupported_response_type", "invalid_request"), params


def test_client_without_oauth_enabled_is_unauthorized(env):
    flow = new_flow(env.base, env.clients["no_oauth"])
    params = error_callback(Browser(env.endpoint).get(flow.authorize_url()), flow)
    assert params["error"] == "unauthorized_client", params


def test_response_type_token_refused_for_a_code_only_client(env):
    flow = public_flow(env, response_type="token", pkce=False)
    params = error_callback(Browser(env.endpoint).get(flow.authorize_url()), flow)
    assert params["error"] in ("unauthorized_client", "unsupported_response_type"), params


def test_response_type_code_refused_for_an_implicit_only_client(env):
    flow = new_flow(env.base, env.clients["implicit"], scope="openid")
    params = error_callback(Browser(env.endpoint).get(flow.authorize_url()), flow)
    assert params["error"] in ("unauthorized_client", "unsupported_response_type"), params


def test_implicit_flow_returns_tokens_in_the_fragment(env, alice):
    client = env.clients["implicit"]
    nonce = "imp-" + uuid.uuid4().hex
    flow = new_flow(env.base, client, response_type="token", pkce=False, scope="openid email", nonce=nonce)
    resp = login(Browser(env.endpoint), flow, alice["username"], alice["password"])
    loc = location(resp)
    assert "?" not in loc.split("#")[0], f"implicit grant leaked into the query: {loc!r}"
    frag = callback(resp, flow.redirect_uri, fragment=True)
    assert frag.get("state") == flow.state, frag
    assert frag.get("token_type") == "Bearer" and frag.get("expires_in") == "3600", frag
    assert "refresh_token" not in frag and "code" not in frag, frag      # RFC 6749 §4.2.2
    jwks = env.jwks()
    access = verify_jwt(frag["access_token"], jwks, env.base)
    assert access["client_id"] == client["ClientId"] and access["token_use"] == "access"
    assert sorted(access["scope"].split()) == ["email", "openid"]
    id_claims = verify_jwt(frag["id_token"], jwks, env.base, audience=client["ClientId"])
    assert id_claims["sub"] == alice["sub"] and id_claims["nonce"] == nonce
    if "at_hash" in id_claims:
        assert id_claims["at_hash"] == at_hash(frag["access_token"])


# =========================================================================
# token endpoint errors for authorization codes
# =========================================================================

def test_wrong_or_missing_code_verifier_is_invalid_grant(env, alice):
    flow = public_flow(env)
    code = sign_in_code(Browser(env.endpoint), flow, alice)
    grant_error(exchange(flow, code, verifier=pkce_pair()[0]), "invalid_grant")
    flow = public_flow(env)
    code = sign_in_code(Browser(env.endpoint), flow, alice)
    grant_error(exchange(flow, code, verifier=None), "invalid_grant")
    # the challenge itself is not a valid verifier
    flow = public_flow(env)
    code = sign_in_code(Browser(env.endpoint), flow, alice)
    grant_error(exchange(flow, code, verifier=flow.params["code_challenge"]), "invalid_grant")


def test_reused_code_is_refused_and_revokes_what_it_gave(env, alice):
    flow = public_flow(env, scope="openid email")
    code = sign_in_code(Browser(env.endpoint), flow, alice)
    first = tokens_ok(exchange(flow, code))
    assert userinfo(env.base, first["access_token"]).status_code == 200
    grant_error(exchange(flow, code), "invalid_grant")
    grant_error(refresh(env.base, flow.client, first["refresh_token"]), "invalid_grant")
    assert_invalid_token(userinfo(env.base, first["access_token"]))


def test_code_is_bound_to_its_client(env, alice):
    flow = public_flow(env)
    code = sign_in_code(Browser(env.endpoint), flow, alice)
    grant_error(exchange(flow, code, client=env.clients["public2"]), "invalid_grant")
    grant_error(exchange(flow, code, client=env.clients["confidential"]), "invalid_grant")


def test_code_is_bound_to_its_redirect_uri(env, alice):
    flow = public_flow(env, redirect_uri=CB)
    code = sign_in_code(Browser(env.endpoint), flow, alice)
    grant_error(exchange(flow, code, redirect_uri=CB2), "invalid_grant")
    flow = public_flow(env, redirect_uri=CB)
    code = sign_in_code(Browser(env.endpoint), flow, alice)
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": flow.verifier,
            "client_id": flow.client["ClientId"]}
    # RFC 6749 §4.1.3: redirect_uri is REQUIRED when it was in the authorization request
    resp = token_post(env.base, data)
    assert resp.status_code == 400 and resp.json()["error"] in ("invalid_request", "invalid_grant"), describe(resp)


def test_concurrent_exchanges_of_one_code_give_one_set_of_tokens(env, alice):
    from concurrent.futures import ThreadPoolExecutor
    flow = public_flow(env)
    code = sign_in_code(Browser(env.endpoint), flow, alice)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: exchange(flow, code), range(6)))
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) <= 1, f"one code exchanged {statuses.count(200)} times: {statuses}"
    assert all(r.json().get("error") == "invalid_grant" for r in results if r.status_code != 200), \
        [r.text for r in results]


def test_unknown_code_is_invalid_grant(env):
    flow = public_flow(env)
    grant_error(exchange(flow, "not-a-code-" + uuid.uuid4().hex), "invalid_grant")


def test_confidential_client_must_authenticate(env, alice):
    browser = Browser(env.endpoint)
    flow = new_flow(env.base, env.clients["confidential"], pkce=False)
    code = sign_in_code(browser, flow, alice)
    conf = env.clients["confidential"]
    wrong = token_post(env.base, {"grant_type": "authorization_code", "code": code, "redirect_uri": CONF_CB},
                       auth=(conf["ClientId"], "not-the-secret"))
    grant_error(wrong, "invalid_client", status=401)
    assert wrong.headers.get("WWW-Authenticate", "").startswith("Basic"), wrong.headers
    anonymous = token_post(env.base, {"grant_type": "authorization_code", "code": code, "redirect_uri": CONF_CB,
                                      "client_id": conf["ClientId"]})
    grant_error(anonymous, "invalid_client", status=401)


def test_unknown_grant_type(env):
    resp = token_post(env.base, {"grant_type": "password", "username": "x", "password": "y",
                                 "client_id": env.clients["public"]["ClientId"]})
    grant_error(resp, "unsupported_grant_type")


# =========================================================================
# the login page: CSRF, errors, headers, escaping
# =========================================================================

@pytest.mark.parametrize("how", ["missing", "wrong", "no_cookie"])
def test_login_post_without_valid_csrf_is_403(env, alice, how):
    flow = public_flow(env)
    browser = Browser(env.endpoint)
    page = open_login(browser, flow)
    form = page.form_with("password")
    data = form.values(username=alice["username"], password=alice["password"])
    sender = browser
    if how == "missing":
        data.pop("_csrf")
    elif how == "wrong":
        data["_csrf"] = secrets.token_urlsafe(24)
    else:
        sender = Browser(env.endpoint)         # the right token, but not the browser its cookie went to
    resp = sender.post(page.action_url(form), data)
    assert resp.status_code == 403, describe(resp)
    assert "Location" not in resp.headers, describe(resp)
    assert not [c for c in set_cookies(resp) if c["name"] == "cirrus_session" and c["value"]], describe(resp)
    # and the browser is not signed in: authorize still asks for the login page
    assert_login_redirect(sender.get(flow.authorize_url()), flow)


def test_wrong_password_shows_an_alert(env, alice):
    flow = public_flow(env)
    browser = Browser(env.endpoint)
    page = open_login(browser, flow)
    resp = submit_login(browser, page, alice["username"], OTHER_PASSWORD)
    assert resp.status_code not in REDIRECTS and "Location" not in resp.headers, describe(resp)
    assert not [c for c in set_cookies(resp) if c["name"] == "cirrus_session" and c["value"]], describe(resp)
    again = Page(resp, page.action_url(page.form_with("password")))
    assert any("Incorrect username or password" in a for a in again.alerts), (again.alerts, resp.text[:1500])
    # the page still carries the authorize request: a second try succeeds
    code_from(submit_login(browser, again, alice["username"], alice["password"]), flow)


@pytest.mark.parametrize("field,value", [
    ("redirect_uri", "https://evil.example.test/callback"),
    ("client_id", "nosuchclient1234567890abcd"),
    ("scope", "openid phone"),
    ("code_challenge_method", "plain"),
])
def test_login_post_revalidates_the_authorize_parameters(env, alice, field, value):
    """The hidden fields come back from the browser: a tampered one must not
    yield a code (nor a redirect to an unregistered URI)."""
    flow = new_flow(env.base, env.clients["limited"], scope="openid email")
    browser = Browser(env.endpoint)
    page = open_login(browser, flow)
    form = page.form_with("password")
    data = form.values(username=alice["username"], password=alice["password"], **{field: value})
    resp = browser.post(page.action_url(form), data)
    loc = resp.headers.get("Location", "")
    assert not loc.startswith("https://evil.example.test"), f"redirected to an unregistered URI\n{describe(resp)}"
    assert "code=" not in loc and "access_token=" not in loc, f"a code despite {field}={value!r}\n{describe(resp)}"


def test_unknown_user_shows_the_same_alert(env, auth_idp):
    """With PreventUserExistenceErrors=ENABLED (LEGACY clients may say "User does not exist.")."""
    client = oauth_client(auth_idp, env.pool, PreventUserExistenceErrors="ENABLED")
    flow = new_flow(env.base, client)
    browser = Browser(env.endpoint)
    resp = submit_login(browser, open_login(browser, flow), "nobody-" + uuid.uuid4().hex[:8], PASSWORD)
    assert resp.status_code not in REDIRECTS, describe(resp)
    assert any("Incorrect username or password" in a for a in Page(resp, flow.base).alerts), resp.text[:1500]


def test_login_page_security_headers(env):
    flow = public_flow(env)
    browser = Browser(env.endpoint)
    resp = browser.get(assert_login_redirect(browser.get(flow.authorize_url()), flow))
    assert resp.status_code == 200, describe(resp)
    h = resp.headers
    assert h.get("Content-Type", "").startswith("text/html"), h
    csp = h.get("Content-Security-Policy", "")
    assert "frame-ancestors" in csp, f"CSP without frame-ancestors: {csp!r}"
    fa = csp.split("frame-ancestors", 1)[1].split(";")[0]
    xfo = h.get("X-Frame-Options", "").upper()
    assert xfo in ("DENY", "SAMEORIGIN") or fa.strip() in ("'none'", "'self'"), (xfo, csp)
    assert "no-store" in h.get("Cache-Control", ""), h.get("Cache-Control")


def test_reflected_parameters_are_escaped(env):
    evil = '"><script>alert(1)</script>'
    flow = public_flow(env, state=evil, nonce=evil, login_hint=evil)
    browser = Browser(env.endpoint)
    resp = browser.get(assert_login_redirect(browser.get(flow.authorize_url()), flow))
    assert resp.status_code == 200, describe(resp)
    assert "<script>alert(1)" not in resp.text, "authorize parameters reflected unescaped into the login page"
    page = Page(resp, resp.request.url)
    assert page.form_with("password").hidden().get("state") == evil
    failed = submit_login(browser, page, evil, "x")
    assert "<script>alert(1)" not in failed.text, "username reflected unescaped into the error page"


# =========================================================================
# userInfo
# =========================================================================

@pytest.mark.parametrize("scope,present,absent", [
    ("openid email", {"email", "email_verified"}, {"phone_number", "phone_number_verified", "name", "family_name"}),
    ("openid phone", {"phone_number", "phone_number_verified"}, {"email", "email_verified", "name", "family_name"}),
    ("openid profile", {"name", "family_name"}, {"email", "email_verified", "phone_number",
                                                  "phone_number_verified"}),
    ("openid", set(), {"email", "email_verified", "phone_number", "name", "family_name"}),
])
def test_userinfo_attributes_follow_the_scopes(env, auth_idp, alice, scope, present, absent):
    flow = public_flow(env, scope=scope)
    body = tokens_ok(exchange(flow, sign_in_code(Browser(env.endpoint), flow, alice)))
    resp = userinfo(env.base, body["access_token"])
    assert resp.status_code == 200, describe(resp)
    info = resp.json()
    assert info["sub"] == alice["sub"] and info["username"] == alice["username"], info
    assert present <= set(info), f"{scope}: missing {present - set(info)} in {info}"
    assert not (absent & set(info)), f"{scope}: unexpected {absent & set(info)} in {info}"
    attrs = alice["attrs"]
    for name in present:
        if name.endswith("_verified"):
            assert info[name] in (True, "true"), info
        else:
            assert info[name] == attrs[name], info


def test_userinfo_by_post(env, alice):
    flow = public_flow(env, scope="openid email")
    body = tokens_ok(exchange(flow, sign_in_code(Browser(env.endpoint), flow, alice)))
    resp = userinfo(env.base, body["access_token"], method="POST")
    assert resp.status_code == 200 and resp.json()["email"] == alice["attrs"]["email"], describe(resp)


def test_userinfo_refuses_bad_tokens(env, alice):
    assert_invalid_token(userinfo(env.base, "garbage"))
    flow = public_flow(env, scope="openid email")
    body = tokens_ok(exchange(flow, sign_in_code(Browser(env.endpoint), flow, alice)))
    token = body["access_token"]
    head, payload, sig = token.split(".")
    tampered = ".".join([head, payload, sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")])
    assert_invalid_token(userinfo(env.base, tampered))
    assert_invalid_token(userinfo(env.base, body["id_token"]))        # an ID token is not an access token


def test_userinfo_without_credentials_per_rfc_6750(env):
    """RFC 6750 §3.1: a request without credentials gets a 401 challenge
    without an error code (or, as Cognito documents, 400 invalid_request);
    invalid_request goes with 400."""
    missing = requests.get(f"{env.base}/oauth2/userInfo", timeout=20)
    www = missing.headers.get("WWW-Authenticate", "")
    assert www.startswith("Bearer"), describe(missing)
    assert (missing.status_code == 401 and "error=" not in www) or \
        (missing.status_code == 400 and 'error="invalid_request"' in www), describe(missing)


def test_userinfo_refuses_a_token_of_another_pool(env, auth_idp):
    other = new_pool(auth_idp)
    client = oauth_client(auth_idp, other)
    stranger = admin_user(auth_idp, other)
    base = f"{env.endpoint}/{other}"
    flow = new_flow(base, client, scope="openid email")
    body = tokens_ok(exchange(flow, sign_in_code(Browser(env.endpoint), flow, stranger)))
    assert userinfo(base, body["access_token"]).status_code == 200
    assert_invalid_token(userinfo(env.base, body["access_token"]))


def test_userinfo_after_global_sign_out(env, auth_idp_public, user):
    flow = public_flow(env, scope="openid email aws.cognito.signin.user.admin")
    body = tokens_ok(exchange(flow, sign_in_code(Browser(env.endpoint), flow, user)))
    assert userinfo(env.base, body["access_token"]).status_code == 200
    auth_idp_public.global_sign_out(AccessToken=body["access_token"])
    assert_invalid_token(userinfo(env.base, body["access_token"]))
    grant_error(refresh(env.base, flow.client, body["refresh_token"]), "invalid_grant")


def test_userinfo_after_admin_global_sign_out(env, auth_idp, user):
    flow = public_flow(env, scope="openid email")
    body = tokens_ok(exchange(flow, sign_in_code(Browser(env.endpoint), flow, user)))
    auth_idp.admin_user_global_sign_out(UserPoolId=env.pool, Username=user["username"])
    assert_invalid_token(userinfo(env.base, body["access_token"]))


def test_userinfo_requires_the_openid_scope(env, alice):
    flow = public_flow(env, scope="aws.cognito.signin.user.admin")
    body = tokens_ok(exchange(flow, sign_in_code(Browser(env.endpoint), flow, alice)))
    resp = userinfo(env.base, body["access_token"])
    assert resp.status_code in (401, 403), describe(resp)
    www = resp.headers.get("WWW-Authenticate", "")
    assert www.startswith("Bearer") and ('error="insufficient_scope"' in www or 'error="invalid_token"' in www), www
    assert "email" not in resp.text


def test_client_credentials_token_is_not_accepted_by_userinfo(env, auth_idp):
    pool = new_pool(auth_idp)
    auth_idp.create_resource_server(UserPoolId=pool, Identifier="orders", Name="orders",
                                    Scopes=[{"ScopeName": "read", "ScopeDescription": "read"}])
    m2m = auth_idp.create_user_pool_client(UserPoolId=pool, ClientName=unique("m2m"), GenerateSecret=True,
                                           AllowedOAuthFlows=["client_credentials"],
                                           AllowedOAuthFlowsUserPoolClient=True,
                                           AllowedOAuthScopes=["orders/read"])["UserPoolClient"]
    base = f"{env.endpoint}/{pool}"
    token = tokens_ok(token_post(base, {"grant_type": "client_credentials"},
                                 auth=(m2m["ClientId"], m2m["ClientSecret"])))["access_token"]
    resp = userinfo(base, token)
    assert resp.status_code in (401, 403), describe(resp)


# =========================================================================
# logout
# =========================================================================

def test_logout_clears_the_session(env, alice):
    browser = Browser(env.endpoint)
    sign_in_code(browser, public_flow(env), alice)
    sso = public_flow(env)
    code_from(browser.get(sso.authorize_url()), sso)                     # the session works
    resp = browser.get(f"{env.base}/logout?" + urlencode({"client_id": env.clients["public"]["ClientId"],
                                                          "logout_uri": LOGOUT}))
    assert location(resp) == LOGOUT, describe(resp)
    cleared = [c for c in set_cookies(resp) if c["name"] == "cirrus_session"]
    assert cleared and all(cookie_cleared(c) for c in cleared), f"session cookie not cleared\n{describe(resp)}"
    assert all(c["attrs"].get("path") == f"/{env.pool}" for c in cleared), \
        f"the clearing cookie must have the session cookie's Path\n{describe(resp)}"
    after = public_flow(env)
    assert_login_redirect(browser.get(after.authorize_url()), after)


def test_logout_ends_the_session_on_the_server(env, alice):
    """A copy of the session cookie kept from before the logout is worthless afterwards."""
    browser = Browser(env.endpoint)
    sign_in_code(browser, public_flow(env), alice)
    saved = dict(browser.jar)
    browser.get(f"{env.base}/logout?" + urlencode({"client_id": env.clients["public"]["ClientId"],
                                                   "logout_uri": LOGOUT}))
    thief = Browser(env.endpoint)
    thief.jar = saved
    flow = public_flow(env)
    assert_login_redirect(thief.get(flow.authorize_url()), flow)


@pytest.mark.parametrize("logout_uri", [
    "https://evil.example.test/",
    LOGOUT + "/more",
    LOGOUT[:-1],
    CB,                                              # a callback URL is not a logout URL
])
def test_logout_with_an_unregistered_uri_is_400(env, alice, logout_uri):
    browser = Browser(env.endpoint)
    sign_in_code(browser, public_flow(env), alice)
    resp = browser.get(f"{env.base}/logout?" + urlencode({"client_id": env.clients["public"]["ClientId"],
                                                          "logout_uri": logout_uri}))
    assert_error_page(resp)


def test_logout_with_unknown_client_is_400(env):
    resp = Browser(env.endpoint).get(f"{env.base}/logout?" + urlencode({"client_id": "nosuchclient0000000000000",
                                                                        "logout_uri": LOGOUT}))
    assert_error_page(resp)


def test_logout_then_login_again(env, alice):
    browser = Browser(env.endpoint)
    sign_in_code(browser, public_flow(env), alice)
    client = env.clients["public"]
    relogin = public_flow(env, scope="openid email")
    resp = browser.get(f"{env.base}/logout?" + urlencode(relogin.params, quote_via=quote))
    login_url = assert_login_redirect(resp, relogin)
    assert any(c["name"] == "cirrus_session" and cookie_cleared(c) for c in set_cookies(resp)), describe(resp)
    # no session any more
    flow = public_flow(env)
    assert_login_redirect(browser.get(flow.authorize_url()), flow)
    # the login page it sent us to completes the authorize request given to logout
    page = browser.page(login_url)
    code = code_from(submit_login(browser, page, alice["username"], alice["password"]), relogin)
    tokens_ok(exchange(relogin, code))
    # with a bad redirect_uri: no redirect
    bad = browser.get(f"{env.base}/logout?" + urlencode({"client_id": client["ClientId"],
                                                         "redirect_uri": "https://evil.example.test/",
                                                         "response_type": "code"}))
    assert_error_page(bad)


# =========================================================================
# hosted UI: sign-up, confirmation, forgotten password, challenges
# =========================================================================

def hosted_page(browser: Browser, flow: Flow, name: str, **extra) -> Page:
    query = dict(flow.params, **extra)
    return browser.page(f"{flow.base}/{name}?{urlencode(query, quote_via=quote)}")


def assert_goes_to(resp: requests.Response, flow: Flow, name: str, **expect) -> str:
    loc = location(resp)
    parts = urlsplit(loc)
    assert parts.path == urlsplit(flow.base).path + "/" + name, f"expected {name}, got {loc!r}"
    q = single(parse_qs(parts.query, keep_blank_values=True))
    assert q.get("client_id") == flow.params["client_id"], f"{name}: client_id not carried: {loc!r}"
    assert q.get("state") == flow.state, f"{name}: state not carried: {loc!r}"
    for k, v in expect.items():
        assert q.get(k) == v, f"{name}: {k}={q.get(k)!r}, expected {v!r}"
    return loc


def test_sign_up_confirm_and_sign_in(env, auth_idp, smtp_sink):
    flow = public_flow(env, scope="openid email")
    browser = Browser(env.endpoint)
    page = hosted_page(browser, flow, "signup")
    form = page.form_with("password")
    assert {"username", "password", "email", "_csrf"} <= form.names()
    username, addr = unique("hosted"), new_email("s")
    mark = smtp_sink.mark()
    resp = browser.submit(page, form, username=username, password=PASSWORD, email=addr)
    confirm_url = assert_goes_to(resp, flow, "confirm", username=username)
    assert auth_idp.admin_get_user(UserPoolId=env.pool, Username=username)["UserStatus"] == "UNCONFIRMED"
    code = extract_code(smtp_sink.wait_for(addr, since=mark).text)

    page = browser.page(confirm_url)
    form = page.form_with("code")
    bad = browser.submit(page, form, code=f"{(int(code) + 1) % 1_000_000:06d}")
    assert bad.status_code not in REDIRECTS, describe(bad)
    assert Page(bad, page.url).alerts, f"a wrong code shows no alert: {bad.text[:1000]!r}"
    page = browser.page(confirm_url)
    resp = browser.submit(page, page.form_with("code"), code=code)
    login_url = assert_goes_to(resp, flow, "login")
    assert auth_idp.admin_get_user(UserPoolId=env.pool, Username=username)["UserStatus"] == "CONFIRMED"

    page = browser.page(login_url)
    code = code_from(submit_login(browser, page, username, PASSWORD), flow)
    body = tokens_ok(exchange(flow, code))
    id_claims, _ = verified_tokens(env, flow, body)
    assert id_claims["cognito:username"] == username and id_claims["email"] == addr
    assert id_claims["email_verified"] is True


def test_sign_up_refuses_a_weak_password(env, auth_idp):
    flow = public_flow(env)
    browser = Browser(env.endpoint)
    page = hosted_page(browser, flow, "signup")
    username = unique("weak")
    resp = browser.submit(page, page.form_with("password"), username=username, password="weak",
                          email=new_email("w"))
    assert resp.status_code not in REDIRECTS, describe(resp)
    assert Page(resp, page.url).alerts, resp.text[:1000]
    expect_error("UserNotFoundException", auth_idp.admin_get_user, UserPoolId=env.pool, Username=username)


def test_confirmation_code_can_be_resent(env, auth_idp, smtp_sink):
    flow = public_flow(env)
    browser = Browser(env.endpoint)
    page = hosted_page(browser, flow, "signup")
    username, addr = unique("resend"), new_email("r")
    mark = smtp_sink.mark()
    confirm_url = assert_goes_to(browser.submit(page, page.form_with("password"), username=username,
                                                password=PASSWORD, email=addr), flow, "confirm")
    smtp_sink.wait_for(addr, since=mark)
    page = browser.page(confirm_url)
    resend = next((f for f in page.forms if urlsplit(page.action_url(f)).path.endswith("/resend")), None)
    assert resend is not None, f"no resend form on the confirm page: {[f.action for f in page.forms]}"
    mark = smtp_sink.mark()
    resp = browser.submit(page, resend)
    assert resp.status_code in (200, *REDIRECTS), describe(resp)
    code = extract_code(smtp_sink.wait_for(addr, since=mark).text)
    page = browser.page(confirm_url)
    assert_goes_to(browser.submit(page, page.form_with("code"), code=code), flow, "login")
    assert auth_idp.admin_get_user(UserPoolId=env.pool, Username=username)["UserStatus"] == "CONFIRMED"


def test_forgot_password(env, auth_idp, smtp_sink, user):
    flow = public_flow(env)
    browser = Browser(env.endpoint)
    page = hosted_page(browser, flow, "forgotPassword")
    mark = smtp_sink.mark()
    resp = browser.submit(page, page.form_with("username"), username=user["username"])
    reset_url = assert_goes_to(resp, flow, "confirmForgotPassword", username=user["username"])
    code = extract_code(smtp_sink.wait_for(user["attrs"]["email"], since=mark).text)
    page = browser.page(reset_url)
    form = page.form_with("code")
    assert {"code", "password", "_csrf"} <= form.names()
    wrong = browser.submit(page, form, code=f"{(int(code) + 1) % 1_000_000:06d}", password=NEW_PASSWORD)
    assert wrong.status_code not in REDIRECTS and Page(wrong, page.url).alerts, describe(wrong)
    page = browser.page(reset_url)
    resp = browser.submit(page, page.form_with("code"), code=code, password=NEW_PASSWORD)
    login_url = assert_goes_to(resp, flow, "login")
    code = code_from(submit_login(browser, browser.page(login_url), user["username"], NEW_PASSWORD), flow)
    tokens_ok(exchange(flow, code))
    with pytest.raises(ClientError):
        password_auth(auth_idp, env.clients["public"], user["username"], user["password"])


def test_new_password_required_for_an_invited_user(env, auth_idp):
    username = unique("invited")
    auth_idp.admin_create_user(UserPoolId=env.pool, Username=username, TemporaryPassword=TEMP_PASSWORD,
                               MessageAction="SUPPRESS",
                               UserAttributes=attrs_list({"email": new_email("i"), "email_verified": "true"}))
    flow = public_flow(env)
    browser = Browser(env.endpoint)
    resp = login(browser, flow, username, TEMP_PASSWORD)
    assert resp.status_code == 200, describe(resp)
    page = Page(resp, resp.request.url)
    form = page.form_with("new_password")
    assert urlsplit(page.action_url(form)).path == f"/{env.pool}/challenge", form.action
    weak = browser.submit(page, form, new_password="weak")
    assert weak.status_code not in REDIRECTS and Page(weak, page.url).alerts, describe(weak)
    page = Page(weak, page.url)
    code = code_from(browser.submit(page, page.form_with("new_password"), new_password=NEW_PASSWORD), flow)
    tokens_ok(exchange(flow, code))
    assert auth_idp.admin_get_user(UserPoolId=env.pool, Username=username)["UserStatus"] == "CONFIRMED"
    assert password_auth(auth_idp, env.clients["public"], username, NEW_PASSWORD)["AuthenticationResult"]


def mfa_page(browser: Browser, flow: Flow, user: dict) -> Page:
    resp = login(browser, flow, user["username"], user["password"])
    assert resp.status_code == 200, f"expected an MFA page\n{describe(resp)}"
    page = Page(resp, resp.request.url)
    form = page.form_with("code")
    assert urlsplit(page.action_url(form)).path == f"/{env_pool(flow)}/challenge", form.action
    assert "_csrf" in form.names()
    return page


def env_pool(flow: Flow) -> str:
    return urlsplit(flow.base).path.strip("/")


def test_sms_mfa_code_page(env, auth_idp, sms_sink, user):
    auth_idp.admin_set_user_mfa_preference(UserPoolId=env.pool, Username=user["username"],
                                           SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
    flow = public_flow(env)
    browser = Browser(env.endpoint)
    mark = sms_sink.mark()
    page = mfa_page(browser, flow, user)
    code = extract_code(sms_sink.wait_for(user["attrs"]["phone_number"], since=mark).message)
    wrong = browser.submit(page, page.form_with("code"), code=f"{(int(code) + 1) % 1_000_000:06d}")
    assert wrong.status_code not in REDIRECTS and Page(wrong, page.url).alerts, describe(wrong)
    page = Page(wrong, page.url)
    code = code_from(browser.submit(page, page.form_with("code"), code=code), flow)
    body = tokens_ok(exchange(flow, code))
    assert verified_tokens(env, flow, body)[1]["sub"] == user["sub"]


def test_challenge_page_username_is_bound_to_the_sign_in(env, auth_idp, sms_sink, user, alice):
    """The challenge form carries the username in a hidden field: changing
    it to another user's must not sign that user in."""
    auth_idp.admin_set_user_mfa_preference(UserPoolId=env.pool, Username=user["username"],
                                           SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
    flow = public_flow(env)
    browser = Browser(env.endpoint)
    mark = sms_sink.mark()
    page = mfa_page(browser, flow, user)
    code = extract_code(sms_sink.wait_for(user["attrs"]["phone_number"], since=mark).message)
    resp = browser.submit(page, page.form_with("code"), code=code, username=alice["username"])
    if is_redirect_to_callback(resp):
        body = tokens_ok(exchange(flow, callback(resp, flow.redirect_uri)["code"]))
        sub = verified_tokens(env, flow, body)[1]["sub"]
        assert sub == user["sub"] and sub != alice["sub"], "signed in as the user named in the tampered field"


def test_email_mfa_code_page(env, auth_idp, smtp_sink, user):
    auth_idp.admin_set_user_mfa_preference(UserPoolId=env.pool, Username=user["username"],
                                           EmailMfaSettings={"Enabled": True, "PreferredMfa": True})
    flow = public_flow(env)
    browser = Browser(env.endpoint)
    mark = smtp_sink.mark()
    page = mfa_page(browser, flow, user)
    code = extract_code(smtp_sink.wait_for(user["attrs"]["email"], since=mark).text)
    code = code_from(browser.submit(page, page.form_with("code"), code=code), flow)
    tokens_ok(exchange(flow, code))


def test_select_mfa_type_page(env, auth_idp, smtp_sink, user):
    auth_idp.admin_set_user_mfa_preference(UserPoolId=env.pool, Username=user["username"],
                                           SMSMfaSettings={"Enabled": True, "PreferredMfa": False},
                                           EmailMfaSettings={"Enabled": True, "PreferredMfa": False})
    flow = public_flow(env)
    browser = Browser(env.endpoint)
    resp = login(browser, flow, user["username"], user["password"])
    assert resp.status_code == 200, describe(resp)
    page = Page(resp, resp.request.url)
    form = page.form_with("answer")
    choices = {f["value"] for f in form.fields if f["name"] == "answer" and f["type"] == "radio"}
    assert {"SMS_MFA", "EMAIL_OTP"} <= choices, choices
    mark = smtp_sink.mark()
    resp = browser.submit(page, form, answer="EMAIL_OTP")
    assert resp.status_code == 200, describe(resp)
    page = Page(resp, page.url)
    code = extract_code(smtp_sink.wait_for(user["attrs"]["email"], since=mark).text)
    code = code_from(browser.submit(page, page.form_with("code"), code=code), flow)
    tokens_ok(exchange(flow, code))


@pytest.fixture(scope="module")
def totp_env(auth_server, auth_idp) -> Env:
    """A pool with MFA required, TOTP only: a first sign-in meets MFA_SETUP."""
    pool = new_pool(auth_idp)
    auth_idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="ON",
                                      SoftwareTokenMfaConfiguration={"Enabled": True})
    client = oauth_client(auth_idp, pool)
    return Env(endpoint=auth_server.endpoint, pool=pool, base=f"{auth_server.endpoint}/{pool}",
               clients={"public": client})


def test_mfa_setup_page_registers_totp(totp_env, auth_idp):
    user = admin_user(auth_idp, totp_env.pool)
    flow = public_flow(totp_env)
    browser = Browser(totp_env.endpoint)
    resp = login(browser, flow, user["username"], user["password"])
    assert resp.status_code == 200, describe(resp)
    page = Page(resp, resp.request.url)
    secret = (page.by_id("totp-secret") or "").replace(" ", "")
    assert len(secret) >= 16, f"no TOTP secret in #totp-secret: {resp.text[:1500]!r}"
    assert any(s.get("role") == "img" and s.get("aria-label") == "QR code" for s in page.svgs), page.svgs
    totp = Totp(secret)
    code = code_from(browser.submit(page, page.form_with("code"), code=totp.fresh()), flow)
    tokens_ok(exchange(flow, code))
    # from now on the sign-in asks for a TOTP code
    browser = Browser(totp_env.endpoint)
    flow = public_flow(totp_env)
    page = mfa_page(browser, flow, user)
    code = code_from(browser.submit(page, page.form_with("code"), code=totp.fresh()), flow)
    tokens_ok(exchange(flow, code))


# =========================================================================
# lockout shared with InitiateAuth (FREE_FAILURES = 5, then 1 s doubling)
# =========================================================================

def test_lockout_from_the_api_applies_to_the_hosted_ui(env, auth_idp, user):
    client = env.clients["public"]
    flow = public_flow(env)
    browser = Browser(env.endpoint)
    page = open_login(browser, flow)              # ready before the lock starts

    def api_failure():
        with pytest.raises(ClientError) as ei:
            password_auth(auth_idp, client, user["username"], OTHER_PASSWORD)
        assert ei.value.response["Error"]["Code"] == "NotAuthorizedException"

    for _ in range(5):
        api_failure()
    time.sleep(1.1)
    api_failure()                                  # 6th: locked for 2 s
    resp = submit_login(browser, page, user["username"], user["password"])
    assert not is_redirect_to_callback(resp), f"hosted UI signed in a locked user\n{describe(resp)}"
    assert Page(resp, page.url).alerts, resp.text[:1000]
    time.sleep(2.2)
    code_from(login(browser, flow, user["username"], user["password"]), flow)


def test_lockout_from_the_hosted_ui_applies_to_the_api(env, auth_idp, user):
    client = env.clients["public"]
    flow = public_flow(env)
    browser = Browser(env.endpoint)
    page = open_login(browser, flow)

    def ui_failure(page: Page) -> Page:
        resp = submit_login(browser, page, user["username"], OTHER_PASSWORD)
        assert resp.status_code not in REDIRECTS and Page(resp, page.url).alerts, describe(resp)
        return Page(resp, page.url)

    for _ in range(5):
        page = ui_failure(page)
    time.sleep(1.1)
    ui_failure(page)                               # 6th: locked for 2 s
    with pytest.raises(ClientError) as ei:
        password_auth(auth_idp, client, user["username"], user["password"])
    assert ei.value.response["Error"]["Code"] == "NotAuthorizedException"
    assert "Password attempts exceeded" in ei.value.response["Error"]["Message"], ei.value.response["Error"]
    time.sleep(2.2)
    assert password_auth(auth_idp, client, user["username"], user["password"])["AuthenticationResult"]


# =========================================================================
# domains
# =========================================================================

def new_domain() -> str:
    return f"cirrus-{uuid.uuid4().hex[:10]}"


def test_domain_lifecycle(auth_idp):
    pool = new_pool(auth_idp)
    prefix = new_domain()
    auth_idp.create_user_pool_domain(Domain=prefix, UserPoolId=pool)
    desc = auth_idp.describe_user_pool_domain(Domain=prefix)["DomainDescription"]
    assert desc["UserPoolId"] == pool and desc["Domain"] == prefix and desc["Status"] == "ACTIVE", desc
    assert auth_idp.describe_user_pool(UserPoolId=pool)["UserPool"].get("Domain") == prefix
    auth_idp.delete_user_pool_domain(Domain=prefix, UserPoolId=pool)
    assert auth_idp.describe_user_pool_domain(Domain=prefix)["DomainDescription"] == {}
    assert "Domain" not in auth_idp.describe_user_pool(UserPoolId=pool)["UserPool"]


def test_update_domain_and_custom_domain(auth_idp, auth_server):
    pool = new_pool(auth_idp)
    prefix = new_domain()
    assert auth_idp.create_user_pool_domain(Domain=prefix, UserPoolId=pool)["ManagedLoginVersion"] == 1
    assert auth_idp.update_user_pool_domain(Domain=prefix, UserPoolId=pool,
                                            ManagedLoginVersion=2)["ManagedLoginVersion"] == 2
    assert auth_idp.describe_user_pool_domain(Domain=prefix)["DomainDescription"]["ManagedLoginVersion"] == 2
    # A custom domain beside the prefix: a full host name, served on that host.
    custom = f"{new_domain()}.login.example.test"
    cert = "arn:aws:acm:us-east-1:000000000000:certificate/abc"
    made = auth_idp.create_user_pool_domain(Domain=custom, UserPoolId=pool, CustomDomainConfig={"CertificateArn": cert})
    assert made["CloudFrontDomain"] == custom
    desc = auth_idp.describe_user_pool_domain(Domain=custom)["DomainDescription"]
    assert desc["CustomDomainConfig"]["CertificateArn"] == cert
    assert auth_idp.describe_user_pool(UserPoolId=pool)["UserPool"]["CustomDomain"] == custom
    expect_error("InvalidParameterException", auth_idp.create_user_pool_domain, Domain=f"x{custom}",
                 UserPoolId=pool, CustomDomainConfig={"CertificateArn": cert})      # one custom domain per pool
    disc = requests.get(f"{auth_server.endpoint}/.well-known/openid-configuration", headers={"Host": custom})
    assert disc.status_code == 200 and disc.json()["issuer"].endswith(f"/{pool}"), disc.text
    expect_error("InvalidParameterException", auth_idp.update_user_pool_domain, Domain=new_domain(),
                 UserPoolId=pool, ManagedLoginVersion=2)


def test_describe_unknown_domain_is_empty(auth_idp):
    assert auth_idp.describe_user_pool_domain(Domain=new_domain())["DomainDescription"] == {}


def test_domain_errors(auth_idp):
    pool, other = new_pool(auth_idp), new_pool(auth_idp)
    prefix = new_domain()
    auth_idp.create_user_pool_domain(Domain=prefix, UserPoolId=pool)
    expect_error("InvalidParameterException", auth_idp.create_user_pool_domain, Domain=prefix, UserPoolId=other)
    for bad in ("Upper-Case", "under_score", "-leading", "trailing-"):
        expect_error("InvalidParameterException", auth_idp.create_user_pool_domain, Domain=bad, UserPoolId=other)
    expect_error("ResourceNotFoundException", auth_idp.create_user_pool_domain, Domain=new_domain(),
                 UserPoolId="us-east-1_NoSuchPool")
    with pytest.raises(ClientError):
        auth_idp.delete_user_pool_domain(Domain=prefix, UserPoolId=other)    # not that pool's domain
    assert auth_idp.describe_user_pool_domain(Domain=prefix)["DomainDescription"]["UserPoolId"] == pool


@pytest.fixture(scope="module")
def domain(auth_idp, env) -> str:
    prefix = new_domain()
    auth_idp.create_user_pool_domain(Domain=prefix, UserPoolId=env.pool)
    return prefix


def test_domain_host_serves_the_pool_at_the_root(env, alice, domain):
    port = urlsplit(env.endpoint).port
    host = f"{domain}.auth.localhost:{port}"
    browser = Browser(env.endpoint, host=host)
    disc = browser.get(f"{env.endpoint}/.well-known/openid-configuration")
    assert disc.status_code == 200, describe(disc)
    doc = disc.json()
    assert doc["issuer"] == env.base, "the issuer must stay the one in the tokens"
    assert doc["authorization_endpoint"].endswith("/oauth2/authorize"), doc
    jwks = browser.get(doc["jwks_uri"])
    assert jwks.status_code == 200 and jwks.json()["keys"], describe(jwks)

    flow = new_flow(env.endpoint, env.clients["public"], nonce="dom")
    resp = browser.get(flow.authorize_url())
    page = browser.page(assert_login_redirect(resp, flow))
    code = code_from(submit_login(browser, page, alice["username"], alice["password"]), flow)
    body = tokens_ok(exchange(flow, code, host=host, endpoint=env.endpoint))
    id_claims = verify_jwt(body["id_token"], env.jwks(), env.base, audience=env.clients["public"]["ClientId"])
    assert id_claims["sub"] == alice["sub"] and id_claims["nonce"] == "dom"


@pytest.mark.parametrize("with_port", [True, False])
def test_domain_host_with_or_without_port(env, domain, with_port):
    """A Host header carries no port on the default ports (80, 443)."""
    host = f"{domain}.auth.localhost" + (f":{urlsplit(env.endpoint).port}" if with_port else "")
    disc = requests.get(f"{env.endpoint}/.well-known/openid-configuration", headers={"Host": host}, timeout=20)
    assert disc.status_code == 200 and disc.json()["issuer"] == env.base, describe(disc)
    flow = new_flow(env.endpoint, env.clients["public"])
    assert_login_redirect(Browser(env.endpoint, host=host).get(flow.authorize_url()), flow)


def test_domain_host_single_sign_on(env, alice, domain):
    host = f"{domain}.auth.localhost:{urlsplit(env.endpoint).port}"
    browser = Browser(env.endpoint, host=host)
    flow = new_flow(env.endpoint, env.clients["public"])
    sign_in_code(browser, flow, alice)
    flow = new_flow(env.endpoint, env.clients["public2"])
    code_from(browser.get(flow.authorize_url()), flow)


def test_unknown_or_deleted_domain_host_is_not_served(env, auth_idp):
    pool = new_pool(auth_idp)
    client = oauth_client(auth_idp, pool)
    prefix = new_domain()
    auth_idp.create_user_pool_domain(Domain=prefix, UserPoolId=pool)
    host = f"{prefix}.auth.localhost:{urlsplit(env.endpoint).port}"
    flow = new_flow(env.endpoint, client)
    assert_login_redirect(Browser(env.endpoint, host=host).get(flow.authorize_url()), flow)
    auth_idp.delete_user_pool_domain(Domain=prefix, UserPoolId=pool)
    gone = requests.get(f"{env.endpoint}/.well-known/openid-configuration", headers={"Host": host}, timeout=20)
    assert gone.status_code == 404, describe(gone)
    gone = Browser(env.endpoint, host=host).get(flow.authorize_url())
    assert gone.status_code >= 400 and "Location" not in gone.headers, describe(gone)
    unknown = requests.get(f"{env.endpoint}/.well-known/openid-configuration",
                           headers={"Host": f"{new_domain()}.auth.localhost:{urlsplit(env.endpoint).port}"},
                           timeout=20)
    assert unknown.status_code == 404, describe(unknown)


# =========================================================================
# UI customization
# =========================================================================

CSS_ALL = ".banner-customizable { background-color: #0a1b2c; }"
CSS_CLIENT = ".banner-customizable { background-color: #3d4e5f; }"


@pytest.fixture(scope="module")
def branded(auth_server, auth_idp) -> Env:
    pool = new_pool(auth_idp)
    return Env(endpoint=auth_server.endpoint, pool=pool, base=f"{auth_server.endpoint}/{pool}",
               clients={"plain": oauth_client(auth_idp, pool), "special": oauth_client(auth_idp, pool)})


def test_ui_customization_set_and_get(auth_idp, branded):
    pool = branded.pool
    special = branded.clients["special"]["ClientId"]
    got = auth_idp.set_ui_customization(UserPoolId=pool, ClientId="ALL", CSS=CSS_ALL, ImageFile=PNG)
    ui = got["UICustomization"]
    assert ui["UserPoolId"] == pool and ui["ClientId"] == "ALL" and ui["CSS"] == CSS_ALL, ui
    assert ui.get("CSSVersion") and ui.get("ImageUrl"), ui
    assert isinstance(ui.get("CreationDate"), dt.datetime) and isinstance(ui.get("LastModifiedDate"), dt.datetime)
    pool_level = auth_idp.get_ui_customization(UserPoolId=pool)["UICustomization"]
    assert pool_level["CSS"] == CSS_ALL and pool_level["ClientId"] == "ALL", pool_level

    auth_idp.set_ui_customization(UserPoolId=pool, ClientId=special, CSS=CSS_CLIENT)
    mine = auth_idp.get_ui_customization(UserPoolId=pool, ClientId=special)["UICustomization"]
    assert mine["CSS"] == CSS_CLIENT and mine["ClientId"] == special, mine
    fallback = auth_idp.get_ui_customization(UserPoolId=pool,
                                             ClientId=branded.clients["plain"]["ClientId"])["UICustomization"]
    assert fallback["CSS"] == CSS_ALL, fallback

    image = requests.get(pool_level["ImageUrl"], timeout=20)
    assert image.status_code == 200 and image.content == PNG, describe(image)

    expect_error("ResourceNotFoundException", auth_idp.get_ui_customization, UserPoolId="us-east-1_NoSuchPool")
    with pytest.raises(ClientError) as ei:
        auth_idp.set_ui_customization(UserPoolId=pool, ClientId="nosuchclient000000000000000", CSS=CSS_ALL)
    assert ei.value.response["Error"]["Code"] in ("ResourceNotFoundException", "InvalidParameterException")


def page_css(browser: Browser, page: Page) -> str:
    texts = list(page.styles)
    for href in page.stylesheets:
        resp = browser.get(urljoin(page.url, href))
        assert resp.status_code == 200, describe(resp)
        texts.append(resp.text)
    return "\n".join(texts)


def page_images(browser: Browser, page: Page) -> list[bytes]:
    out = []
    for img in page.images:
        src = img.get("src", "")
        if src.startswith("data:"):
            out.append(base64.b64decode(src.split(",", 1)[1]))
        elif src:
            resp = browser.get(urljoin(page.url, src))
            if resp.status_code == 200:
                out.append(resp.content)
    return out


def test_login_page_uses_the_customization(auth_idp, branded):
    pool = branded.pool
    auth_idp.set_ui_customization(UserPoolId=pool, ClientId="ALL", CSS=CSS_ALL, ImageFile=PNG)
    auth_idp.set_ui_customization(UserPoolId=pool, ClientId=branded.clients["special"]["ClientId"],
                                  CSS=CSS_CLIENT, ImageFile=PNG)
    for name, marker, not_marker in (("plain", "#0a1b2c", "#3d4e5f"), ("special", "#3d4e5f", "#0a1b2c")):
        browser = Browser(branded.endpoint)
        page = open_login(browser, new_flow(branded.base, branded.clients[name]))
        css = page_css(browser, page)
        assert marker in css and not_marker not in css, f"{name}: page CSS does not reflect the customization"
        assert PNG in page_images(browser, page), f"{name}: the logo is not on the login page: {page.images}"
