"""App client operations (spec user-pools-operations.md §2.11) through boto3."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from botocore.exceptions import ClientError

from harness import REGION, assert_client_error, unique

CLIENT_ID_RE = re.compile(r"^[a-z0-9]{26}$")


def _recent(value) -> None:
    assert isinstance(value, dt.datetime), f"expected a timestamp, got {value!r}"
    now = dt.datetime.now(dt.timezone.utc)
    assert abs((now - value).total_seconds()) < 300, f"timestamp {value} is not close to now ({now})"


def _describe(idp, pool_id, client_id):
    return idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]


# ---------------------------------------------------------------- create ----

def test_create_client_basic(idp, pool):
    name = unique("app")
    c = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=name)["UserPoolClient"]
    assert CLIENT_ID_RE.match(c["ClientId"]), f"bad ClientId {c['ClientId']!r}"
    assert c["ClientName"] == name
    assert c["UserPoolId"] == pool["Id"]
    assert "ClientSecret" not in c, "no secret was requested"
    _recent(c["CreationDate"])
    _recent(c["LastModifiedDate"])
    d = _describe(idp, pool["Id"], c["ClientId"])
    assert d["ClientId"] == c["ClientId"]
    assert d["ClientName"] == name
    assert d["UserPoolId"] == pool["Id"]
    assert "ClientSecret" not in d


UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
DEFAULT_UNITS = {"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "days"}


def _effective_seconds(client, token):
    value = client[f"{token}Validity"]
    unit = (client.get("TokenValidityUnits") or {}).get(token, DEFAULT_UNITS[token])
    return value * UNIT_SECONDS[unit]


def test_client_defaults(idp, pool):
    """Defaults from the spec's client-field table (user-pools-operations.md §2.11)."""
    cid = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("defaults"))["UserPoolClient"]["ClientId"]
    d = _describe(idp, pool["Id"], cid)
    assert _effective_seconds(d, "AccessToken") == 3600
    assert _effective_seconds(d, "IdToken") == 3600
    assert _effective_seconds(d, "RefreshToken") == 30 * 86400
    assert sorted(d["ExplicitAuthFlows"]) == ["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]
    assert d.get("PreventUserExistenceErrors", "LEGACY") == "LEGACY"
    assert d.get("EnableTokenRevocation") is True
    assert d.get("AllowedOAuthFlowsUserPoolClient", False) is False
    assert "ClientSecret" not in d


def test_access_token_validity_without_units_is_hours(idp, pool):
    cid = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("hours"),
                                      AccessTokenValidity=24)["UserPoolClient"]["ClientId"]
    d = _describe(idp, pool["Id"], cid)
    assert d["AccessTokenValidity"] == 24
    assert _effective_seconds(d, "AccessToken") == 24 * 3600


def test_client_ids_are_unique(idp, pool):
    ids = [idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("u"))["UserPoolClient"]["ClientId"]
           for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(CLIENT_ID_RE.match(i) for i in ids), ids


def test_generate_secret(idp, pool):
    c = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("secret"),
                                    GenerateSecret=True)["UserPoolClient"]
    secret = c.get("ClientSecret")
    assert isinstance(secret, str) and len(secret) >= 24, f"weak or missing ClientSecret: {secret!r}"
    assert _describe(idp, pool["Id"], c["ClientId"])["ClientSecret"] == secret
    other = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("secret2"),
                                        GenerateSecret=True)["UserPoolClient"]
    assert other["ClientSecret"] != secret, "two clients got the same secret"


def test_create_client_settings_round_trip(idp, pool):
    sent = dict(
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        SupportedIdentityProviders=["COGNITO"],
        CallbackURLs=["https://app.example.com/callback"],
        LogoutURLs=["https://app.example.com/logout"],
        AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid", "email"],
        AllowedOAuthFlowsUserPoolClient=True,
        AccessTokenValidity=30,
        IdTokenValidity=2,
        RefreshTokenValidity=7,
        TokenValidityUnits={"AccessToken": "minutes", "IdToken": "hours", "RefreshToken": "days"},
        PreventUserExistenceErrors="ENABLED",
        EnableTokenRevocation=True,
    )
    c = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("full"), **sent)["UserPoolClient"]
    for got in (c, _describe(idp, pool["Id"], c["ClientId"])):
        for key, value in sent.items():
            if isinstance(value, list):
                assert sorted(got.get(key, [])) == sorted(value), f"{key}: sent {value!r}, got {got.get(key)!r}"
            else:
                assert got.get(key) == value, f"{key}: sent {value!r}, got {got.get(key)!r}"


def test_create_client_unknown_pool(idp):
    with pytest.raises(ClientError) as ei:
        idp.create_user_pool_client(UserPoolId=f"{REGION}_Zz0Zz0Zz0", ClientName="x")
    assert_client_error(ei, "ResourceNotFoundException")


def test_create_client_missing_name(idp_raw, pool):
    with pytest.raises(ClientError) as ei:
        idp_raw.create_user_pool_client(UserPoolId=pool["Id"])
    assert_client_error(ei, "InvalidParameterException")


