"""Federation with an upstream OpenID Connect provider (issue #8, OIDC part).

Management: Create/Describe/Update/Delete/ListIdentityProviders,
GetIdentityProviderByIdentifier, app clients naming providers, over boto3.

Acceptance, in a real browser: the upstream is panva's certified
oidc-provider (tests/compat/js/upstream_oidc.mjs, pinned in package.json),
nobody here wrote it; tests/compat/js/federation_browser.mjs is the relying
party (openid-client: discovery, PKCE S256, state, nonce, ID token
validation) and drives Debian's headless Chromium from the app to Cirrus, to
the upstream's login form, back through Cirrus's idpresponse to the app.

Security, without a browser: tests/compat/fake_oidc.py is a hostile upstream
whose ID tokens are wrong on purpose (nonce, audience, issuer, expiry, alg
none, HS256 keyed with the RSA public key, an unknown key); the redirects
are followed one by one with requests, and each must end on a 400 error page
of Cirrus with no redirect to the app, no session cookie and no user.

Nothing is skipped: without node, the npm packages or /usr/bin/chromium the
browser tests fail (tests/compat/run.sh installs all three)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

import pytest
import requests
from botocore.exceptions import ClientError

from fake_oidc import FakeOidc
from harness import (JS_DIR, admin_user, assert_recent, attrs_dict, expect_error, fetch_jwks, free_port, issuer_for,
                     new_app_client, new_pool, unique, verify_jwt)

UPSTREAM_JS = JS_DIR / "upstream_oidc.mjs"
BROWSER_JS = JS_DIR / "federation_browser.mjs"
CHROMIUM = Path("/usr/bin/chromium")
SCOPES = ["openid", "email", "profile"]
PROVIDER = "Upstream"            # the oidc-provider upstream
PROVIDER_UI = "UpstreamUi"       # the same kind of upstream, claims only from UserInfo (attributes_url)
FAKE = "Fake"                    # fake_oidc.py
IDP_IDENTIFIER = "example.org"
UPSTREAM_PASSWORD = "upstream-pass"
BROWSER_TIMEOUT = 120.0


# ------------------------------------------------------------ upstream OP ----

class UpstreamOp:
    """tests/compat/js/upstream_oidc.mjs (oidc-provider) as a child process."""

    def __init__(self, workdir: Path, tag: str, client_id: str, client_secret: str, redirect_uris: list,
                 accounts: list, id_token_claims: bool = True):
        self.cfg = {"port": 0, "client_id": client_id, "client_secret": client_secret,
                    "redirect_uris": redirect_uris, "accounts": accounts, "id_token_claims": id_token_claims}
        self.stderr_path = Path(workdir) / f"{tag}.stderr"
        self.proc: subprocess.Popen | None = None
        self.issuer: str | None = None

    def start(self) -> "UpstreamOp":
        node = _require_node()
        if not (JS_DIR / "node_modules" / "oidc-provider").is_dir():
            pytest.fail(f"{JS_DIR}/node_modules/oidc-provider is missing: run tests/compat/run.sh (it runs `npm ci`)")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([node, str(UPSTREAM_JS), json.dumps(self.cfg)], cwd=str(JS_DIR),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._err, text=True)
        line: list = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(30)
        if not line or not line[0].strip():
            self.stop()
            pytest.fail(f"upstream_oidc.mjs did not get ready within 30 s\n{self.logs()}")
        ready = json.loads(line[0])
        assert ready.get("event") == "ready", ready
        self.issuer = ready["issuer"]
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if getattr(self, "_err", None):
            self._err.close()

    def logs(self) -> str:
        text = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        return f"--- upstream_oidc.mjs stderr (tail) ---\n{text[-3000:]}"

    def set_account(self, sub: str, **claims) -> dict:
        r = requests.post(self.issuer + "/__control/accounts", json={"sub": sub, **claims}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def log(self) -> list:
        return requests.get(self.issuer + "/__control/log", timeout=10).json()


def _require_node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH (needed for the federation tests)")
    return node


def _require_browser() -> str:
    node = _require_node()
    for pkg in ("openid-client", "playwright-core"):
        if not (JS_DIR / "node_modules" / pkg).is_dir():
            pytest.fail(f"{JS_DIR}/node_modules/{pkg} is missing: run tests/compat/run.sh (it runs `npm ci` there)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: tests/compat/run.sh installs Debian's chromium")
    return node


def _brief(report: dict) -> str:
    keep = {k: report.get(k) for k in ("error", "pages", "final_page", "authorization_url", "upstream_authorize",
                                       "callback", "idp_links", "trace", "http") if report.get(k) is not None}
    return json.dumps(keep, indent=1, default=str)[-10000:]


def run_browser(config: dict, timeout: float = BROWSER_TIMEOUT, upstream: UpstreamOp | None = None) -> dict:
    """Run federation_browser.mjs with `config`; return its report, which must be ok."""
    node = _require_browser()
    proc = subprocess.run([node, str(BROWSER_JS), json.dumps(config)], cwd=str(JS_DIR), capture_output=True,
                          text=True, timeout=timeout)
    reports = []
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict):
            reports.append(msg)
    if not reports:
        pytest.fail(f"federation_browser.mjs printed no report (exit {proc.returncode})\n"
                    f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}")
    report = reports[-1]
    assert report.get("ok") is True and proc.returncode == 0, (
        f"federation_browser.mjs failed (exit {proc.returncode}):\n{_brief(report)}\n"
        f"stderr: {proc.stderr[-2000:]}\n{upstream.logs() if upstream else ''}")
    return report


# ---------------------------------------------------------------- fixtures ----

class Fed:
    """One pool with three providers: Upstream (oidc-provider, claims in the ID
    token), UpstreamUi (oidc-provider, claims only from UserInfo via
    attributes_url) and Fake (fake_oidc.py)."""


def _accounts(tag: str) -> dict:
    names = ("alice", "bob", "carol", "dave", "erin", "frank", "grace")
    out = {}
    for n in names:
        sub = f"{n}-{tag}"
        out[n] = {"sub": sub, "email": f"{n}.{tag}@upstream.test", "email_verified": True,
                  "name": f"{n.capitalize()} Upstream", "password": UPSTREAM_PASSWORD}
    return out


@pytest.fixture(scope="module")
def fed(idp, server, workroot):
    f = Fed()
    f.endpoint = server.endpoint
    f.pool = new_pool(idp)
    f.issuer = issuer_for(server.endpoint, f.pool)
    f.idpresponse = f"{f.issuer}/oauth2/idpresponse"
    tag = secrets.token_hex(3)
    f.accounts = _accounts(tag)
    f.up_client_id, f.up_secret = f"cirrus-{tag}", secrets.token_urlsafe(32)
    f.upstream = UpstreamOp(workroot, f"upstream-{tag}", f.up_client_id, f.up_secret, [f.idpresponse],
                            list(f.accounts.values())).start()
    f.upstream_ui = UpstreamOp(workroot, f"upstream-ui-{tag}", f.up_client_id, f.up_secret, [f.idpresponse],
                               list(f.accounts.values()), id_token_claims=False).start()
    f.fake = FakeOidc(client_id=f"fake-{tag}", client_secret=secrets.token_urlsafe(32)).start()
    try:
        idp.create_identity_provider(
            UserPoolId=f.pool, ProviderName=PROVIDER, ProviderType="OIDC",
            ProviderDetails={"client_id": f.up_client_id, "client_secret": f.up_secret,
                             "authorize_scopes": "openid email profile", "oidc_issuer": f.upstream.issuer,
                             "attributes_request_method": "GET"},
            AttributeMapping={"email": "email", "name": "name", "username": "sub"},
            IdpIdentifiers=[IDP_IDENTIFIER])
        ui = f.upstream_ui.issuer
        idp.create_identity_provider(
            UserPoolId=f.pool, ProviderName=PROVIDER_UI, ProviderType="OIDC",
            ProviderDetails={"client_id": f.up_client_id, "client_secret": f.up_secret,
                             "authorize_scopes": "openid email profile", "oidc_issuer": ui,
                             "attributes_request_method": "GET", "authorize_url": ui + "/auth",
                             "token_url": ui + "/token", "attributes_url": ui + "/me", "jwks_uri": ui + "/jwks"},
            AttributeMapping={"email": "email", "name": "name", "username": "sub"})
        idp.create_identity_provider(
            UserPoolId=f.pool, ProviderName=FAKE, ProviderType="OIDC",
            ProviderDetails={"client_id": f.fake.client_id, "client_secret": f.fake.client_secret,
                             "authorize_scopes": "openid email profile", "oidc_issuer": f.fake.issuer,
                             "attributes_request_method": "GET"},
            AttributeMapping={"email": "email", "name": "name", "username": "sub"})
        yield f
    finally:
        f.upstream.stop()
        f.upstream_ui.stop()
        f.fake.stop()
        try:
            idp.delete_user_pool(UserPoolId=f.pool)
        except ClientError:
            pass


def fed_client(idp, fed: Fed, callback: str, providers=("COGNITO", PROVIDER, PROVIDER_UI, FAKE),
               secret: bool = False) -> dict:
    return new_app_client(idp, fed.pool, GenerateSecret=secret, CallbackURLs=[callback], AllowedOAuthFlows=["code"],
                          AllowedOAuthScopes=SCOPES, AllowedOAuthFlowsUserPoolClient=True,
                          SupportedIdentityProviders=list(providers))


def callback_uri() -> str:
    return f"http://127.0.0.1:{free_port()}/callback"


def browser_config(fed: Fed, client: dict, callback: str, login: str, tmp_path: Path, **extra) -> dict:
    cfg = {"issuer": fed.issuer, "client_id": client["ClientId"], "redirect_uri": callback,
           "scope": " ".join(SCOPES), "upstream_login": login, "upstream_password": UPSTREAM_PASSWORD,
           "error_screenshot": str(tmp_path / "error.png")}
    if client.get("ClientSecret"):
        cfg["client_secret"] = client["ClientSecret"]
    cfg.update(extra)
    return cfg


def user_or_none(idp, pool: str, username: str):
    try:
        return idp.admin_get_user(UserPoolId=pool, Username=username)
    except idp.exceptions.UserNotFoundException:
        return None


def identities_of(value) -> list:
    """`identities` as a list (a claim may carry the list or its JSON text)."""
    if isinstance(value, str):
        value = json.loads(value)
    assert isinstance(value, list), f"identities is not a list: {value!r}"
    return value


def assert_identity(identities, provider: str, sub: str) -> None:
    ids = identities_of(identities)
    hits = [i for i in ids if i.get("providerName") == provider and str(i.get("userId")) == sub]
    assert len(hits) == 1, f"no identity {provider}/{sub} in {ids!r}"
    assert hits[0].get("providerType") == "OIDC", hits[0]


def check_federated_tokens(report: dict, fed: Fed, client: dict, provider: str, account: dict) -> dict:
    """The Cirrus tokens of a federated sign-in (openid-client validated the ID
    token, nonce included; PyJWT again here). Returns the ID token's claims."""
    token = report["token"]
    assert token.get("id_token") and token.get("access_token") and token.get("refresh_token"), sorted(token)
    jwks = fetch_jwks(fed.endpoint, fed.pool)
    claims = verify_jwt(token["id_token"], jwks, fed.issuer, audience=client["ClientId"])
    username = f"{provider}_{account['sub']}"
    assert claims["cognito:username"] == username, claims
    assert claims["token_use"] == "id", claims
    assert claims.get("email") == account["email"], f"mapped email missing or wrong: {claims}"
    assert claims.get("name") == account["name"], f"mapped name missing or wrong: {claims}"
    assert_identity(claims.get("identities"), provider, account["sub"])
    assert f"{fed.pool}_{provider}" in (claims.get("cognito:groups") or []), \
        f"cognito:groups lacks {fed.pool}_{provider}: {claims}"
    access = verify_jwt(token["access_token"], jwks, fed.issuer)
    assert access["token_use"] == "access" and access["sub"] == claims["sub"], access
    assert access.get("username") == username, access
    assert access["client_id"] == client["ClientId"], access
    return claims


