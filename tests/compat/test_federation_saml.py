"""Federation with a SAML 2.0 identity provider (issue #8, SAML part).

The IdP is pysaml2 (tests/compat/saml_idp.py; pinned in requirements.txt,
signing through Debian's xmlsec1): nobody here wrote its SAML. Cirrus is
the service provider of each pool: entity ID urn:amazon:cognito:sp:<pool>,
ACS {endpoint}/{pool}/saml2/idpresponse (HTTP-POST), SP metadata at
{endpoint}/{pool}/saml2/metadata.

- Self-checks (no Cirrus): pysaml2's own SP accepts the IdP's untampered
  responses and its /sso login; each XML signature wrapping variant of
  tests/compat/saml_xsw.py fools a careless verifier (so it is a live attack).
- Management: CreateIdentityProvider with MetadataFile and MetadataURL;
  metadata without a signing certificate refused; the SP metadata.
- Acceptance, in headless Chromium (tests/compat/js/saml_browser.mjs):
  authorize with identity_provider=Corp → the IdP's login form → the POST to
  the ACS → the app's callback with a Cirrus code, redeemed here.
- Security, without a browser: an SP-initiated flow is started with requests
  (a real AuthnRequest ID, RelayState and the cirrus_fed cookie), then a
  crafted SAMLResponse is POSTed to the ACS. Each must answer HTTP 400 (an
  HTML page with role="alert"), no Location, no cirrus_session cookie, and
  no user for the attacker. Each group has a positive control (the
  untampered response signs the victim in), so no refusal passes vacuously.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import logging
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from botocore.exceptions import ClientError
from lxml import etree

from harness import (JS_DIR, attrs_dict, expect_error, fetch_jwks, free_port, issuer_for, new_app_client, new_pool,
                     unique, verify_jwt)
from saml_idp import (NS, STATUS_RESPONDER, SamlIdp, encode, new_id, now_utc, pysaml2_sp,
                      pysaml2_sp_accepts)
import saml_xsw

PROVIDER = "Corp"
REMOTE = "Remote"                 # the same kind of IdP on http://localhost: cross-site to Cirrus
SCOPES = ["openid", "email", "profile"]
EMAIL_URI = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
MAPPING = {"email": EMAIL_URI, "name": "displayName"}
IDP_PASSWORD = "idp-pass"
BROWSER_JS = JS_DIR / "saml_browser.mjs"
CHROMIUM = Path("/usr/bin/chromium")
HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
SAML2_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"

logging.getLogger("saml2").setLevel(logging.CRITICAL)     # pysaml2 logs every refusal at ERROR


# ---------------------------------------------------------------- helpers ----

def sp_entity_id(pool_id: str) -> str:
    return f"urn:amazon:cognito:sp:{pool_id}"


def attributes_for(name_id: str) -> dict:
    return {EMAIL_URI: f"{name_id}@corp.test", "displayName": f"Person {name_id}"}


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def callback_uri() -> str:
    return f"http://127.0.0.1:{free_port()}/callback"


class SpPool:
    """A pool whose provider(s) trust a SamlIdp, and an app client for them."""

    def __init__(self, idp_client, endpoint: str, saml_idp: SamlIdp, *, idp_init: bool = False,
                 extra: dict | None = None):
        self.idp_client = idp_client
        self.endpoint = endpoint
        self.saml_idp = saml_idp
        self.pool = new_pool(idp_client)
        self.issuer = issuer_for(endpoint, self.pool)
        self.acs = f"{self.issuer}/saml2/idpresponse"
        self.entity_id = sp_entity_id(self.pool)
        details = {"MetadataFile": saml_idp.metadata_xml(), "IDPInit": "true" if idp_init else "false"}
        idp_client.create_identity_provider(UserPoolId=self.pool, ProviderName=PROVIDER, ProviderType="SAML",
                                            ProviderDetails=details, AttributeMapping=MAPPING)
        self.providers = ["COGNITO", PROVIDER]
        for name, other in (extra or {}).items():
            idp_client.create_identity_provider(UserPoolId=self.pool, ProviderName=name, ProviderType="SAML",
                                                ProviderDetails={"MetadataFile": other.metadata_xml()},
                                                AttributeMapping=MAPPING)
            self.providers.append(name)
        self.callback = callback_uri()
        self.client = new_app_client(idp_client, self.pool, CallbackURLs=[self.callback],
                                     AllowedOAuthFlows=["code"], AllowedOAuthScopes=SCOPES,
                                     AllowedOAuthFlowsUserPoolClient=True, SupportedIdentityProviders=self.providers)

    def authorize_params(self, provider: str = PROVIDER) -> tuple[dict, str, str]:
        verifier, state = secrets.token_urlsafe(32), secrets.token_urlsafe(12)
        params = {"response_type": "code", "client_id": self.client["ClientId"], "redirect_uri": self.callback,
                  "scope": " ".join(SCOPES), "state": state, "code_challenge": _challenge(verifier),
                  "code_challenge_method": "S256", "identity_provider": provider}
        return params, verifier, state

    def user_or_none(self, name_id: str, provider: str = PROVIDER):
        try:
            return self.idp_client.admin_get_user(UserPoolId=self.pool, Username=f"{provider}_{name_id}")
        except self.idp_client.exceptions.UserNotFoundException:
            return None

    def redeem(self, code: str, verifier: str | None) -> dict:
        data = {"grant_type": "authorization_code", "client_id": self.client["ClientId"], "code": code,
                "redirect_uri": self.callback}
        if verifier:
            data["code_verifier"] = verifier
        r = requests.post(self.issuer + "/oauth2/token", data=data, timeout=10)
        assert r.status_code == 200, f"token exchange: HTTP {r.status_code} {r.text}"
        return r.json()

    def delete(self) -> None:
        try:
            self.idp_client.delete_user_pool(UserPoolId=self.pool)
        except ClientError:
            pass


class SpFlow:
    """One SP-initiated sign-in started with requests: authorize → the 302 to
    the IdP's SSO URL; the AuthnRequest is parsed by pysaml2 (as the IdP would)."""

    def __init__(self, sp: SpPool, provider: str = PROVIDER, idp: SamlIdp | None = None):
        self.sp = sp
        self.idp = idp or sp.saml_idp
        self.session = requests.Session()
        params, self.verifier, self.state = sp.authorize_params(provider)
        r = self.session.get(sp.issuer + "/oauth2/authorize", params=params, allow_redirects=False, timeout=10)
        loc = r.headers.get("Location", "")
        assert r.status_code in (302, 303) and loc.startswith(self.idp.sso_url + "?"), \
            f"authorize with identity_provider={provider}: HTTP {r.status_code} Location {loc!r} {r.text[:500]!r}"
        self.location = loc
        self.set_cookies = r.raw.headers.getlist("Set-Cookie")
        q = {k: v[0] for k, v in parse_qs(urlparse(loc).query, keep_blank_values=True).items()}
        self.query = q
        assert q.get("SAMLRequest"), f"no SAMLRequest in {loc!r}"
        assert q.get("RelayState"), f"no RelayState in {loc!r}"
        self.relay_state = q["RelayState"]
        self.request = self.idp.parse_authn_request(q["SAMLRequest"], q.get("RelayState"), q.get("SigAlg"),
                                                    q.get("Signature"))
        self.request_id = self.request["id"]

    def response(self, name_id: str, **kwargs) -> str:
        """A response to this flow's AuthnRequest (knobs: SamlIdp.build_response)."""
        kwargs.setdefault("attributes", attributes_for(name_id))
        kwargs.setdefault("in_response_to", self.request_id)
        kwargs.setdefault("acs_url", self.sp.acs)
        kwargs.setdefault("audience", self.sp.entity_id)
        return self.idp.build_response(name_id=name_id, **kwargs)

    def post(self, xml, relay_state: str | None = "__flow__", acs: str | None = None) -> requests.Response:
        """POST the form an IdP's page would, with the browser's cookies."""
        for c in self.session.cookies:       # browsers send Secure cookies to http://127.0.0.1
            c.secure = False
        form = {"SAMLResponse": encode(xml)}
        if relay_state == "__flow__":
            relay_state = self.relay_state
        if relay_state is not None:
            form["RelayState"] = relay_state
        return self.session.post(acs or self.sp.acs, data=form, allow_redirects=False, timeout=20)


