"""A SAML 2.0 identity provider for the federation tests, built on pysaml2.

Nobody here wrote the SAML machinery: pysaml2 (PyPI `pysaml2`, pinned in
requirements.txt) parses the AuthnRequests, writes the IdP metadata and the
HTML POST form, builds the Response / Assertion objects and signs them
through Debian's `xmlsec1` binary (enveloped signatures, exclusive C14N).
This module only wires it to a small http.server on 127.0.0.1 and exposes
the knobs the security tests need.

Endpoints (base URL http://<host>:<port>, host 127.0.0.1 unless another
loopback name such as "localhost" is given, e.g. to make the IdP cross-site):

  GET  /metadata         IdP metadata: entityID {base}/metadata, the signing
                         certificate, SingleSignOnService (HTTP-Redirect) at /sso
  GET  /metadata-nocert  the same without any KeyDescriptor
  GET  /metadata-enconly the same with only an encryption KeyDescriptor
  GET  /sso              HTTP-Redirect binding: SAMLRequest (+ RelayState) parsed
                         by pysaml2's Server; login="auto" answers at once for
                         `auto_user`, login="form" shows a login form (#saml-login,
                         fields username / password, a submit button)
  POST /login            the form: the user signs in and gets pysaml2's
                         auto-submitting HTML form POSTing SAMLResponse and the
                         unchanged RelayState to the request's
                         AssertionConsumerServiceURL

Python API for crafted responses (security tests): `build_response(...)`
(signed Response and/or Assertion, RSA-SHA256 + SHA-256 digests by default;
audience, destination, recipient, InResponseTo, validity window, NameID,
attributes, status, unsigned, another key, SHA-1), `encode()` for the
HTTP-POST form value, and `parse_authn_request()` for what Cirrus sent.

Encrypted assertions (`build_response(encrypt_to=...)`, `encrypt_assertion()`):
the Assertion (signed first, if asked) is serialized on its own, so the
plaintext declares its namespaces, and replaced by
<saml:EncryptedAssertion><xenc:EncryptedData Type="...#Element"> with the
session key in <ds:KeyInfo><xenc:EncryptedKey> (certificate in its KeyInfo),
as Shibboleth and pysaml2 write it; the Response is signed afterwards.
engine "xmlsec1" has Debian's xmlsec1 encrypt (through pysaml2's xmlsec1
backend; 1.2.x: RSA-OAEP-MGF1P and RSA 1.5 only); engine "python" writes the
same shape with `cryptography` (any of DATA_ALGORITHMS x KEY_TRANSPORTS,
including XML Encryption 1.1 rsa-oaep with SHA-256 / MGF1-SHA256).
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import os
import secrets
import shutil
import tempfile
import threading
import warnings
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding as _rsa_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher as _Cipher
from cryptography.hazmat.primitives.ciphers import algorithms as _algorithms
from cryptography.hazmat.primitives.ciphers import modes as _modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM as _AESGCM
from cryptography.x509.oid import NameOID
from lxml import etree

with warnings.catch_warnings():     # pysaml2 imports a cipher mode that cryptography has moved
    warnings.simplefilter("ignore")
    import saml2.cryptography.symmetric  # noqa: F401
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml, samlp
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.pack import http_form_post_message
from saml2.server import Server
from saml2.sigver import pre_signature_part, security_context
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

XMLSEC1 = "/usr/bin/xmlsec1"
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
    "xenc11": "http://www.w3.org/2009/xmlenc11#",
}
STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
STATUS_RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
STATUS_AUTHN_FAILED = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
NAMEID_PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
ATTR_BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
ATTR_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
PASSWORD_PROTECTED = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
ALGORITHMS = {
    # name -> (SignatureMethod, DigestMethod)
    "rsa-sha256": (SIG_RSA_SHA256, DIGEST_SHA256),
    "rsa-sha1": (SIG_RSA_SHA1, DIGEST_SHA1),
}
SAME = object()      # destination / recipient default: the ACS URL
XMLENC = "http://www.w3.org/2001/04/xmlenc#"
XMLENC11 = "http://www.w3.org/2009/xmlenc11#"
XMLENC_ELEMENT = XMLENC + "Element"
DATA_ALGORITHMS = {
    # name -> (EncryptionMethod Algorithm, xmlsec1 --session-key, key bytes, mode)
    "aes128-cbc": (XMLENC + "aes128-cbc", "aes-128", 16, "cbc"),
    "aes192-cbc": (XMLENC + "aes192-cbc", "aes-192", 24, "cbc"),
    "aes256-cbc": (XMLENC + "aes256-cbc", "aes-256", 32, "cbc"),
    "aes128-gcm": (XMLENC11 + "aes128-gcm", "aes-128", 16, "gcm"),
    "aes192-gcm": (XMLENC11 + "aes192-gcm", "aes-192", 24, "gcm"),
    "aes256-gcm": (XMLENC11 + "aes256-gcm", "aes-256", 32, "gcm"),
    "tripledes-cbc": (XMLENC + "tripledes-cbc", "des-192", 24, "3des"),
}
KEY_TRANSPORTS = {
    # name -> (EncryptionMethod Algorithm, ds:DigestMethod or None (SHA-1), xenc11:MGF or None (MGF1-SHA1))
    "rsa-oaep-mgf1p": (XMLENC + "rsa-oaep-mgf1p", None, None),
    "rsa-oaep-mgf1p-sha1": (XMLENC + "rsa-oaep-mgf1p", "http://www.w3.org/2000/09/xmldsig#sha1", None),   # ADFS
    "rsa-oaep-mgf1p-sha256": (XMLENC + "rsa-oaep-mgf1p", XMLENC + "sha256", None),
    "rsa-oaep": (XMLENC11 + "rsa-oaep", None, None),
    "rsa-oaep-sha256": (XMLENC11 + "rsa-oaep", XMLENC + "sha256", XMLENC11 + "mgf1sha256"),
    "rsa-1_5": (XMLENC + "rsa-1_5", None, None),
}
XMLSEC1_KEY_TRANSPORTS = ("rsa-oaep-mgf1p", "rsa-oaep-mgf1p-sha1", "rsa-1_5")   # what xmlsec1 1.2.x writes
KEYINFO_NS = {
    # how <KeyInfo> in <xenc:EncryptedData> is namespaced
    "ds": "<ds:KeyInfo xmlns:ds=...>, declared on the KeyInfo itself (OpenSAML / Shibboleth, Okta)",
    "dsig": "<dsig:KeyInfo xmlns:dsig=...>, the same with the prefix dsig",
    "sig": "<sig:KeyInfo xmlns:sig=...>, the same with another prefix",
    "default": '<KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"> (ADFS / Windows Identity Foundation)',
    "inherited": "<ds:KeyInfo>, ds declared on the EncryptedData (as lxml or pysaml2 serialize it)",
}


def now_utc() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)


def instant(t: _dt.datetime) -> str:
    return t.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    """An xs:ID (an NCName: must not start with a digit)."""
    return "_" + secrets.token_hex(20)


def encode(xml: str | bytes) -> str:
    """The HTTP-POST binding's SAMLResponse value: base64 of the XML."""
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    return base64.b64encode(xml).decode("ascii")


