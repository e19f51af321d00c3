"""Encrypted SAML assertions: a SAML provider with ProviderDetails
EncryptedResponses "true" (issue #8, SAML part).

Cirrus publishes the pool's SP encryption certificate (self-signed RSA-2048)
in its SP metadata (<md:KeyDescriptor use="encryption">) and, for a provider
with EncryptedResponses "true", as DescribeIdentityProvider's
ProviderDetails.ActiveEncryptionCertificate; the IdP encrypts the assertion
to it and signs the Response (the signature must cover the Response, since
the assertion inside is encrypted).

The IdP is tests/compat/saml_idp.py (pysaml2, signing and, engine "xmlsec1",
encrypting through Debian's xmlsec1; engine "python" writes the same XML
Encryption shape with `cryptography` where xmlsec1 1.2 has no algorithm,
i.e. RSA-OAEP with SHA-256 and XML Encryption 1.1 rsa-oaep). Flows are
SP-initiated with requests, as in test_federation_saml.py: authorize with
identity_provider → the AuthnRequest ID, RelayState and cirrus_fed cookie →
the crafted SAMLResponse POSTed to the ACS.

- Self-checks (no Cirrus): each algorithm combination decrypts (xmlsec1 and
  `cryptography`) back to a self-contained Assertion; pysaml2's own SP
  (xmlsec1 decrypting) accepts the encrypted responses; what a stock pysaml2
  IdP writes when it encrypts.
- Management: the certificate in the SP metadata = ActiveEncryptionCertificate,
  only where EncryptedResponses is "true"; per pool; what pysaml2's metadata
  store (an IdP) finds.
- Sign-in: encrypted to the metadata certificate → a code whose tokens carry
  the mapped attributes; SP- and IdP-initiated; algorithm combinations;
  the namespace forms of the EncryptedData's KeyInfo.
- Refusals (HTTP 400, role="alert", no session, no user): another
  certificate; an unsigned Response; garbage EncryptedAssertions (each
  followed by a good sign-in: the server keeps answering); the usual
  assertion checks inside the encrypted assertion; replay; an encrypted
  assertion for a provider without EncryptedResponses.
- Plaintext: still signs in with a provider without EncryptedResponses; is
  refused by one that requires encryption (as Cognito does).
"""

from __future__ import annotations

import base64
import datetime as _dt
import logging
import os
import re
import secrets
import types

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from harness import issuer_for, new_app_client, new_pool, unique
from saml_idp import (DATA_ALGORITHMS, KEY_TRANSPORTS, KEYINFO_NS, NAMEID_UNSPECIFIED, NS, XMLENC, XMLSEC1_KEY_TRANSPORTS,
                      KeyPair, SamlIdp, cert_pem_of, encrypted_data_template, new_id, now_utc, pysaml2_sp,
                      pysaml2_sp_accepts, python_decrypt, python_encrypt, xmlsec1_decrypt)
from test_federation_saml import (MAPPING, PROVIDER, SCOPES, SpFlow, SpPool, _idp_init_relay_state, _post,
                                  assert_refused, assert_signed_in, attributes_for, callback_uri, sp_entity_id)

logging.getLogger("saml2").setLevel(logging.CRITICAL)     # pysaml2 logs every refusal at ERROR

DS = NS["ds"]
ASSERTION_NS = NS["saml"]
# What samael (Cirrus's SAML library) decrypts; the reasons the others fail.
SAMAEL_DATA = ("aes128-cbc", "aes128-gcm")
SAMAEL_KEYS = ("rsa-oaep-mgf1p", "rsa-oaep-mgf1p-sha1", "rsa-1_5")
WHY_DATA = ("Cirrus (samael 0.0.22 decrypt_assertion_value_info) decrypts only aes128-cbc and aes128-gcm: "
            "AES-192/256 (CBC and GCM) and 3DES are 'unsupported value encryption method'")
WHY_KEY = ("Cirrus (samael 0.0.22 decrypt_assertion_key_info) knows only xmlenc#rsa-oaep-mgf1p (always SHA-1, "
           "ds:DigestMethod ignored) and rsa-1_5: OAEP with a SHA-256 digest and XML Encryption 1.1 "
           "xmlenc11#rsa-oaep fail")
WHY_KEYINFO = ("samael's EncryptedKeyInfo has a required field read from an xmlns:ds / xmlns:dsig attribute of "
               "the <KeyInfo> element itself: a KeyInfo in the default namespace (ADFS: <KeyInfo xmlns=...>), "
               "with another prefix, or with ds declared on an ancestor (pysaml2, lxml) does not parse "
               "('Failed to parse reduced signed SAML assertion')")