def _session_cookies(resp: requests.Response) -> list:
    """Set-Cookie headers that set cirrus_session to a non-empty value."""
    out = []
    for header in resp.raw.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        value = rest.split(";", 1)[0]
        if name.strip() == "cirrus_session" and value and "max-age=0" not in header.lower():
            out.append(header)
    return out


def _who_signed_in(sp: SpPool, resp: requests.Response, verifier: str | None) -> str:
    """For a failure message: whose tokens the code of a wrongly accepted response gives."""
    q = parse_qs(urlparse(resp.headers.get("Location", "")).query)
    if not q.get("code"):
        return ""
    try:
        data = {"grant_type": "authorization_code", "client_id": sp.client["ClientId"], "code": q["code"][0],
                "redirect_uri": sp.callback}
        if verifier:
            data["code_verifier"] = verifier
        tok = requests.post(sp.issuer + "/oauth2/token", data=data, timeout=10).json()
        payload = tok["id_token"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return f" SIGNED IN AS {claims.get('cognito:username')!r} (email {claims.get('email')!r});"
    except Exception as exc:      # diagnostics only
        return f" (code not redeemable: {exc!r});"


# Servers by endpoint, so that assert_refused can read the log of the
# server a pool lives on (other modules register theirs with
# `remember_server`).
SERVERS: dict = {}
_AUDITS_SEEN: dict = {}


def remember_server(server) -> None:
    SERVERS[server.endpoint] = server


@pytest.fixture(autouse=True)
def _remember_server(server):
    remember_server(server)
    yield


def audit_events(endpoint: str) -> int:
    """Refusals the server at `endpoint` logged as audit events so far."""
    text = SERVERS[endpoint].logs(limit=1 << 30)
    return sum(1 for line in text.splitlines() if " audit:" in line)


def assert_refused(sp: SpPool, resp: requests.Response, what: str, users=(), session=None,
                   verifier: str | None = None) -> None:
    who = _who_signed_in(sp, resp, verifier) if resp.status_code in (302, 303) else ""
    detail = f"{what}:{who} HTTP {resp.status_code} headers {dict(resp.headers)} body {resp.text[:600]!r}"
    assert resp.status_code == 400, detail
    assert "Location" not in resp.headers, detail
    assert resp.headers.get("Content-Type", "").startswith("text/html"), detail
    assert 'role="alert"' in resp.text, detail
    assert not _session_cookies(resp), detail
    if session is not None:
        held = [c for c in session.cookies if c.name == "cirrus_session" and c.value]
        assert not held, f"{what}: the browser holds a cirrus_session cookie"
    for name_id in users:
        expect_error("UserNotFoundException", sp.idp_client.admin_get_user, UserPoolId=sp.pool,
                     Username=f"{PROVIDER}_{name_id}")
    # Every refusal leaves an audit event in the server's log.
    assert sp.endpoint in SERVERS, f"{what}: the server at {sp.endpoint} was not registered (remember_server)"
    seen = audit_events(sp.endpoint)
    assert seen > _AUDITS_SEEN.get(sp.endpoint, 0), f"{what}: no audit event logged for the refusal"
    _AUDITS_SEEN[sp.endpoint] = seen


def identities_of(value) -> list:
    if isinstance(value, str):
        value = json.loads(value)
    assert isinstance(value, list), f"identities is not a list: {value!r}"
    return value


def assert_saml_identity(identities, provider: str, name_id: str) -> None:
    ids = identities_of(identities)
    hits = [i for i in ids if i.get("providerName") == provider and str(i.get("userId")) == name_id]
    assert len(hits) == 1, f"no identity {provider}/{name_id} in {ids!r}"
    assert hits[0].get("providerType") == "SAML", hits[0]


def check_tokens(sp: SpPool, tokens: dict, name_id: str, provider: str = PROVIDER) -> dict:
    """The Cirrus tokens of a SAML sign-in; returns the ID token's claims."""
    assert tokens.get("id_token") and tokens.get("access_token") and tokens.get("refresh_token"), sorted(tokens)
    jwks = fetch_jwks(sp.endpoint, sp.pool)
    claims = verify_jwt(tokens["id_token"], jwks, sp.issuer, audience=sp.client["ClientId"])
    assert claims["cognito:username"] == f"{provider}_{name_id}", claims
    assert claims["token_use"] == "id", claims
    assert claims.get("email") == f"{name_id}@corp.test", f"mapped email (from {EMAIL_URI}) missing: {claims}"
    assert claims.get("name") == f"Person {name_id}", f"mapped name (from displayName) missing: {claims}"
    assert_saml_identity(claims.get("identities"), provider, name_id)
    assert f"{sp.pool}_{provider}" in (claims.get("cognito:groups") or []), \
        f"cognito:groups lacks {sp.pool}_{provider}: {claims}"
    access = verify_jwt(tokens["access_token"], jwks, sp.issuer)
    assert access["token_use"] == "access" and access["sub"] == claims["sub"], access
    assert access.get("username") == f"{provider}_{name_id}", access
    return claims


def check_user(sp: SpPool, name_id: str, sub: str, provider: str = PROVIDER) -> None:
    user = sp.idp_client.admin_get_user(UserPoolId=sp.pool, Username=f"{provider}_{name_id}")
    assert user["UserStatus"] == "EXTERNAL_PROVIDER", user["UserStatus"]
    attrs = attrs_dict(user["UserAttributes"])
    assert attrs.get("sub") == sub, attrs
    assert attrs.get("email") == f"{name_id}@corp.test", attrs
    assert attrs.get("name") == f"Person {name_id}", attrs
    assert_saml_identity(attrs.get("identities"), provider, name_id)


def assert_signed_in(sp: SpPool, resp: requests.Response, name_id: str, verifier: str | None,
                     state: str | None, what: str, provider: str = PROVIDER) -> dict:
    """The ACS answered a sign-in: 302 to the callback with a code (and the
    app's state), a session cookie; the code redeems to name_id's tokens."""
    loc = resp.headers.get("Location", "")
    assert resp.status_code in (302, 303) and loc.startswith(sp.callback + "?"), \
        f"{what}: HTTP {resp.status_code} Location {loc!r} body {resp.text[:600]!r}"
    q = {k: v[0] for k, v in parse_qs(urlparse(loc).query).items()}
    assert q.get("code"), q
    if state is not None:
        assert q.get("state") == state, q
    assert _session_cookies(resp), f"{what}: no hosted-UI session cookie after a SAML sign-in: {dict(resp.headers)}"
    claims = check_tokens(sp, sp.redeem(q["code"], verifier), name_id, provider)
    check_user(sp, name_id, claims["sub"], provider)
    return claims


# ---------------------------------------------------------------- fixtures ----

@pytest.fixture(scope="module")
def saml_idp():
    idp = SamlIdp(login="form").start()
    try:
        yield idp
    finally:
        idp.stop()


@pytest.fixture(scope="module")
def remote_idp():
    """The same IdP on http://localhost:<port>: another site than Cirrus's
    http://127.0.0.1, as a real IdP is (its POST to the ACS is cross-site)."""
    idp = SamlIdp(host="localhost", login="form").start()
    try:
        yield idp
    finally:
        idp.stop()


@pytest.fixture(scope="module")
def corp(idp, server, saml_idp, remote_idp):
    """The pool of the SP-initiated tests: Corp (MetadataFile, IDPInit false)
    and Remote (the localhost IdP)."""
    sp = SpPool(idp, server.endpoint, saml_idp, extra={REMOTE: remote_idp})
    yield sp
    sp.delete()


@pytest.fixture(scope="module")
def corp_idp_init(idp, server, saml_idp):
    """A second pool trusting the same IdP with IDPInit true."""
    sp = SpPool(idp, server.endpoint, saml_idp, idp_init=True)
    yield sp
    sp.delete()


# ------------------------------------------------------ self-checks (no Cirrus) --

ACS_X = "http://127.0.0.1:9/us-east-1_SelfCheck/saml2/idpresponse"
SP_X = sp_entity_id("us-east-1_SelfCheck")


@pytest.mark.parametrize("sign", ["assertion", "response", "both"])
def test_idp_self_check_pysaml2_sp_accepts(saml_idp, sign):
    """pysaml2's SP (Saml2Client) verifies an untampered response of this IdP:
    RSA-SHA256 over exclusive C14N with SHA-256 digests, the signing
    certificate from the metadata."""
    xml = saml_idp.build_response(acs_url=ACS_X, audience=SP_X, name_id="alice", in_response_to="_req-1",
                                  attributes=attributes_for("alice"), sign=sign)
    root = etree.fromstring(xml.encode())
    sigs = root.findall(".//ds:Signature", NS)
    assert len(sigs) == (2 if sign == "both" else 1), xml
    for sig in sigs:
        assert sig.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm").endswith("#rsa-sha256")
        assert sig.find("ds:SignedInfo/ds:Reference/ds:DigestMethod", NS).get("Algorithm").endswith("#sha256")
    sp = pysaml2_sp(saml_idp.metadata_xml(), SP_X, ACS_X, want={"both": "either"}.get(sign, sign))
    assert pysaml2_sp_accepts(sp, xml, "_req-1") == "alice"
    assert saml_xsw.naive_sp(xml, saml_idp.key.cert_pem) == "alice"


def test_idp_self_check_knobs(saml_idp):
    """The negative knobs really produce what they say: pysaml2's SP refuses
    the unsigned and the wrongly keyed responses; the SHA-1 one is signed with
    rsa-sha1 / sha1 (pysaml2 itself still accepts SHA-1)."""
    sp = pysaml2_sp(saml_idp.metadata_xml(), SP_X, ACS_X)
    for kwargs in (dict(sign="none"), dict(signer=saml_idp.other_key),
                   dict(signer=saml_idp.other_key, keyinfo=saml_idp.key)):
        xml = saml_idp.build_response(acs_url=ACS_X, audience=SP_X, name_id="bob", in_response_to="_r", **kwargs)
        with pytest.raises(Exception):
            pysaml2_sp_accepts(sp, xml, "_r")
    xml = saml_idp.build_response(acs_url=ACS_X, audience=SP_X, name_id="bob", in_response_to="_r",
                                  algorithm="rsa-sha1")
    assert "xmldsig#rsa-sha1" in xml and "xmldsig#sha1" in xml and "sha256" not in xml
    assert pysaml2_sp_accepts(sp, xml, "_r") == "bob"


def test_idp_self_check_sso_endpoint(saml_idp):
    """The IdP's HTTP side alone: pysaml2's SP sends an HTTP-Redirect
    AuthnRequest to /sso, the login form is filled with requests, the answer
    is an auto-submitting form to the ACS with the RelayState, and pysaml2's
    SP accepts its SAMLResponse."""
    name = unique("selfcheck")
    saml_idp.add_user(name, IDP_PASSWORD, attributes_for(name))
    sp = pysaml2_sp(saml_idp.metadata_xml(), SP_X, ACS_X)
    req_id, info = sp.prepare_for_authenticate(entityid=saml_idp.entity_id, relay_state="rs-1")
    location = dict(info["headers"])["Location"]
    s = requests.Session()
    r = s.get(location, timeout=10)
    assert r.status_code == 200 and 'id="saml-login"' in r.text, r.text[:500]
    key = etree.HTML(r.text).xpath('//input[@name="key"]/@value')[0]
    bad = s.post(saml_idp.base_url + "/login", data={"key": key, "username": name, "password": "wrong"}, timeout=10)
    assert bad.status_code == 400
    r = s.get(location, timeout=10)
    key = etree.HTML(r.text).xpath('//input[@name="key"]/@value')[0]
    r = s.post(saml_idp.base_url + "/login", data={"key": key, "username": name, "password": IDP_PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text[:500]
    page = etree.HTML(r.text)
    assert page.xpath("//form/@action") == [ACS_X], r.text[:800]
    assert page.xpath('//input[@name="RelayState"]/@value') == ["rs-1"]
    assert "document.forms[0].submit()" in r.text
    saml_response = page.xpath('//input[@name="SAMLResponse"]/@value')[0]
    assert saml_idp.requests[-1]["id"] == req_id
    xml = base64.b64decode(saml_response).decode()
    assert pysaml2_sp_accepts(sp, xml, req_id) == name


@pytest.mark.parametrize("variant", sorted(saml_xsw.VARIANTS))
def test_xsw_variant_is_live(saml_idp, variant):
    """Each wrapping variant still verifies under a careless verifier (some
    ds:Signature checks out over an element with the signed ID) while the
    assertion such an SP reads names the attacker; pysaml2's SP refuses it."""
    sign = "response" if variant in saml_xsw.RESPONSE_VARIANTS else "assertion"
    xml = saml_idp.build_response(acs_url=ACS_X, audience=SP_X, name_id="alice", in_response_to="_r",
                                  attributes=attributes_for("alice"), sign=sign)
    evil = saml_xsw.wrap(variant, xml, "mallory", attributes_for("mallory"))
    fooled = []
    for pick, read in saml_xsw.NAIVE_SP_KINDS:
        assert saml_xsw.naive_sp(xml, saml_idp.key.cert_pem, pick, read) == "alice"
        try:
            if saml_xsw.naive_sp(evil, saml_idp.key.cert_pem, pick, read) == "mallory":
                fooled.append((pick, read))
        except ValueError:
            pass
    assert fooled, f"{variant} fools no careless verifier: the builder is broken\n{evil.decode()}"
    assert b"mallory" in evil and b"alice" in evil
    sp = pysaml2_sp(saml_idp.metadata_xml(), SP_X, ACS_X)
    try:
        got = pysaml2_sp_accepts(sp, evil.decode(), "_r")
    except Exception:
        got = None
    assert got != "mallory", f"pysaml2's SP signed the attacker in with {variant}"


# -------------------------------------------------------------- management ----

def test_saml_provider_with_metadata_file(idp, saml_idp):
    pool = new_pool(idp)
    try:
        md = saml_idp.metadata_xml()
        created = idp.create_identity_provider(
            UserPoolId=pool, ProviderName=PROVIDER, ProviderType="SAML",
            ProviderDetails={"MetadataFile": md, "IDPSignout": "false"}, AttributeMapping=MAPPING)["IdentityProvider"]
        for got in (created, idp.describe_identity_provider(UserPoolId=pool, ProviderName=PROVIDER)["IdentityProvider"]):
            assert got["ProviderType"] == "SAML" and got["ProviderName"] == PROVIDER, got
            assert got["ProviderDetails"].get("MetadataFile") == md, sorted(got["ProviderDetails"])
            for k, v in MAPPING.items():
                assert got["AttributeMapping"].get(k) == v, got["AttributeMapping"]
        listed = idp.list_identity_providers(UserPoolId=pool, MaxResults=60)["Providers"]
        assert [(p["ProviderName"], p["ProviderType"]) for p in listed] == [(PROVIDER, "SAML")], listed
        client = new_app_client(idp, pool, CallbackURLs=[callback_uri()], AllowedOAuthFlows=["code"],
                                AllowedOAuthScopes=SCOPES, AllowedOAuthFlowsUserPoolClient=True,
                                SupportedIdentityProviders=[PROVIDER])
        assert client["SupportedIdentityProviders"] == [PROVIDER], client
    finally:
        idp.delete_user_pool(UserPoolId=pool)


def test_saml_provider_with_metadata_url(idp, server, saml_idp):
    """MetadataURL: Cirrus fetches the IdP's metadata; the sign-in then goes
    to the SingleSignOnService it names."""
    sp_pool = new_pool(idp)
    try:
        created = idp.create_identity_provider(
            UserPoolId=sp_pool, ProviderName=PROVIDER, ProviderType="SAML",
            ProviderDetails={"MetadataURL": saml_idp.metadata_url}, AttributeMapping=MAPPING)["IdentityProvider"]
        assert created["ProviderDetails"].get("MetadataURL") == saml_idp.metadata_url, created["ProviderDetails"]
        described = idp.describe_identity_provider(UserPoolId=sp_pool, ProviderName=PROVIDER)["IdentityProvider"]
        assert described["ProviderDetails"].get("MetadataURL") == saml_idp.metadata_url, described
        cb = callback_uri()
        client = new_app_client(idp, sp_pool, CallbackURLs=[cb], AllowedOAuthFlows=["code"], AllowedOAuthScopes=SCOPES,
                                AllowedOAuthFlowsUserPoolClient=True, SupportedIdentityProviders=[PROVIDER])
        r = requests.get(issuer_for(server.endpoint, sp_pool) + "/oauth2/authorize", allow_redirects=False, timeout=10,
                         params={"response_type": "code", "client_id": client["ClientId"], "redirect_uri": cb,
                                 "scope": "openid", "identity_provider": PROVIDER, "code_challenge_method": "S256",
                                 "code_challenge": _challenge(secrets.token_urlsafe(32))})
        assert r.status_code in (302, 303) and r.headers.get("Location", "").startswith(saml_idp.sso_url + "?"), \
            (r.status_code, r.headers.get("Location"), r.text[:300])
    finally:
        idp.delete_user_pool(UserPoolId=sp_pool)


@pytest.mark.parametrize("case", ["file_no_key", "file_encryption_key_only", "url_no_key", "file_not_metadata"])
def test_saml_metadata_without_signing_certificate_refused(idp, saml_idp, case):
    pool = new_pool(idp)
    try:
        details = {
            "file_no_key": {"MetadataFile": saml_idp.metadata_xml("none")},
            "file_encryption_key_only": {"MetadataFile": saml_idp.metadata_xml("encryption")},
            "url_no_key": {"MetadataURL": saml_idp.base_url + "/metadata-nocert"},
            "file_not_metadata": {"MetadataFile": "<html><body>not SAML metadata</body></html>"},
        }[case]
        expect_error("InvalidParameterException", idp.create_identity_provider, UserPoolId=pool,
                     ProviderName=PROVIDER, ProviderType="SAML", ProviderDetails=details, AttributeMapping=MAPPING)
        expect_error("ResourceNotFoundException", idp.describe_identity_provider, UserPoolId=pool,
                     ProviderName=PROVIDER)
        # Nor may an update take a good provider's certificate away.
        idp.create_identity_provider(UserPoolId=pool, ProviderName=PROVIDER, ProviderType="SAML",
                                     ProviderDetails={"MetadataFile": saml_idp.metadata_xml()},
                                     AttributeMapping=MAPPING)
        expect_error("InvalidParameterException", idp.update_identity_provider, UserPoolId=pool,
                     ProviderName=PROVIDER, ProviderDetails=details)
    finally:
        idp.delete_user_pool(UserPoolId=pool)


def test_sp_metadata(corp, saml_idp):
    """GET {pool}/saml2/metadata: entity ID urn:amazon:cognito:sp:<pool>, the
    ACS (HTTP-POST); pysaml2's metadata store (what an IdP loads) reads it."""
    r = requests.get(corp.issuer + "/saml2/metadata", timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert "xml" in r.headers.get("Content-Type", ""), r.headers
    root = etree.fromstring(r.content)
    assert root.tag == "{urn:oasis:names:tc:SAML:2.0:metadata}EntityDescriptor", root.tag
    assert root.get("entityID") == corp.entity_id, root.get("entityID")
    spsso = root.find("md:SPSSODescriptor", NS)
    assert spsso is not None, r.text
    assert SAML2_PROTOCOL in spsso.get("protocolSupportEnumeration", ""), spsso.attrib
    acs = [(a.get("Binding"), a.get("Location")) for a in spsso.findall("md:AssertionConsumerService", NS)]
    assert (HTTP_POST, corp.acs) in acs, acs

    from saml2.attribute_converter import ac_factory
    from saml2.mdstore import MetadataStore
    mds = MetadataStore(ac_factory(), saml_idp.config)
    mds.load("inline", r.text)
    locations = [e["location"] for e in mds.assertion_consumer_service(corp.entity_id, HTTP_POST)]
    assert locations == [corp.acs], locations


def test_authn_request(corp, saml_idp):
    """What Cirrus sends the IdP: an HTTP-Redirect AuthnRequest that pysaml2's
    Server accepts (Destination = the SSO URL), Issuer = the SP entity ID,
    AssertionConsumerServiceURL = the ACS, a fresh ID and RelayState per sign-in."""
    one, two = SpFlow(corp), SpFlow(corp)
    for flow in (one, two):
        req = flow.request
        assert req["issuer"] == corp.entity_id, req
        assert req["acs_url"] == corp.acs, req
        assert req["destination"] in (None, saml_idp.sso_url), req
        assert req["protocol_binding"] in (None, HTTP_POST), req
        assert req["version"] == "2.0", req
        assert req["id"] and not req["id"][0].isdigit(), req["id"]
        assert any(h.startswith("cirrus_fed=") for h in flow.set_cookies), flow.set_cookies
    assert one.request_id != two.request_id
    assert one.relay_state != two.relay_state


# ---------------------------------------------------- acceptance (browser) ----

def _require_browser() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH (needed for the SAML browser test)")
    if not (JS_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail(f"{JS_DIR}/node_modules/playwright-core is missing: run tests/compat/run.sh (it runs `npm ci`)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: tests/compat/run.sh installs Debian's chromium")
    return node


def run_browser(config: dict, saml_idp: SamlIdp, timeout: float = 120.0) -> dict:
    node = _require_browser()
    proc = subprocess.run([node, str(BROWSER_JS), json.dumps(config)], cwd=str(JS_DIR), capture_output=True,
                          text=True, timeout=timeout)
    reports = []
    for line in proc.stdout.splitlines():
        try:
            reports.append(json.loads(line))
        except ValueError:
            pass
    if not reports:
        pytest.fail(f"saml_browser.mjs printed no report (exit {proc.returncode})\n"
                    f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}")
    report = reports[-1]
    assert report.get("ok") is True and proc.returncode == 0, (
        f"saml_browser.mjs failed (exit {proc.returncode}):\n{json.dumps(report, indent=1)[-8000:]}\n"
        f"IdP errors: {saml_idp.errors[-5:]}\nstderr: {proc.stderr[-2000:]}")
    return report


def _browser_sign_in(corp: SpPool, the_idp: SamlIdp, provider: str, tmp_path) -> None:
    name_id = unique("alice")
    the_idp.add_user(name_id, IDP_PASSWORD, attributes_for(name_id))
    params, verifier, state = corp.authorize_params(provider)
    url = corp.issuer + "/oauth2/authorize?" + urlencode(params)
    before = len(the_idp.requests)
    report = run_browser({"authorize_url": url, "redirect_uri": corp.callback, "issuer": corp.issuer,
                          "idp_base": the_idp.base_url, "username": name_id, "password": IDP_PASSWORD,
                          "screenshot_dir": str(tmp_path), "error_screenshot": str(tmp_path / "error.png")}, the_idp)
    assert report["pages"] == ["idp_login", "callback"], report["pages"]
    req = the_idp.requests[before]
    assert req["issuer"] == corp.entity_id and req["acs_url"] == corp.acs, req
    acs_posts = [t for t in report["trace"] if t["method"] == "POST" and t["url"].startswith(corp.acs)]
    assert len(acs_posts) == 1, report["trace"]
    assert acs_posts[0]["form"].get("RelayState") == req["relay_state"], (acs_posts[0], req["relay_state"])
    params_back = report["callback"]["params"]
    assert params_back.get("state") == state and params_back.get("code"), params_back
    assert report["callback"]["listener_hits"] == 1, report["callback"]
    claims = check_tokens(corp, corp.redeem(params_back["code"], verifier), name_id, provider)
    check_user(corp, name_id, claims["sub"], provider)
    assert (tmp_path / "idp_login.png").is_file()


def test_browser_sign_in(corp, saml_idp, tmp_path):
    """identity_provider=Corp in Chromium: Cirrus → the IdP's login form →
    the auto-submitted POST to the ACS → the app, whose code gives the
    tokens of Corp_<NameID> (email mapped from a URI attribute name, name
    from displayName, identities with providerType SAML)."""
    _browser_sign_in(corp, saml_idp, PROVIDER, tmp_path)


def test_browser_sign_in_cross_site_idp(corp, remote_idp, tmp_path):
    """The same with the IdP on http://localhost (another site than Cirrus on
    http://127.0.0.1), as in production: the POST to the ACS is a cross-site
    top-level POST, on which browsers do not send SameSite=Lax cookies."""
    _browser_sign_in(corp, remote_idp, REMOTE, tmp_path)


# -------------------------------------------------------------- security ----

def _victim_and_attacker() -> tuple[str, str]:
    return unique("alice"), unique("mallory")


POSITIVE_GROUPS = {
    "signature": "assertion",        # base of the signature cases
    "xsw_response": "response",      # base of XSW1-XSW2
    "xsw_assertion": "assertion",    # base of XSW3-XSW8
    "conditions": "both",            # base of the condition cases
}


@pytest.mark.parametrize("group", sorted(POSITIVE_GROUPS))
def test_positive_control(corp, group):
    """The untampered response of each group's kind signs the victim in
    through the very same path the refusals below take."""
    victim, _ = _victim_and_attacker()
    flow = SpFlow(corp)
    resp = flow.post(flow.response(victim, sign=POSITIVE_GROUPS[group]))
    assert_signed_in(corp, resp, victim, flow.verifier, flow.state, f"positive control {group}")


SIGNATURE_CASES = {
    "unsigned": "neither the Response nor the Assertion signed",
    "untrusted_key": "signed by another key, whose certificate is in KeyInfo",
    "untrusted_key_trusted_keyinfo": "signed by another key, the trusted certificate in KeyInfo",
    "sha1": "signed with RSA-SHA1 and SHA-1 digests by the trusted key",
    "tampered": "signed for the victim, NameID and email changed afterwards",
}


@pytest.mark.parametrize("case", sorted(SIGNATURE_CASES))
def test_bad_signature_refused(corp, saml_idp, case):
    victim, attacker = _victim_and_attacker()
    flow = SpFlow(corp)
    if case == "tampered":
        xml = etree.fromstring(flow.response(victim, sign="assertion").encode())
        saml_xsw.make_evil(xml.find("saml:Assertion", NS), attacker, attributes_for(attacker))
        xml = etree.tostring(xml)
    else:
        kwargs = {"unsigned": dict(sign="none"),
                  "untrusted_key": dict(signer=saml_idp.other_key),
                  "untrusted_key_trusted_keyinfo": dict(signer=saml_idp.other_key, keyinfo=saml_idp.key),
                  "sha1": dict(algorithm="rsa-sha1")}[case]
        xml = flow.response(attacker, **kwargs)
    assert_refused(corp, flow.post(xml), SIGNATURE_CASES[case], users=(attacker, victim), session=flow.session,
                   verifier=flow.verifier)


@pytest.mark.parametrize("variant", sorted(saml_xsw.VARIANTS))
def test_signature_wrapping_refused(corp, variant):
    """XSW1-XSW8 of a response validly signed for the victim, carrying an
    evil assertion for the attacker (see saml_xsw.py)."""
    victim, attacker = _victim_and_attacker()
    flow = SpFlow(corp)
    sign = "response" if variant in saml_xsw.RESPONSE_VARIANTS else "assertion"
    evil = saml_xsw.wrap(variant, flow.response(victim, sign=sign), attacker, attributes_for(attacker))
    assert_refused(corp, flow.post(evil), f"{variant} (saml_xsw.{variant.lower()})", users=(attacker, victim),
                   session=flow.session, verifier=flow.verifier)


def _condition_kwargs(case: str, corp: SpPool, other: SpPool) -> dict:
    now = now_utc()
    m = lambda n: _dt.timedelta(minutes=n)    # noqa: E731
    return {
        "wrong_audience": dict(audience=other.entity_id),
        "wrong_destination": dict(destination=other.acs),
        "wrong_recipient": dict(recipient=other.acs),
        "expired": dict(not_before=now - m(20), not_on_or_after=now - m(10)),
        "expired_subject_confirmation": dict(sc_not_on_or_after=now - m(10)),
        "not_yet_valid": dict(not_before=now + m(10), not_on_or_after=now + m(20)),
        "wrong_in_response_to": dict(in_response_to=new_id()),
        "status_responder": dict(status=STATUS_RESPONDER, status_message="the IdP failed"),
    }[case]


CONDITION_CASES = {
    "wrong_audience": "Audience is another pool's SP entity ID",
    "wrong_destination": "Response Destination is another pool's ACS",
    "wrong_recipient": "SubjectConfirmationData Recipient is another pool's ACS",
    "expired": "Conditions and SubjectConfirmationData NotOnOrAfter 10 min ago",
    "expired_subject_confirmation": "SubjectConfirmationData NotOnOrAfter 10 min ago (Conditions valid)",
    "not_yet_valid": "NotBefore in 10 min",
    "wrong_in_response_to": "InResponseTo is not the AuthnRequest's ID",
    "status_responder": "StatusCode Responder (with a signed assertion)",
}


@pytest.mark.parametrize("case", sorted(CONDITION_CASES))
def test_bad_conditions_refused(corp, corp_idp_init, case):
    """Signed (Response and Assertion) by the trusted key, one condition wrong."""
    _, attacker = _victim_and_attacker()
    flow = SpFlow(corp)
    xml = flow.response(attacker, sign="both", **_condition_kwargs(case, corp, corp_idp_init))
    assert_refused(corp, flow.post(xml), CONDITION_CASES[case], users=(attacker,), session=flow.session,
                   verifier=flow.verifier)


@pytest.mark.parametrize("side", ["late", "early"])
def test_clock_skew_tolerated(corp, side):
    """Within the 60 s skew: NotOnOrAfter 20 s ago, or NotBefore in 20 s."""
    victim, _ = _victim_and_attacker()
    now = now_utc()
    kwargs = (dict(not_before=now - _dt.timedelta(minutes=4), not_on_or_after=now - _dt.timedelta(seconds=20))
              if side == "late" else dict(not_before=now + _dt.timedelta(seconds=20)))
    flow = SpFlow(corp)
    resp = flow.post(flow.response(victim, sign="both", **kwargs))
    assert_signed_in(corp, resp, victim, flow.verifier, flow.state, f"skew {side}")


def test_forged_relay_state_refused(corp):
    """A valid response with a RelayState Cirrus never issued, or none."""
    victim, _ = _victim_and_attacker()
    for relay in (secrets.token_urlsafe(48), None):
        flow = SpFlow(corp)
        resp = flow.post(flow.response(victim, sign="both"), relay_state=relay)
        assert_refused(corp, resp, f"RelayState {relay!r}", users=(victim,), session=flow.session,
                       verifier=flow.verifier)


def test_replay_refused(corp):
    """The same valid response posted twice (same RelayState and cookies):
    the first signs in, the second is refused."""
    victim, _ = _victim_and_attacker()
    flow = SpFlow(corp)
    xml = flow.response(victim, sign="both")
    first = flow.post(xml)
    assert_signed_in(corp, first, victim, flow.verifier, flow.state, "first post")
    second = flow.post(xml)
    assert_refused(corp, second, "replayed response", verifier=flow.verifier)


# ---------------------------------------------------------- IdP-initiated ----

def _idp_init_relay_state(sp: SpPool, redirect_uri: str | None = None, provider: str | None = PROVIDER,
                          verifier: str | None = None) -> str:
    """The RelayState Cognito documents for IdP-initiated sign-in: the
    authorize parameters (client_id, redirect_uri, response_type, scope,
    identity_provider), here with PKCE S256 as Cirrus wants of a public client."""
    params = {"client_id": sp.client["ClientId"], "redirect_uri": redirect_uri or sp.callback,
              "response_type": "code", "scope": " ".join(SCOPES),
              "code_challenge": _challenge(verifier or secrets.token_urlsafe(32)), "code_challenge_method": "S256"}
    if provider:
        params["identity_provider"] = provider
    return urlencode(params)


def _unsolicited(sp: SpPool, name_id: str, **kwargs) -> str:
    kwargs.setdefault("sign", "both")
    return sp.saml_idp.build_response(acs_url=sp.acs, audience=sp.entity_id, name_id=name_id,
                                      attributes=attributes_for(name_id), in_response_to=None, **kwargs)


def _post(sp: SpPool, xml: str, relay_state: str | None) -> requests.Response:
    form = {"SAMLResponse": encode(xml)}
    if relay_state is not None:
        form["RelayState"] = relay_state
    return requests.post(sp.acs, data=form, allow_redirects=False, timeout=20)


def test_idp_initiated_allowed_and_replay_refused(corp_idp_init):
    """IDPInit true: an unsolicited response with a RelayState naming the
    client signs in (positive control); the same response again is refused
    by the replay cache alone (no flow state involved)."""
    victim, _ = _victim_and_attacker()
    xml = _unsolicited(corp_idp_init, victim)
    verifier = secrets.token_urlsafe(32)
    relay = _idp_init_relay_state(corp_idp_init, verifier=verifier)
    first = _post(corp_idp_init, xml, relay)
    assert_signed_in(corp_idp_init, first, victim, verifier, None, "IdP-initiated sign-in")
    assert_refused(corp_idp_init, _post(corp_idp_init, xml, relay), "replayed IdP-initiated response")


def test_idp_initiated_refused_when_not_allowed(corp):
    """IDPInit false: the same kind of unsolicited response is refused."""
    _, attacker = _victim_and_attacker()
    resp = _post(corp, _unsolicited(corp, attacker), _idp_init_relay_state(corp))
    assert_refused(corp, resp, "IdP-initiated with IDPInit false", users=(attacker,))


@pytest.mark.parametrize("case", ["no_relay_state", "unregistered_redirect_uri"])
def test_idp_initiated_bad_relay_state_refused(corp_idp_init, case):
    """IDPInit true, but no client named, or a redirect_uri the client does
    not have (no open redirect)."""
    _, attacker = _victim_and_attacker()
    relay = None if case == "no_relay_state" else _idp_init_relay_state(corp_idp_init, "http://127.0.0.1:9/evil")
    resp = _post(corp_idp_init, _unsolicited(corp_idp_init, attacker), relay)
    assert_refused(corp_idp_init, resp, case, users=(attacker,))