def cert_pem_of(cert) -> str:
    """A certificate as PEM, from a KeyPair, PEM text or base64 DER (as in
    <ds:X509Certificate> or ActiveEncryptionCertificate)."""
    if isinstance(cert, KeyPair):
        return cert.cert_pem
    text = cert.decode() if isinstance(cert, bytes) else str(cert)
    if "-----BEGIN CERTIFICATE-----" in text:
        return text
    der = base64.b64decode("".join(text.split()))
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()


def cert_b64_of(cert) -> str:
    """The same certificate as base64 DER."""
    c = x509.load_pem_x509_certificate(cert_pem_of(cert).encode())
    return base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()


# ---------------------------------------------------------------- keys ----

@dataclass
class KeyPair:
    """An RSA key and its self-signed certificate, as PEM files in a directory."""
    key_path: Path
    cert_path: Path
    cert_b64: str            # base64 DER, as in <ds:X509Certificate>
    cert_pem: str

    @classmethod
    def generate(cls, directory: Path, name: str, common_name: str) -> "KeyPair":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        start = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(days=1)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(start + _dt.timedelta(days=365))
                .sign(key, hashes.SHA256()))
        key_path = Path(directory) / f"{name}.key.pem"
        cert_path = Path(directory) / f"{name}.cert.pem"
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        cert_path.write_text(cert_pem)
        cert_b64 = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        return cls(key_path, cert_path, cert_b64, cert_pem)


# ---------------------------------------------------------------- the IdP ----

@dataclass
class User:
    name_id: str
    password: str
    attributes: dict          # attribute name -> list of values
    name_id_format: str = NAMEID_UNSPECIFIED