def test_create_client_bad_enum(idp_raw, pool):
    with pytest.raises(ClientError) as ei:
        idp_raw.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("e"),
                                        PreventUserExistenceErrors="SOMETIMES")
    assert_client_error(ei, "InvalidParameterException")


# ------------------------------------------------------- token validity ----

@pytest.mark.parametrize("validity,units", [
    (4, "minutes"),
    (1441, "minutes"),
    (25, "hours"),
    (2, "days"),
    (299, "seconds"),
    (25, None),  # default unit for AccessToken is hours
])
def test_access_token_validity_out_of_range(idp_raw, pool, validity, units):
    kwargs = {"AccessTokenValidity": validity}
    if units:
        kwargs["TokenValidityUnits"] = {"AccessToken": units}
    with pytest.raises(ClientError) as ei:
        idp_raw.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("atv"), **kwargs)
    assert_client_error(ei, "InvalidParameterException")


@pytest.mark.parametrize("validity,units", [
    (5, "minutes"),
    (1440, "minutes"),
    (24, "hours"),
    (1, "days"),
    (300, "seconds"),
])
def test_access_token_validity_boundaries_accepted(idp, pool, validity, units):
    c = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("atv-ok"),
                                    AccessTokenValidity=validity,
                                    TokenValidityUnits={"AccessToken": units})["UserPoolClient"]
    d = _describe(idp, pool["Id"], c["ClientId"])
    assert d["AccessTokenValidity"] == validity
    assert d["TokenValidityUnits"]["AccessToken"] == units


def test_update_access_token_validity_out_of_range(idp, idp_raw, pool):
    cid = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("upd-atv"))["UserPoolClient"]["ClientId"]
    with pytest.raises(ClientError) as ei:
        idp_raw.update_user_pool_client(UserPoolId=pool["Id"], ClientId=cid, AccessTokenValidity=2,
                                        TokenValidityUnits={"AccessToken": "minutes"})
    assert_client_error(ei, "InvalidParameterException")


# ------------------------------------------------------------------ OAuth ----

@pytest.mark.parametrize("scopes", [None, ["openid"]], ids=["no-scopes", "openid"])
def test_client_credentials_requires_secret(idp, pool, scopes):
    name = unique("cc")
    extra = {"AllowedOAuthScopes": scopes} if scopes else {}
    with pytest.raises(ClientError) as ei:
        idp.create_user_pool_client(
            UserPoolId=pool["Id"], ClientName=name, GenerateSecret=False,
            AllowedOAuthFlows=["client_credentials"], AllowedOAuthFlowsUserPoolClient=True, **extra,
        )
    assert_client_error(ei, "InvalidOAuthFlowException")
    listed = idp.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]
    assert name not in [c["ClientName"] for c in listed], "rejected client must not be created"


def test_update_to_client_credentials_without_secret(idp, pool):
    cid = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("cc-upd"))["UserPoolClient"]["ClientId"]
    with pytest.raises(ClientError) as ei:
        idp.update_user_pool_client(
            UserPoolId=pool["Id"], ClientId=cid,
            AllowedOAuthFlows=["client_credentials"], AllowedOAuthFlowsUserPoolClient=True,
        )
    assert_client_error(ei, "InvalidOAuthFlowException")


def test_unknown_custom_scope(idp, pool):
    with pytest.raises(ClientError) as ei:
        idp.create_user_pool_client(
            UserPoolId=pool["Id"], ClientName=unique("scope"),
            AllowedOAuthFlows=["code"], AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthScopes=["openid", f"{unique('rs')}.example.com/read"],
            CallbackURLs=["https://app.example.com/cb"], SupportedIdentityProviders=["COGNITO"],
        )
    assert_client_error(ei, "ScopeDoesNotExistException")


def test_update_unknown_custom_scope(idp, pool):
    cid = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("scope-upd"))["UserPoolClient"]["ClientId"]
    with pytest.raises(ClientError) as ei:
        idp.update_user_pool_client(
            UserPoolId=pool["Id"], ClientId=cid,
            AllowedOAuthFlows=["code"], AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthScopes=["openid", "no-such-server/write"],
            CallbackURLs=["https://app.example.com/cb"], SupportedIdentityProviders=["COGNITO"],
        )
    assert_client_error(ei, "ScopeDoesNotExistException")


# -------------------------------------------------------------- describe ----

def test_describe_unknown_client(idp, pool):
    with pytest.raises(ClientError) as ei:
        idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId="a" * 26)
    assert_client_error(ei, "ResourceNotFoundException")


def test_describe_client_through_other_pool(idp, pool):
    cid = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("x"))["UserPoolClient"]["ClientId"]
    other = idp.create_user_pool(PoolName=unique("other"))["UserPool"]["Id"]
    try:
        with pytest.raises(ClientError) as ei:
            idp.describe_user_pool_client(UserPoolId=other, ClientId=cid)
        assert_client_error(ei, "ResourceNotFoundException")
    finally:
        idp.delete_user_pool(UserPoolId=other)


