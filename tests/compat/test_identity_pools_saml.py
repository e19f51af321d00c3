"""SAML logins for identity pools, as AWS does them: boto3's iam (SAML
providers), cognito-identity (GetId / GetCredentialsForIdentity with
Logins={<SAML provider ARN>: <base64 SAMLResponse>}) and sts against a
dedicated `cirrus serve`.

The IdP is pysaml2 (tests/compat/saml_idp.py, signing through xmlsec1). Its
responses are addressed to AWS as IdPs configured for AWS address them:
Audience urn:amazon:webservices, Response Destination and
SubjectConfirmationData Recipient https://signin.aws.amazon.com/saml, no
InResponseTo (unsolicited), RSA-SHA256 by the metadata's key. A response is
good for one use only, so every call gets a freshly built one.

Every refusal is NotAuthorizedException and creates no identity; each
negative test also sends the untampered counterpart (same signing mode, same
builder) and sees it accepted, so no refusal passes vacuously.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from lxml import etree

import saml_xsw
from harness import REGION, CirrusServer, expect_error, jdump, random_access_key, random_secret_key, unique
from saml_idp import NS, STATUS_RESPONDER, SamlIdp, encode, new_id, now_utc

ACCOUNT = "000000000000"
COGNITO = "cognito-identity.amazonaws.com"
SESSION_NAME = "CognitoIdentityCredentials"
AWS_AUDIENCE = "urn:amazon:webservices"
AWS_RECIPIENT = "https://signin.aws.amazon.com/saml"
ID_RE = re.compile(rf"^{REGION}:[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}$")
AKID_RE = re.compile(r"^ASIA[A-Z0-9]{16}$")
NOT_AUTHORIZED = "NotAuthorizedException"


# ------------------------------------------------------------------ helpers ----

def saml_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:saml-provider/{name}"


def cognito_trust(pool_id: str) -> dict:
    """The typical Cognito role trust policy: this identity pool, authenticated identities."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": COGNITO}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{COGNITO}:aud": pool_id},
                      "ForAnyValue:StringLike": {f"{COGNITO}:amr": "authenticated"}}}]}


def session_client(srv: CirrusServer, service: str, c: dict):
    return boto3.session.Session().client(
        service, endpoint_url=srv.endpoint, region_name=REGION, aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretKey"], aws_session_token=c["SessionToken"],
        config=Config(retries={"max_attempts": 1}))