class SamlIdp:
    """pysaml2 IdP on 127.0.0.1 (see the module docstring)."""

    def __init__(self, host: str = "127.0.0.1", login: str = "form", auto_user: str | None = None,
                 sign: str = "assertion", attribute_format: str = ATTR_BASIC):
        assert login in ("form", "auto")
        self.host = host
        self.login = login
        self.auto_user = auto_user
        self.sign = sign                    # how /login and /sso sign: "assertion" | "response" | "both"
        self.attribute_format = attribute_format
        self.users: dict[str, User] = {}
        self.requests: list[dict] = []      # every AuthnRequest parsed at /sso
        self.issued: list[dict] = []        # every response sent by /login or auto /sso
        self.errors: list[str] = []
        self._pending: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._dir = Path(tempfile.mkdtemp(prefix="cirrus-saml-idp-"))
        self.key = KeyPair.generate(self._dir, "idp", "Cirrus compat SAML IdP")
        self.other_key = KeyPair.generate(self._dir, "attacker", "Cirrus compat SAML IdP")  # same CN, other key
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None
        self.server: Server | None = None

    # ---- lifecycle -----------------------------------------------------

    def start(self) -> "SamlIdp":
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):      # quiet
                pass

            def do_GET(self):
                idp._dispatch(self, "GET")

            def do_POST(self):
                idp._dispatch(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.config = IdPConfig()
        self.config.load({
            "entityid": self.entity_id,
            "xmlsec_binary": XMLSEC1,
            "key_file": str(self.key.key_path),
            "cert_file": str(self.key.cert_path),
            "accepted_time_diff": 60,
            "service": {"idp": {
                "name": "Cirrus compat IdP",
                "endpoints": {"single_sign_on_service": [(self.sso_url, BINDING_HTTP_REDIRECT)]},
                "name_id_format": [NAMEID_UNSPECIFIED, NAMEID_EMAIL, NAMEID_PERSISTENT],
                "want_authn_requests_signed": False,
            }},
        })
        self.server = Server(config=self.config)
        self.sec = security_context(self.config)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        shutil.rmtree(self._dir, ignore_errors=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}/metadata"

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/metadata"

    @property
    def sso_url(self) -> str:
        return f"{self.base_url}/sso"

    def add_user(self, name_id: str, password: str = "idp-pass", attributes: dict | None = None,
                 name_id_format: str = NAMEID_UNSPECIFIED) -> User:
        attrs = {k: (v if isinstance(v, list) else [v]) for k, v in (attributes or {}).items()}
        user = User(name_id, password, attrs, name_id_format)
        self.users[name_id] = user
        return user

    # ---- metadata ------------------------------------------------------

    def metadata_xml(self, keys: str = "signing") -> str:
        """pysaml2's IdP metadata. keys: "signing" (the certificate, use="signing"),
        "none" (no KeyDescriptor at all), "encryption" (only use="encryption")."""
        xml = create_metadata_string(None, config=self.config, valid=24 * 7, sign=False)
        if isinstance(xml, bytes):
            xml = xml.decode("utf-8")
        root = etree.fromstring(xml.encode("utf-8"))
        kds = root.findall(".//md:IDPSSODescriptor/md:KeyDescriptor", NS)
        assert kds, f"pysaml2 wrote IdP metadata without a KeyDescriptor: {xml}"
        for kd in kds:
            if keys == "none":
                kd.getparent().remove(kd)
            elif keys == "encryption":
                kd.set("use", "encryption")
            else:
                assert keys == "signing", keys
                kd.set("use", "signing")
        if keys == "encryption":      # keep exactly one (pysaml2 may write one per use)
            for kd in kds[1:]:
                kd.getparent().remove(kd)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")

    # ---- AuthnRequests -------------------------------------------------

    def parse_authn_request(self, saml_request: str, relay_state: str | None = None,
                            sigalg: str | None = None, signature: str | None = None) -> dict:
        """Parse an HTTP-Redirect SAMLRequest with pysaml2's Server (inflate,
        schema, Destination among this IdP's SSO endpoints, IssueInstant)."""
        req = self.server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT, relay_state=relay_state,
                                              sigalg=sigalg, signature=signature)
        msg = req.message
        nip = msg.name_id_policy
        return {
            "id": msg.id,
            "issuer": msg.issuer.text if msg.issuer is not None else None,
            "destination": msg.destination,
            "acs_url": msg.assertion_consumer_service_url,
            "protocol_binding": msg.protocol_binding,
            "issue_instant": msg.issue_instant,
            "version": msg.version,
            "force_authn": msg.force_authn,
            "name_id_policy": {"format": nip.format, "allow_create": nip.allow_create} if nip is not None else None,
            "relay_state": relay_state,
            "sigalg": sigalg,
            "signed_redirect": signature is not None,
            "xml": str(req.xmlstr if isinstance(req.xmlstr, str) else req.xmlstr.decode("utf-8")),
        }

    # ---- responses -----------------------------------------------------

    def build_response(self, *, acs_url: str, audience: str, name_id: str, in_response_to: str | None = None,
                       attributes: dict | None = None, name_id_format: str = NAMEID_UNSPECIFIED,
                       destination=SAME, recipient=SAME, sign: str = "assertion", algorithm: str = "rsa-sha256",
                       signer: KeyPair | None = None, keyinfo: KeyPair | None = None,
                       issue_instant: _dt.datetime | None = None, not_before: _dt.datetime | None = None,
                       not_on_or_after: _dt.datetime | None = None, sc_not_on_or_after: _dt.datetime | None = None,
                       status: str = STATUS_SUCCESS, status_message: str | None = None,
                       with_assertion: bool = True, issuer: str | None = None, assertion_issuer: str | None = None,
                       response_id: str | None = None, assertion_id: str | None = None,
                       attribute_format: str | None = None, encrypt_to=None, data_alg: str = "aes128-cbc",
                       key_alg: str = "rsa-oaep-mgf1p", encrypt_engine: str = "xmlsec1", keyinfo_ns: str = "ds",
                       before_response_signature=None) -> str:
        """A SAML Response as XML text.

        sign: "assertion" | "response" | "both" | "none".
        algorithm: "rsa-sha256" (SHA-256 digests) or "rsa-sha1" (SHA-1 digests).
        signer: the key that signs (default: the metadata's); keyinfo: the
        certificate put in <ds:KeyInfo> (default: the signer's).
        destination / recipient: SAME (the ACS URL), a string, or None (left out).
        Times default to IssueInstant now, NotBefore now - 5 s, NotOnOrAfter
        (Conditions and SubjectConfirmationData) now + 5 min.
        encrypt_to: a certificate (KeyPair, PEM or base64 DER) to encrypt the
        assertion to (after the assertion signature, before the Response's),
        with data_alg / key_alg / encrypt_engine / keyinfo_ns (see `encrypt_assertion`).
        before_response_signature: a function xml -> xml applied last before
        the Response is signed (to tamper with what the signature covers).
        """
        assert sign in ("assertion", "response", "both", "none"), sign
        sig_alg, digest_alg = ALGORITHMS[algorithm]
        signer = signer or self.key
        keyinfo = keyinfo or signer
        now = now_utc()
        issue_instant = issue_instant or now
        not_before = not_before or (now - _dt.timedelta(seconds=5))
        not_on_or_after = not_on_or_after or (now + _dt.timedelta(minutes=5))
        sc_not_on_or_after = sc_not_on_or_after or not_on_or_after
        destination = acs_url if destination is SAME else destination
        recipient = acs_url if recipient is SAME else recipient
        issuer = issuer or self.entity_id
        response_id = response_id or new_id()
        assertion_id = assertion_id or new_id()
        attribute_format = attribute_format or self.attribute_format

        status_obj = samlp.Status(status_code=samlp.StatusCode(value=status))
        if status_message:
            status_obj.status_message = samlp.StatusMessage(text=status_message)
        response = samlp.Response(id=response_id, version="2.0", issue_instant=instant(issue_instant),
                                  issuer=saml.Issuer(text=issuer, format=saml.NAMEID_FORMAT_ENTITY),
                                  status=status_obj)
        if destination is not None:
            response.destination = destination
        if in_response_to is not None:
            response.in_response_to = in_response_to

        assertion = None
        if with_assertion:
            scd = saml.SubjectConfirmationData(not_on_or_after=instant(sc_not_on_or_after))
            if recipient is not None:
                scd.recipient = recipient
            if in_response_to is not None:
                scd.in_response_to = in_response_to
            subject = saml.Subject(
                name_id=saml.NameID(text=name_id, format=name_id_format),
                subject_confirmation=[saml.SubjectConfirmation(method=BEARER, subject_confirmation_data=scd)])
            conditions = saml.Conditions(
                not_before=instant(not_before), not_on_or_after=instant(not_on_or_after),
                audience_restriction=[saml.AudienceRestriction(audience=[saml.Audience(text=audience)])])
            authn = saml.AuthnStatement(
                authn_instant=instant(issue_instant), session_index=new_id(),
                authn_context=saml.AuthnContext(
                    authn_context_class_ref=saml.AuthnContextClassRef(text=PASSWORD_PROTECTED)))
            assertion = saml.Assertion(
                id=assertion_id, version="2.0", issue_instant=instant(issue_instant),
                issuer=saml.Issuer(text=assertion_issuer or issuer, format=saml.NAMEID_FORMAT_ENTITY),
                subject=subject, conditions=conditions, authn_statement=[authn])
            if attributes:
                attrs = []
                for name, values in attributes.items():
                    values = values if isinstance(values, list) else [values]
                    attrs.append(saml.Attribute(
                        name=name, name_format=attribute_format,
                        attribute_value=[saml.AttributeValue(text=str(v)) for v in values]))
                    # xsi:type="xs:string", as most IdPs write it
                    for av in attrs[-1].attribute_value:
                        av.set_type("xs:string")
                assertion.attribute_statement = [saml.AttributeStatement(attribute=attrs)]
            response.assertion = [assertion]

        to_sign = []
        if sign in ("assertion", "both") and assertion is not None:
            assertion.signature = pre_signature_part(assertion_id, public_key=keyinfo.cert_b64,
                                                     sign_alg=sig_alg, digest_alg=digest_alg)
            to_sign.append((saml.Assertion, assertion_id))
        if sign in ("response", "both"):
            response.signature = pre_signature_part(response_id, public_key=keyinfo.cert_b64,
                                                    sign_alg=sig_alg, digest_alg=digest_alg)
            to_sign.append((samlp.Response, response_id))
        xml = str(response)
        for cls, node_id in to_sign:          # inner first: the Response signature covers the signed Assertion
            if cls is samlp.Response:
                if encrypt_to is not None and assertion is not None:
                    xml = self.encrypt_assertion(xml, encrypt_to, data_alg=data_alg, key_alg=key_alg,
                                                 engine=encrypt_engine, keyinfo_ns=keyinfo_ns)
                if before_response_signature is not None:
                    xml = before_response_signature(xml)
            xml = self.sec.sign_statement(xml, f"{cls.c_namespace}:{cls.c_tag}", key_file=str(signer.key_path),
                                          node_id=node_id)
        if samlp.Response not in [cls for cls, _ in to_sign]:      # the Response stays unsigned
            if encrypt_to is not None and assertion is not None:
                xml = self.encrypt_assertion(xml, encrypt_to, data_alg=data_alg, key_alg=key_alg,
                                             engine=encrypt_engine, keyinfo_ns=keyinfo_ns)
            if before_response_signature is not None:
                xml = before_response_signature(xml)
        return xml

    def encrypt_assertion(self, xml: str, cert, data_alg: str = "aes128-cbc", key_alg: str = "rsa-oaep-mgf1p",
                          engine: str = "xmlsec1", keyinfo_ns: str = "ds") -> str:
        """Replace the Response's Assertion by an EncryptedAssertion for `cert`
        (KeyPair, PEM or base64 DER). data_alg: a DATA_ALGORITHMS name;
        key_alg: a KEY_TRANSPORTS name; engine: "xmlsec1" (xmlsec1 encrypts
        from the template; key_alg one of XMLSEC1_KEY_TRANSPORTS) or "python";
        keyinfo_ns: how the EncryptedData's KeyInfo is namespaced (KEYINFO_NS).
        The EncryptedData goes in as text, so its namespace declarations stay
        where they were written (lxml would fold them into the Response's)."""
        assert data_alg in DATA_ALGORITHMS, data_alg
        assert key_alg in KEY_TRANSPORTS, key_alg
        assert engine in ("xmlsec1", "python"), engine
        root = etree.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
        assertion = root.find("saml:Assertion", NS)
        assert assertion is not None, "no Assertion to encrypt"
        plaintext = etree.tostring(assertion)            # declares every namespace it uses
        template = encrypted_data_template(cert_b64_of(cert), data_alg, key_alg, keyinfo_ns)
        if engine == "xmlsec1":
            assert key_alg in XMLSEC1_KEY_TRANSPORTS, f"xmlsec1 1.2 does not write {key_alg}"
            encrypted = self._xmlsec1_encrypt(plaintext, template, cert_pem_of(cert), DATA_ALGORITHMS[data_alg][1])
        else:
            encrypted = python_encrypt(plaintext, template, cert_pem_of(cert), data_alg, key_alg)
        marker = "ENCRYPTED-DATA-" + secrets.token_hex(16)
        holder = etree.Element(f"{{{NS['saml']}}}EncryptedAssertion")
        holder.text = marker
        holder.tail = assertion.tail
        root.replace(assertion, holder)
        text = etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")
        assert text.count(marker) == 1
        return text.replace(marker, etree.tostring(encrypted).decode("utf-8"))

    def _xmlsec1_encrypt(self, plaintext: bytes, template: etree._Element, cert_pem: str,
                         session_key: str) -> etree._Element:
        """xmlsec1 --encrypt of a document holding only the assertion (its root
        replaced by the filled-in template), through pysaml2's xmlsec1 backend."""
        with tempfile.TemporaryDirectory(prefix="cirrus-saml-enc-") as d:
            cert_file, template_file = Path(d) / "cert.pem", Path(d) / "template.xml"
            cert_file.write_text(cert_pem)
            template_file.write_bytes(etree.tostring(template))
            out = self.sec.crypto.encrypt(b'<?xml version="1.0" encoding="UTF-8"?>\n' + plaintext, str(cert_file),
                                          str(template_file), session_key, xpath="/*")
        encrypted = etree.fromstring(out)
        assert encrypted.tag == f"{{{XMLENC}}}EncryptedData", out[:300]
        return encrypted

    def response_for_request(self, request: dict, user: User, **kwargs) -> str:
        """The response a normal sign-in answers an AuthnRequest with."""
        kwargs.setdefault("sign", self.sign)
        return self.build_response(acs_url=request["acs_url"], audience=request["issuer"], name_id=user.name_id,
                                   name_id_format=user.name_id_format, in_response_to=request["id"],
                                   attributes=user.attributes, **kwargs)

    def post_form(self, xml: str, acs_url: str, relay_state: str | None) -> str:
        """pysaml2's HTML form (auto-submitted by an onload script, a Continue
        button in <noscript>) POSTing SAMLResponse and RelayState to acs_url."""
        return http_form_post_message(xml, acs_url, relay_state or "", typ="SAMLResponse")["data"]

    # ---- HTTP ----------------------------------------------------------

    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(h.path)
        q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            if method == "GET" and url.path in ("/metadata", "/metadata-nocert", "/metadata-enconly"):
                keys = {"/metadata": "signing", "/metadata-nocert": "none", "/metadata-enconly": "encryption"}[url.path]
                return self._send(h, 200, self.metadata_xml(keys), "application/samlmetadata+xml")
            if method == "GET" and url.path == "/sso":
                return self._sso(h, q)
            if method == "POST" and url.path == "/login":
                length = int(h.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(h.rfile.read(length).decode(), keep_blank_values=True).items()}
                return self._login(h, form)
            return self._send(h, 404, "not found", "text/plain")
        except Exception as exc:          # a test reads idp.errors; the browser sees a plain 400
            self.errors.append(f"{method} {h.path[:200]}: {exc!r}")
            return self._send(h, 400, f"IdP error: {exc!r}", "text/plain")

    def _sso(self, h, q: dict) -> None:
        if "SAMLRequest" not in q:
            raise ValueError("no SAMLRequest")
        req = self.parse_authn_request(q["SAMLRequest"], q.get("RelayState"), q.get("SigAlg"), q.get("Signature"))
        with self._lock:
            self.requests.append(req)
        if not req["acs_url"]:
            raise ValueError("the AuthnRequest names no AssertionConsumerServiceURL")
        if self.login == "auto":
            return self._answer(h, req, self.users[self.auto_user])
        key = secrets.token_urlsafe(16)
        with self._lock:
            self._pending[key] = req
        page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Corp IdP sign-in</title></head>