def check_federated_user(idp, fed: Fed, provider: str, account: dict, sub: str) -> dict:
    user = idp.admin_get_user(UserPoolId=fed.pool, Username=f"{provider}_{account['sub']}")
    assert user["UserStatus"] == "EXTERNAL_PROVIDER", user["UserStatus"]
    attrs = attrs_dict(user["UserAttributes"])
    assert attrs.get("sub") == sub, attrs
    assert attrs.get("email") == account["email"], attrs
    assert attrs.get("name") == account["name"], attrs
    assert_identity(attrs.get("identities"), provider, account["sub"])
    return attrs


def check_upstream_request(up_log: list, fed: Fed, client_id: str) -> dict:
    """What Cirrus sent to the upstream's authorization endpoint (the latest)."""
    auths = [e for e in up_log if e["kind"] == "authorization"]
    assert auths, f"Cirrus never sent the browser to the upstream: {up_log}"
    q = auths[-1]["query"]
    assert q.get("response_type") == "code", q
    assert q.get("client_id") == client_id, q
    assert q.get("redirect_uri") == fed.idpresponse, q
    assert set(q.get("scope", "").split()) == {"openid", "email", "profile"}, q
    assert q.get("state") and q.get("nonce"), f"state and nonce are required: {q}"
    assert q.get("code_challenge_method") == "S256" and q.get("code_challenge"), f"PKCE S256 missing: {q}"
    return q