# ---------------------------------------------------------------- helpers ----

class EncSpPool(SpPool):
    """A pool with one SAML provider (Corp) trusting `saml_idp`;
    `encrypted`: the EncryptedResponses detail ("true", "false" or None: absent)."""

    def __init__(self, idp_client, endpoint: str, saml_idp: SamlIdp, encrypted: str | None,
                 idp_init: bool = False):
        self.idp_client = idp_client
        self.endpoint = endpoint
        self.saml_idp = saml_idp
        self.pool = new_pool(idp_client)
        self.issuer = issuer_for(endpoint, self.pool)
        self.acs = f"{self.issuer}/saml2/idpresponse"
        self.entity_id = sp_entity_id(self.pool)
        details = {"MetadataFile": saml_idp.metadata_xml(), "IDPInit": "true" if idp_init else "false"}
        if encrypted is not None:
            details["EncryptedResponses"] = encrypted
        self.created = idp_client.create_identity_provider(
            UserPoolId=self.pool, ProviderName=PROVIDER, ProviderType="SAML", ProviderDetails=details,
            AttributeMapping=MAPPING)["IdentityProvider"]
        self.providers = ["COGNITO", PROVIDER]
        self.callback = callback_uri()
        self.client = new_app_client(idp_client, self.pool, CallbackURLs=[self.callback],
                                     AllowedOAuthFlows=["code"], AllowedOAuthScopes=SCOPES,
                                     AllowedOAuthFlowsUserPoolClient=True, SupportedIdentityProviders=self.providers)
        self._cert = None

    @property
    def cert(self) -> str:
        """The encryption certificate (base64 DER) of the pool's SP metadata."""
        if self._cert is None:
            self._cert = metadata_encryption_certs(self)[0]
        return self._cert


def sp_metadata(sp: SpPool) -> requests.Response:
    r = requests.get(sp.issuer + "/saml2/metadata", timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    return r


def metadata_encryption_certs(sp: SpPool) -> list[str]:
    """The X509Certificates of the SP metadata's KeyDescriptor use="encryption"."""
    root = etree.fromstring(sp_metadata(sp).content)
    kds = root.findall("md:SPSSODescriptor/md:KeyDescriptor", NS)
    certs = ["".join((c.text or "").split())
             for kd in kds if kd.get("use") == "encryption"
             for c in kd.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)]
    assert certs, f"no encryption certificate in the SP metadata:\n{sp_metadata(sp).text}"
    return certs


def describe(sp: SpPool, provider: str = PROVIDER) -> dict:
    return sp.idp_client.describe_identity_provider(UserPoolId=sp.pool, ProviderName=provider)["IdentityProvider"]


def encrypted_flow_response(flow: SpFlow, name_id: str, cert, **kwargs) -> str:
    """A response to the flow's AuthnRequest, its assertion encrypted to `cert`,
    the Response signed (unless `sign` says otherwise)."""
    kwargs.setdefault("sign", "response")
    return flow.response(name_id, encrypt_to=cert, **kwargs)


def engine_for(key_alg: str) -> str:
    return "xmlsec1" if key_alg in XMLSEC1_KEY_TRANSPORTS else "python"


def sign_in_encrypted(sp: EncSpPool, what: str, **kwargs) -> dict:
    """A whole SP-initiated sign-in with an encrypted assertion; the ID token's claims."""
    name = unique("alice")
    flow = SpFlow(sp)
    resp = flow.post(encrypted_flow_response(flow, name, sp.cert, **kwargs))
    return assert_signed_in(sp, resp, name, flow.verifier, flow.state, what)


def cipher_values(root) -> tuple:
    """(EncryptedKey CipherValue, EncryptedData CipherValue) elements of a Response."""
    ed = root.find("saml:EncryptedAssertion/xenc:EncryptedData", NS)
    assert ed is not None, etree.tostring(root)[:500]
    return (ed.find("ds:KeyInfo/xenc:EncryptedKey/xenc:CipherData/xenc:CipherValue", NS),
            ed.find("xenc:CipherData/xenc:CipherValue", NS))