def test_describe_client_unknown_pool(idp, pool):
    cid = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("x"))["UserPoolClient"]["ClientId"]
    with pytest.raises(ClientError) as ei:
        idp.describe_user_pool_client(UserPoolId=f"{REGION}_Zz0Zz0Zz0", ClientId=cid)
    assert_client_error(ei, "ResourceNotFoundException")


def test_describe_client_missing_client_id(idp_raw, pool):
    with pytest.raises(ClientError) as ei:
        idp_raw.describe_user_pool_client(UserPoolId=pool["Id"])
    assert_client_error(ei, "InvalidParameterException")


# ---------------------------------------------------------------- update ----

def test_update_client(idp, pool):
    c = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("before"),
                                    GenerateSecret=True)["UserPoolClient"]
    new_name = unique("after")
    resp = idp.update_user_pool_client(
        UserPoolId=pool["Id"], ClientId=c["ClientId"], ClientName=new_name,
        AccessTokenValidity=15, TokenValidityUnits={"AccessToken": "minutes"},
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    assert resp["ClientId"] == c["ClientId"]
    assert resp["ClientName"] == new_name
    d = _describe(idp, pool["Id"], c["ClientId"])
    assert d["ClientName"] == new_name
    assert d["AccessTokenValidity"] == 15
    assert d["TokenValidityUnits"]["AccessToken"] == "minutes"
    assert sorted(d["ExplicitAuthFlows"]) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]
    assert d["ClientSecret"] == c["ClientSecret"], "update must not change the client secret"
    assert d["CreationDate"] == c["CreationDate"]
    assert d["LastModifiedDate"] >= c["LastModifiedDate"]


def test_update_unknown_client(idp, pool):
    with pytest.raises(ClientError) as ei:
        idp.update_user_pool_client(UserPoolId=pool["Id"], ClientId="b" * 26, ClientName="x")
    assert_client_error(ei, "ResourceNotFoundException")


# ---------------------------------------------------------------- delete ----

def test_delete_client(idp, pool):
    cid = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("gone"))["UserPoolClient"]["ClientId"]
    keep = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("keep"))["UserPoolClient"]["ClientId"]
    idp.delete_user_pool_client(UserPoolId=pool["Id"], ClientId=cid)
    with pytest.raises(ClientError) as ei:
        _describe(idp, pool["Id"], cid)
    assert_client_error(ei, "ResourceNotFoundException")
    with pytest.raises(ClientError) as ei:
        idp.delete_user_pool_client(UserPoolId=pool["Id"], ClientId=cid)
    assert_client_error(ei, "ResourceNotFoundException")
    listed = {c["ClientId"] for c in idp.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]}
    assert cid not in listed
    assert keep in listed


def test_clients_gone_with_pool(idp):
    pid = idp.create_user_pool(PoolName=unique("parent"))["UserPool"]["Id"]
    cid = idp.create_user_pool_client(UserPoolId=pid, ClientName=unique("child"))["UserPoolClient"]["ClientId"]
    idp.delete_user_pool(UserPoolId=pid)
    with pytest.raises(ClientError) as ei:
        _describe(idp, pid, cid)
    assert_client_error(ei, "ResourceNotFoundException")


# ------------------------------------------------------------------ list ----

def test_list_clients_paginates(idp, pool):
    created = {}
    for _ in range(5):
        c = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("page"))["UserPoolClient"]
        created[c["ClientId"]] = c["ClientName"]
    listed, token, pages = [], None, 0
    while True:
        kwargs = {"UserPoolId": pool["Id"], "MaxResults": 2}
        if token:
            kwargs["NextToken"] = token
        resp = idp.list_user_pool_clients(**kwargs)
        pages += 1
        assert len(resp["UserPoolClients"]) <= 2
        listed.extend(resp["UserPoolClients"])
        token = resp.get("NextToken")
        if not token:
            break
        assert pages < 100
    assert pages >= 3, f"5 clients with MaxResults=2 should take >= 3 pages, got {pages}"
    ids = [c["ClientId"] for c in listed]
    assert len(ids) == len(set(ids)), "a client was listed twice"
    assert set(ids) == set(created), "listing must contain exactly this pool's clients"
    for c in listed:
        assert c["UserPoolId"] == pool["Id"]
        assert c["ClientName"] == created[c["ClientId"]]
        assert "ClientSecret" not in c


def test_list_clients_boto3_paginator(idp, pool):
    created = {idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("pg"))["UserPoolClient"]["ClientId"]
               for _ in range(3)}
    seen = []
    for page in idp.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool["Id"], MaxResults=1):
        seen.extend(c["ClientId"] for c in page["UserPoolClients"])
    assert sorted(seen) == sorted(created)


def test_list_clients_unknown_pool(idp):
    with pytest.raises(ClientError) as ei:
        idp.list_user_pool_clients(UserPoolId=f"{REGION}_Zz0Zz0Zz0", MaxResults=10)
    assert_client_error(ei, "ResourceNotFoundException")


def test_list_clients_empty_pool(idp, pool):
    resp = idp.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=10)
    assert resp["UserPoolClients"] == []
    assert not resp.get("NextToken")