# ------------------------------------------------------ self-test (no Cirrus) --

def test_upstream_op_smoke(workroot):
    """upstream_oidc.mjs alone: discovery, the code flow through its login form
    (plain requests), the token with client_secret_basic and PKCE, an RS256 ID
    token with the account's claims, UserInfo; a request without PKCE refused."""
    import jwt
    redirect = "http://127.0.0.1:9/pool/oauth2/idpresponse"
    acct = {"sub": "smoke-1", "email": "smoke@upstream.test", "email_verified": True, "name": "Smoke Test"}
    up = UpstreamOp(workroot, "upstream-smoke", "smoke-client", "smoke-secret-0123456789", [redirect], [acct]).start()
    try:
        meta = requests.get(up.issuer + "/.well-known/openid-configuration", timeout=10).json()
        assert meta["issuer"] == up.issuer
        assert "S256" in meta["code_challenge_methods_supported"]
        assert "client_secret_basic" in meta["token_endpoint_auth_methods_supported"]
        verifier = secrets.token_urlsafe(32)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        s = requests.Session()
        r = s.get(meta["authorization_endpoint"], allow_redirects=False, timeout=10, params={
            "response_type": "code", "client_id": "smoke-client", "redirect_uri": redirect,
            "scope": "openid email profile", "state": "st", "nonce": "nn",
            "code_challenge": challenge, "code_challenge_method": "S256"})

        def follow(resp):
            while resp.status_code in (302, 303) and not resp.headers["Location"].startswith(redirect):
                resp = s.get(requests.compat.urljoin(resp.url, resp.headers["Location"]), allow_redirects=False,
                             timeout=10)
            return resp
        r = follow(r)
        assert 'name="login"' in r.text, r.text[:500]
        r = follow(s.post(r.url + "/login", data={"login": acct["sub"], "password": UPSTREAM_PASSWORD},
                          allow_redirects=False, timeout=10))
        q = parse_qs(urlparse(r.headers["Location"]).query)
        assert q["state"] == ["st"] and q.get("code"), q
        tok = requests.post(meta["token_endpoint"], auth=("smoke-client", "smoke-secret-0123456789"), timeout=10,
                            data={"grant_type": "authorization_code", "code": q["code"][0],
                                  "redirect_uri": redirect, "code_verifier": verifier}).json()
        key = jwt.PyJWK(requests.get(meta["jwks_uri"], timeout=10).json()["keys"][0]).key
        claims = jwt.decode(tok["id_token"], key, algorithms=["RS256"], audience="smoke-client", issuer=up.issuer)
        assert claims["sub"] == "smoke-1" and claims["nonce"] == "nn" and claims["email"] == acct["email"], claims
        info = requests.get(meta["userinfo_endpoint"], headers={"Authorization": "Bearer " + tok["access_token"]},
                            timeout=10).json()
        assert info["name"] == "Smoke Test", info
        r = requests.get(meta["authorization_endpoint"], allow_redirects=False, timeout=10, params={
            "response_type": "code", "client_id": "smoke-client", "redirect_uri": redirect, "scope": "openid",
            "state": "x"})
        assert "error=invalid_request" in r.headers.get("Location", ""), r.headers
    finally:
        up.stop()