def rewrite(xml: str, change) -> str:
    """Parse, change(root), serialize: lxml keeps every namespace declaration
    where the parsed text had it."""
    root = etree.fromstring(xml.encode("utf-8"))
    change(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---------------------------------------------------------------- fixtures ----

@pytest.fixture(scope="module")
def saml_idp():
    idp = SamlIdp(login="form").start()
    try:
        yield idp
    finally:
        idp.stop()


@pytest.fixture(scope="module")
def enc_sp(idp, server, saml_idp):
    """Corp with EncryptedResponses "true"."""
    sp = EncSpPool(idp, server.endpoint, saml_idp, "true")
    yield sp
    sp.delete()


@pytest.fixture(scope="module")
def other_enc_sp(idp, server, saml_idp):
    """Another pool, also with EncryptedResponses "true" (its own key)."""
    sp = EncSpPool(idp, server.endpoint, saml_idp, "true")
    yield sp
    sp.delete()


@pytest.fixture(scope="module")
def plain_sp(idp, server, saml_idp):
    """Corp without EncryptedResponses."""
    sp = EncSpPool(idp, server.endpoint, saml_idp, None)
    yield sp
    sp.delete()


@pytest.fixture(scope="module")
def enc_idp_init(idp, server, saml_idp):
    """Corp with EncryptedResponses "true" and IDPInit "true"."""
    sp = EncSpPool(idp, server.endpoint, saml_idp, "true", idp_init=True)
    yield sp
    sp.delete()


@pytest.fixture(scope="module")
def sp_key(saml_idp, tmp_path_factory):
    """A key pair of our own, as the SP side of the self-checks."""
    return KeyPair.generate(tmp_path_factory.mktemp("sp-key"), "sp", "urn:amazon:cognito:sp:us-east-1_SelfCheck")


# ------------------------------------------------------ self-checks (no Cirrus) --

ACS_X = "http://127.0.0.1:9/us-east-1_SelfCheck/saml2/idpresponse"
SP_X = sp_entity_id("us-east-1_SelfCheck")


def _self_check_response(saml_idp, sp_key, **kwargs) -> str:
    kwargs.setdefault("sign", "response")
    return saml_idp.build_response(acs_url=ACS_X, audience=SP_X, name_id="alice", in_response_to="_r",
                                   attributes=attributes_for("alice"), encrypt_to=sp_key, **kwargs)


def test_self_check_every_combination_decrypts(saml_idp, sp_key):
    """Every DATA_ALGORITHMS x KEY_TRANSPORTS combination, from either engine,
    decrypts with `cryptography` (and with xmlsec1 where xmlsec1 1.2 has the
    key transport) to a self-contained saml:Assertion for alice; the
    Response holds an EncryptedAssertion and no plaintext Assertion."""
    checked = 0
    for data_alg in DATA_ALGORITHMS:
        for key_alg in KEY_TRANSPORTS:
            for engine in ({"xmlsec1", "python"} if key_alg in XMLSEC1_KEY_TRANSPORTS else {"python"}):
                xml = _self_check_response(saml_idp, sp_key, data_alg=data_alg, key_alg=key_alg,
                                           encrypt_engine=engine)
                root = etree.fromstring(xml.encode())
                assert root.find("saml:Assertion", NS) is None and b"alice@corp.test" not in xml.encode()
                ed = root.find("saml:EncryptedAssertion/xenc:EncryptedData", NS)
                assert ed.get("Type") == XMLENC + "Element"
                assert ed.find("xenc:EncryptionMethod", NS).get("Algorithm") == DATA_ALGORITHMS[data_alg][0]
                km = ed.find("ds:KeyInfo/xenc:EncryptedKey/xenc:EncryptionMethod", NS)
                assert km.get("Algorithm") == KEY_TRANSPORTS[key_alg][0], (data_alg, key_alg)
                assertion = etree.fromstring(python_decrypt(xml, sp_key))      # self-contained: parses alone
                assert assertion.tag == f"{{{ASSERTION_NS}}}Assertion"
                assert assertion.findtext("saml:Subject/saml:NameID", namespaces=NS) == "alice"
                if key_alg in XMLSEC1_KEY_TRANSPORTS:
                    plain = etree.fromstring(xmlsec1_decrypt(xml, sp_key).encode())
                    assert plain.find("saml:EncryptedAssertion/saml:Assertion/saml:Subject/saml:NameID", NS).text == "alice"
                checked += 1
    assert checked == len(DATA_ALGORITHMS) * (len(KEY_TRANSPORTS) + len(XMLSEC1_KEY_TRANSPORTS))


@pytest.mark.parametrize("keyinfo_ns", sorted(KEYINFO_NS))
@pytest.mark.parametrize("sign", ["response", "both", "assertion"])
def test_self_check_pysaml2_sp_accepts_encrypted(saml_idp, sp_key, sign, keyinfo_ns):
    """pysaml2's SP (xmlsec1 decrypting with the SP key) accepts the encrypted
    responses, whichever way the EncryptedData's KeyInfo is namespaced, and
    verifies an assertion signature made before encryption."""
    xml = _self_check_response(saml_idp, sp_key, sign=sign, keyinfo_ns=keyinfo_ns)
    sp = pysaml2_sp(saml_idp.metadata_xml(), SP_X, ACS_X, want={"both": "either"}.get(sign, sign),
                    encryption_key=sp_key)
    assert pysaml2_sp_accepts(sp, xml, "_r") == "alice"
    other = KeyPair.generate(saml_idp._dir, "sp-other-" + secrets.token_hex(4), "other")
    wrong = pysaml2_sp(saml_idp.metadata_xml(), SP_X, ACS_X, want={"both": "either"}.get(sign, sign),
                       encryption_key=other)
    with pytest.raises(Exception):
        pysaml2_sp_accepts(wrong, xml, "_r")


def test_self_check_stock_pysaml2_idp_encryption(saml_idp, sp_key):
    """What pysaml2's own Server writes when it encrypts an assertion to the
    SP metadata's encryption certificate: tripledes-cbc data, rsa-oaep-mgf1p
    key transport, the ds namespace declared on the EncryptedData (not on
    its KeyInfo). Recorded for the algorithm report; it decrypts."""
    from saml2 import saml as saml_mod
    from saml2.attribute_converter import ac_factory
    from saml2.mdstore import MetadataStore
    md = (f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{SP_X}">'
          '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
          '<md:KeyDescriptor use="encryption"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
          f'<ds:X509Data><ds:X509Certificate>{sp_key.cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>'
          '</md:KeyDescriptor><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
          f'Location="{ACS_X}" index="1"/></md:SPSSODescriptor></md:EntityDescriptor>')
    mds = MetadataStore(ac_factory(), saml_idp.config)
    mds.load("inline", md)
    server = type(saml_idp.server)(config=saml_idp.config)
    server.metadata = mds
    resp = server.create_authn_response(
        identity={"mail": ["alice@corp.test"]}, in_response_to="_r", destination=ACS_X, sp_entity_id=SP_X,
        name_id=saml_mod.NameID(text="alice", format=NAMEID_UNSPECIFIED),
        authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
        sign_response=True, sign_assertion=False, encrypt_assertion=True, encrypt_assertion_self_contained=True)
    xml = str(resp)
    root = etree.fromstring(xml.encode())
    ed = root.find("saml:EncryptedAssertion/xenc:EncryptedData", NS)
    assert ed.find("xenc:EncryptionMethod", NS).get("Algorithm") == XMLENC + "tripledes-cbc"
    assert ed.find("ds:KeyInfo/xenc:EncryptedKey/xenc:EncryptionMethod", NS).get("Algorithm") == \
        XMLENC + "rsa-oaep-mgf1p"
    key_info_tag = re.search(r"<(?:\w+:)?KeyInfo\b[^>]*>", xml[xml.index("EncryptedData"):]).group(0)
    assert "xmlns" not in key_info_tag, key_info_tag          # ds declared above, not on the KeyInfo
    assertion = etree.fromstring(python_decrypt(xml, sp_key))
    assert assertion.findtext("saml:Subject/saml:NameID", namespaces=NS) == "alice"


# -------------------------------------------------------------- management ----

def test_encryption_certificate_published(enc_sp, other_enc_sp, saml_idp):
    """The SP metadata has one KeyDescriptor use="encryption": a self-signed
    RSA-2048 certificate valid now, equal to DescribeIdentityProvider's
    ActiveEncryptionCertificate, stable across calls, its own per pool; it is
    what pysaml2's metadata store (an IdP loading the SP metadata) encrypts to."""
    certs = metadata_encryption_certs(enc_sp)
    assert len(certs) == 1, certs
    cert_b64 = certs[0]
    details = describe(enc_sp)["ProviderDetails"]
    assert details.get("EncryptedResponses") == "true", details
    active = "".join((details.get("ActiveEncryptionCertificate") or "").split())
    assert active == cert_b64, f"ActiveEncryptionCertificate {active[:40]!r}... != metadata {cert_b64[:40]!r}..."
    assert metadata_encryption_certs(enc_sp) == [cert_b64]
    assert "".join(describe(enc_sp)["ProviderDetails"]["ActiveEncryptionCertificate"].split()) == cert_b64

    cert = x509.load_der_x509_certificate(base64.b64decode(cert_b64))
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048, key
    assert cert.subject == cert.issuer, (cert.subject, cert.issuer)
    cert.verify_directly_issued_by(cert)                          # self-signed
    now = _dt.datetime.now(_dt.timezone.utc)
    assert cert.not_valid_before_utc <= now + _dt.timedelta(minutes=5) and cert.not_valid_after_utc > now, \
        (cert.not_valid_before_utc, cert.not_valid_after_utc)
    signing = [kd for kd in etree.fromstring(sp_metadata(enc_sp).content).findall(".//md:KeyDescriptor", NS)
               if kd.get("use") in (None, "signing")]
    assert not signing, "the SP metadata offers its encryption key for signing too"

    assert other_enc_sp.cert != cert_b64, "two pools share one SP encryption key"

    from saml2.attribute_converter import ac_factory
    from saml2.mdstore import MetadataStore
    mds = MetadataStore(ac_factory(), saml_idp.config)
    mds.load("inline", sp_metadata(enc_sp).text)
    found = ["".join(c.split()) for _, c in mds.certs(enc_sp.entity_id, "spsso", "encryption")]
    assert found == [cert_b64], found


def test_active_certificate_only_with_encrypted_responses(idp, server, saml_idp):
    """ActiveEncryptionCertificate is in DescribeIdentityProvider only where
    EncryptedResponses is "true"; UpdateIdentityProvider turning it on adds
    it (the pool's certificate, as in the SP metadata)."""
    pool = new_pool(idp)
    try:
        md = saml_idp.metadata_xml()
        for name, flag in (("NoFlag", None), ("Off", "false"), ("On", "true")):
            details = {"MetadataFile": md}
            if flag is not None:
                details["EncryptedResponses"] = flag
            idp.create_identity_provider(UserPoolId=pool, ProviderName=name, ProviderType="SAML",
                                         ProviderDetails=details, AttributeMapping=MAPPING)
        sp = types.SimpleNamespace(issuer=issuer_for(server.endpoint, pool), idp_client=idp, pool=pool)
        cert_b64 = metadata_encryption_certs(sp)[0]
        got = {n: describe(sp, n)["ProviderDetails"] for n in ("NoFlag", "Off", "On")}
        assert "ActiveEncryptionCertificate" not in got["NoFlag"], got["NoFlag"]
        assert "ActiveEncryptionCertificate" not in got["Off"], got["Off"]
        assert "".join(got["On"].get("ActiveEncryptionCertificate", "").split()) == cert_b64, got["On"]
        idp.update_identity_provider(UserPoolId=pool, ProviderName="Off",
                                     ProviderDetails={"MetadataFile": md, "EncryptedResponses": "true"})
        turned_on = describe(sp, "Off")["ProviderDetails"]
        assert "".join(turned_on.get("ActiveEncryptionCertificate", "").split()) == cert_b64, turned_on
    finally:
        idp.delete_user_pool(UserPoolId=pool)


# ---------------------------------------------------------------- sign-in ----

@pytest.mark.parametrize("sign", ["response", "both"])
def test_encrypted_sign_in(enc_sp, sign):
    """An assertion encrypted (xmlsec1: aes128-cbc, rsa-oaep-mgf1p) to the
    certificate of the SP metadata, the Response signed (and the assertion
    too, inside, for "both"): 302 to the client with a code whose ID token
    has the mapped email and name, the user Corp_<NameID>."""
    sign_in_encrypted(enc_sp, f"encrypted assertion, signed {sign}", sign=sign)


def test_encrypted_idp_initiated_sign_in(enc_idp_init):
    """IDPInit and EncryptedResponses: an unsolicited signed Response with an
    encrypted assertion and the Cognito RelayState signs in."""
    name = unique("alice")
    sp = enc_idp_init
    xml = sp.saml_idp.build_response(acs_url=sp.acs, audience=sp.entity_id, name_id=name,
                                     attributes=attributes_for(name), in_response_to=None, sign="response",
                                     encrypt_to=sp.cert)
    verifier = secrets.token_urlsafe(32)
    resp = _post(sp, xml, _idp_init_relay_state(sp, verifier=verifier))
    assert_signed_in(sp, resp, name, verifier, None, "IdP-initiated encrypted sign-in")


# (data, key transport) -> expectation. "accept": must sign in; "xfail": should
# (an algorithm IdPs use by default, or XML Encryption 1.1 requires) but Cirrus
# refuses; "either": optional or legacy, the outcome is recorded and must be
# clean (a correct sign-in or a proper refusal).
ALGORITHM_CASES = {
    # the data algorithms, with RSA-OAEP-MGF1P (SHA-1) key transport
    ("aes128-cbc", "rsa-oaep-mgf1p"): "accept",
    ("aes128-gcm", "rsa-oaep-mgf1p"): "accept",
    ("aes256-cbc", "rsa-oaep-mgf1p"): "xfail-data",     # ADFS (WIF) writes aes256-cbc
    ("aes256-gcm", "rsa-oaep-mgf1p"): "xfail-data",
    ("aes192-cbc", "rsa-oaep-mgf1p"): "either",
    ("aes192-gcm", "rsa-oaep-mgf1p"): "either",
    ("tripledes-cbc", "rsa-oaep-mgf1p"): "either",      # pysaml2's IdP default
    # the key transports, with AES-128-CBC data
    ("aes128-cbc", "rsa-oaep-mgf1p-sha1"): "accept",    # ds:DigestMethod sha1 written out (ADFS)
    ("aes128-cbc", "rsa-oaep-mgf1p-sha256"): "xfail-key",
    ("aes128-cbc", "rsa-oaep"): "xfail-key",            # xmlenc11#rsa-oaep, SHA-1 / MGF1-SHA1
    ("aes128-cbc", "rsa-oaep-sha256"): "xfail-key",     # xmlenc11#rsa-oaep, SHA-256 / MGF1-SHA256
    ("aes128-gcm", "rsa-oaep-sha256"): "xfail-key",
    ("aes128-cbc", "rsa-1_5"): "either",
    ("aes128-gcm", "rsa-1_5"): "either",
}


def _algorithm_params():
    out = []
    for (data_alg, key_alg), kind in ALGORITHM_CASES.items():
        marks = ()
        if kind == "xfail-data":
            marks = pytest.mark.xfail(strict=True, reason=WHY_DATA)
        elif kind == "xfail-key":
            marks = pytest.mark.xfail(strict=True, reason=WHY_KEY)
        out.append(pytest.param(data_alg, key_alg, kind, marks=marks,
                                id=f"{data_alg}+{key_alg}[{engine_for(key_alg)}]"))
    return out


@pytest.mark.parametrize("data_alg,key_alg,kind", _algorithm_params())
def test_algorithms(enc_sp, data_alg, key_alg, kind, record_property):
    """One sign-in per combination (xmlsec1 encrypting where xmlsec1 1.2 has
    the key transport, `cryptography` otherwise)."""
    name = unique("alice")
    flow = SpFlow(enc_sp)
    xml = encrypted_flow_response(flow, name, enc_sp.cert, data_alg=data_alg, key_alg=key_alg,
                                  encrypt_engine=engine_for(key_alg))
    resp = flow.post(xml)
    what = f"{data_alg} + {key_alg}"
    if kind == "either":
        accepted = resp.status_code in (302, 303)
        record_property("cirrus_accepts", accepted)
        print(f"\n{what}: {'accepted' if accepted else 'refused'}")
        if accepted:
            assert_signed_in(enc_sp, resp, name, flow.verifier, flow.state, what)
        else:
            assert_refused(enc_sp, resp, what, users=(name,), session=flow.session, verifier=flow.verifier)
        return
    assert_signed_in(enc_sp, resp, name, flow.verifier, flow.state, what)


@pytest.mark.parametrize("keyinfo_ns", [
    pytest.param(ns, marks=() if ns in ("ds", "dsig") else pytest.mark.xfail(strict=True, reason=WHY_KEYINFO),
                 id=ns) for ns in sorted(KEYINFO_NS)])
def test_keyinfo_namespace_forms(enc_sp, keyinfo_ns):
    """The same XML (aes128-cbc, rsa-oaep-mgf1p), the EncryptedData's KeyInfo
    namespaced in each way XML allows and IdPs write (KEYINFO_NS); pysaml2's
    SP takes every one (test_self_check_pysaml2_sp_accepts_encrypted)."""
    sign_in_encrypted(enc_sp, f"KeyInfo namespaced {keyinfo_ns}: {KEYINFO_NS[keyinfo_ns]}", keyinfo_ns=keyinfo_ns)


def test_plaintext_still_works_without_encrypted_responses(plain_sp):
    """A provider without EncryptedResponses: the plaintext assertion (Response
    signed; and assertion signed only) signs in as before."""
    for sign in ("response", "assertion"):
        name = unique("alice")
        flow = SpFlow(plain_sp)
        resp = flow.post(flow.response(name, sign=sign))
        assert_signed_in(plain_sp, resp, name, flow.verifier, flow.state, f"plaintext, signed {sign}")


# -------------------------------------------------------------- refusals ----

@pytest.mark.parametrize("whose", ["attacker_key", "other_pool"])
def test_encrypted_to_another_certificate_refused(enc_sp, other_enc_sp, saml_idp, whose):
    """Validly signed, but encrypted to another certificate (a key of ours, or
    another pool's SP certificate from its metadata): Cirrus cannot decrypt."""
    name = unique("mallory")
    other = (KeyPair.generate(saml_idp._dir, "enc-" + secrets.token_hex(4), "urn:amazon:cognito:sp:evil")
             if whose == "attacker_key" else other_enc_sp.cert)
    flow = SpFlow(enc_sp)
    resp = flow.post(encrypted_flow_response(flow, name, other))
    assert_refused(enc_sp, resp, f"encrypted to {whose}", users=(name,), session=flow.session,
                   verifier=flow.verifier)
    sign_in_encrypted(enc_sp, f"good response after the {whose} refusal")


@pytest.mark.parametrize("sign", ["assertion", "none"])
def test_encrypted_assertion_in_unsigned_response_refused(enc_sp, sign):
    """The Response unsigned: the assertion signed before encryption
    ("assertion"), or nothing signed ("none"). The signature must cover the
    Response."""
    name = unique("mallory")
    flow = SpFlow(enc_sp)
    resp = flow.post(encrypted_flow_response(flow, name, enc_sp.cert, sign=sign))
    assert_refused(enc_sp, resp, f"encrypted assertion, Response unsigned (signed: {sign})", users=(name,),
                   session=flow.session, verifier=flow.verifier)


def _garbage(case: str, cert: str):
    """(build_response kwargs, a before_response_signature hook) for a garbage
    EncryptedAssertion of the right XML shape, signed by the IdP's key."""
    rnd = os.urandom

    def values(key=None, data=None):
        def change(root):
            key_cv, data_cv = cipher_values(root)
            if key is not None:
                key_cv.text = key
            if data is not None:
                data_cv.text = data
        return lambda xml: rewrite(xml, change)

    def encrypt(plaintext: bytes, data_alg: str = "aes128-cbc"):
        ed = python_encrypt(plaintext, encrypted_data_template("", data_alg, "rsa-oaep-mgf1p"), cert_pem_of(cert),
                            data_alg, "rsa-oaep-mgf1p")
        key_cv, data_cv = ed.findall(".//xenc:CipherValue", NS)
        return values(key_cv.text, data_cv.text)

    return {
        "random_key_and_data": ({}, values(b64(rnd(256)), b64(rnd(512)))),
        "random_key": ({}, values(key=b64(rnd(256)))),
        "random_data": ({}, values(data=b64(rnd(512)))),
        "random_data_gcm": ({"data_alg": "aes128-gcm"}, values(data=b64(rnd(512)))),
        "data_shorter_than_iv": ({}, values(data=b64(rnd(8)))),
        "gcm_data_shorter_than_tag": ({"data_alg": "aes128-gcm"}, values(data=b64(rnd(10)))),
        "data_not_block_aligned": ({}, values(data=b64(rnd(16 + 21)))),
        "empty_data": ({}, values(data="")),
        "data_not_base64": ({}, values(data="*** not base64 ***")),
        "plaintext_not_xml": ({}, encrypt(b"\xff\xfe\x00\x80 no markup at all \xc3")),
        "plaintext_not_an_assertion": ({}, encrypt(
            f'<saml:Foo xmlns:saml="{ASSERTION_NS}"><saml:Bar>x</saml:Bar></saml:Foo>'.encode())),
        "plaintext_empty": ({}, encrypt(b"")),
    }[case]


GARBAGE_CASES = ["random_key_and_data", "random_key", "random_data", "random_data_gcm", "data_shorter_than_iv",
                 "gcm_data_shorter_than_tag", "data_not_block_aligned", "empty_data", "data_not_base64",
                 "plaintext_not_xml", "plaintext_not_an_assertion", "plaintext_empty"]


@pytest.mark.parametrize("case", GARBAGE_CASES)
def test_garbage_encrypted_assertion_refused(enc_sp, server, case):
    """An EncryptedAssertion of valid XML shape whose CipherValues are garbage
    (random, too short, not base64), or a genuine encryption to the SP key of
    something that is no assertion; the Response validly signed. 400, and the
    server keeps answering: a good response right after signs in."""
    name = unique("mallory")
    flow = SpFlow(enc_sp)
    kwargs, hook = _garbage(case, enc_sp.cert)
    xml = encrypted_flow_response(flow, name, enc_sp.cert, before_response_signature=hook, **kwargs)
    try:
        resp = flow.post(xml)
    except requests.RequestException as exc:
        pytest.fail(f"{case}: the ACS did not answer ({exc!r})\n{server.logs(3000)}")
    assert_refused(enc_sp, resp, f"garbage EncryptedAssertion ({case})", users=(name,), session=flow.session,
                   verifier=flow.verifier)
    assert server.proc.poll() is None, f"the server exited after {case}\n{server.logs(3000)}"
    assert requests.get(server.endpoint + "/readyz", timeout=5).status_code == 200
    sign_in_encrypted(enc_sp, f"good response after the {case} refusal")


def _encrypted_condition(case: str, flow: SpFlow, other: SpPool) -> tuple[dict, object]:
    now = now_utc()
    m = lambda n: _dt.timedelta(minutes=n)    # noqa: E731

    def response_answers_request(xml: str) -> str:      # only the hidden SubjectConfirmationData is wrong
        return rewrite(xml, lambda root: root.set("InResponseTo", flow.request_id))

    return {
        "wrong_audience": (dict(audience=other.entity_id), None),
        "wrong_recipient": (dict(recipient=other.acs), None),
        "expired": (dict(not_before=now - m(20), not_on_or_after=now - m(10)), None),
        "not_yet_valid": (dict(not_before=now + m(10), not_on_or_after=now + m(20)), None),
        "wrong_in_response_to": (dict(in_response_to=new_id()), response_answers_request),
        "wrong_assertion_issuer": (dict(assertion_issuer="http://127.0.0.1:9/evil/metadata"), None),
    }[case]


ENCRYPTED_CONDITION_CASES = {
    "wrong_audience": "Audience (inside the encryption) is another pool's SP entity ID",
    "wrong_recipient": "SubjectConfirmationData Recipient is another pool's ACS",
    "expired": "Conditions and SubjectConfirmationData NotOnOrAfter 10 min ago",
    "not_yet_valid": "NotBefore in 10 min",
    "wrong_in_response_to": "the Response answers the request, the encrypted SubjectConfirmationData another",
    "wrong_assertion_issuer": "the encrypted Assertion's Issuer is not the IdP",
}


@pytest.mark.parametrize("case", sorted(ENCRYPTED_CONDITION_CASES))
def test_bad_encrypted_assertion_refused(enc_sp, other_enc_sp, case):
    """The usual assertion checks apply to the decrypted assertion (Response
    signed by the trusted key, encrypted to the right certificate)."""
    name = unique("mallory")
    flow = SpFlow(enc_sp)
    kwargs, hook = _encrypted_condition(case, flow, other_enc_sp)
    xml = encrypted_flow_response(flow, name, enc_sp.cert, before_response_signature=hook, **kwargs)
    assert_refused(enc_sp, flow.post(xml), ENCRYPTED_CONDITION_CASES[case], users=(name,), session=flow.session,
                   verifier=flow.verifier)


def test_encrypted_replay_refused(enc_sp):
    """The same encrypted response twice: the first signs in, the second is refused."""
    name = unique("alice")
    flow = SpFlow(enc_sp)
    xml = encrypted_flow_response(flow, name, enc_sp.cert)
    assert_signed_in(enc_sp, flow.post(xml), name, flow.verifier, flow.state, "first post")
    assert_refused(enc_sp, flow.post(xml), "replayed encrypted response", verifier=flow.verifier)


def test_encrypted_assertion_without_encrypted_responses_refused(plain_sp):
    """A provider without EncryptedResponses has no key to decrypt with: an
    assertion encrypted to the pool's metadata certificate is refused."""
    name = unique("alice")
    flow = SpFlow(plain_sp)
    resp = flow.post(encrypted_flow_response(flow, name, metadata_encryption_certs(plain_sp)[0]))
    assert_refused(plain_sp, resp, "encrypted assertion, provider without EncryptedResponses", users=(name,),
                   session=flow.session, verifier=flow.verifier)


@pytest.mark.parametrize("sign", ["response", "both"])
def test_plaintext_refused_when_encryption_required(enc_sp, sign):
    """EncryptedResponses "true": a signed plaintext assertion is refused."""
    name = unique("mallory")
    flow = SpFlow(enc_sp)
    resp = flow.post(flow.response(name, sign=sign))
    assert_refused(enc_sp, resp, f"plaintext assertion (signed {sign}), EncryptedResponses true", users=(name,),
                   session=flow.session, verifier=flow.verifier)
