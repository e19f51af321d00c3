"""Regression tests for the federation and OAuth hardening of commit c8d2b4d.

Each group has a positive control beside its refusals, run through the very
same path, so that no refusal passes because the flow was broken anyway.

1. Account pre-hijacking: native usernames `<Provider>_...` (any case) are
   refused by SignUp and AdminCreateUser; a native user made before the
   provider existed under the name the provider's user would get is never
   signed in by the provider; provider names are unique in any case.
2. Clients without COGNITO: no hosted password pages (sign-up, reset, the
   password POST of the login page).
3. Single sign-on only for clients that allow the provider the session came
   from (native session -> external-only client, and the reverse).
4. Federated users have no password: ForgotPassword (API and hosted page),
   AdminSetUserPassword then USER_PASSWORD_AUTH.
5. Codes: only their client can spend them (another client's attempt neither
   spends nor revokes); a global sign-out after the code was issued voids it.
6. Domains: a custom domain may not begin with another pool's prefix domain;
   a prefix domain is always served first.
7. SAML: no unsolicited use of an answer to a request, foreign RelayStates,
   non-UTF-8 declarations and processing instructions, IssueInstant in the
   future; replay keys per pool.

Upstreams: fake_oidc.py (OIDC) and saml_idp.py (pysaml2); the hosted UI is
driven with the Browser of test_oauth_authorize.py. One Cirrus per module
(`auth_server`, delivering mail to an SMTP sink)."""

from __future__ import annotations

import datetime as _dt
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from botocore.exceptions import ClientError

from fake_oidc import FakeOidc
from harness import (PASSWORD, admin_user, attrs_dict, attrs_list, expect_error, fetch_jwks, new_app_client,
                     new_email, new_pool, password_auth, unique, verify_jwt)
from saml_idp import SamlIdp, encode, now_utc
from test_federation_saml import (PROVIDER as SAML_PROVIDER, SpFlow, SpPool, _idp_init_relay_state, _post,
                                  _unsolicited, assert_refused as saml_assert_refused, assert_signed_in,
                                  remember_server)
from test_oauth_authorize import (CB, CB2, REDIRECTS, Browser, Page, assert_login_redirect,
                                  code_from, describe, error_callback, exchange, grant_error, location, new_flow,
                                  open_login, refresh, set_cookies, sign_in_code, tokens_ok, userinfo)

UPSTREAM = "Upstream"
SECOND = "Second"
SCOPES = ["openid", "email", "profile"]
NEW_PASSWORD = "Hardened-Passw0rd!"


# ================================================================ fixtures ====

@dataclass
class HEnv:
    endpoint: str
    pool: str
    base: str
    fake: FakeOidc
    clients: dict = field(default_factory=dict)
    squatters: dict = field(default_factory=dict)     # case -> (native user, the upstream subject it squats)

    @property
    def idpresponse(self) -> str:
        return f"{self.base}/oauth2/idpresponse"


def oauth_client(idp, pool: str, providers, secret: bool = False) -> dict:
    client = new_app_client(idp, pool, GenerateSecret=secret, AllowedOAuthFlows=["code"],
                            AllowedOAuthScopes=SCOPES + ["phone", "aws.cognito.signin.user.admin"],
                            AllowedOAuthFlowsUserPoolClient=True, CallbackURLs=[CB, CB2],
                            SupportedIdentityProviders=list(providers))
    client.setdefault("CallbackURLs", [CB, CB2])
    return client


def oidc_provider(idp, pool: str, name: str, fake: FakeOidc) -> dict:
    return idp.create_identity_provider(
        UserPoolId=pool, ProviderName=name, ProviderType="OIDC",
        ProviderDetails={"client_id": fake.client_id, "client_secret": fake.client_secret,
                         "authorize_scopes": "openid email profile", "oidc_issuer": fake.issuer,
                         "attributes_request_method": "GET"},
        AttributeMapping={"email": "email", "name": "name", "username": "sub"})["IdentityProvider"]