# -------------------------------------------------------------- management ----

def _oidc_details(issuer: str, scopes: str = "openid email") -> dict:
    return {"client_id": "mgmt-client", "client_secret": "mgmt-secret-value", "authorize_scopes": scopes,
            "oidc_issuer": issuer, "attributes_request_method": "GET"}


def _check_provider(got: dict, pool: str, name: str, details: dict, mapping: dict, identifiers: list) -> None:
    assert got["UserPoolId"] == pool and got["ProviderName"] == name and got["ProviderType"] == "OIDC", got
    for k, v in details.items():
        assert got["ProviderDetails"].get(k) == v, f"ProviderDetails[{k!r}]: {got['ProviderDetails']!r}"
    for k, v in mapping.items():
        assert got["AttributeMapping"].get(k) == v, f"AttributeMapping[{k!r}]: {got['AttributeMapping']!r}"
    assert got.get("IdpIdentifiers", []) == identifiers, got
    assert_recent(got["CreationDate"])
    assert_recent(got["LastModifiedDate"])


def test_identity_provider_crud(idp, fed):
    pool = new_pool(idp)
    details = _oidc_details(fed.fake.issuer)
    mapping = {"email": "email", "name": "name"}
    created = idp.create_identity_provider(UserPoolId=pool, ProviderName="Mgmt", ProviderType="OIDC",
                                           ProviderDetails=details, AttributeMapping=mapping,
                                           IdpIdentifiers=["mgmt.example"])["IdentityProvider"]
    _check_provider(created, pool, "Mgmt", details, mapping, ["mgmt.example"])
    described = idp.describe_identity_provider(UserPoolId=pool, ProviderName="Mgmt")["IdentityProvider"]
    _check_provider(described, pool, "Mgmt", details, mapping, ["mgmt.example"])
    by_id = idp.get_identity_provider_by_identifier(UserPoolId=pool, IdpIdentifier="mgmt.example")["IdentityProvider"]
    assert by_id["ProviderName"] == "Mgmt", by_id

    time.sleep(1.1)
    details2 = _oidc_details(fed.fake.issuer, "openid email profile")
    mapping2 = {"email": "email", "name": "name", "given_name": "given_name"}
    updated = idp.update_identity_provider(UserPoolId=pool, ProviderName="Mgmt", ProviderDetails=details2,
                                           AttributeMapping=mapping2, IdpIdentifiers=["mgmt2.example"])
    _check_provider(updated["IdentityProvider"], pool, "Mgmt", details2, mapping2, ["mgmt2.example"])
    again = idp.describe_identity_provider(UserPoolId=pool, ProviderName="Mgmt")["IdentityProvider"]
    _check_provider(again, pool, "Mgmt", details2, mapping2, ["mgmt2.example"])
    assert again["CreationDate"] == described["CreationDate"], (again, described)
    assert again["LastModifiedDate"] > again["CreationDate"], again
    assert idp.get_identity_provider_by_identifier(UserPoolId=pool, IdpIdentifier="mgmt2.example")[
        "IdentityProvider"]["ProviderName"] == "Mgmt"
    expect_error("ResourceNotFoundException", idp.get_identity_provider_by_identifier, UserPoolId=pool,
                 IdpIdentifier="mgmt.example")

    listed = idp.list_identity_providers(UserPoolId=pool, MaxResults=60)["Providers"]
    assert [p["ProviderName"] for p in listed] == ["Mgmt"], listed
    assert set(listed[0]) == {"ProviderName", "ProviderType", "LastModifiedDate", "CreationDate"}, listed[0]
    assert listed[0]["ProviderType"] == "OIDC", listed[0]

    idp.delete_identity_provider(UserPoolId=pool, ProviderName="Mgmt")
    expect_error("ResourceNotFoundException", idp.describe_identity_provider, UserPoolId=pool, ProviderName="Mgmt")
    expect_error("ResourceNotFoundException", idp.delete_identity_provider, UserPoolId=pool, ProviderName="Mgmt")
    assert idp.list_identity_providers(UserPoolId=pool, MaxResults=60)["Providers"] == []
    idp.delete_user_pool(UserPoolId=pool)


