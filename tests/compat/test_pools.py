"""User pool operations (spec user-pools-operations.md §2.10) through boto3."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from botocore.exceptions import ClientError

from harness import REGION, assert_client_error, unique

POOL_ID_RE = re.compile(r"^(?P<region>[a-z0-9-]+)_[A-Za-z0-9]{9}$")

# The OIDC standard claims Cognito exposes as standard attributes.
STANDARD_ATTRIBUTES = {
    "sub", "name", "given_name", "family_name", "middle_name", "nickname",
    "preferred_username", "profile", "picture", "website", "email",
    "email_verified", "gender", "birthdate", "zoneinfo", "locale",
    "phone_number", "phone_number_verified", "address", "updated_at",
}


def _recent(value) -> None:
    assert isinstance(value, dt.datetime), f"expected a timestamp, got {value!r}"
    now = dt.datetime.now(dt.timezone.utc)
    assert abs((now - value).total_seconds()) < 300, f"timestamp {value} is not close to now ({now})"


def _account(sts) -> str:
    return sts.get_caller_identity()["Account"]


# ---------------------------------------------------------------- create ----

def test_create_returns_pool_with_id_arn_and_dates(idp, sts):
    name = unique("pool")
    pool = idp.create_user_pool(PoolName=name)["UserPool"]
    try:
        m = POOL_ID_RE.match(pool["Id"])
        assert m, f"bad pool id {pool['Id']!r}"
        assert m.group("region") == REGION
        assert pool["Name"] == name
        assert pool["Arn"] == f"arn:aws:cognito-idp:{REGION}:{_account(sts)}:userpool/{pool['Id']}"
        _recent(pool["CreationDate"])
        _recent(pool["LastModifiedDate"])
    finally:
        idp.delete_user_pool(UserPoolId=pool["Id"])


def test_concurrent_creates(idp):
    """Parallel writers must all succeed (no 'database is locked' leaking out)."""
    from concurrent.futures import ThreadPoolExecutor
    names = [unique("par") for _ in range(16)]

    def create(name):
        return idp.create_user_pool(PoolName=name)["UserPool"]

    with ThreadPoolExecutor(max_workers=8) as ex:
        pools = list(ex.map(create, names))
    try:
        assert [p["Name"] for p in pools] == names
        assert len({p["Id"] for p in pools}) == len(pools)
        listed = {p["Id"] for p in _all_pools(idp)}
        assert {p["Id"] for p in pools} <= listed
    finally:
        with ThreadPoolExecutor(max_workers=8) as ex:
            list(ex.map(lambda p: idp.delete_user_pool(UserPoolId=p["Id"]), pools))


def test_pool_ids_are_unique(idp):
    ids = []
    try:
        for _ in range(3):
            ids.append(idp.create_user_pool(PoolName=unique("same"))["UserPool"]["Id"])
        assert len(set(ids)) == len(ids)
    finally:
        for pid in ids:
            idp.delete_user_pool(UserPoolId=pid)


def test_describe_defaults(idp, pool):
    got = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert got["Id"] == pool["Id"]
    assert got["Name"] == pool["Name"]
    assert got["Arn"] == pool["Arn"]
    pp = got["Policies"]["PasswordPolicy"]
    assert pp["MinimumLength"] == 8
    for flag in ("RequireUppercase", "RequireLowercase", "RequireNumbers", "RequireSymbols"):
        assert pp[flag] is True, f"{flag} default should be true: {pp!r}"
    assert pp["TemporaryPasswordValidityDays"] == 7
    assert got["MfaConfiguration"] == "OFF"
    assert got["DeletionProtection"] == "INACTIVE"
    _recent(got["CreationDate"])


def test_describe_default_tier(idp, pool):
    assert idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"].get("UserPoolTier") == "ESSENTIALS"


def test_describe_schema_has_standard_attributes(idp, pool):
    got = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    attrs = {a["Name"]: a for a in got["SchemaAttributes"]}
    missing = STANDARD_ATTRIBUTES - set(attrs)
    assert not missing, f"standard attributes missing from SchemaAttributes: {sorted(missing)}"
    assert attrs["sub"]["AttributeDataType"] == "String"
    assert attrs["sub"]["Mutable"] is False
    assert attrs["sub"]["Required"] is True
    assert attrs["email_verified"]["AttributeDataType"] == "Boolean"
    assert not any(n.startswith("custom:") for n in attrs), "no custom attributes were requested"


def test_custom_schema_attributes(idp):
    schema = [
        {"Name": "tier", "AttributeDataType": "String", "Mutable": True,
         "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "32"}},
        {"Name": "level", "AttributeDataType": "Number", "Mutable": True,
         "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": "99"}},
    ]
    pid = idp.create_user_pool(PoolName=unique("schema"), Schema=schema)["UserPool"]["Id"]
    try:
        attrs = {a["Name"]: a for a in idp.describe_user_pool(UserPoolId=pid)["UserPool"]["SchemaAttributes"]}
        assert "custom:tier" in attrs and "custom:level" in attrs, sorted(attrs)
        assert "tier" not in attrs and "level" not in attrs
        assert attrs["custom:tier"]["AttributeDataType"] == "String"
        assert attrs["custom:tier"]["StringAttributeConstraints"] == {"MinLength": "1", "MaxLength": "32"}
        assert attrs["custom:level"]["AttributeDataType"] == "Number"
        assert attrs["custom:level"]["NumberAttributeConstraints"] == {"MinValue": "0", "MaxValue": "99"}
        assert "sub" in attrs and "email" in attrs
    finally:
        idp.delete_user_pool(UserPoolId=pid)


def test_create_settings_round_trip(idp):
    policy = {
        "MinimumLength": 12, "RequireUppercase": False, "RequireLowercase": True,
        "RequireNumbers": False, "RequireSymbols": False, "TemporaryPasswordValidityDays": 3,
    }
    pid = idp.create_user_pool(
        PoolName=unique("settings"),
        Policies={"PasswordPolicy": policy},
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        DeletionProtection="INACTIVE",
    )["UserPool"]["Id"]
    try:
        got = idp.describe_user_pool(UserPoolId=pid)["UserPool"]
        pp = got["Policies"]["PasswordPolicy"]
        for key, value in policy.items():
            assert pp[key] == value, f"PasswordPolicy.{key}: sent {value!r}, got {pp.get(key)!r}"
        assert got["UsernameAttributes"] == ["email"]
        assert got["AutoVerifiedAttributes"] == ["email"]
        assert not got.get("AliasAttributes")
    finally:
        idp.delete_user_pool(UserPoolId=pid)


def test_pool_tags_round_trip(idp):
    tags = {"team": "compat", "case": unique("tag")}
    pid = idp.create_user_pool(PoolName=unique("tags"), UserPoolTags=tags)["UserPool"]["Id"]
    try:
        assert idp.describe_user_pool(UserPoolId=pid)["UserPool"].get("UserPoolTags") == tags
    finally:
        idp.delete_user_pool(UserPoolId=pid)


def test_alias_attributes_round_trip(idp):
    pid = idp.create_user_pool(PoolName=unique("alias"),
                               AliasAttributes=["email", "preferred_username"])["UserPool"]["Id"]
    try:
        got = idp.describe_user_pool(UserPoolId=pid)["UserPool"]
        assert sorted(got["AliasAttributes"]) == ["email", "preferred_username"]
        assert not got.get("UsernameAttributes")
    finally:
        idp.delete_user_pool(UserPoolId=pid)


def test_username_and_alias_attributes_are_exclusive(idp):
    name = unique("both")
    with pytest.raises(ClientError) as ei:
        idp.create_user_pool(PoolName=name, UsernameAttributes=["email"], AliasAttributes=["preferred_username"])
    assert_client_error(ei, "InvalidParameterException")
    names = [p["Name"] for p in _all_pools(idp)]
    assert name not in names, "rejected pool must not be created"


@pytest.mark.parametrize("name", ["", "x" * 129], ids=["empty", "too-long"])
def test_create_pool_name_length(idp_raw, name):
    with pytest.raises(ClientError) as ei:
        idp_raw.create_user_pool(PoolName=name)
    assert_client_error(ei, "InvalidParameterException")


def test_create_without_pool_name_is_rejected(idp_raw):
    with pytest.raises(ClientError) as ei:
        idp_raw.create_user_pool()
    assert_client_error(ei, "InvalidParameterException")


@pytest.mark.parametrize("length", [5, 100])
def test_create_minimum_length_out_of_range(idp_raw, length):
    with pytest.raises(ClientError) as ei:
        idp_raw.create_user_pool(PoolName=unique("minlen"),
                                 Policies={"PasswordPolicy": {"MinimumLength": length}})
    assert_client_error(ei, "InvalidParameterException")


def test_create_bad_enum_is_rejected(idp_raw):
    with pytest.raises(ClientError) as ei:
        idp_raw.create_user_pool(PoolName=unique("enum"), MfaConfiguration="SOMETIMES")
    assert_client_error(ei, "InvalidParameterException")


def test_create_bad_deletion_protection_enum_is_rejected(idp_raw):
    with pytest.raises(ClientError) as ei:
        idp_raw.create_user_pool(PoolName=unique("enum"), DeletionProtection="MAYBE")
    assert_client_error(ei, "InvalidParameterException")


# -------------------------------------------------------------- describe ----

def test_describe_unknown_pool(idp):
    with pytest.raises(ClientError) as ei:
        idp.describe_user_pool(UserPoolId=f"{REGION}_Zz0Zz0Zz0")
    assert_client_error(ei, "ResourceNotFoundException")


def test_describe_missing_pool_id(idp_raw):
    with pytest.raises(ClientError) as ei:
        idp_raw.describe_user_pool()
    assert_client_error(ei, "InvalidParameterException")


# ---------------------------------------------------------------- update ----

def test_update_sets_policies_and_bumps_last_modified(idp, pool):
    before = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    idp.update_user_pool(
        UserPoolId=pool["Id"],
        Policies={"PasswordPolicy": {"MinimumLength": 10, "RequireSymbols": False,
                                     "RequireUppercase": True, "RequireLowercase": True,
                                     "RequireNumbers": True, "TemporaryPasswordValidityDays": 2}},
        MfaConfiguration="OFF",
    )
    after = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    pp = after["Policies"]["PasswordPolicy"]
    assert pp["MinimumLength"] == 10
    assert pp["RequireSymbols"] is False
    assert pp["TemporaryPasswordValidityDays"] == 2
    assert after["Name"] == before["Name"], "an update without PoolName must keep the name"
    assert after["CreationDate"] == before["CreationDate"]
    assert after["LastModifiedDate"] >= before["LastModifiedDate"]


def test_update_resets_omitted_settings_to_defaults(idp):
    pid = idp.create_user_pool(
        PoolName=unique("reset"),
        Policies={"PasswordPolicy": {"MinimumLength": 14, "RequireSymbols": False,
                                     "TemporaryPasswordValidityDays": 1}},
    )["UserPool"]["Id"]
    try:
        got = idp.describe_user_pool(UserPoolId=pid)["UserPool"]
        assert got["Policies"]["PasswordPolicy"]["MinimumLength"] == 14
        # Cognito: every setting left out of UpdateUserPool returns to its default.
        idp.update_user_pool(UserPoolId=pid)
        got = idp.describe_user_pool(UserPoolId=pid)["UserPool"]
        pp = got["Policies"]["PasswordPolicy"]
        assert pp["MinimumLength"] == 8, f"Policies not reset to default: {pp!r}"
        assert pp["RequireSymbols"] is True
        assert pp["TemporaryPasswordValidityDays"] == 7
        assert got["MfaConfiguration"] == "OFF"
    finally:
        idp.delete_user_pool(UserPoolId=pid)


def test_update_resets_omitted_auto_verified_attributes(idp):
    pid = idp.create_user_pool(PoolName=unique("reset-av"), AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
    try:
        assert idp.describe_user_pool(UserPoolId=pid)["UserPool"]["AutoVerifiedAttributes"] == ["email"]
        idp.update_user_pool(UserPoolId=pid, MfaConfiguration="OFF")
        got = idp.describe_user_pool(UserPoolId=pid)["UserPool"]
        assert not got.get("AutoVerifiedAttributes"), f"AutoVerifiedAttributes not reset: {got.get('AutoVerifiedAttributes')!r}"
    finally:
        idp.delete_user_pool(UserPoolId=pid)


def test_update_pool_name(idp, pool):
    new_name = unique("renamed")
    idp.update_user_pool(UserPoolId=pool["Id"], PoolName=new_name)
    assert idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["Name"] == new_name


def test_update_unknown_pool(idp):
    with pytest.raises(ClientError) as ei:
        idp.update_user_pool(UserPoolId=f"{REGION}_Zz0Zz0Zz1")
    assert_client_error(ei, "ResourceNotFoundException")


def test_update_out_of_range_is_rejected(idp_raw, pool):
    with pytest.raises(ClientError) as ei:
        idp_raw.update_user_pool(UserPoolId=pool["Id"],
                                 Policies={"PasswordPolicy": {"MinimumLength": 3}})
    assert_client_error(ei, "InvalidParameterException")


# ---------------------------------------------------------------- delete ----

def test_delete_pool(idp):
    pid = idp.create_user_pool(PoolName=unique("del"))["UserPool"]["Id"]
    idp.delete_user_pool(UserPoolId=pid)
    with pytest.raises(ClientError) as ei:
        idp.describe_user_pool(UserPoolId=pid)
    assert_client_error(ei, "ResourceNotFoundException")
    assert pid not in {p["Id"] for p in _all_pools(idp)}
    with pytest.raises(ClientError) as ei:
        idp.delete_user_pool(UserPoolId=pid)
    assert_client_error(ei, "ResourceNotFoundException")


def test_deletion_protection(idp):
    pid = idp.create_user_pool(PoolName=unique("protected"), DeletionProtection="ACTIVE")["UserPool"]["Id"]
    assert idp.describe_user_pool(UserPoolId=pid)["UserPool"]["DeletionProtection"] == "ACTIVE"
    with pytest.raises(ClientError) as ei:
        idp.delete_user_pool(UserPoolId=pid)
    assert_client_error(ei, "InvalidParameterException")
    # still there
    assert idp.describe_user_pool(UserPoolId=pid)["UserPool"]["Id"] == pid
    idp.update_user_pool(UserPoolId=pid, DeletionProtection="INACTIVE")
    assert idp.describe_user_pool(UserPoolId=pid)["UserPool"]["DeletionProtection"] == "INACTIVE"
    idp.delete_user_pool(UserPoolId=pid)
    with pytest.raises(ClientError) as ei:
        idp.describe_user_pool(UserPoolId=pid)
    assert_client_error(ei, "ResourceNotFoundException")


# ------------------------------------------------------------------ list ----

def _all_pools(idp, page_size: int = 60):
    out, token, seen_tokens = [], None, set()
    while True:
        kwargs = {"MaxResults": page_size}
        if token:
            kwargs["NextToken"] = token
        resp = idp.list_user_pools(**kwargs)
        assert len(resp["UserPools"]) <= page_size
        out.extend(resp["UserPools"])
        token = resp.get("NextToken")
        if not token:
            return out
        assert token not in seen_tokens, "NextToken repeats: pagination would loop"
        seen_tokens.add(token)


def test_list_user_pools_paginates(idp):
    created = {}
    try:
        for _ in range(5):
            p = idp.create_user_pool(PoolName=unique("list"))["UserPool"]
            created[p["Id"]] = p["Name"]
        pages = 0
        listed = []
        token = None
        while True:
            kwargs = {"MaxResults": 2}
            if token:
                kwargs["NextToken"] = token
            resp = idp.list_user_pools(**kwargs)
            pages += 1
            assert len(resp["UserPools"]) <= 2
            listed.extend(resp["UserPools"])
            token = resp.get("NextToken")
            if not token:
                break
            assert pages < 1000
        ids = [p["Id"] for p in listed]
        assert len(ids) == len(set(ids)), "a pool was listed twice across pages"
        assert pages >= 3, f"5+ pools with MaxResults=2 should need >= 3 pages, got {pages}"
        by_id = {p["Id"]: p for p in listed}
        for pid, name in created.items():
            assert pid in by_id, f"created pool {pid} missing from the listing"
            assert by_id[pid]["Name"] == name
            _recent(by_id[pid]["CreationDate"])
    finally:
        for pid in created:
            idp.delete_user_pool(UserPoolId=pid)


def test_list_user_pools_boto3_paginator(idp):
    created = [idp.create_user_pool(PoolName=unique("pager"))["UserPool"]["Id"] for _ in range(3)]
    try:
        seen = []
        for page in idp.get_paginator("list_user_pools").paginate(MaxResults=1):
            assert len(page["UserPools"]) <= 1
            seen.extend(p["Id"] for p in page["UserPools"])
        assert len(seen) == len(set(seen))
        assert set(created) <= set(seen)
    finally:
        for pid in created:
            idp.delete_user_pool(UserPoolId=pid)


@pytest.mark.parametrize("max_results", [0, 61, -1])
def test_list_user_pools_max_results_out_of_range(idp_raw, max_results):
    with pytest.raises(ClientError) as ei:
        idp_raw.list_user_pools(MaxResults=max_results)
    assert_client_error(ei, "InvalidParameterException")


def test_list_user_pools_max_results_required(idp_raw):
    with pytest.raises(ClientError) as ei:
        idp_raw.list_user_pools()
    assert_client_error(ei, "InvalidParameterException")


def test_list_user_pools_boundaries_accepted(idp, pool):
    assert len(idp.list_user_pools(MaxResults=1)["UserPools"]) == 1
    assert pool["Id"] in {p["Id"] for p in _all_pools(idp, 60)}
