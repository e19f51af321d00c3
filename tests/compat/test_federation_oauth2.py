"""Federation with plain OAuth 2.0 providers, no OpenID Connect ("Facebook-style").

ProviderType Facebook and LoginWithAmazon, their endpoints pointed with
ProviderDetails (authorize_url, token_url, attributes_url, http on loopback)
at tests/compat/fake_oauth2.py, which speaks each provider's shape and notes
whatever Cirrus sends wrong (client_secret not in the body, a PKCE verifier
that does not match the challenge, another redirect_uri, no Bearer token,
Facebook's `fields` list).

No browser: requests with allow_redirects=False, the Locations followed by
hand, the cookies of Cirrus (cirrus_fed, cirrus_session) kept as a browser
keeps them.

Flow: `{issuer}/oauth2/authorize?...&identity_provider=Facebook` -> 302 to
the provider -> 302 back to `{issuer}/oauth2/idpresponse?code&state` ->
Cirrus redeems the code (form POST, client_secret in the body, PKCE), reads
the attributes endpoint with the access token, makes or updates the user
`<Name>_<id>` (EXTERNAL_PROVIDER) -> hosted-UI session and 302 to the app
with a Cirrus code. Every failure upstream: a 400 HTML error page, no
redirect, no session, no user."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from botocore.exceptions import ClientError

from fake_oauth2 import FakeOAuth2, b64url_sha256
from harness import attrs_dict, fetch_jwks, free_port, issuer_for, new_app_client, new_pool, unique, verify_jwt

SCOPES = ["openid", "email", "profile"]
MAPPING = {"email": "email", "name": "name"}

# ProviderName -> (ProviderType, fake kind, the id claim, authorize_scopes)
PROVIDERS = {
    "Facebook": ("Facebook", "facebook", "id", "public_profile,email"),
    "LoginWithAmazon": ("LoginWithAmazon", "amazon", "user_id", "profile postal_code"),
}


# ---------------------------------------------------------------- fixtures ----

class OA:
    """One pool with the providers Facebook and LoginWithAmazon (each its own
    fake) and an app client allowing both."""


@pytest.fixture(scope="module")
def oa(idp, server):
    o = OA()
    o.endpoint = server.endpoint
    o.pool = new_pool(idp)
    o.issuer = issuer_for(server.endpoint, o.pool)
    o.idpresponse = f"{o.issuer}/oauth2/idpresponse"
    o.fakes = {}
    try:
        for name, (ptype, kind, _, scopes) in PROVIDERS.items():
            fake = FakeOAuth2(kind, client_id=f"{kind}-{secrets.token_hex(4)}",
                              client_secret=secrets.token_urlsafe(32)).start()
            o.fakes[name] = fake
            idp.create_identity_provider(
                UserPoolId=o.pool, ProviderName=name, ProviderType=ptype,
                ProviderDetails={"client_id": fake.client_id, "client_secret": fake.client_secret,
                                 "authorize_scopes": scopes, "authorize_url": fake.authorize_url,
                                 "token_url": fake.token_url, "attributes_url": fake.attributes_url},
                AttributeMapping=dict(MAPPING))
        o.callback = f"http://127.0.0.1:{free_port()}/callback"
        o.client = new_app_client(idp, o.pool, GenerateSecret=False, CallbackURLs=[o.callback],
                                  AllowedOAuthFlows=["code"], AllowedOAuthScopes=SCOPES,
                                  AllowedOAuthFlowsUserPoolClient=True,
                                  SupportedIdentityProviders=["COGNITO", *PROVIDERS])
        yield o
    finally:
        for fake in o.fakes.values():
            fake.stop()
        try:
            idp.delete_user_pool(UserPoolId=o.pool)
        except ClientError:
            pass


def new_account(provider: str, tag: str = "u") -> dict:
    _, kind, id_claim, _ = PROVIDERS[provider]
    if kind == "facebook":
        ident = "10" + "".join(secrets.choice("0123456789") for _ in range(15))
    else:
        ident = "amzn1.account." + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(28))
    return {id_claim: ident, "email": f"{tag}.{secrets.token_hex(4)}@{kind}.test",
            "name": f"{tag.capitalize()} {kind.capitalize()}", "birthday": "01/01/1990"}


def user_or_none(idp, pool: str, username: str):
    try:
        return idp.admin_get_user(UserPoolId=pool, Username=username)
    except idp.exceptions.UserNotFoundException:
        return None


def identities_of(value) -> list:
    if isinstance(value, str):
        value = json.loads(value)
    assert isinstance(value, list), f"identities is not a list: {value!r}"
    return value


def assert_identity(identities, provider: str, ident: str) -> None:
    ids = identities_of(identities)
    hits = [i for i in ids if i.get("providerName") == provider and str(i.get("userId")) == ident]
    assert len(hits) == 1, f"no identity {provider}/{ident} in {ids!r}"
    assert hits[0].get("providerType") == PROVIDERS[provider][0], hits[0]


def page_message(resp: requests.Response) -> str:
    """The role="alert" text of a Cirrus page (else the body's tail), for failure messages."""
    import html
    import re
    m = re.search(r'role="alert"[^>]*>(.*?)</', resp.text, re.S)
    return html.unescape(m.group(1)).strip() if m else resp.text[-500:]


def _session_cookies(resp: requests.Response) -> list:
    """Set-Cookie headers that set cirrus_session to a non-empty value."""
    out = []
    for header in resp.raw.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        value = rest.split(";", 1)[0]
        if name.strip() == "cirrus_session" and value and "max-age=0" not in header.lower():
            out.append(header)
    return out


# ------------------------------------------------------------------- flow ----

class Flow:
    """The redirects of one sign-in through a fake OAuth 2.0 provider, one by one."""

    def __init__(self, oa: OA, provider: str, mode: str, account: dict):
        self.oa, self.provider, self.account = oa, provider, account
        self.fake: FakeOAuth2 = oa.fakes[provider]
        self.id_claim = PROVIDERS[provider][2]
        self.username = f"{provider}_{account[self.id_claim]}"
        self.fake.set(mode, account=account)
        self.problems_before = len(self.fake.problems)
        self.tokens_before = len(self.fake.requests_to("token"))
        self.attrs_before = len(self.fake.requests_to("attributes"))
        self.session = requests.Session()
        self.verifier = secrets.token_urlsafe(32)
        self.rp_state = secrets.token_urlsafe(12)
        r = self.get(oa.issuer + "/oauth2/authorize", params={
            "response_type": "code", "client_id": oa.client["ClientId"], "redirect_uri": oa.callback,
            "scope": " ".join(SCOPES), "state": self.rp_state,
            "code_challenge": b64url_sha256(self.verifier), "code_challenge_method": "S256",
            "identity_provider": provider})
        loc = r.headers.get("Location", "")
        assert r.status_code == 302 and loc.startswith(self.fake.authorize_url + "?"), \
            f"authorize with identity_provider={provider}: HTTP {r.status_code} Location {loc!r} {page_message(r)!r}"
        assert any(c.name == "cirrus_fed" for c in self.session.cookies), \
            f"no cirrus_fed cookie with the redirect to {provider}: {r.headers.get('Set-Cookie')!r}"
        self.upstream_query = {k: v[0] for k, v in parse_qs(urlparse(loc).query).items()}
        r = self.get(loc)
        assert r.status_code == 302, f"fake {provider} authorize: HTTP {r.status_code} {r.text[:300]!r}"
        self.idpresponse_url = r.headers["Location"]
        assert self.idpresponse_url.startswith(oa.idpresponse + "?"), self.idpresponse_url

    def get(self, url: str, **kwargs) -> requests.Response:
        """A GET as a browser on http://127.0.0.1 makes it: no redirect followed,
        cookies sent even when marked Secure (browsers treat loopback as secure)."""
        for c in self.session.cookies:
            c.secure = False
        return self.session.get(url, allow_redirects=False, timeout=20, **kwargs)

    def finish(self, url: str | None = None) -> requests.Response:
        return self.get(url or self.idpresponse_url)

    def token_calls(self) -> list:
        return self.fake.requests_to("token")[self.tokens_before:]

    def attribute_calls(self) -> list:
        return self.fake.requests_to("attributes")[self.attrs_before:]

    def new_problems(self) -> list:
        return self.fake.problems[self.problems_before:]


def check_upstream_query(flow: Flow) -> None:
    """What Cirrus sent to the provider's authorization endpoint."""
    q = flow.upstream_query
    fake = flow.fake
    assert q.get("response_type") == "code", q
    assert q.get("client_id") == fake.client_id, q
    assert q.get("redirect_uri") == flow.oa.idpresponse, q
    assert q.get("state"), f"no state: {q}"
    assert q.get("code_challenge_method") == "S256" and q.get("code_challenge"), f"PKCE S256 missing: {q}"
    want = {s for s in PROVIDERS[flow.provider][3].replace(",", " ").split()}
    got = {s for s in q.get("scope", "").replace(",", " ").split()}
    assert got == want, f"scope {q.get('scope')!r}, expected the authorize_scopes {want}"


def sign_in(idp, oa: OA, provider: str, account: dict) -> tuple[Flow, dict, requests.Response]:
    """A sign-in that must succeed; returns the flow, the ID token's claims and the app's redirect."""
    flow = Flow(oa, provider, "ok", account)
    check_upstream_query(flow)
    resp = flow.finish()
    loc = resp.headers.get("Location", "")
    assert resp.status_code in (302, 303) and loc.startswith(oa.callback + "?"), (
        f"{provider} sign-in: HTTP {resp.status_code} Location {loc!r} {page_message(resp)!r}; "
        f"fake saw problems {flow.new_problems()}")
    assert flow.new_problems() == [], f"what Cirrus sent {provider} was wrong: {flow.new_problems()}"

    tokens = flow.token_calls()
    assert len(tokens) == 1, f"token endpoint calls: {tokens}"
    t = tokens[0]
    assert t["method"] == "POST" and t["form"].get("client_secret") == "<masked>", t
    assert t["form"].get("client_id") == flow.fake.client_id, t
    assert t["form"].get("grant_type") == "authorization_code", t
    assert t["form"].get("redirect_uri") == oa.idpresponse, t
    assert b64url_sha256(t["form"].get("code_verifier", "")) == flow.upstream_query["code_challenge"], \
        "the code_verifier does not match the code_challenge sent to the provider"
    attrs = flow.attribute_calls()
    assert len(attrs) == 1, f"attributes endpoint calls: {attrs}"
    a = attrs[0]
    assert a["method"] == "GET" and a["auth_scheme"] == "Bearer", a
    if flow.fake.kind == "facebook":
        fields = [f for f in a["query"].get("fields", "").split(",") if f]
        assert set(fields) == {"id", "email", "name"}, \
            f"Graph API fields {a['query'].get('fields')!r}: expected the mapped claims id,email,name"
        assert len(fields) == len(set(fields)), f"repeated fields: {fields}"
    else:
        assert a["query"] == {}, f"Login with Amazon's profile URL got a query: {a['raw_query']!r}"

    q = {k: v[0] for k, v in parse_qs(urlparse(loc).query).items()}
    assert q.get("state") == flow.rp_state and q.get("code"), q
    assert _session_cookies(resp), f"no hosted-UI session cookie after a federated sign-in: {dict(resp.headers)}"
    r = requests.post(oa.issuer + "/oauth2/token", timeout=10, data={
        "grant_type": "authorization_code", "client_id": oa.client["ClientId"], "code": q["code"],
        "redirect_uri": oa.callback, "code_verifier": flow.verifier})
    assert r.status_code == 200, f"token exchange at Cirrus: HTTP {r.status_code} {r.text}"
    tok = r.json()
    jwks = fetch_jwks(oa.endpoint, oa.pool)
    claims = verify_jwt(tok["id_token"], jwks, oa.issuer, audience=oa.client["ClientId"])
    assert claims["cognito:username"] == flow.username, claims
    assert claims.get("email") == account["email"], f"mapped email missing or wrong: {claims}"
    assert claims.get("name") == account["name"], f"mapped name missing or wrong: {claims}"
    assert "birthdate" not in claims, claims
    assert_identity(claims.get("identities"), provider, account[flow.id_claim])
    access = verify_jwt(tok["access_token"], jwks, oa.issuer)
    assert access.get("username") == flow.username and access["sub"] == claims["sub"], access
    return flow, claims, resp


def check_user(idp, oa: OA, flow: Flow, account: dict, sub: str) -> dict:
    user = idp.admin_get_user(UserPoolId=oa.pool, Username=flow.username)
    assert user["Username"] == flow.username, user["Username"]
    assert user["UserStatus"] == "EXTERNAL_PROVIDER", user["UserStatus"]
    attrs = attrs_dict(user["UserAttributes"])
    assert attrs.get("sub") == sub, attrs
    assert attrs.get("email") == account["email"], attrs
    assert attrs.get("name") == account["name"], attrs
    assert_identity(attrs.get("identities"), flow.provider, account[flow.id_claim])
    return attrs


def assert_refused(idp, oa: OA, flow: Flow, resp: requests.Response, what: str) -> None:
    """A failed sign-in: a 400 HTML error page, no redirect (to the app or
    anywhere), no hosted-UI session, no user. Every check runs; the failure
    lists all that did not hold."""
    problems = []
    if resp.status_code != 400:
        problems.append(f"HTTP {resp.status_code}, expected 400")
    if "Location" in resp.headers:
        problems.append(f"redirects to {resp.headers['Location']!r}")
    if not resp.headers.get("Content-Type", "").startswith("text/html"):
        problems.append(f"Content-Type {resp.headers.get('Content-Type')!r}, expected text/html")
    if _session_cookies(resp):
        problems.append(f"sets a session cookie: {_session_cookies(resp)}")
    if [c for c in flow.session.cookies if c.name == "cirrus_session" and c.value]:
        problems.append("the browser holds a cirrus_session cookie")
    if user_or_none(idp, oa.pool, flow.username) is not None:
        problems.append(f"user {flow.username} was created")
    if 'role="alert"' not in resp.text:
        problems.append('the error page has no role="alert" element')
    assert not problems, (f"{what}: " + "; ".join(problems) +
                          f"\nheaders {dict(resp.headers)}\nbody {resp.text[-700:]!r}")


# ------------------------------------------------------ self-test (no Cirrus) --

@pytest.mark.parametrize("kind", ["facebook", "amazon"])
def test_fake_oauth2_smoke(kind):
    """fake_oauth2.py alone: the code flow with the secret in the body and
    PKCE, the attributes with the Bearer token; HTTP Basic alone, a wrong
    verifier and a replayed code refused and noted."""
    fake = FakeOAuth2(kind, "smoke-client", "smoke-secret").start()
    try:
        id_claim = "id" if kind == "facebook" else "user_id"
        fake.set("ok", account={id_claim: "42", "email": "s@x.test", "name": "Smoke"})
        redirect = "http://127.0.0.1:9/pool/oauth2/idpresponse"

        def code(verifier):
            r = requests.get(fake.authorize_url, allow_redirects=False, timeout=10, params={
                "response_type": "code", "client_id": "smoke-client", "redirect_uri": redirect, "state": "st",
                "code_challenge": b64url_sha256(verifier), "code_challenge_method": "S256"})
            assert r.status_code == 302, r.text
            q = parse_qs(urlparse(r.headers["Location"]).query)
            assert q["state"] == ["st"], q
            return q["code"][0]

        v = secrets.token_urlsafe(32)
        c = code(v)
        form = {"grant_type": "authorization_code", "code": c, "redirect_uri": redirect, "client_id": "smoke-client",
                "client_secret": "smoke-secret", "code_verifier": v}
        r = requests.post(fake.token_url, data=form, timeout=10)
        assert r.status_code == 200, r.text
        access = r.json()["access_token"]
        assert requests.post(fake.token_url, data=form, timeout=10).status_code == 400   # replay
        url = fake.attributes_url + ("email,name" if kind == "facebook" else "")
        info = requests.get(url, headers={"Authorization": "Bearer " + access}, timeout=10).json()
        assert info == {id_claim: "42", "email": "s@x.test", "name": "Smoke"}, info
        assert requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 401
        assert fake.problems == ["token: unknown or used code", "attributes: no valid Bearer token "
                                 "(Authorization scheme 'Bearer')"], fake.problems

        fake.problems.clear()
        v = secrets.token_urlsafe(32)
        basic = dict(form, code=code(v), code_verifier=v)
        basic.pop("client_secret")
        r = requests.post(fake.token_url, data=basic, auth=("smoke-client", "smoke-secret"), timeout=10)
        assert r.status_code == 401 and "client_secret not in the body" in fake.problems[0], fake.problems
        r = requests.post(fake.token_url, timeout=10,
                          data=dict(form, code=code(v), code_verifier=secrets.token_urlsafe(32)))
        assert r.status_code == 400 and "does not match" in fake.problems[-1], fake.problems
    finally:
        fake.stop()


# -------------------------------------------------------------- management ----

def test_provider_details_and_default_mapping(idp, oa):
    """The explicit endpoints are kept; Facebook's attributes_url gets the
    fields by default; the username comes from id (Facebook) / user_id
    (Login with Amazon) unless mapped otherwise."""
    for name, (ptype, _, id_claim, scopes) in PROVIDERS.items():
        fake = oa.fakes[name]
        got = idp.describe_identity_provider(UserPoolId=oa.pool, ProviderName=name)["IdentityProvider"]
        assert got["ProviderType"] == ptype, got
        d = got["ProviderDetails"]
        for k, v in {"client_id": fake.client_id, "client_secret": fake.client_secret, "authorize_scopes": scopes,
                     "authorize_url": fake.authorize_url, "token_url": fake.token_url,
                     "attributes_url": fake.attributes_url}.items():
            assert d.get(k) == v, f"{name} ProviderDetails[{k!r}] = {d.get(k)!r}, expected {v!r}"
        if ptype == "Facebook":
            assert d.get("attributes_url_add_attributes") == "true", d
        m = got["AttributeMapping"]
        assert m.get("username") == id_claim, f"{name} AttributeMapping {m}"
        assert m.get("email") == "email" and m.get("name") == "name", m


# -------------------------------------------------------------- sign-in ----

@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_sign_in(idp, oa, provider):
    """The code flow against the provider, the user `<Name>_<id>` with the
    mapped attributes, tokens for the app; the same idpresponse twice is refused."""
    account = new_account(provider, "first")
    flow, claims, _ = sign_in(idp, oa, provider, account)
    check_user(idp, oa, flow, account, claims["sub"])

    again = flow.finish()
    assert again.status_code == 400 and "Location" not in again.headers, \
        f"replayed idpresponse: HTTP {again.status_code} {dict(again.headers)} {again.text[:300]!r}"
    assert len(flow.token_calls()) == 1, "a replayed idpresponse redeemed the provider's code again"


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_second_sign_in_updates_attributes(idp, oa, provider):
    """Attributes changed at the provider are mapped again at the next
    sign-in; the user and its sub stay the same."""
    account = new_account(provider, "again")
    flow, first, _ = sign_in(idp, oa, provider, account)
    changed = dict(account, email=f"changed.{account['email']}", name="Renamed Person")
    flow2, second, _ = sign_in(idp, oa, provider, changed)
    assert second["sub"] == first["sub"], (first, second)
    assert flow2.username == flow.username
    check_user(idp, oa, flow2, changed, first["sub"])
    listed = idp.list_users(UserPoolId=oa.pool, Filter=f'username = "{flow.username}"')["Users"]
    assert len(listed) == 1, f"one user expected, got {[u['Username'] for u in listed]}"


# -------------------------------------------------------------- failures ----

FAILURES = {
    "token_error": "the token endpoint answers 400 invalid_grant",
    "token_fb_error": "the token endpoint answers a Graph API error object",
    "token_not_json": "the token endpoint answers 200 with HTML",
    "attrs_401": "the attributes endpoint answers 401",
    "attrs_500": "the attributes endpoint answers 500",
    "attrs_not_json": "the attributes endpoint answers 200 with HTML",
    "attrs_array": "the attributes endpoint answers a JSON array",
    "missing_id": "the attributes lack the id",
}


@pytest.mark.parametrize("mode", list(FAILURES))
@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_upstream_failure_refused(idp, oa, provider, mode):
    account = new_account(provider, mode.replace("_", ""))
    flow = Flow(oa, provider, mode, account)
    resp = flow.finish()
    assert len(flow.token_calls()) == 1, "Cirrus did not redeem the provider's code"
    if mode.startswith("attrs_") or mode == "missing_id":
        assert len(flow.attribute_calls()) == 1, "Cirrus did not read the attributes endpoint"
    else:
        assert flow.attribute_calls() == [], "Cirrus read the attributes endpoint after a failed code exchange"
    assert flow.new_problems() == [], f"what Cirrus sent {provider} was wrong: {flow.new_problems()}"
    assert_refused(idp, oa, flow, resp, f"{provider}: {FAILURES[mode]}")


def test_upstream_error_refused(idp, oa):
    """error=access_denied from Facebook (the user said no): an error page, not a sign-in."""
    flow = Flow(oa, "Facebook", "upstream_error", new_account("Facebook", "denied"))
    assert "error=access_denied" in flow.idpresponse_url, flow.idpresponse_url
    resp = flow.finish()
    assert flow.token_calls() == []
    assert_refused(idp, oa, flow, resp, "upstream error=access_denied")


@pytest.mark.parametrize("case", ["other_browser", "mismatched_state"])
def test_answer_not_bound_refused(idp, oa, case):
    """The provider's answer in another browser than the one that started the
    sign-in (no cirrus_fed cookie), or with a state Cirrus did not make:
    refused before the code is redeemed."""
    flow = Flow(oa, "LoginWithAmazon", "ok", new_account("LoginWithAmazon", case.replace("_", "")))
    if case == "other_browser":
        flow.session = requests.Session()
        resp = flow.finish()
    else:
        u = urlparse(flow.idpresponse_url)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        q["state"] = base64.urlsafe_b64encode(hashlib.sha256(b"x").digest()).rstrip(b"=").decode()
        resp = flow.finish(u._replace(query=urlencode(q)).geturl())
    assert flow.token_calls() == [], "Cirrus redeemed a code whose answer was not bound to this browser"
    assert_refused(idp, oa, flow, resp, f"{case} at idpresponse")


def test_app_without_provider_cannot_use_it(idp, oa):
    """An app client that names only COGNITO cannot start a Facebook sign-in."""
    cb = f"http://127.0.0.1:{free_port()}/callback"
    client = new_app_client(idp, oa.pool, GenerateSecret=False, CallbackURLs=[cb], AllowedOAuthFlows=["code"],
                            AllowedOAuthScopes=SCOPES, AllowedOAuthFlowsUserPoolClient=True,
                            SupportedIdentityProviders=["COGNITO"])
    before = len(oa.fakes["Facebook"].requests)
    r = requests.get(oa.issuer + "/oauth2/authorize", allow_redirects=False, timeout=10, params={
        "response_type": "code", "client_id": client["ClientId"], "redirect_uri": cb, "scope": "openid",
        "state": unique("st"), "identity_provider": "Facebook"})
    loc = r.headers.get("Location", "")
    assert not loc.startswith(oa.fakes["Facebook"].authorize_url), f"sent to Facebook anyway: {loc!r}"
    assert r.status_code in (302, 303, 400), f"HTTP {r.status_code} {r.text[:300]!r}"
    assert len(oa.fakes["Facebook"].requests) == before