def test_identity_provider_refusals(idp, fed):
    pool = new_pool(idp)
    details = _oidc_details(fed.fake.issuer)
    idp.create_identity_provider(UserPoolId=pool, ProviderName="Dup", ProviderType="OIDC", ProviderDetails=details,
                                 AttributeMapping={"email": "email"})
    expect_error("DuplicateProviderException", idp.create_identity_provider, UserPoolId=pool, ProviderName="Dup",
                 ProviderType="OIDC", ProviderDetails=details, AttributeMapping={"email": "email"})
    expect_error("InvalidParameterException", idp.create_identity_provider, UserPoolId=pool, ProviderName="COGNITO",
                 ProviderType="OIDC", ProviderDetails=details)
    expect_error("ResourceNotFoundException", idp.describe_identity_provider, UserPoolId=pool, ProviderName="Nope")
    expect_error("ResourceNotFoundException", idp.update_identity_provider, UserPoolId=pool, ProviderName="Nope",
                 ProviderDetails=details)
    expect_error("ResourceNotFoundException", idp.get_identity_provider_by_identifier, UserPoolId=pool,
                 IdpIdentifier="nobody.example")
    expect_error("ResourceNotFoundException", idp.create_identity_provider, UserPoolId="us-east-1_Nope0000",
                 ProviderName="X", ProviderType="OIDC", ProviderDetails=details)
    idp.delete_user_pool(UserPoolId=pool)


def test_list_identity_providers_pages(idp, fed):
    pool = new_pool(idp)
    names = ["PageA", "PageB", "PageC"]
    for name in names:
        idp.create_identity_provider(UserPoolId=pool, ProviderName=name, ProviderType="OIDC",
                                     ProviderDetails=_oidc_details(fed.fake.issuer))
    seen, token = [], None
    for _ in range(5):
        kwargs = {"UserPoolId": pool, "MaxResults": 1}
        if token:
            kwargs["NextToken"] = token
        resp = idp.list_identity_providers(**kwargs)
        assert len(resp["Providers"]) <= 1, resp["Providers"]
        seen += [p["ProviderName"] for p in resp["Providers"]]
        token = resp.get("NextToken")
        if not token:
            break
    assert sorted(seen) == names, seen
    idp.delete_user_pool(UserPoolId=pool)


def test_client_supported_identity_providers(idp, fed):
    """A client may name the pool's providers, not unknown ones."""
    cb = callback_uri()
    client = fed_client(idp, fed, cb, providers=("COGNITO", PROVIDER))
    assert sorted(client["SupportedIdentityProviders"]) == ["COGNITO", PROVIDER], client
    expect_error("InvalidParameterException", fed_client, idp, fed, cb, providers=("COGNITO", "NoSuchProvider"))
    expect_error("InvalidParameterException", idp.update_user_pool_client, UserPoolId=fed.pool,
                 ClientId=client["ClientId"], CallbackURLs=[cb], AllowedOAuthFlows=["code"],
                 AllowedOAuthScopes=SCOPES, AllowedOAuthFlowsUserPoolClient=True,
                 SupportedIdentityProviders=["COGNITO", "NoSuchProvider"])


def test_authorize_refuses_provider_not_on_client(fed, idp):
    """identity_provider naming a provider the client does not list (or none
    at all) never sends the browser upstream."""
    cb = callback_uri()
    client = fed_client(idp, fed, cb, providers=("COGNITO",))
    verifier = secrets.token_urlsafe(32)
    for name in (PROVIDER, "NoSuchProvider"):
        r = requests.get(fed.issuer + "/oauth2/authorize", allow_redirects=False, timeout=10, params={
            "response_type": "code", "client_id": client["ClientId"], "redirect_uri": cb, "scope": "openid",
            "state": "s", "code_challenge": _challenge(verifier), "code_challenge_method": "S256",
            "identity_provider": name})
        loc = r.headers.get("Location", "")
        assert not loc.startswith(fed.upstream.issuer) and not loc.startswith(fed.fake.issuer), (name, r.status_code, loc)
        assert r.status_code in (302, 303, 400), (name, r.status_code, r.text[:300])


# ---------------------------------------------------- acceptance (browser) ----

def test_sign_in_with_identity_provider(idp, fed, tmp_path):
    """identity_provider=Upstream: Cirrus → oidc-provider's login form → Cirrus
    idpresponse → the app, whose code gives tokens of `Upstream_<sub>`."""
    acct = fed.accounts["alice"]
    cb = callback_uri()
    client = fed_client(idp, fed, cb)
    report = run_browser(browser_config(fed, client, cb, acct["sub"], tmp_path,
                                        authorize_extra={"identity_provider": PROVIDER}), upstream=fed.upstream)
    assert report["pages"] == ["upstream_login", "callback"], _brief(report)
    up_log = fed.upstream.log()
    check_upstream_request(up_log, fed, fed.up_client_id)
    grants = [e for e in up_log if e["kind"] == "grant.success"]
    assert grants and grants[-1]["client_auth"] == "client_secret_basic", up_log
    claims = check_federated_tokens(report, fed, client, PROVIDER, acct)
    check_federated_user(idp, fed, PROVIDER, acct, claims["sub"])
    info = report.get("userinfo")
    assert info and info["sub"] == claims["sub"], report.get("userinfo_error")