@pytest.fixture(scope="module")
def fake():
    f = FakeOidc(client_id=f"hard-{secrets.token_hex(3)}", client_secret=secrets.token_urlsafe(32)).start()
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture(scope="module")
def henv(auth_server, auth_idp, fake) -> HEnv:
    """One pool: native users squatting the names the Upstream provider's users
    would get (made BEFORE the providers existed), then the OIDC providers
    Upstream and Second (both fake_oidc.py), then the app clients:
      native      COGNITO only          native2   COGNITO only (codes must not cross)
      mixed       COGNITO + Upstream    up_only   Upstream only
      ext_only    Upstream + Second (no COGNITO)
      confidential  COGNITO only, with a secret"""
    idp = auth_idp
    pool = new_pool(idp, AutoVerifiedAttributes=["email"],
                    AccountRecoverySetting={"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]})
    env = HEnv(endpoint=auth_server.endpoint, pool=pool, base=f"{auth_server.endpoint}/{pool}", fake=fake)
    for case, prefix in (("exact", UPSTREAM), ("lower", UPSTREAM.lower())):
        sub = unique(f"squat{case}")
        user = admin_user(idp, pool, username=f"{prefix}_{sub}",
                          attrs={"email": new_email("sq"), "email_verified": "true", "name": "Native Squatter"})
        env.squatters[case] = (user, sub)
    oidc_provider(idp, pool, UPSTREAM, fake)
    oidc_provider(idp, pool, SECOND, fake)
    env.clients = {
        "native": oauth_client(idp, pool, ["COGNITO"]),
        "native2": oauth_client(idp, pool, ["COGNITO"]),
        "mixed": oauth_client(idp, pool, ["COGNITO", UPSTREAM]),
        "up_only": oauth_client(idp, pool, [UPSTREAM]),
        "ext_only": oauth_client(idp, pool, [UPSTREAM, SECOND]),
        "confidential": oauth_client(idp, pool, ["COGNITO"], secret=True),
    }
    return env


def native_user(idp, env: HEnv) -> dict:
    return admin_user(idp, env.pool, attrs={"email": new_email("n"), "email_verified": "true",
                                            "name": "Native Person"})


def user_or_none(idp, pool: str, username: str):
    try:
        return idp.admin_get_user(UserPoolId=pool, Username=username)
    except idp.exceptions.UserNotFoundException:
        return None


def session_set_cookies(resp: requests.Response) -> list:
    """Set-Cookie headers giving cirrus_session a value."""
    return [c["raw"] for c in set_cookies(resp)
            if c["name"] == "cirrus_session" and c["value"] and c["attrs"].get("max-age", "1") != "0"]


def fed_sign_in(browser: Browser, env: HEnv, client: dict, sub: str, provider: str = UPSTREAM,
                claims: dict | None = None, **extra):
    """authorize?identity_provider=<provider> -> fake_oidc's /authorize -> Cirrus
    idpresponse; returns (flow, the idpresponse's response)."""
    env.fake.set("ok", sub=sub, claims=claims if claims is not None else
                 {"email": f"{sub.lower()}@fake.test", "email_verified": True, "name": "Fake Person"})
    flow = new_flow(env.base, client, identity_provider=provider, **extra)
    r = browser.get(flow.authorize_url())
    loc = location(r)
    assert loc.startswith(env.fake.authorize_endpoint + "?"), f"authorize did not go to the provider\n{describe(r)}"
    r = browser.get(loc)
    back = r.headers.get("Location", "")
    assert r.status_code == 302 and back.startswith(env.idpresponse + "?"), (r.status_code, back, r.text[:300])
    return flow, browser.get(back)


def assert_fed_signed_in(env: HEnv, flow, resp: requests.Response, username: str) -> dict:
    """The idpresponse signed `username` in: a code for the app, a session; the code gives its tokens."""
    code = code_from(resp, flow)
    assert session_set_cookies(resp), f"no session cookie after a federated sign-in\n{describe(resp)}"
    body = tokens_ok(exchange(flow, code))
    claims = verify_jwt(body["id_token"], fetch_jwks(env.endpoint, env.pool), env.base,
                        audience=flow.client["ClientId"])
    assert claims["cognito:username"] == username, claims
    return claims


def assert_page_refused(resp: requests.Response, what: str) -> None:
    """A 400 HTML error page: no redirect, no session, an alert."""
    problems = []
    if resp.status_code != 400:
        problems.append(f"HTTP {resp.status_code}, expected 400")
    if "Location" in resp.headers:
        problems.append(f"redirects to {resp.headers['Location']!r}")
    if not resp.headers.get("Content-Type", "").startswith("text/html"):
        problems.append(f"Content-Type {resp.headers.get('Content-Type')!r}")
    if session_set_cookies(resp):
        problems.append(f"sets a session cookie {session_set_cookies(resp)}")
    if 'role="alert"' not in resp.text:
        problems.append('no role="alert" on the page')
    assert not problems, f"{what}: " + "; ".join(problems) + f"\n{describe(resp)}"


# ============================================== 1. account pre-hijacking ====

FEDERATED_NAMES = [f"{UPSTREAM}_{{u}}", "upstream_{u}", "UPSTREAM_{u}", "uPsTrEaM_{u}", f"{SECOND}_{{u}}",
                   "second_{u}"]
FREE_NAMES = ["Upstreamer_{u}", "Upstream-{u}", "x{UPSTREAM}_{u}", "{u}_Upstream_", "Upstream{u}"]


@pytest.mark.parametrize("pattern", FEDERATED_NAMES)
def test_sign_up_refuses_provider_prefixed_names(auth_idp, henv, pattern):
    name = pattern.format(u=uuid.uuid4().hex[:8])
    expect_error("InvalidParameterException", auth_idp.sign_up, ClientId=henv.clients["native"]["ClientId"],
                 Username=name, Password=PASSWORD, UserAttributes=attrs_list({"email": new_email("su")}))
    assert user_or_none(auth_idp, henv.pool, name) is None, f"SignUp made {name}"


@pytest.mark.parametrize("pattern", FEDERATED_NAMES)
def test_admin_create_user_refuses_provider_prefixed_names(auth_idp, henv, pattern):
    name = pattern.format(u=uuid.uuid4().hex[:8])
    expect_error("InvalidParameterException", auth_idp.admin_create_user, UserPoolId=henv.pool, Username=name,
                 MessageAction="SUPPRESS", TemporaryPassword="Temp-Passw0rd!")
    assert user_or_none(auth_idp, henv.pool, name) is None, f"AdminCreateUser made {name}"


def test_names_merely_resembling_a_provider_are_free(auth_idp, henv):
    """Positive control: names that are not `<Provider>_...` are taken by both."""
    for pattern in FREE_NAMES:
        name = pattern.replace("{UPSTREAM}", UPSTREAM).format(u=uuid.uuid4().hex[:8])
        auth_idp.sign_up(ClientId=henv.clients["native"]["ClientId"], Username=name, Password=PASSWORD,
                         UserAttributes=attrs_list({"email": new_email("ok")}))
        assert user_or_none(auth_idp, henv.pool, name) is not None, name
        other = "a" + name
        auth_idp.admin_create_user(UserPoolId=henv.pool, Username=other, MessageAction="SUPPRESS",
                                   TemporaryPassword="Temp-Passw0rd!")
        assert user_or_none(auth_idp, henv.pool, other) is not None, other


def test_provider_prefix_refused_in_every_pool_with_that_provider_only(auth_idp, henv):
    """Positive control across pools: a pool without the provider takes the name."""
    other = new_pool(auth_idp)
    try:
        client = new_app_client(auth_idp, other)
        name = f"{UPSTREAM}_{uuid.uuid4().hex[:8]}"
        auth_idp.sign_up(ClientId=client["ClientId"], Username=name, Password=PASSWORD)
        auth_idp.admin_create_user(UserPoolId=other, Username=name + "x", MessageAction="SUPPRESS",
                                   TemporaryPassword="Temp-Passw0rd!")
    finally:
        auth_idp.delete_user_pool(UserPoolId=other)


def test_federated_sign_in_positive_control(auth_idp, henv):
    """A subject nobody squats signs in through Upstream (the flow the refusal below takes)."""
    sub = unique("fresh")
    browser = Browser(henv.endpoint)
    flow, resp = fed_sign_in(browser, henv, henv.clients["mixed"], sub)
    assert_fed_signed_in(henv, flow, resp, f"{UPSTREAM}_{sub}")
    user = auth_idp.admin_get_user(UserPoolId=henv.pool, Username=f"{UPSTREAM}_{sub}")
    assert user["UserStatus"] == "EXTERNAL_PROVIDER", user["UserStatus"]


@pytest.mark.parametrize("case", ["exact", "lower"])
def test_native_user_with_the_federated_name_is_not_taken_over(auth_idp, henv, case):
    """A native user named `Upstream_<sub>` (or `upstream_<sub>`: the pool is
    case-insensitive) made before the provider existed: Upstream
    authenticating <sub> gets an error page, no session, and the native user
    is left exactly as it was."""
    native, sub = henv.squatters[case]
    before = auth_idp.admin_get_user(UserPoolId=henv.pool, Username=native["username"])
    browser = Browser(henv.endpoint)
    flow, resp = fed_sign_in(browser, henv, henv.clients["mixed"], sub,
                             claims={"email": "attacker@evil.test", "email_verified": True, "name": "Attacker"})
    who = ""
    if resp.status_code in REDIRECTS and "code=" in resp.headers.get("Location", ""):
        try:
            claims = assert_fed_signed_in(henv, flow, resp, native["username"])
            who = f" SIGNED IN AS {claims['cognito:username']} sub {claims['sub']} (native sub {native['sub']})"
        except AssertionError as e:
            who = f" (code: {e})"
    assert_page_refused(resp, f"Upstream subject {sub} vs native {native['username']}{who}")
    assert browser.cookie("cirrus_session") is None, "the browser holds a hosted-UI session"
    after = auth_idp.admin_get_user(UserPoolId=henv.pool, Username=native["username"])
    assert attrs_dict(after["UserAttributes"]) == attrs_dict(before["UserAttributes"]), \
        (attrs_dict(before["UserAttributes"]), attrs_dict(after["UserAttributes"]))
    assert after["UserStatus"] == before["UserStatus"] == "CONFIRMED", after["UserStatus"]
    assert after["UserLastModifiedDate"] == before["UserLastModifiedDate"], (before, after)
    # The native account itself still works with its password.
    assert password_auth(auth_idp, henv.clients["native"], native["username"], native["password"])[
        "AuthenticationResult"]["AccessToken"]


def test_provider_names_unique_in_any_case(auth_idp, henv, fake):
    for name in (UPSTREAM, UPSTREAM.lower(), UPSTREAM.upper(), "uPSTREAM", SECOND.lower()):
        expect_error("DuplicateProviderException", oidc_provider, auth_idp, henv.pool, name, fake)
    names = sorted(p["ProviderName"] for p in
                   auth_idp.list_identity_providers(UserPoolId=henv.pool, MaxResults=60)["Providers"])
    assert names == sorted([UPSTREAM, SECOND]), names
    # Positive control: another name is taken (and removed again).
    third = "Third" + uuid.uuid4().hex[:6]
    assert oidc_provider(auth_idp, henv.pool, third, fake)["ProviderName"] == third
    auth_idp.delete_identity_provider(UserPoolId=henv.pool, ProviderName=third)


# ======================================= 2. hosted pages need COGNITO ====

def hosted_get(browser: Browser, flow, name: str) -> requests.Response:
    return browser.get(f"{flow.base}/{name}?{urlencode(flow.params)}")


def csrf_token(browser: Browser, env: HEnv) -> str:
    """The browser's CSRF token, from the login page of a COGNITO client (the
    token is the browser's, not the page's)."""
    page = open_login(browser, new_flow(env.base, env.clients["native"]))
    return page.form_with("password").field("_csrf")["value"]


@pytest.mark.parametrize("name", ["signup", "forgotPassword", "confirmForgotPassword", "confirm"])
def test_password_pages_refused_without_cognito(henv, name):
    browser = Browser(henv.endpoint)
    resp = hosted_get(browser, new_flow(henv.base, henv.clients["up_only"]), name)
    assert_page_refused(resp, f"GET /{name} for a client without COGNITO")
    # Positive control: the same page for a client with COGNITO.
    ok = hosted_get(browser, new_flow(henv.base, henv.clients["mixed"]), name)
    assert ok.status_code == 200 and not session_set_cookies(ok), describe(ok)


def test_login_page_without_cognito_offers_only_providers(henv):
    browser = Browser(henv.endpoint)
    flow = new_flow(henv.base, henv.clients["ext_only"])
    resp = hosted_get(browser, flow, "login")
    assert resp.status_code in (200, 400), describe(resp)
    if resp.status_code == 200:
        page = Page(resp, resp.request.url)
        assert not any("password" in f.names() for f in page.forms), \
            f"a password form for a client without COGNITO: {[sorted(f.names()) for f in page.forms]}"
        hrefs = [h for h in page.links if "identity_provider=" in h]
        assert any(f"identity_provider={UPSTREAM}" in h for h in hrefs) and \
            any(f"identity_provider={SECOND}" in h for h in hrefs), page.links


@pytest.mark.parametrize("client", ["up_only", "ext_only"])
def test_password_login_post_refused_without_cognito(auth_idp, henv, client):
    """POST /login with a valid CSRF token and a native user's right password,
    for a client that does not allow COGNITO: an error page, no code, no
    session. Positive control: the same POST for a COGNITO client signs in."""
    user = native_user(auth_idp, henv)
    browser = Browser(henv.endpoint)
    token = csrf_token(browser, henv)
    flow = new_flow(henv.base, henv.clients[client])
    resp = browser.post(f"{henv.base}/login", dict(flow.params, _csrf=token, username=user["username"],
                                                   password=user["password"]))
    assert_page_refused(resp, f"password POST /login for {client}")
    assert browser.cookie("cirrus_session") is None

    good = new_flow(henv.base, henv.clients["mixed"])
    resp = browser.post(f"{henv.base}/login", dict(good.params, _csrf=token, username=user["username"],
                                                   password=user["password"]))
    tokens_ok(exchange(good, code_from(resp, good)))


def test_signup_and_forgot_posts_refused_without_cognito(auth_idp, henv, smtp_sink):
    user = native_user(auth_idp, henv)
    browser = Browser(henv.endpoint)
    token = csrf_token(browser, henv)
    flow = new_flow(henv.base, henv.clients["up_only"])
    name, addr = unique("nosignup"), new_email("ns")
    resp = browser.post(f"{henv.base}/signup", dict(flow.params, _csrf=token, username=name, password=PASSWORD,
                                                    email=addr))
    assert_page_refused(resp, "POST /signup for a client without COGNITO")
    assert user_or_none(auth_idp, henv.pool, name) is None, "the sign-up made a user"
    mark = smtp_sink.mark()
    resp = browser.post(f"{henv.base}/forgotPassword", dict(flow.params, _csrf=token, username=user["username"]))
    assert_page_refused(resp, "POST /forgotPassword for a client without COGNITO")
    smtp_sink.assert_nothing_for(user["attrs"]["email"], since=mark)
    # Positive control: the same reset POST for a COGNITO client goes on to the code page.
    good = new_flow(henv.base, henv.clients["mixed"])
    resp = browser.post(f"{henv.base}/forgotPassword", dict(good.params, _csrf=token, username=user["username"]))
    assert urlsplit(location(resp)).path.endswith("/confirmForgotPassword"), describe(resp)
    smtp_sink.wait_for(user["attrs"]["email"], since=mark)


# ================================== 3. single sign-on across providers ====

def test_native_session_not_reused_for_external_only_clients(auth_idp, henv):
    user = native_user(auth_idp, henv)
    browser = Browser(henv.endpoint)
    sign_in_code(browser, new_flow(henv.base, henv.clients["native"]), user)
    assert browser.cookie("cirrus_session"), "no session after the native sign-in"

    # Positive control: SSO into another COGNITO client, and into one with COGNITO + Upstream.
    for name in ("native2", "mixed"):
        flow = new_flow(henv.base, henv.clients[name])
        code_from(browser.get(flow.authorize_url()), flow)

    # Upstream + Second, no COGNITO: the choice of provider, not a code.
    flow = new_flow(henv.base, henv.clients["ext_only"])
    resp = browser.get(flow.authorize_url())
    assert "code=" not in resp.headers.get("Location", ""), f"native session reused for ext_only\n{describe(resp)}"
    assert_login_redirect(resp, flow)
    flow = new_flow(henv.base, henv.clients["ext_only"], prompt="none")
    assert error_callback(browser.get(flow.authorize_url()), flow)["error"] == "login_required"

    # Upstream only: straight to Upstream.
    flow = new_flow(henv.base, henv.clients["up_only"])
    resp = browser.get(flow.authorize_url())
    assert location(resp).startswith(henv.fake.authorize_endpoint + "?"), describe(resp)


def test_federated_session_not_reused_for_native_only_clients(auth_idp, henv):
    browser = Browser(henv.endpoint)
    sub = unique("ssofed")
    flow, resp = fed_sign_in(browser, henv, henv.clients["mixed"], sub)
    assert_fed_signed_in(henv, flow, resp, f"{UPSTREAM}_{sub}")
    assert browser.cookie("cirrus_session")

    # Positive control: clients allowing Upstream get a code from the session.
    for name in ("mixed", "ext_only"):
        flow = new_flow(henv.base, henv.clients[name])
        code = code_from(browser.get(flow.authorize_url()), flow)
        if name == "ext_only":
            tokens_ok(exchange(flow, code))

    for name in ("native", "confidential"):
        flow = new_flow(henv.base, henv.clients[name], pkce=name == "native")
        resp = browser.get(flow.authorize_url())
        assert "code=" not in resp.headers.get("Location", ""), \
            f"Upstream session reused for the COGNITO-only client {name}\n{describe(resp)}"
        assert_login_redirect(resp, flow)
        flow = new_flow(henv.base, henv.clients[name], pkce=name == "native", prompt="none")
        assert error_callback(browser.get(flow.authorize_url()), flow)["error"] == "login_required"


# =============================== 4. federated users have no password ====

@pytest.fixture
def federated(auth_idp, henv) -> dict:
    """A user made by an Upstream sign-in, with a verified email (so a
    recovery channel exists and only the fix refuses a reset)."""
    sub = unique("nopw")
    addr = new_email("fed")
    flow, resp = fed_sign_in(Browser(henv.endpoint), henv, henv.clients["mixed"], sub,
                             claims={"email": addr, "email_verified": True, "name": "Fed Person"})
    username = f"{UPSTREAM}_{sub}"
    assert_fed_signed_in(henv, flow, resp, username)
    auth_idp.admin_update_user_attributes(UserPoolId=henv.pool, Username=username,
                                          UserAttributes=attrs_list({"email_verified": "true"}))
    user = auth_idp.admin_get_user(UserPoolId=henv.pool, Username=username)
    attrs = attrs_dict(user["UserAttributes"])
    assert user["UserStatus"] == "EXTERNAL_PROVIDER" and attrs.get("email") == addr and \
        attrs.get("email_verified") == "true", (user["UserStatus"], attrs)
    return {"username": username, "email": addr, "sub": attrs["sub"]}


def test_forgot_password_api_refused_for_federated_user(auth_idp, henv, federated, smtp_sink):
    mark = smtp_sink.mark()
    expect_error("NotAuthorizedException", auth_idp.forgot_password, ClientId=henv.clients["mixed"]["ClientId"],
                 Username=federated["username"])
    smtp_sink.assert_nothing_for(federated["email"], since=mark)
    # Positive control: a native user with a verified email gets a code.
    native = native_user(auth_idp, henv)
    got = auth_idp.forgot_password(ClientId=henv.clients["mixed"]["ClientId"], Username=native["username"])
    assert got["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL", got
    smtp_sink.wait_for(native["attrs"]["email"], since=mark)


def test_forgot_password_page_refused_for_federated_user(auth_idp, henv, federated, smtp_sink):
    browser = Browser(henv.endpoint)
    flow = new_flow(henv.base, henv.clients["mixed"])
    page = browser.page(f"{henv.base}/forgotPassword?{urlencode(flow.params)}")
    mark = smtp_sink.mark()
    resp = browser.submit(page, page.form_with("username"), username=federated["username"])
    assert resp.status_code not in REDIRECTS, f"the reset went on for a federated user\n{describe(resp)}"
    assert Page(resp, page.url).alerts, f"no alert\n{describe(resp)}"
    smtp_sink.assert_nothing_for(federated["email"], since=mark)
    # Positive control.
    native = native_user(auth_idp, henv)
    page = browser.page(f"{henv.base}/forgotPassword?{urlencode(flow.params)}")
    resp = browser.submit(page, page.form_with("username"), username=native["username"])
    assert urlsplit(location(resp)).path.endswith("/confirmForgotPassword"), describe(resp)


def test_federated_user_has_no_password_sign_in(auth_idp, henv, federated):
    expect_error("NotAuthorizedException", password_auth, auth_idp, henv.clients["mixed"], federated["username"],
                 PASSWORD)


@pytest.mark.parametrize("permanent", [True, False])
def test_admin_set_password_gives_federated_user_no_password_sign_in(auth_idp, henv, federated, permanent):
    """AdminSetUserPassword on a federated user (whether it is refused or
    not), then USER_PASSWORD_AUTH with that password: NotAuthorizedException.
    Positive control: the same two calls for a native user sign in."""
    set_error = None
    try:
        auth_idp.admin_set_user_password(UserPoolId=henv.pool, Username=federated["username"],
                                         Password=NEW_PASSWORD, Permanent=permanent)
    except ClientError as e:
        set_error = e.response["Error"]["Code"]
    status = auth_idp.admin_get_user(UserPoolId=henv.pool, Username=federated["username"])["UserStatus"]
    try:
        got = password_auth(auth_idp, henv.clients["mixed"], federated["username"], NEW_PASSWORD)
        outcome = f"signed in: {got.get('ChallengeName') or 'tokens ' + str(bool(got.get('AuthenticationResult')))}"
        code = None
    except ClientError as e:
        outcome, code = e.response["Error"]["Code"], e.response["Error"]["Code"]
    assert code == "NotAuthorizedException", (
        f"AdminSetUserPassword(Permanent={permanent}) -> {set_error or 'accepted'}, UserStatus now {status}; "
        f"InitiateAuth USER_PASSWORD_AUTH -> {outcome}")

    native = native_user(auth_idp, henv)
    auth_idp.admin_set_user_password(UserPoolId=henv.pool, Username=native["username"], Password=NEW_PASSWORD,
                                     Permanent=True)
    assert password_auth(auth_idp, henv.clients["mixed"], native["username"], NEW_PASSWORD)["AuthenticationResult"]


def test_admin_reset_password_gives_federated_user_no_password_sign_in(auth_idp, henv, federated, smtp_sink):
    """Beyond the brief, the same invariant by the other admin path:
    AdminResetUserPassword (a code mailed), ConfirmForgotPassword with it,
    then USER_PASSWORD_AUTH: no password sign-in for a federated user.
    Positive control: the same calls for a native user sign in."""
    from smtp_sink import extract_code

    def reset_then_sign_in(username: str, email: str) -> str:
        mark = smtp_sink.mark()
        try:
            auth_idp.admin_reset_user_password(UserPoolId=henv.pool, Username=username)
        except ClientError as e:
            return f"AdminResetUserPassword -> {e.response['Error']['Code']}"
        code = extract_code(smtp_sink.wait_for(email, since=mark).text)
        steps = f"AdminResetUserPassword accepted (code mailed), status " \
                f"{auth_idp.admin_get_user(UserPoolId=henv.pool, Username=username)['UserStatus']}"
        try:
            auth_idp.confirm_forgot_password(ClientId=henv.clients["mixed"]["ClientId"], Username=username,
                                             ConfirmationCode=code, Password=NEW_PASSWORD)
            steps += "; ConfirmForgotPassword accepted"
        except ClientError as e:
            return steps + f"; ConfirmForgotPassword -> {e.response['Error']['Code']}"
        try:
            got = password_auth(auth_idp, henv.clients["mixed"], username, NEW_PASSWORD)
            return steps + f"; USER_PASSWORD_AUTH -> SIGNED IN ({got.get('ChallengeName') or 'tokens'})"
        except ClientError as e:
            return steps + f"; USER_PASSWORD_AUTH -> {e.response['Error']['Code']}"

    outcome = reset_then_sign_in(federated["username"], federated["email"])
    assert "SIGNED IN" not in outcome, f"federated user {federated['username']}: {outcome}"
    native = native_user(auth_idp, henv)
    outcome = reset_then_sign_in(native["username"], native["attrs"]["email"])
    assert outcome.endswith("SIGNED IN (tokens)"), f"positive control: {outcome}"


# ================================================================ 5. codes ====

@pytest.mark.parametrize("thief", ["native2", "confidential"])
def test_code_presented_by_another_client_is_not_burnt(auth_idp, henv, thief):
    user = native_user(auth_idp, henv)
    flow = new_flow(henv.base, henv.clients["native"])
    code = sign_in_code(Browser(henv.endpoint), flow, user)
    grant_error(exchange(flow, code, client=henv.clients[thief]), "invalid_grant")
    # The rightful client can still exchange it ...
    body = tokens_ok(exchange(flow, code))
    assert userinfo(henv.base, body["access_token"]).status_code == 200
    # ... and another client presenting it again revokes nothing.
    grant_error(exchange(flow, code, client=henv.clients[thief]), "invalid_grant")
    assert userinfo(henv.base, body["access_token"]).status_code == 200, "a foreign replay revoked the tokens"
    tokens_ok(refresh(henv.base, flow.client, body["refresh_token"]))
    # Control: its own client replaying it is refused and revokes what it gave.
    grant_error(exchange(flow, code), "invalid_grant")
    grant_error(refresh(henv.base, flow.client, body["refresh_token"]), "invalid_grant")


def test_code_voided_by_a_global_sign_out_after_it_was_issued(auth_idp, henv):
    user = native_user(auth_idp, henv)
    browser = Browser(henv.endpoint)
    flow = new_flow(henv.base, henv.clients["native"])
    code = sign_in_code(browser, flow, user)
    time.sleep(0.05)
    auth_idp.admin_user_global_sign_out(UserPoolId=henv.pool, Username=user["username"])
    grant_error(exchange(flow, code), "invalid_grant")
    # The session is over as well.
    again = new_flow(henv.base, henv.clients["native"])
    assert_login_redirect(browser.get(again.authorize_url()), again)
    # Positive control: a code issued after the sign-out is good.
    time.sleep(0.05)
    flow = new_flow(henv.base, henv.clients["native"])
    tokens_ok(exchange(flow, sign_in_code(Browser(henv.endpoint), flow, user)))


# ============================================================== 6. domains ====

def test_custom_domain_cannot_shadow_a_prefix_domain(auth_idp, auth_server):
    pool_a, pool_b = new_pool(auth_idp), new_pool(auth_idp)
    prefix = f"acme-{uuid.uuid4().hex[:8]}"
    cert = {"CertificateArn": "arn:aws:acm:us-east-1:000000000000:certificate/hardening"}
    port = urlsplit(auth_server.endpoint).port

    def served(host: str) -> requests.Response:
        return requests.get(f"{auth_server.endpoint}/.well-known/openid-configuration", headers={"Host": host},
                            timeout=20)

    try:
        auth_idp.create_user_pool_domain(Domain=prefix, UserPoolId=pool_a)
        for custom in (f"{prefix}.evil.test", f"{prefix}.auth.localhost", f"{prefix}.a.b.example"):
            expect_error("InvalidParameterException", auth_idp.create_user_pool_domain, Domain=custom,
                         UserPoolId=pool_b, CustomDomainConfig=cert)
            assert auth_idp.describe_user_pool_domain(Domain=custom)["DomainDescription"] == {}, custom
        for host in (f"{prefix}.evil.test", f"{prefix}.anything", f"{prefix}.evil.test:{port}"):
            r = served(host)
            assert r.status_code == 200 and r.json()["issuer"].endswith(f"/{pool_a}"), (host, describe(r))
        # Positive control: a custom domain of its own is taken and served for pool B.
        mine = f"b-{uuid.uuid4().hex[:8]}.evil.test"
        auth_idp.create_user_pool_domain(Domain=mine, UserPoolId=pool_b, CustomDomainConfig=cert)
        r = served(mine)
        assert r.status_code == 200 and r.json()["issuer"].endswith(f"/{pool_b}"), describe(r)
    finally:
        for p in (pool_a, pool_b):
            auth_idp.delete_user_pool(UserPoolId=p)


def test_prefix_domain_cannot_take_over_an_older_custom_domain(auth_idp, auth_server):
    """A custom domain made first, then a prefix domain equal to its first
    label: the prefix is refused, and the Host keeps serving the custom
    domain's pool."""
    pool_a, pool_b = new_pool(auth_idp), new_pool(auth_idp)
    label = f"late-{uuid.uuid4().hex[:8]}"
    custom = f"{label}.evil.test"
    cert = {"CertificateArn": "arn:aws:acm:us-east-1:000000000000:certificate/hardening"}

    def issuer(host: str) -> str:
        r = requests.get(f"{auth_server.endpoint}/.well-known/openid-configuration", headers={"Host": host},
                         timeout=20)
        assert r.status_code == 200, describe(r)
        return r.json()["issuer"]

    try:
        auth_idp.create_user_pool_domain(Domain=custom, UserPoolId=pool_b, CustomDomainConfig=cert)
        assert issuer(custom).endswith(f"/{pool_b}")
        with pytest.raises(ClientError) as err:
            auth_idp.create_user_pool_domain(Domain=label, UserPoolId=pool_a)
        assert err.value.response["Error"]["Code"] == "InvalidParameterException"
        assert issuer(custom).endswith(f"/{pool_b}")
        # Control: another prefix is fine.
        auth_idp.create_user_pool_domain(Domain=f"{label}-ok", UserPoolId=pool_a)
        assert issuer(f"{label}-ok.elsewhere.test").endswith(f"/{pool_a}")
    finally:
        for p in (pool_a, pool_b):
            auth_idp.delete_user_pool(UserPoolId=p)


# ================================================================= 7. SAML ====

@pytest.fixture(scope="module")
def hard_saml_idp():
    idp = SamlIdp(login="form").start()
    try:
        yield idp
    finally:
        idp.stop()


@pytest.fixture(scope="module")
def sp_init(auth_idp, auth_server, hard_saml_idp):
    """IDPInit false."""
    remember_server(auth_server)
    sp = SpPool(auth_idp, auth_server.endpoint, hard_saml_idp)
    yield sp
    sp.delete()


@pytest.fixture(scope="module")
def idp_init(auth_idp, auth_server, hard_saml_idp):
    """IDPInit true."""
    remember_server(auth_server)
    sp = SpPool(auth_idp, auth_server.endpoint, hard_saml_idp, idp_init=True)
    yield sp
    sp.delete()


def test_saml_unsolicited_positive_control(idp_init):
    """IDPInit true: an unsolicited response, RelayState the client's query string, signs in."""
    who = unique("unsol")
    verifier = secrets.token_urlsafe(32)
    resp = _post(idp_init, _unsolicited(idp_init, who), _idp_init_relay_state(idp_init, verifier=verifier))
    assert_signed_in(idp_init, resp, who, verifier, None, "IdP-initiated positive control")


@pytest.mark.parametrize("shape", ["as_issued", "assertion_only"])
def test_saml_answer_to_a_request_refused_unsolicited(idp_init, shape):
    """A response to an SP-initiated request (InResponseTo), posted
    IdP-initiated (a RelayState query string naming the client, no flow
    state, no cookie): 400. 'assertion_only': the Response carries no
    InResponseTo, only the signed assertion's SubjectConfirmationData does.
    Positive control: posted in its own flow, the same response signs in."""
    who = unique("taken")
    flow = SpFlow(idp_init)
    original = flow.response(who, sign="both" if shape == "as_issued" else "assertion")
    xml = original
    if shape == "assertion_only":
        # The Response is not signed: its own InResponseTo can go.
        xml = re.sub(r'(<[A-Za-z0-9]+:Response\b[^>]*?)\sInResponseTo="[^"]*"', r"\1", original, count=1)
        assert xml != original and xml.count("InResponseTo=") == original.count("InResponseTo=") - 1, xml[:600]
    assert f'InResponseTo="{flow.request_id}"' in xml
    verifier = secrets.token_urlsafe(32)
    resp = _post(idp_init, xml, _idp_init_relay_state(idp_init, verifier=verifier))
    saml_assert_refused(idp_init, resp, f"answer to {flow.request_id} posted unsolicited ({shape})", users=(who,),
                        verifier=verifier)
    assert_signed_in(idp_init, flow.post(original), who, flow.verifier, flow.state, "the same response in its flow")


@pytest.mark.parametrize("with_provider_field", [False, True])
def test_saml_foreign_relay_state_refused(idp_init, with_provider_field):
    """IDPInit true, a valid unsolicited response, a RelayState that is neither
    a state of Cirrus nor a query string naming a client: 400. Positive
    control: the same response with the client's query string signs in."""
    who = unique("relay")
    xml = _unsolicited(idp_init, who)
    for relay in (secrets.token_urlsafe(48), "bm90LWEtcXVlcnk=", "c3RhdGU9eA"):
        form = {"SAMLResponse": encode(xml), "RelayState": relay}
        if with_provider_field:
            form["provider"] = SAML_PROVIDER
        resp = requests.post(idp_init.acs, data=form, allow_redirects=False, timeout=20)
        saml_assert_refused(idp_init, resp, f"RelayState {relay!r}", users=(who,))
    verifier = secrets.token_urlsafe(32)
    resp = _post(idp_init, xml, _idp_init_relay_state(idp_init, verifier=verifier))
    assert_signed_in(idp_init, resp, who, verifier, None, "the same response with a proper RelayState")


def _redeclare(xml: str, declaration: str) -> str:
    assert xml.startswith("<?xml"), xml[:80]
    return declaration + xml[xml.index("?>") + 2:]


DECLARATIONS = {
    "utf7": '<?xml version="1.0" encoding="UTF-7"?>',
    "latin1": '<?xml version="1.0" encoding="ISO-8859-1"?>',
    "utf16_label": '<?xml version="1.0" encoding="UTF-16"?>',
    "pi": '<?xml version="1.0" encoding="UTF-8"?>\n<?xml-stylesheet type="text/xsl" href="http://evil.test/x.xsl"?>',
}


@pytest.mark.parametrize("case", sorted(DECLARATIONS))
def test_saml_only_plain_utf8_documents(sp_init, case):
    """A signed response whose XML declaration names another encoding than
    UTF-8, or that carries a processing instruction: 400. Positive control:
    the same response declared UTF-8 signs in, in the same flow."""
    who = unique("enc")
    flow = SpFlow(sp_init)
    xml = flow.response(who, sign="both")
    resp = flow.post(_redeclare(xml, DECLARATIONS[case]))
    saml_assert_refused(sp_init, resp, f"declaration {DECLARATIONS[case]!r}", users=(who,), verifier=flow.verifier)
    good = _redeclare(xml, '<?xml version="1.0" encoding="UTF-8"?>')
    assert_signed_in(sp_init, flow.post(good), who, flow.verifier, flow.state, "declared UTF-8")


def test_saml_future_issue_instant_refused(sp_init, idp_init):
    """IssueInstant (Response and Assertion) 10 minutes ahead, the conditions
    valid: 400, SP-initiated and IdP-initiated. Positive control: the same
    response issued now signs in."""
    future = now_utc() + _dt.timedelta(minutes=10)
    who = unique("future")
    flow = SpFlow(sp_init)
    resp = flow.post(flow.response(who, sign="both", issue_instant=future))
    saml_assert_refused(sp_init, resp, "IssueInstant in 10 min (SP-initiated)", users=(who,), verifier=flow.verifier)
    assert_signed_in(sp_init, flow.post(flow.response(who, sign="both")), who, flow.verifier, flow.state,
                     "issued now")

    who = unique("futureidp")
    resp = _post(idp_init, _unsolicited(idp_init, who, issue_instant=future), _idp_init_relay_state(idp_init))
    saml_assert_refused(idp_init, resp, "IssueInstant in 10 min (IdP-initiated)", users=(who,))


def test_saml_issue_instant_within_skew_accepted(sp_init):
    """An IdP clock 30 s ahead (within the 60 s skew) is not refused."""
    who = unique("skew")
    flow = SpFlow(sp_init)
    resp = flow.post(flow.response(who, sign="both", issue_instant=now_utc() + _dt.timedelta(seconds=30)))
    assert_signed_in(sp_init, resp, who, flow.verifier, flow.state, "IssueInstant 30 s ahead")


def test_saml_replay_keys_per_pool(sp_init, idp_init):
    """Two pools, each with a provider named Corp trusting the same IdP: an
    assertion ID used in one pool does not block the same ID in the other;
    within a pool the replay is still refused."""
    assertion_id = "_" + secrets.token_hex(20)
    who_a, who_b = unique("poola"), unique("poolb")
    flow = SpFlow(sp_init)
    xml = flow.response(who_a, sign="both", assertion_id=assertion_id)
    assert_signed_in(sp_init, flow.post(xml), who_a, flow.verifier, flow.state, "pool A")
    flow_b = SpFlow(idp_init)
    xml_b = flow_b.response(who_b, sign="both", assertion_id=assertion_id)
    assert_signed_in(idp_init, flow_b.post(xml_b), who_b, flow_b.verifier, flow_b.state,
                     "pool B, same assertion ID as in pool A")
    flow_c = SpFlow(idp_init)
    xml_c = flow_c.response(unique("poolc"), sign="both", assertion_id=assertion_id)
    saml_assert_refused(idp_init, flow_c.post(xml_c), "assertion ID replayed in pool B", verifier=flow_c.verifier)
