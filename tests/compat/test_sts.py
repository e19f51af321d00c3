"""STS over the AWS Query protocol on the same endpoint (wire-protocol.md §5)."""

from __future__ import annotations

import re
import secrets
import uuid

import xml.etree.ElementTree as ET

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from harness import (REGION, CirrusServer, assert_client_error, random_access_key, random_secret_key,
                     raw_request, unique)

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"

DEFAULT_ACCOUNT = "000000000000"


def test_get_caller_identity(sts):
    ident = sts.get_caller_identity()
    assert ident["Account"] == DEFAULT_ACCOUNT
    assert re.fullmatch(r"\d{12}", ident["Account"])
    assert re.match(rf"^arn:aws:(iam|sts)::{ident['Account']}:\S+$", ident["Arn"]), ident["Arn"]
    assert ident["UserId"], "UserId must be present"
    meta = ident["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 200
    uuid.UUID(meta["RequestId"])


def test_get_caller_identity_is_stable(sts):
    a = sts.get_caller_identity()
    b = sts.get_caller_identity()
    for key in ("Account", "Arn", "UserId"):
        assert a[key] == b[key]


FORM_CT = "application/x-www-form-urlencoded; charset=utf-8"
GCI_BODY = "Action=GetCallerIdentity&Version=2011-06-15"


def test_sts_response_is_query_xml(server):
    resp = raw_request(server.endpoint, body=GCI_BODY, content_type=FORM_CT, service="sts",
                       access_key=server.access_key, secret_key=server.secret_key)
    assert resp.status_code == 200, resp.text
    assert "xml" in resp.headers.get("Content-Type", ""), resp.headers.get("Content-Type")
    root = ET.fromstring(resp.content)
    assert root.tag == f"{{{STS_NS}}}GetCallerIdentityResponse", root.tag
    result = root.find(f"{{{STS_NS}}}GetCallerIdentityResult")
    assert result is not None, resp.text
    for member in ("Account", "Arn", "UserId"):
        assert (result.findtext(f"{{{STS_NS}}}{member}") or "").strip(), f"{member} missing: {resp.text}"
    rid = root.findtext(f"{{{STS_NS}}}ResponseMetadata/{{{STS_NS}}}RequestId")
    uuid.UUID(rid)
    assert resp.headers.get("x-amzn-RequestId"), "x-amzn-RequestId missing"


def test_sts_get_with_query_string(server):
    # wire-protocol.md §5: the same parameters are also accepted in a GET query string.
    req = AWSRequest(method="GET", url=server.endpoint + "/?" + GCI_BODY)
    SigV4Auth(Credentials(server.access_key, server.secret_key), "sts", REGION).add_auth(req)
    p = req.prepare()
    resp = requests.get(p.url, headers=dict(p.headers.items()), timeout=10)
    assert resp.status_code == 200, resp.text
    assert b"GetCallerIdentityResult" in resp.content


def test_sts_wrong_secret(make_client, creds):
    client = make_client("sts", access_key=creds["access_key"], secret_key=random_secret_key())
    with pytest.raises(ClientError) as ei:
        client.get_caller_identity()
    # wire-protocol.md §5: SignatureDoesNotMatch, 403
    assert_client_error(ei, "SignatureDoesNotMatch", status=403)


def test_sts_unknown_access_key(make_client):
    client = make_client("sts", access_key=random_access_key(), secret_key=random_secret_key())
    with pytest.raises(ClientError) as ei:
        client.get_caller_identity()
    # wire-protocol.md §5: InvalidClientTokenId, 403
    assert_client_error(ei, "InvalidClientTokenId", status=403)


def test_sts_error_is_query_xml(server):
    resp = raw_request(server.endpoint, body=GCI_BODY, content_type=FORM_CT, service="sts",
                       access_key=random_access_key(), secret_key=random_secret_key())
    assert resp.status_code == 403, resp.text
    root = ET.fromstring(resp.content)
    assert root.tag in (f"{{{STS_NS}}}ErrorResponse", "ErrorResponse"), root.tag
    ns = "{%s}" % STS_NS if root.tag.startswith("{") else ""
    err = root.find(f"{ns}Error")
    assert err is not None, resp.text
    assert err.findtext(f"{ns}Code") == "InvalidClientTokenId"
    assert err.findtext(f"{ns}Type") == "Sender"
    assert err.findtext(f"{ns}Message"), "STS error must carry a message"
    assert root.findtext(f"{ns}RequestId"), "RequestId missing from ErrorResponse"
    assert resp.headers.get("x-amzn-RequestId"), "x-amzn-RequestId missing on STS error"


# -------------------------------------------------- configured account id ----

@pytest.fixture(scope="module")
def account_server(workroot):
    account = "".join(secrets.choice("0123456789") for _ in range(12))
    srv = CirrusServer(
        data_dir=workroot / f"acct-{uuid.uuid4().hex[:8]}",
        workdir=workroot,
        access_key=random_access_key(),
        secret_key=random_secret_key(),
        extra_env={"CIRRUS_ACCOUNT_ID": account},
        tag="acct",
    )
    srv.start()
    try:
        yield srv, account
    finally:
        srv.stop_clean()


def test_configured_account_id(account_server):
    srv, account = account_server
    ident = srv.client("sts").get_caller_identity()
    assert ident["Account"] == account
    assert f"::{account}:" in ident["Arn"]
    pool = srv.client("cognito-idp").create_user_pool(PoolName=unique("acct"))["UserPool"]
    assert pool["Arn"] == f"arn:aws:cognito-idp:{REGION}:{account}:userpool/{pool['Id']}"