<body><h1>Corp identity provider</h1>
<form id="saml-login" method="post" action="/login">
<input type="hidden" name="key" value="{html.escape(key)}">
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit" id="saml-submit">Sign in</button>
</form></body></html>"""
        return self._send(h, 200, page, "text/html; charset=utf-8")

    def _login(self, h, form: dict) -> None:
        with self._lock:
            req = self._pending.pop(form.get("key", ""), None)
        if req is None:
            raise ValueError("unknown or used login key")
        user = self.users.get(form.get("username", ""))
        if user is None or not secrets.compare_digest(user.password, form.get("password", "")):
            raise ValueError("wrong username or password")
        return self._answer(h, req, user)

    def _answer(self, h, req: dict, user: User) -> None:
        xml = self.response_for_request(req, user)
        with self._lock:
            self.issued.append({"request_id": req["id"], "name_id": user.name_id, "xml": xml,
                                "relay_state": req["relay_state"], "acs_url": req["acs_url"]})
        return self._send(h, 200, self.post_form(xml, req["acs_url"], req["relay_state"]), "text/html; charset=utf-8")

    @staticmethod
    def _send(h, status: int, body: str, content_type: str) -> None:
        data = body.encode("utf-8")
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        h.send_header("Cache-Control", "no-store")
        h.end_headers()
        h.wfile.write(data)


# ---------------------------------------------------------------- XML Encryption ----

def encrypted_data_template(cert_b64: str, data_alg: str, key_alg: str, keyinfo_ns: str = "ds") -> etree._Element:
    """<xenc:EncryptedData Type="#Element"> with empty CipherValues: the data
    EncryptionMethod, then <ds:KeyInfo><xenc:EncryptedKey> (its method, with
    ds:DigestMethod / xenc11:MGF where the key transport names them, and the
    recipient's certificate). keyinfo_ns: see KEYINFO_NS."""
    assert keyinfo_ns in KEYINFO_NS, keyinfo_ns
    ds = NS["ds"]
    data_uri = DATA_ALGORITHMS[data_alg][0]
    key_uri, digest, mgf = KEY_TRANSPORTS[key_alg]
    nsmap = {"xenc": XMLENC}
    if keyinfo_ns == "inherited":
        nsmap["ds"] = ds
    if mgf:
        nsmap["xenc11"] = XMLENC11
    ed = etree.Element(f"{{{XMLENC}}}EncryptedData", nsmap=nsmap, Id="ED_" + secrets.token_hex(16),
                       Type=XMLENC_ELEMENT)
    etree.SubElement(ed, f"{{{XMLENC}}}EncryptionMethod", Algorithm=data_uri)
    own = {"ds": {"ds": ds}, "dsig": {"dsig": ds}, "sig": {"sig": ds}, "default": {None: ds}, "inherited": None}
    ki = etree.SubElement(ed, f"{{{ds}}}KeyInfo", nsmap=own[keyinfo_ns])
    ek = etree.SubElement(ki, f"{{{XMLENC}}}EncryptedKey", Id="EK_" + secrets.token_hex(16))
    em = etree.SubElement(ek, f"{{{XMLENC}}}EncryptionMethod", Algorithm=key_uri)
    if digest:
        etree.SubElement(em, f"{{{ds}}}DigestMethod", Algorithm=digest)
    if mgf:
        etree.SubElement(em, f"{{{XMLENC11}}}MGF", Algorithm=mgf)
    eki = etree.SubElement(ek, f"{{{ds}}}KeyInfo")
    x5 = etree.SubElement(eki, f"{{{ds}}}X509Data")
    etree.SubElement(x5, f"{{{ds}}}X509Certificate").text = cert_b64
    cd = etree.SubElement(ek, f"{{{XMLENC}}}CipherData")
    etree.SubElement(cd, f"{{{XMLENC}}}CipherValue")
    cd = etree.SubElement(ed, f"{{{XMLENC}}}CipherData")
    etree.SubElement(cd, f"{{{XMLENC}}}CipherValue")
    return ed


_HASHES = {None: hashes.SHA1, "http://www.w3.org/2000/09/xmldsig#sha1": hashes.SHA1, XMLENC + "sha256": hashes.SHA256}
_MGF_HASHES = {None: hashes.SHA1, XMLENC11 + "mgf1sha256": hashes.SHA256}


def python_encrypt(plaintext: bytes, template: etree._Element, cert_pem: str, data_alg: str,
                   key_alg: str) -> etree._Element:
    """XML Encryption with `cryptography`: a fresh session key; CBC as IV ||
    ciphertext with XML Encryption padding (random bytes, the last one the
    pad length); GCM as 96-bit IV || ciphertext || 128-bit tag; the key
    wrapped with RSA-OAEP (DigestMethod / MGF as named) or RSA PKCS#1 v1.5."""
    _, _, key_len, mode = DATA_ALGORITHMS[data_alg]
    _, digest, mgf = KEY_TRANSPORTS[key_alg]
    key = os.urandom(key_len)
    if mode == "gcm":
        iv = os.urandom(12)
        value = iv + _AESGCM(key).encrypt(iv, plaintext, None)
    else:
        if mode == "3des":
            from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
            algorithm, block = TripleDES(key), 8
        else:
            algorithm, block = _algorithms.AES(key), 16
        iv = os.urandom(block)
        n = block - len(plaintext) % block
        padded = plaintext + os.urandom(n - 1) + bytes([n])
        enc = _Cipher(algorithm, _modes.CBC(iv)).encryptor()
        value = iv + enc.update(padded) + enc.finalize()
    public = x509.load_pem_x509_certificate(cert_pem.encode()).public_key()
    if key_alg == "rsa-1_5":
        wrapped = public.encrypt(key, _rsa_padding.PKCS1v15())
    else:
        wrapped = public.encrypt(key, _rsa_padding.OAEP(mgf=_rsa_padding.MGF1(_MGF_HASHES[mgf]()),
                                                        algorithm=_HASHES[digest](), label=None))
    ed = etree.fromstring(etree.tostring(template))
    values = ed.findall(".//xenc:CipherValue", NS)     # document order: the EncryptedKey's, then the data's
    assert len(values) == 2
    values[0].text = base64.b64encode(wrapped).decode()
    values[1].text = base64.b64encode(value).decode()
    return ed


def python_decrypt(xml: str | bytes, key: KeyPair) -> bytes:
    """The plaintext of a document's (first) EncryptedData, with `cryptography`
    and `key` (self-checks; the inverse of `python_encrypt`, padding checked)."""
    root = etree.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
    ed = root if root.tag == f"{{{XMLENC}}}EncryptedData" else root.find(".//xenc:EncryptedData", NS)
    data_uri = ed.find("xenc:EncryptionMethod", NS).get("Algorithm")
    ek = ed.find("ds:KeyInfo/xenc:EncryptedKey", NS)
    em = ek.find("xenc:EncryptionMethod", NS)
    digest_el, mgf_el = em.find("ds:DigestMethod", NS), em.find("xenc11:MGF", NS)
    digest = digest_el.get("Algorithm") if digest_el is not None else None
    mgf = mgf_el.get("Algorithm") if mgf_el is not None else None
    private = serialization.load_pem_private_key(Path(key.key_path).read_bytes(), password=None)
    wrapped = base64.b64decode(ek.findtext("xenc:CipherData/xenc:CipherValue", namespaces=NS))
    if em.get("Algorithm") == XMLENC + "rsa-1_5":
        session = private.decrypt(wrapped, _rsa_padding.PKCS1v15())
    else:
        session = private.decrypt(wrapped, _rsa_padding.OAEP(mgf=_rsa_padding.MGF1(_MGF_HASHES[mgf]()),
                                                             algorithm=_HASHES[digest](), label=None))
    value = base64.b64decode(ed.findtext("xenc:CipherData/xenc:CipherValue", namespaces=NS))
    (name,) = [n for n, v in DATA_ALGORITHMS.items() if v[0] == data_uri]
    _, _, key_len, mode = DATA_ALGORITHMS[name]
    assert len(session) == key_len, (name, len(session))
    if mode == "gcm":
        return _AESGCM(session).decrypt(value[:12], value[12:], None)
    if mode == "3des":
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
        algorithm, block = TripleDES(session), 8
    else:
        algorithm, block = _algorithms.AES(session), 16
    dec = _Cipher(algorithm, _modes.CBC(value[:block])).decryptor()
    padded = dec.update(value[block:]) + dec.finalize()
    n = padded[-1]
    assert 1 <= n <= block, f"bad XML Encryption padding {n}"
    return padded[:-n]


def xmlsec1_decrypt(xml: str | bytes, key: KeyPair) -> str:
    """xmlsec1 --decrypt of a document's EncryptedData with `key` (self-checks)."""
    import subprocess
    with tempfile.TemporaryDirectory(prefix="cirrus-saml-dec-") as d:
        doc = Path(d) / "doc.xml"
        doc.write_bytes(xml.encode("utf-8") if isinstance(xml, str) else xml)
        proc = subprocess.run([XMLSEC1, "--decrypt", "--privkey-pem", str(key.key_path), str(doc)],
                              capture_output=True, timeout=30)
    if proc.returncode != 0:
        raise ValueError(f"xmlsec1 --decrypt failed: {proc.stderr.decode(errors='replace')[-800:]}")
    return proc.stdout.decode("utf-8")


# ---------------------------------------------------------------- SP side (self-check) ----

def pysaml2_sp(idp_metadata: str, entity_id: str, acs_url: str, want: str = "either",
               encryption_key: KeyPair | None = None):
    """A pysaml2 service provider (Saml2Client) trusting `idp_metadata`, used
    to check that this IdP's untampered responses are valid SAML.
    want: "either" (response or assertion signed), "response", "assertion".
    encryption_key: the SP's key pair for encrypted assertions (xmlsec1 decrypts)."""
    from saml2.client import Saml2Client
    from saml2.config import SPConfig
    cfg = SPConfig()
    extra = {}
    if encryption_key is not None:
        extra["encryption_keypairs"] = [{"key_file": str(encryption_key.key_path),
                                         "cert_file": str(encryption_key.cert_path)}]
    cfg.load({
        **extra,
        "entityid": entity_id,
        "xmlsec_binary": XMLSEC1,
        "metadata": {"inline": [idp_metadata]},
        "accepted_time_diff": 60,
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)]},
            "want_response_signed": want == "response",
            "want_assertions_signed": want == "assertion",
            "want_assertions_or_response_signed": want == "either",
            "allow_unsolicited": False,
        }},
    })
    return Saml2Client(config=cfg)


def pysaml2_sp_accepts(sp, xml: str, request_id: str | None) -> str:
    """Let the pysaml2 SP parse and verify a response; return the NameID it signs in."""
    outstanding = {request_id: "/"} if request_id else {}
    resp = sp.parse_authn_request_response(encode(xml), BINDING_HTTP_POST, outstanding=outstanding)
    if resp is None:
        raise ValueError("pysaml2 SP returned no response")
    return resp.name_id.text


__all__ = ["SamlIdp", "KeyPair", "User", "encode", "new_id", "now_utc", "instant", "pysaml2_sp",
           "pysaml2_sp_accepts", "SAME", "NS", "STATUS_SUCCESS", "STATUS_RESPONDER", "NAMEID_EMAIL",
           "NAMEID_UNSPECIFIED", "NAMEID_PERSISTENT", "ATTR_BASIC", "ATTR_URI", "DATA_ALGORITHMS", "KEY_TRANSPORTS",
           "XMLSEC1_KEY_TRANSPORTS", "KEYINFO_NS", "XMLENC", "XMLENC11", "cert_pem_of", "cert_b64_of", "encrypted_data_template",
           "python_encrypt", "python_decrypt", "xmlsec1_decrypt"]