def new_name(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@corp.example"


def identities(ci, pool_id: str) -> set:
    seen, token = set(), None
    for _ in range(100):
        page = ci.list_identities(IdentityPoolId=pool_id, MaxResults=60, **({"NextToken": token} if token else {}))
        seen |= {i["IdentityId"] for i in page["Identities"]}
        token = page.get("NextToken")
        if not token:
            return seen
    raise AssertionError("ListIdentities does not end")


class Corp:
    """The IdP, its IAM SAML provider `Corp` and an identity pool trusting it
    with an authenticated role."""

    def __init__(self, srv, ci, cip, iam, idp: SamlIdp, arn: str, pool: str, role: str, role_name: str):
        self.srv, self.ci, self.cip, self.iam = srv, ci, cip, iam
        self.idp, self.arn, self.pool, self.role, self.role_name = idp, arn, pool, role, role_name

    def xml(self, name_id: str, sign: str = "response", **kwargs) -> str:
        """A response for AWS (see the module docstring); kwargs go to build_response."""
        kwargs.setdefault("audience", AWS_AUDIENCE)
        kwargs.setdefault("in_response_to", None)
        kwargs.setdefault("attributes", {"email": name_id})
        return self.idp.build_response(acs_url=AWS_RECIPIENT, name_id=name_id, sign=sign, **kwargs)

    def response(self, name_id: str, sign: str = "response", **kwargs) -> str:
        return encode(self.xml(name_id, sign, **kwargs))

    def get_id(self, saml: str, key: str | None = None, pool: str | None = None) -> str:
        iid = self.cip.get_id(IdentityPoolId=pool or self.pool, Logins={key or self.arn: saml})["IdentityId"]
        assert ID_RE.match(iid), iid
        return iid

    def credentials(self, iid: str, saml: str, key: str | None = None) -> dict:
        resp = self.cip.get_credentials_for_identity(IdentityId=iid, Logins={key or self.arn: saml})
        assert resp["IdentityId"] == iid
        return resp["Credentials"]

    def accepted(self, saml: str, what: str) -> str:
        """Positive control: GetId takes `saml`; returns the identity."""
        try:
            return self.get_id(saml)
        except ClientError as exc:
            pytest.fail(f"positive control ({what}) refused, so the negative case means nothing: "
                        f"{exc.response['Error']}")

    def refused(self, saml, what: str, key: str | None = None, pool: str | None = None,
                victim: str | None = None) -> None:
        """GetId (and, given `victim`, GetCredentialsForIdentity for that
        identity) refuse `saml` with NotAuthorizedException; no identity appears."""
        if isinstance(saml, bytes):
            saml = base64.b64encode(saml).decode()
        pool = pool or self.pool
        before = identities(self.ci, pool)
        with pytest.raises(ClientError) as ei:
            got = self.cip.get_id(IdentityPoolId=pool, Logins={key or self.arn: saml})
            pytest.fail(f"GetId accepted {what}: {got.get('IdentityId')}")
        err = ei.value.response
        assert err["Error"]["Code"] == NOT_AUTHORIZED, f"{what}: expected {NOT_AUTHORIZED}, got {err!r}"
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 400, f"{what}: {err!r}"
        if victim is not None:
            with pytest.raises(ClientError) as ei:
                got = self.cip.get_credentials_for_identity(IdentityId=victim, Logins={key or self.arn: saml})
                pytest.fail(f"GetCredentialsForIdentity accepted {what}: {got['Credentials']['AccessKeyId']}")
            assert ei.value.response["Error"]["Code"] == NOT_AUTHORIZED, f"{what}: {ei.value.response!r}"
        assert identities(self.ci, pool) == before, f"{what}: an identity was created"


# ----------------------------------------------------------------- fixtures ----

@pytest.fixture(scope="module")
def srv(workroot):
    """A server of its own: IAM SAML providers and roles are account-wide."""
    s = CirrusServer(data_dir=workroot / f"ipsaml-{uuid.uuid4().hex[:8]}", workdir=workroot,
                     access_key=random_access_key(), secret_key=random_secret_key(), tag="idpools-saml")
    s.start()
    try:
        yield s
    finally:
        s.stop_clean()


ci = pytest.fixture(scope="module")(lambda srv: srv.client("cognito-identity"))
cip = pytest.fixture(scope="module")(lambda srv: srv.client("cognito-identity", unsigned=True))
iam = pytest.fixture(scope="module")(lambda srv: srv.client("iam"))
iam_raw = pytest.fixture(scope="module")(lambda srv: srv.client("iam", validate=False))


@pytest.fixture(scope="module")
def saml_idp():
    idp = SamlIdp(login="auto").start()
    try:
        yield idp
    finally:
        idp.stop()


def new_identity_pool(ci, iam, arns: list, role_name: str | None = None) -> tuple[str, str, str]:
    pid = ci.create_identity_pool(IdentityPoolName=unique("saml").replace("-", "_"),
                                  AllowUnauthenticatedIdentities=False, SamlProviderARNs=arns)["IdentityPoolId"]
    role_name = role_name or unique("saml-user")
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=jdump(cognito_trust(pid)))["Role"]["Arn"]
    ci.set_identity_pool_roles(IdentityPoolId=pid, Roles={"authenticated": role})
    return pid, role, role_name


@pytest.fixture(scope="module")
def corp(srv, ci, cip, iam, saml_idp) -> Corp:
    arn = iam.create_saml_provider(Name="Corp", SAMLMetadataDocument=saml_idp.metadata_xml())["SAMLProviderArn"]
    assert arn == saml_arn("Corp")
    pid, role, role_name = new_identity_pool(ci, iam, [arn], role_name="corp-saml-user")
    return Corp(srv, ci, cip, iam, saml_idp, arn, pid, role, role_name)


# --------------------------------------------------------- IAM SAML providers ----