def test_sign_in_with_client_secret(idp, fed, tmp_path):
    """The same with a confidential app client (client_secret_basic at Cirrus)."""
    acct = fed.accounts["grace"]
    cb = callback_uri()
    client = fed_client(idp, fed, cb, secret=True)
    report = run_browser(browser_config(fed, client, cb, acct["sub"], tmp_path,
                                        authorize_extra={"identity_provider": PROVIDER}), upstream=fed.upstream)
    check_federated_tokens(report, fed, client, PROVIDER, acct)


def test_sign_in_from_hosted_login_button(idp, fed, tmp_path):
    """No identity_provider: the hosted login page offers `a.idp` links, one per
    provider of the client; clicking Upstream's signs in there."""
    acct = fed.accounts["bob"]
    cb = callback_uri()
    client = fed_client(idp, fed, cb, providers=("COGNITO", PROVIDER))
    report = run_browser(browser_config(fed, client, cb, acct["sub"], tmp_path, provider_button=PROVIDER,
                                        screenshot_dir=str(tmp_path), screenshots=["hosted_idp.png"]),
                         upstream=fed.upstream)
    assert report["pages"] == ["hosted_login", "upstream_login", "callback"], _brief(report)
    links = report["idp_links"]
    ups = [link for link in links if PROVIDER in link["text"]]
    assert len(ups) == 1, f"a.idp links on the hosted page: {links}"
    assert ups[0]["text"] == f"Sign in with {PROVIDER}", ups[0]
    assert f"identity_provider={PROVIDER}" in ups[0]["href"], ups[0]
    assert not any(FAKE in link["text"] for link in links), f"a provider the client lacks is offered: {links}"
    check_upstream_request(fed.upstream.log(), fed, fed.up_client_id)
    check_federated_tokens(report, fed, client, PROVIDER, acct)
    assert (tmp_path / "hosted_idp.png").is_file()


def test_sign_in_with_idp_identifier(idp, fed, tmp_path):
    acct = fed.accounts["dave"]
    cb = callback_uri()
    client = fed_client(idp, fed, cb)
    report = run_browser(browser_config(fed, client, cb, acct["sub"], tmp_path,
                                        authorize_extra={"idp_identifier": IDP_IDENTIFIER}), upstream=fed.upstream)
    assert report["pages"] == ["upstream_login", "callback"], _brief(report)
    claims = check_federated_tokens(report, fed, client, PROVIDER, acct)
    check_federated_user(idp, fed, PROVIDER, acct, claims["sub"])


def test_second_sign_in_updates_attributes(idp, fed, tmp_path):
    """Attributes changed upstream are mapped again at the next sign-in; the
    user (and its sub) stays the same."""
    acct = dict(fed.accounts["erin"])
    cb = callback_uri()
    client = fed_client(idp, fed, cb)
    cfg = browser_config(fed, client, cb, acct["sub"], tmp_path, authorize_extra={"identity_provider": PROVIDER})
    first = check_federated_tokens(run_browser(cfg, upstream=fed.upstream), fed, client, PROVIDER, acct)

    acct.update(email=f"changed.{acct['email']}", name="Erin Renamed")
    fed.upstream.set_account(acct["sub"], email=acct["email"], name=acct["name"])
    second = check_federated_tokens(run_browser(cfg, upstream=fed.upstream), fed, client, PROVIDER, acct)
    assert second["sub"] == first["sub"], (first, second)
    check_federated_user(idp, fed, PROVIDER, acct, first["sub"])


def test_attributes_from_userinfo(idp, fed, tmp_path):
    """An upstream whose ID token carries only sub (oidc-provider's default for
    the code flow): email and name come from attributes_url (UserInfo)."""
    acct = fed.accounts["alice"]
    cb = callback_uri()
    client = fed_client(idp, fed, cb)
    report = run_browser(browser_config(fed, client, cb, acct["sub"], tmp_path,
                                        authorize_extra={"identity_provider": PROVIDER_UI}), upstream=fed.upstream_ui)
    up_log = fed.upstream_ui.log()
    assert any(e["kind"] == "userinfo" and e["auth_scheme"] == "Bearer" for e in up_log), \
        f"Cirrus did not call the upstream's UserInfo: {up_log}"
    claims = check_federated_tokens(report, fed, client, PROVIDER_UI, acct)
    check_federated_user(idp, fed, PROVIDER_UI, acct, claims["sub"])


