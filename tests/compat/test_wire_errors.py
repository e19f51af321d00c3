"""AWS JSON 1.1 framing, error encoding and SigV4 failures (wire-protocol.md §2, §6).

Raw cases build the request with botocore's AWSRequest + SigV4Auth and send it
with `requests`, so the test controls exactly what goes over the wire.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
import requests
from botocore.exceptions import ClientError

from harness import IDP_PREFIX, JSON_CT, assert_client_error, assert_json_error, jdump, random_access_key, random_secret_key, unique

LIST = IDP_PREFIX + "ListUserPools"
LIST_BODY = jdump({"MaxResults": 5})


def _ok(resp: requests.Response) -> dict:
    assert resp.status_code == 200, f"expected 200, got {resp.status_code}: {resp.text!r}"
    assert resp.headers.get("x-amzn-RequestId"), "x-amzn-RequestId missing on success"
    assert resp.headers.get("Content-Type", "").split(";")[0].strip() == JSON_CT
    return resp.json()


# --------------------------------------------------------------- health ----

def test_healthz_and_readyz(endpoint):
    assert requests.get(endpoint + "/healthz", timeout=5).status_code == 200
    assert requests.get(endpoint + "/readyz", timeout=5).status_code == 200


# ----------------------------------------------------- successful framing ----

def test_raw_signed_request_succeeds(raw):
    body = _ok(raw(target=LIST, body=LIST_BODY))
    assert isinstance(body.get("UserPools"), list)


def test_request_id_is_uuid_and_reaches_boto3(raw, idp):
    resp = raw(target=LIST, body=LIST_BODY)
    rid = resp.headers.get("x-amzn-RequestId")
    uuid.UUID(rid)  # raises if not a UUID
    second = raw(target=LIST, body=LIST_BODY).headers.get("x-amzn-RequestId")
    assert second != rid, "request ids must be unique"
    meta = idp.list_user_pools(MaxResults=1)["ResponseMetadata"]
    uuid.UUID(meta["RequestId"])
    assert meta["HTTPStatusCode"] == 200


@pytest.mark.parametrize("content_type", [
    "application/json",
    "application/x-amz-json-1.1; charset=utf-8",
])
def test_lenient_content_types_accepted(raw, content_type):
    _ok(raw(target=LIST, body=LIST_BODY, content_type=content_type))


def test_null_members_are_treated_as_absent(raw):
    _ok(raw(target=LIST, body=jdump({"MaxResults": 5, "NextToken": None})))


def test_unknown_members_are_ignored(raw):
    _ok(raw(target=LIST, body=jdump({"MaxResults": 5, "NoSuchMember": {"x": 1}})))


def test_any_signing_region_is_accepted(make_client):
    other = make_client("cognito-idp", region="eu-west-1")
    assert isinstance(other.list_user_pools(MaxResults=1)["UserPools"], list)


def test_raw_create_and_describe_round_trip(raw):
    name = unique("raw")
    created = _ok(raw(target=IDP_PREFIX + "CreateUserPool", body=jdump({"PoolName": name})))
    pool = created["UserPool"]
    assert pool["Name"] == name
    # JSON protocol timestamps are epoch seconds (numbers), not strings
    assert isinstance(pool["CreationDate"], (int, float)), pool["CreationDate"]
    assert abs(pool["CreationDate"] - dt.datetime.now(dt.timezone.utc).timestamp()) < 300
    described = _ok(raw(target=IDP_PREFIX + "DescribeUserPool", body=jdump({"UserPoolId": pool["Id"]})))
    assert described["UserPool"]["Id"] == pool["Id"]
    assert all(v is not None for v in described["UserPool"].values()), "absent members must be omitted, not null"
    _ok(raw(target=IDP_PREFIX + "DeleteUserPool", body=jdump({"UserPoolId": pool["Id"]})))


# --------------------------------------------------------- framing errors ----

def test_unknown_operation(raw):
    assert_json_error(raw(target=IDP_PREFIX + "NoSuchOperation", body="{}"), "UnknownOperationException")


def test_unknown_target_prefix(raw):
    assert_json_error(raw(target="NoSuchService.ListUserPools", body=LIST_BODY), "UnknownOperationException")


@pytest.mark.parametrize("body", ['{"MaxResults": ', "not json at all", '{"MaxResults": 5,}'])
def test_malformed_json_body(raw, body):
    assert_json_error(raw(target=LIST, body=body), "SerializationException")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml"])
def test_unsupported_content_type(raw, content_type):
    assert_json_error(raw(target=LIST, body=LIST_BODY, content_type=content_type), "SerializationException")


def test_missing_required_member_raw(raw):
    body = assert_json_error(raw(target=IDP_PREFIX + "DescribeUserPool", body="{}"), "InvalidParameterException")
    assert body["message"], "validation errors should explain themselves"


def test_error_response_content_type(raw):
    resp = raw(target=IDP_PREFIX + "NoSuchOperation", body="{}")
    assert resp.headers.get("Content-Type", "").split(";")[0].strip() == JSON_CT


def test_missing_required_member_via_boto3(idp_raw):
    with pytest.raises(ClientError) as ei:
        idp_raw.describe_user_pool()
    assert_client_error(ei, "InvalidParameterException")
    assert ei.value.response["ResponseMetadata"].get("RequestId")


def test_modeled_exception_class(idp):
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.describe_user_pool(UserPoolId="us-east-1_AAAAAAAAA")


# ----------------------------------------------------------------- SigV4 ----

def test_missing_authentication_raw(raw):
    resp = raw(target=LIST, body=LIST_BODY, sign=False)
    assert_json_error(resp, "MissingAuthenticationTokenException")


def test_missing_authentication_boto3_unsigned(make_client):
    client = make_client("cognito-idp", unsigned=True)
    with pytest.raises(ClientError) as ei:
        client.list_user_pools(MaxResults=1)
    assert_client_error(ei, "MissingAuthenticationTokenException")


def test_unknown_access_key(make_client):
    client = make_client("cognito-idp", access_key=random_access_key(), secret_key=random_secret_key())
    with pytest.raises(ClientError) as ei:
        client.list_user_pools(MaxResults=1)
    assert_client_error(ei, "UnrecognizedClientException")


def test_wrong_secret(make_client, creds):
    client = make_client("cognito-idp", access_key=creds["access_key"], secret_key=random_secret_key())
    with pytest.raises(ClientError) as ei:
        client.create_user_pool(PoolName=unique("never"))
    assert_client_error(ei, "InvalidSignatureException")


def test_body_tampered_after_signing(raw):
    def tamper(headers, body):
        return headers, body.replace(b"5", b"6")
    assert_json_error(raw(target=LIST, body=LIST_BODY, after_sign=tamper), "InvalidSignatureException")


def test_signed_header_tampered_after_signing(raw):
    def tamper(headers, body):
        headers = dict(headers)
        headers["X-Amz-Target"] = IDP_PREFIX + "ListUserPoolClients"
        return headers, body
    resp = raw(target=LIST, body=LIST_BODY, after_sign=tamper)
    assert_json_error(resp, "InvalidSignatureException")


def test_signature_with_wrong_service_rejected(raw):
    resp = raw(target=LIST, body=LIST_BODY, service="s3")
    assert resp.status_code == 400, resp.text
    assert resp.headers.get("x-amzn-ErrorType"), "must be an error response"


@pytest.mark.parametrize("minutes,prefix", [(-20, "Signature expired"), (20, "Signature not yet current"),
                                            (-60 * 24, "Signature expired")])
def test_request_time_skew(raw, minutes, prefix):
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    body = assert_json_error(raw(target=LIST, body=LIST_BODY, when=when), "InvalidSignatureException")
    assert body["message"].startswith(prefix), f"message should start with {prefix!r}: {body['message']!r}"


@pytest.mark.parametrize("minutes", [-10, 10])
def test_request_time_within_window(raw, minutes):
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    _ok(raw(target=LIST, body=LIST_BODY, when=when))


def _replace_auth(new_value_fn):
    def tamper(headers, body):
        headers = dict(headers)
        headers["Authorization"] = new_value_fn(headers["Authorization"])
        return headers, body
    return tamper


@pytest.mark.parametrize("mangle", [
    pytest.param(lambda a: "AWS4-HMAC-SHA256 garbage", id="no-components"),
    pytest.param(lambda a: re.sub(r",\s*Signature=[0-9a-f]+", "", a), id="no-signature"),
    pytest.param(lambda a: re.sub(r",\s*SignedHeaders=[^,]+", "", a), id="no-signed-headers"),
    pytest.param(lambda a: re.sub(r"Credential=[^,]+", "Credential=AKIAONLY", a), id="short-credential"),
])
def test_malformed_authorization_header(raw, mangle):
    resp = raw(target=LIST, body=LIST_BODY, after_sign=_replace_auth(mangle))
    assert_json_error(resp, "IncompleteSignatureException")


def test_security_errors_carry_message(raw):
    resp = raw(target=LIST, body=LIST_BODY, sign=False)
    assert resp.json()["message"]