def test_iam_saml_provider_crud(iam, saml_idp):
    meta = saml_idp.metadata_xml()
    assert len(meta) >= 1000
    t0 = dt.datetime.now(dt.timezone.utc)
    arn = iam.create_saml_provider(Name="Crud-1.x_y", SAMLMetadataDocument=meta)["SAMLProviderArn"]
    assert arn == saml_arn("Crud-1.x_y")
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == meta
    assert isinstance(got["CreateDate"], dt.datetime) and abs((got["CreateDate"] - t0).total_seconds()) < 120
    assert isinstance(got["ValidUntil"], dt.datetime) and got["ValidUntil"] > got["CreateDate"]
    listed = {p["Arn"]: p for p in iam.list_saml_providers()["SAMLProviderList"]}
    assert arn in listed, listed
    assert listed[arn]["CreateDate"] == got["CreateDate"] and listed[arn]["ValidUntil"] == got["ValidUntil"]
    expect_error("EntityAlreadyExists", iam.create_saml_provider, Name="Crud-1.x_y", SAMLMetadataDocument=meta,
                 status=409)
    iam.delete_saml_provider(SAMLProviderArn=arn)
    expect_error("NoSuchEntity", iam.get_saml_provider, SAMLProviderArn=arn, status=404)
    expect_error("NoSuchEntity", iam.delete_saml_provider, SAMLProviderArn=arn, status=404)
    assert arn not in {p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"]}


@pytest.mark.parametrize("case", ["no_key", "encryption_key_only", "not_metadata", "too_short"])
def test_iam_saml_metadata_without_signing_certificate_refused(iam, iam_raw, saml_idp, case):
    doc = {
        "no_key": lambda: saml_idp.metadata_xml("none"),
        "encryption_key_only": lambda: saml_idp.metadata_xml("encryption"),
        "not_metadata": lambda: "<html><body>" + "not SAML metadata " * 80 + "</body></html>",
        "too_short": lambda: saml_idp.metadata_xml()[:999],
    }[case]()
    assert case == "too_short" or len(doc) >= 1000, "the document must fail for its content, not its length"
    name = unique("nocert")
    expect_error("ValidationError", iam_raw.create_saml_provider, Name=name, SAMLMetadataDocument=doc)
    expect_error("NoSuchEntity", iam.get_saml_provider, SAMLProviderArn=saml_arn(name), status=404)
    # positive control: the same name with the signing metadata is accepted
    assert iam.create_saml_provider(Name=name, SAMLMetadataDocument=saml_idp.metadata_xml())["SAMLProviderArn"] \
        == saml_arn(name)
    iam.delete_saml_provider(SAMLProviderArn=saml_arn(name))


def test_identity_pool_lists_saml_providers(ci, corp):
    assert ci.describe_identity_pool(IdentityPoolId=corp.pool)["SamlProviderARNs"] == [corp.arn]


# ------------------------------------------------------------ positive flow ----

def test_saml_login_enhanced_flow(srv, ci, corp):
    name = new_name("alice")
    iid = corp.get_id(corp.response(name))
    c = corp.credentials(iid, corp.response(name))
    assert AKID_RE.match(c["AccessKeyId"]) and c["SecretKey"] and c["SessionToken"], c
    left = (c["Expiration"] - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert 3000 < left <= 3605, f"expires in {left}s"
    arn = session_client(srv, "sts", c).get_caller_identity()["Arn"]
    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/{corp.role_name}/{SESSION_NAME}", arn
    assert ci.describe_identity(IdentityId=iid)["Logins"] == [corp.arn]


def test_same_name_id_same_identity(corp):
    alice, bob = new_name("alice"), new_name("bob")
    a1 = corp.get_id(corp.response(alice))
    a2 = corp.get_id(corp.response(alice, sign="assertion"))
    b = corp.get_id(corp.response(bob))
    assert a1 == a2, "the same NameID must map to the same identity"
    assert b != a1, "another NameID must be another identity"


@pytest.mark.parametrize("sign", ["response", "assertion", "both"])
def test_positive_control_signing_modes(srv, corp, sign):
    name = new_name(sign)
    iid = corp.get_id(corp.response(name, sign=sign))
    c = corp.credentials(iid, corp.response(name, sign=sign))
    assert session_client(srv, "sts", c).get_caller_identity()["Arn"].endswith(
        f"assumed-role/{corp.role_name}/{SESSION_NAME}")


def test_login_cannot_claim_another_identity(corp):
    victim = corp.get_id(corp.response(new_name("victim")))
    mallory = new_name("mallory")
    me = corp.get_id(corp.response(mallory))
    with pytest.raises(ClientError) as ei:
        corp.credentials(victim, corp.response(mallory))
    assert ei.value.response["Error"]["Code"] in (NOT_AUTHORIZED, "ResourceConflictException"), ei.value.response
    assert corp.get_id(corp.response(mallory)) == me


# ----------------------------------------------------------- signature cases ----

SIGNATURE_CASES = {
    "unsigned": "neither the Response nor the Assertion signed",
    "untrusted_key": "signed (both) by another key, its certificate in KeyInfo",
    "untrusted_key_trusted_keyinfo": "signed (both) by another key, the trusted certificate in KeyInfo",
    "tampered_response_signed": "Response signed for the victim, NameID changed afterwards",
    "tampered_assertion_signed": "Assertion signed for the victim, NameID changed afterwards",
}


@pytest.mark.parametrize("case", sorted(SIGNATURE_CASES))
def test_bad_signature_refused(corp, case):
    victim_name, attacker = new_name("victim"), new_name("mallory")
    victim = corp.accepted(corp.response(victim_name, sign="both"), "signed by the metadata's key")
    if case.startswith("tampered"):
        sign = "response" if case == "tampered_response_signed" else "assertion"
        root = etree.fromstring(corp.xml(victim_name, sign=sign).encode())
        saml_xsw.make_evil(root.find("saml:Assertion", NS), attacker, {"email": attacker})
        bad = etree.tostring(root)
        corp.accepted(corp.response(victim_name, sign=sign), f"untampered, {sign} signed")
    else:
        kwargs = {"unsigned": dict(sign="none"),
                  "untrusted_key": dict(sign="both", signer=corp.idp.other_key),
                  "untrusted_key_trusted_keyinfo": dict(sign="both", signer=corp.idp.other_key,
                                                        keyinfo=corp.idp.key)}[case]
        bad = corp.response(attacker, **kwargs)
    corp.refused(bad, SIGNATURE_CASES[case], victim=victim)


# ----------------------------------------------------------- condition cases ----

def _condition_kwargs(case: str) -> dict:
    now = now_utc()
    m = lambda n: dt.timedelta(minutes=n)    # noqa: E731
    return {
        "wrong_audience": dict(audience="https://sp.example.test/metadata"),
        "cognito_user_pool_audience": dict(audience=f"urn:amazon:cognito:sp:{REGION}_AbCdEf123"),
        "wrong_recipient": dict(recipient="https://evil.example.test/saml"),
        "wrong_destination": dict(destination="https://evil.example.test/saml"),
        "expired": dict(not_before=now - m(20), not_on_or_after=now - m(10)),
        "expired_subject_confirmation": dict(sc_not_on_or_after=now - m(10)),
        "not_yet_valid": dict(not_before=now + m(10), not_on_or_after=now + m(20)),
        "status_responder": dict(status=STATUS_RESPONDER, status_message="the IdP failed"),
    }[case]


CONDITION_CASES = {
    "wrong_audience": "Audience is another SP's, not urn:amazon:webservices",
    "cognito_user_pool_audience": "Audience is a user pool's SP entity ID",
    "wrong_recipient": "SubjectConfirmationData Recipient is not https://signin.aws.amazon.com/saml",
    "wrong_destination": "Response Destination is not https://signin.aws.amazon.com/saml",
    "expired": "Conditions and SubjectConfirmationData NotOnOrAfter 10 min ago",
    "expired_subject_confirmation": "SubjectConfirmationData NotOnOrAfter 10 min ago (Conditions valid)",
    "not_yet_valid": "NotBefore in 10 min",
    "status_responder": "StatusCode Responder (with a signed assertion)",
}


@pytest.mark.parametrize("case", sorted(CONDITION_CASES))
def test_bad_conditions_refused(corp, case):
    """Signed (Response and Assertion) by the trusted key, one condition wrong."""
    victim = corp.accepted(corp.response(new_name("victim"), sign="both"), "both signed, all conditions right")
    corp.refused(corp.response(new_name("mallory"), sign="both", **_condition_kwargs(case)),
                 CONDITION_CASES[case], victim=victim)


# -------------------------------------------------------------------- replay ----

def test_replay_refused(corp):
    name = new_name("replay")
    once = corp.response(name)
    iid = corp.accepted(once, "first use")
    corp.refused(once, "the same response a second time (GetId)")
    corp.refused(once, "the same response a second time (GetCredentialsForIdentity)", victim=iid)
    assert corp.get_id(corp.response(name)) == iid, "a fresh response still works"


def test_replay_between_get_id_and_credentials_refused(corp):
    """A response taken by GetId cannot be presented again to GetCredentialsForIdentity."""
    saml = corp.response(new_name("twice"))
    iid = corp.get_id(saml)
    with pytest.raises(ClientError) as ei:
        corp.credentials(iid, saml)
    assert ei.value.response["Error"]["Code"] == NOT_AUTHORIZED, ei.value.response


def test_replay_of_rewrapped_assertion_refused(corp):
    """A signed assertion already used, in a new (unsigned) Response with a
    new ID: still the same assertion, refused. Control: the same re-wrapping
    of an unused response is accepted."""
    def rewrap(xml: str) -> bytes:
        root = etree.fromstring(xml.encode())
        root.set("ID", new_id())
        return etree.tostring(root)

    name = new_name("rewrap")
    fresh = corp.xml(name, sign="assertion")
    corp.accepted(base64.b64encode(rewrap(fresh)).decode(), "a re-wrapped, unused assertion")
    used = corp.xml(name, sign="assertion")
    iid = corp.accepted(encode(used), "first use")
    corp.refused(rewrap(used), "a used assertion in a new Response", victim=iid)


# --------------------------------------------------- XML signature wrapping ----

@pytest.mark.parametrize("variant", sorted(saml_xsw.VARIANTS))
def test_signature_wrapping_refused(corp, variant):
    """XSW1-XSW8 (tests/compat/saml_xsw.py) of a response signed for the victim
    carrying an evil assertion for the attacker. Each is first shown live (it
    fools a careless verifier); after the refusal, the untampered original is
    accepted as the victim (the refusal did not consume it either)."""
    victim_name, attacker = new_name("victim"), new_name("mallory")
    victim = corp.accepted(corp.response(victim_name), "the victim's usual login")
    sign = "response" if variant in saml_xsw.RESPONSE_VARIANTS else "assertion"
    original = corp.xml(victim_name, sign=sign)
    evil = saml_xsw.wrap(variant, original, attacker, {"email": attacker})
    fooled = []
    for pick, read in saml_xsw.NAIVE_SP_KINDS:
        try:
            if saml_xsw.naive_sp(evil, corp.idp.key.cert_pem, pick, read) == attacker:
                fooled.append((pick, read))
        except ValueError:
            pass
    assert fooled, f"{variant} fools no careless verifier: the builder is broken"
    corp.refused(evil, f"{variant} (saml_xsw.{variant.lower()})", victim=victim)
    assert corp.accepted(encode(original), f"the untampered {sign}-signed original") == victim


# --------------------------------------------- providers the pool does not list ----

def test_provider_not_listed_by_pool_refused(ci, iam, corp):
    """A registered SAML provider with the very same metadata, but not in the
    pool's SamlProviderARNs: refused. Controls: the same response under the
    pool's own ARN, and a pool that lists the other provider."""
    other = iam.create_saml_provider(Name=unique("Other"),
                                     SAMLMetadataDocument=corp.idp.metadata_xml())["SAMLProviderArn"]
    name = new_name("unlisted")
    saml = corp.response(name)
    victim = corp.accepted(corp.response(name), "the pool's own provider")
    corp.refused(saml, "a provider ARN the pool does not list", key=other, victim=victim)
    corp.refused(corp.response(name), "an ARN of no provider at all", key=saml_arn(unique("Nope")), victim=victim)
    assert corp.accepted(saml, "the same response under the pool's ARN") == victim
    pool2, _, _ = new_identity_pool(ci, iam, [other])
    iid2 = corp.get_id(corp.response(name), key=other, pool=pool2)
    assert iid2 != victim
    # and the other way round: Corp's ARN is not listed by pool2
    corp.refused(corp.response(name), "the Corp ARN on a pool that lists only the other", pool=pool2)


def test_pool_without_saml_providers_refused(ci, iam, corp):
    bare, _, _ = new_identity_pool(ci, iam, [])
    corp.refused(corp.response(new_name("bare")), "a pool with no SAML provider", pool=bare)


def test_provider_deleted_from_iam_refused(ci, iam, corp):
    name = unique("Gone")
    arn = iam.create_saml_provider(Name=name, SAMLMetadataDocument=corp.idp.metadata_xml())["SAMLProviderArn"]
    pool, _, _ = new_identity_pool(ci, iam, [arn])
    user = new_name("gone")
    iid = corp.get_id(corp.response(user), key=arn, pool=pool)
    assert corp.get_id(corp.response(user), key=arn, pool=pool) == iid
    iam.delete_saml_provider(SAMLProviderArn=arn)
    corp.refused(corp.response(user), "the provider was deleted from IAM", key=arn, pool=pool, victim=iid)