def test_link_and_unlink_native_user(idp, fed, tmp_path):
    """AdminLinkProviderForUser: the upstream identity signs in as the native
    user; AdminDisableProviderForUser undoes it (the next sign-in makes a
    federated user of its own)."""
    acct = fed.accounts["frank"]
    native = admin_user(idp, fed.pool, attrs={"email": acct["email"], "email_verified": "true",
                                              "name": acct["name"]})
    idp.admin_link_provider_for_user(
        UserPoolId=fed.pool,
        DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": native["username"]},
        SourceUser={"ProviderName": PROVIDER, "ProviderAttributeName": "Cognito_Subject",
                    "ProviderAttributeValue": acct["sub"]})
    cb = callback_uri()
    client = fed_client(idp, fed, cb)
    cfg = browser_config(fed, client, cb, acct["sub"], tmp_path, authorize_extra={"identity_provider": PROVIDER})

    report = run_browser(cfg, upstream=fed.upstream)
    jwks = fetch_jwks(fed.endpoint, fed.pool)
    claims = verify_jwt(report["token"]["id_token"], jwks, fed.issuer, audience=client["ClientId"])
    assert claims["cognito:username"] == native["username"], claims
    assert claims["sub"] == native["sub"], claims
    assert user_or_none(idp, fed.pool, f"{PROVIDER}_{acct['sub']}") is None, \
        "a linked sign-in must not create a separate federated user"

    idp.admin_disable_provider_for_user(
        UserPoolId=fed.pool,
        User={"ProviderName": PROVIDER, "ProviderAttributeName": "Cognito_Subject",
              "ProviderAttributeValue": acct["sub"]})
    report = run_browser(cfg, upstream=fed.upstream)
    claims = check_federated_tokens(report, fed, client, PROVIDER, acct)
    assert claims["sub"] != native["sub"], claims
    got = idp.admin_get_user(UserPoolId=fed.pool, Username=native["username"])
    assert got["UserStatus"] == "CONFIRMED", got


# ------------------------------------------------- security (fake upstream) ----

def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class FakeFlow:
    """The redirects of one federated sign-in through fake_oidc.py, one by one."""

    def __init__(self, fed: Fed, client: dict, callback: str, mode: str, sub: str):
        self.fed, self.client, self.callback, self.sub = fed, client, callback, sub
        fed.fake.set(mode, sub=sub, claims={"email": f"{sub}@fake.test", "email_verified": True,
                                            "name": "Fake Person"})
        self.session = requests.Session()
        self.verifier = secrets.token_urlsafe(32)
        self.rp_state = secrets.token_urlsafe(12)
        self.tokens_before = len(fed.fake.requests_to("/token"))
        r = self.get(fed.issuer + "/oauth2/authorize", params={
            "response_type": "code", "client_id": client["ClientId"], "redirect_uri": callback,
            "scope": " ".join(SCOPES), "state": self.rp_state, "nonce": secrets.token_urlsafe(8),
            "code_challenge": _challenge(self.verifier), "code_challenge_method": "S256",
            "identity_provider": FAKE})
        loc = r.headers.get("Location", "")
        assert r.status_code == 302 and loc.startswith(fed.fake.authorize_endpoint + "?"), \
            f"authorize with identity_provider={FAKE}: HTTP {r.status_code} Location {loc!r} {r.text[:500]!r}"
        self.upstream_query = {k: v[0] for k, v in parse_qs(urlparse(loc).query).items()}
        q = self.upstream_query
        assert q.get("response_type") == "code" and q.get("client_id") == fed.fake.client_id, q
        assert q.get("redirect_uri") == fed.idpresponse, q
        assert q.get("state") and q.get("nonce") and q.get("code_challenge_method") == "S256", q
        r = self.get(loc)
        assert r.status_code == 302, r.text
        self.idpresponse_url = r.headers["Location"]
        assert self.idpresponse_url.startswith(fed.idpresponse + "?"), self.idpresponse_url

    def get(self, url: str, **kwargs) -> requests.Response:
        """A GET as a browser on http://127.0.0.1 makes it: no redirect followed,
        cookies sent even when marked Secure (browsers treat loopback as secure)."""
        for c in self.session.cookies:
            c.secure = False
        return self.session.get(url, allow_redirects=False, timeout=20, **kwargs)

    def with_state(self, state: str | None) -> str:
        u = urlparse(self.idpresponse_url)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        if state is None:
            q.pop("state", None)
        else:
            q["state"] = state
        return urlunparse(u._replace(query=urlencode(q)))

    def finish(self, url: str | None = None) -> requests.Response:
        return self.get(url or self.idpresponse_url)

    def token_calls(self) -> int:
        return len(self.fed.fake.requests_to("/token")) - self.tokens_before


def _session_cookies(resp: requests.Response) -> list:
    """Set-Cookie headers that set cirrus_session to a non-empty value."""
    out = []
    for header in resp.raw.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        value = rest.split(";", 1)[0]
        if name.strip() == "cirrus_session" and value and "max-age=0" not in header.lower():
            out.append(header)
    return out


def assert_refused(idp, fed: Fed, flow: FakeFlow, resp: requests.Response, what: str) -> None:
    """A failed federated sign-in: a 400 HTML error page with role="alert" text,
    no redirect (to the app or anywhere), no hosted-UI session, no user.
    Every check runs; the failure lists all that did not hold."""
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
    if user_or_none(idp, fed.pool, f"{FAKE}_{flow.sub}") is not None:
        problems.append(f"user {FAKE}_{flow.sub} was created")
    if 'role="alert"' not in resp.text:
        problems.append('the error page has no role="alert" element')
    assert not problems, (f"{what}: " + "; ".join(problems) +
                          f"\nheaders {dict(resp.headers)}\nbody {resp.text[-700:]!r}")


@pytest.fixture(scope="module")
def fake_client(idp, fed):
    cb = callback_uri()
    return cb, fed_client(idp, fed, cb)


def _redeem(fed: Fed, client: dict, callback: str, code: str, verifier: str) -> dict:
    r = requests.post(fed.issuer + "/oauth2/token", timeout=10, data={
        "grant_type": "authorization_code", "client_id": client["ClientId"], "code": code,
        "redirect_uri": callback, "code_verifier": verifier})
    assert r.status_code == 200, f"token exchange: HTTP {r.status_code} {r.text}"
    return r.json()


def test_fake_upstream_positive_control(idp, fed, fake_client):
    """The hostile upstream in its honest mode signs in: the refusals below
    are the token's doing, not a broken flow."""
    callback, client = fake_client
    sub = unique("ok")
    flow = FakeFlow(fed, client, callback, "ok", sub)
    resp = flow.finish()
    loc = resp.headers.get("Location", "")
    assert resp.status_code in (302, 303) and loc.startswith(callback + "?"), \
        f"HTTP {resp.status_code} {loc!r} {resp.text[:600]!r}"
    q = {k: v[0] for k, v in parse_qs(urlparse(loc).query).items()}
    assert q.get("state") == flow.rp_state and q.get("code"), q
    assert flow.token_calls() == 1
    token_req = fed.fake.requests_to("/token")[-1]
    assert token_req["auth_scheme"] == "Basic", f"client_secret_basic expected at the upstream: {token_req}"
    assert _session_cookies(resp), f"no hosted-UI session cookie after a federated sign-in: {dict(resp.headers)}"
    tokens = _redeem(fed, client, callback, q["code"], flow.verifier)
    claims = verify_jwt(tokens["id_token"], fetch_jwks(fed.endpoint, fed.pool), fed.issuer,
                        audience=client["ClientId"])
    assert claims["cognito:username"] == f"{FAKE}_{sub}", claims
    assert claims.get("email") == f"{sub}@fake.test", claims
    assert_identity(claims.get("identities"), FAKE, sub)
    assert user_or_none(idp, fed.pool, f"{FAKE}_{sub}") is not None

    # The same idpresponse (code and state) a second time is refused.
    again = flow.finish()
    assert again.status_code == 400 and "Location" not in again.headers, \
        f"replayed idpresponse: HTTP {again.status_code} {dict(again.headers)} {again.text[:300]!r}"


BAD_TOKENS = {
    "wrong_nonce": "an ID token whose nonce is not the one sent",
    "missing_nonce": "an ID token without the nonce",
    "wrong_aud": "an ID token for another client",
    "wrong_iss": "an ID token from another issuer",
    "expired": "an expired ID token",
    "alg_none": "an unsigned ID token (alg none)",
    "hs256_pubkey": "an ID token HMAC-signed with the RSA public key",
    "unknown_key": "an ID token signed by a key not in the JWKS",
    "bad_signature": "an ID token signed by another key under the published kid",
}


@pytest.mark.parametrize("mode", sorted(BAD_TOKENS))
def test_bad_id_token_refused(idp, fed, fake_client, mode):
    callback, client = fake_client
    flow = FakeFlow(fed, client, callback, mode, unique(mode.replace("_", "")))
    resp = flow.finish()
    assert flow.token_calls() == 1, "Cirrus did not redeem the upstream code (so it never saw the bad token)"
    assert_refused(idp, fed, flow, resp, BAD_TOKENS[mode])


def test_upstream_token_error_refused(idp, fed, fake_client):
    callback, client = fake_client
    flow = FakeFlow(fed, client, callback, "token_error", unique("tokerr"))
    assert_refused(idp, fed, flow, flow.finish(), "the upstream token endpoint refused the code")


def test_upstream_error_refused(idp, fed, fake_client):
    """error=access_denied from the upstream: an error page, not a sign-in."""
    callback, client = fake_client
    flow = FakeFlow(fed, client, callback, "upstream_error", unique("denied"))
    assert "error=access_denied" in flow.idpresponse_url, flow.idpresponse_url
    resp = flow.finish()
    assert flow.token_calls() == 0
    assert_refused(idp, fed, flow, resp, "upstream error=access_denied")


@pytest.mark.parametrize("case", ["mismatched", "missing", "other_browser"])
def test_bad_state_refused(idp, fed, fake_client, case):
    """A state that is not the one Cirrus sent (or none, or the right one
    arriving in another browser than the one that started the sign-in: login
    CSRF): refused before the upstream code is redeemed."""
    callback, client = fake_client
    flow = FakeFlow(fed, client, callback, "ok", unique(f"state{case.replace('_', '')}"))
    if case == "other_browser":
        flow.session = requests.Session()
        resp = flow.finish()
    else:
        resp = flow.finish(flow.with_state(secrets.token_urlsafe(24) if case == "mismatched" else None))
    assert flow.token_calls() == 0, "Cirrus redeemed a code that came with a bad state"
    assert_refused(idp, fed, flow, resp, f"{case} state at idpresponse")
