"""Groups (spec user-pools-operations.md §2.9, user-pools.md §1 and §4):
CreateGroup, GetGroup, UpdateGroup, DeleteGroup, ListGroups, membership
operations, and the cognito:groups / cognito:roles / cognito:preferred_role
claims checked on tokens verified with PyJWT against the pool's JWKS."""

from __future__ import annotations

import pytest

from harness import (TEMP_PASSWORD, USER_TYPE_KEYS, assert_recent, attrs_dict, confirmed_user, expect_error,
                     issuer_for, new_app_client, new_pool, refresh_tokens, sign_in, unique, verify_jwt)

ACCOUNT = "123456789012"
ROLE_A = f"arn:aws:iam::{ACCOUNT}:role/CompatRoleA"
ROLE_B = f"arn:aws:iam::{ACCOUNT}:role/CompatRoleB"
ROLE_C = f"arn:aws:iam::{ACCOUNT}:role/CompatRoleC"
GROUP_KEYS = {"GroupName", "UserPoolId", "Description", "RoleArn", "Precedence", "LastModifiedDate", "CreationDate"}
ROLE_CLAIMS = ("cognito:roles", "cognito:preferred_role")


@pytest.fixture(scope="module")
def env(auth_idp, auth_server, auth_jwks_for):
    pid = new_pool(auth_idp)
    return {"pool": pid, "client": new_app_client(auth_idp, pid), "issuer": issuer_for(auth_server.endpoint, pid),
            "jwks": auth_jwks_for(pid)}


@pytest.fixture
def user(auth_idp, env):
    return confirmed_user(auth_idp, env["pool"], env["client"])


def create(idp, env, name=None, **kwargs) -> dict:
    return idp.create_group(UserPoolId=env["pool"], GroupName=name or unique("grp"), **kwargs)["Group"]


def add(idp, env, username, group):
    idp.admin_add_user_to_group(UserPoolId=env["pool"], Username=username, GroupName=group)


def claims_of(idp, env, username) -> tuple[dict, dict]:
    """(ID token claims, access token claims) of a fresh sign-in, both verified."""
    tokens = sign_in(idp, env["client"], username)
    return decode(env, tokens)


def decode(env, tokens) -> tuple[dict, dict]:
    id_claims = verify_jwt(tokens["IdToken"], env["jwks"], env["issuer"], audience=env["client"]["ClientId"])
    access = verify_jwt(tokens["AccessToken"], env["jwks"], env["issuer"])
    assert id_claims["token_use"] == "id" and access["token_use"] == "access"
    return id_claims, access


def assert_groups_claim(claims: dict, expected: set, what: str) -> None:
    got = claims.get("cognito:groups")
    assert isinstance(got, list), f"{what}: cognito:groups must be a JSON array, got {got!r}"
    assert len(got) == len(set(got)) and set(got) == expected, f"{what}: cognito:groups {got!r} != {expected}"


# ----------------------------------------------------------------- CRUD ----

def test_create_group(auth_idp, env):
    name = unique("admins")
    g = create(auth_idp, env, name, Description="Compat admins", RoleArn=ROLE_A, Precedence=3)
    assert set(g) == GROUP_KEYS, g
    assert g["GroupName"] == name
    assert g["UserPoolId"] == env["pool"]
    assert g["Description"] == "Compat admins"
    assert g["RoleArn"] == ROLE_A
    assert g["Precedence"] == 3
    assert_recent(g["CreationDate"])
    assert_recent(g["LastModifiedDate"])
    got = auth_idp.get_group(UserPoolId=env["pool"], GroupName=name)["Group"]
    assert got == g


def test_create_group_minimal(auth_idp, env):
    g = create(auth_idp, env)
    assert set(g) == {"GroupName", "UserPoolId", "LastModifiedDate", "CreationDate"}, g
    got = auth_idp.get_group(UserPoolId=env["pool"], GroupName=g["GroupName"])["Group"]
    assert got == g


def test_create_group_precedence_zero(auth_idp, env):
    g = create(auth_idp, env, Precedence=0)
    assert g["Precedence"] == 0


def test_duplicate_group(auth_idp, env):
    g = create(auth_idp, env, Description="first")
    expect_error("GroupExistsException", create, auth_idp, env, g["GroupName"], Description="second")
    assert auth_idp.get_group(UserPoolId=env["pool"], GroupName=g["GroupName"])["Group"]["Description"] == "first"


@pytest.mark.parametrize("kwargs", [{"Precedence": -1}, {"GroupName": "g" * 129}],
                         ids=["negative-precedence", "name-too-long"])
def test_create_group_invalid(auth_idp_raw, env, kwargs):
    req = {"UserPoolId": env["pool"], "GroupName": unique("bad"), **kwargs}
    expect_error("InvalidParameterException", auth_idp_raw.create_group, **req)


def test_update_group(auth_idp, env):
    g = create(auth_idp, env, Description="before", RoleArn=ROLE_A, Precedence=9)
    up = auth_idp.update_group(UserPoolId=env["pool"], GroupName=g["GroupName"], Description="after",
                               RoleArn=ROLE_B, Precedence=2)["Group"]
    assert up["GroupName"] == g["GroupName"] and up["UserPoolId"] == env["pool"]
    assert up["Description"] == "after" and up["RoleArn"] == ROLE_B and up["Precedence"] == 2
    assert up["CreationDate"] == g["CreationDate"]
    assert up["LastModifiedDate"] >= g["LastModifiedDate"]
    assert auth_idp.get_group(UserPoolId=env["pool"], GroupName=g["GroupName"])["Group"] == up


def test_delete_group(auth_idp, env, user):
    g = create(auth_idp, env)
    add(auth_idp, env, user["username"], g["GroupName"])
    auth_idp.delete_group(UserPoolId=env["pool"], GroupName=g["GroupName"])
    expect_error("ResourceNotFoundException", auth_idp.get_group, UserPoolId=env["pool"], GroupName=g["GroupName"])
    expect_error("ResourceNotFoundException", auth_idp.delete_group, UserPoolId=env["pool"],
                 GroupName=g["GroupName"])
    assert auth_idp.admin_list_groups_for_user(UserPoolId=env["pool"], Username=user["username"])["Groups"] == []
    id_claims, access = claims_of(auth_idp, env, user["username"])
    assert "cognito:groups" not in id_claims and "cognito:groups" not in access
    # the name can be used again
    again = create(auth_idp, env, g["GroupName"])
    assert auth_idp.list_users_in_group(UserPoolId=env["pool"], GroupName=again["GroupName"])["Users"] == []


UNKNOWN_GROUP_OPS = {
    "GetGroup": lambda idp, pid, g, u: idp.get_group(UserPoolId=pid, GroupName=g),
    "UpdateGroup": lambda idp, pid, g, u: idp.update_group(UserPoolId=pid, GroupName=g, Description="x"),
    "DeleteGroup": lambda idp, pid, g, u: idp.delete_group(UserPoolId=pid, GroupName=g),
    "ListUsersInGroup": lambda idp, pid, g, u: idp.list_users_in_group(UserPoolId=pid, GroupName=g),
    "AdminAddUserToGroup": lambda idp, pid, g, u: idp.admin_add_user_to_group(UserPoolId=pid, Username=u,
                                                                              GroupName=g),
    "AdminRemoveUserFromGroup": lambda idp, pid, g, u: idp.admin_remove_user_from_group(UserPoolId=pid,
                                                                                        Username=u, GroupName=g),
}


@pytest.mark.parametrize("op", sorted(UNKNOWN_GROUP_OPS))
def test_unknown_group(auth_idp, env, user, op):
    expect_error("ResourceNotFoundException", UNKNOWN_GROUP_OPS[op], auth_idp, env["pool"], unique("nogroup"),
                 user["username"])


UNKNOWN_USER_OPS = {
    "AdminAddUserToGroup": lambda idp, pid, g, u: idp.admin_add_user_to_group(UserPoolId=pid, Username=u,
                                                                              GroupName=g),
    "AdminRemoveUserFromGroup": lambda idp, pid, g, u: idp.admin_remove_user_from_group(UserPoolId=pid,
                                                                                        Username=u, GroupName=g),
    "AdminListGroupsForUser": lambda idp, pid, g, u: idp.admin_list_groups_for_user(UserPoolId=pid, Username=u),
}


@pytest.mark.parametrize("op", sorted(UNKNOWN_USER_OPS))
def test_unknown_user(auth_idp, env, op):
    g = create(auth_idp, env)
    expect_error("UserNotFoundException", UNKNOWN_USER_OPS[op], auth_idp, env["pool"], g["GroupName"],
                 unique("ghost"))


def test_unknown_pool(auth_idp):
    expect_error("ResourceNotFoundException", auth_idp.create_group, UserPoolId="us-east-1_Nope12345",
                 GroupName="g")
    expect_error("ResourceNotFoundException", auth_idp.list_groups, UserPoolId="us-east-1_Nope12345")


# ------------------------------------------------------------ listing ----

def collect(call, key, limit, **kwargs) -> tuple[list, list]:
    """All items over NextToken pages; returns (items, page sizes)."""
    items, sizes, token = [], [], None
    while True:
        req = dict(kwargs, Limit=limit)
        if token:
            req["NextToken"] = token
        resp = call(**req)
        items.extend(resp[key])
        sizes.append(len(resp[key]))
        token = resp.get("NextToken")
        if not token:
            return items, sizes
        assert len(sizes) < 20, "pagination does not end"


def test_list_groups(auth_idp):
    pid = new_pool(auth_idp)
    names = {f"team-{i}" for i in range(5)}
    for n in sorted(names):
        auth_idp.create_group(UserPoolId=pid, GroupName=n, Precedence=1)
    resp = auth_idp.list_groups(UserPoolId=pid)
    assert "NextToken" not in resp
    assert {g["GroupName"] for g in resp["Groups"]} == names
    for g in resp["Groups"]:
        assert g["UserPoolId"] == pid and g["Precedence"] == 1
        assert_recent(g["CreationDate"])
    items, sizes = collect(auth_idp.list_groups, "Groups", 2, UserPoolId=pid)
    assert sizes[:2] == [2, 2] and sum(sizes) == 5 and all(s <= 2 for s in sizes), sizes
    assert len(items) == 5 and {g["GroupName"] for g in items} == names


def test_membership(auth_idp, env):
    pid = env["pool"]
    g1, g2 = create(auth_idp, env, Precedence=1)["GroupName"], create(auth_idp, env)["GroupName"]
    u1 = confirmed_user(auth_idp, pid, env["client"])
    u2 = confirmed_user(auth_idp, pid, env["client"])
    add(auth_idp, env, u1["username"], g1)
    add(auth_idp, env, u1["username"], g1)          # adding twice is fine
    add(auth_idp, env, u1["username"], g2)
    add(auth_idp, env, u2["username"], g1)

    groups = auth_idp.admin_list_groups_for_user(UserPoolId=pid, Username=u1["username"])["Groups"]
    assert sorted(g["GroupName"] for g in groups) == sorted([g1, g2])
    for g in groups:
        assert g["UserPoolId"] == pid
        assert_recent(g["CreationDate"])
    assert next(g for g in groups if g["GroupName"] == g1)["Precedence"] == 1

    users = auth_idp.list_users_in_group(UserPoolId=pid, GroupName=g1)["Users"]
    assert sorted(u["Username"] for u in users) == sorted([u1["username"], u2["username"]])
    for u in users:
        assert USER_TYPE_KEYS <= set(u), u
        assert u["UserStatus"] == "CONFIRMED" and u["Enabled"] is True
    assert {attrs_dict(u["Attributes"])["sub"] for u in users} == {u1["sub"], u2["sub"]}

    items, sizes = collect(auth_idp.list_users_in_group, "Users", 1, UserPoolId=pid, GroupName=g1)
    assert sorted(u["Username"] for u in items) == sorted([u1["username"], u2["username"]]) and sizes[0] == 1
    items, sizes = collect(auth_idp.admin_list_groups_for_user, "Groups", 1, UserPoolId=pid,
                           Username=u1["username"])
    assert sorted(g["GroupName"] for g in items) == sorted([g1, g2]) and sizes[0] == 1

    auth_idp.admin_remove_user_from_group(UserPoolId=pid, Username=u1["username"], GroupName=g1)
    assert [g["GroupName"] for g in auth_idp.admin_list_groups_for_user(
        UserPoolId=pid, Username=u1["username"])["Groups"]] == [g2]
    assert [u["Username"] for u in auth_idp.list_users_in_group(
        UserPoolId=pid, GroupName=g1)["Users"]] == [u2["username"]]


def test_deleted_user_leaves_its_groups(auth_idp, env):
    pid = env["pool"]
    g = create(auth_idp, env)["GroupName"]
    u = confirmed_user(auth_idp, pid, env["client"])
    add(auth_idp, env, u["username"], g)
    auth_idp.admin_delete_user(UserPoolId=pid, Username=u["username"])
    assert auth_idp.list_users_in_group(UserPoolId=pid, GroupName=g)["Users"] == []
    # a new user with the same name does not inherit the membership
    again = confirmed_user(auth_idp, pid, env["client"], username=u["username"])
    assert auth_idp.admin_list_groups_for_user(UserPoolId=pid, Username=again["username"])["Groups"] == []


def test_admin_created_user_in_group(auth_idp, env):
    pid, g, name = env["pool"], create(auth_idp, env)["GroupName"], unique("invited")
    auth_idp.admin_create_user(UserPoolId=pid, Username=name, TemporaryPassword=TEMP_PASSWORD,
                               MessageAction="SUPPRESS")
    add(auth_idp, env, name, g)
    users = auth_idp.list_users_in_group(UserPoolId=pid, GroupName=g)["Users"]
    assert [(u["Username"], u["UserStatus"]) for u in users] == [(name, "FORCE_CHANGE_PASSWORD")]


# --------------------------------------------------------------- claims ----

# each group: (precedence or None, role ARN or None)
SCENARIOS = {
    "ordered": ([(1, ROLE_A), (5, ROLE_B), (None, ROLE_C), (None, None)], {ROLE_A, ROLE_B, ROLE_C}, ROLE_A),
    "tie-different-roles": ([(2, ROLE_A), (2, ROLE_B), (7, ROLE_C)], {ROLE_A, ROLE_B, ROLE_C}, None),
    "tie-same-role": ([(2, ROLE_A), (2, ROLE_A), (7, ROLE_B)], {ROLE_A, ROLE_B}, ROLE_A),
    "unnumbered-rank-last": ([(None, ROLE_A), (10, ROLE_B)], {ROLE_A, ROLE_B}, ROLE_B),
    "single-role": ([(None, ROLE_C)], {ROLE_C}, ROLE_C),
    "no-roles": ([(1, None), (None, None)], set(), None),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_group_claims(auth_idp, env, user, scenario):
    spec, roles, preferred = SCENARIOS[scenario]
    names = set()
    for precedence, role in spec:
        kwargs = {}
        if precedence is not None:
            kwargs["Precedence"] = precedence
        if role is not None:
            kwargs["RoleArn"] = role
        g = create(auth_idp, env, **kwargs)["GroupName"]
        add(auth_idp, env, user["username"], g)
        names.add(g)
    id_claims, access = claims_of(auth_idp, env, user["username"])
    assert_groups_claim(id_claims, names, "ID token")
    assert_groups_claim(access, names, "access token")
    for claim in ROLE_CLAIMS:
        assert claim not in access, f"{claim} belongs only in the ID token: {access}"
    if roles:
        got = id_claims.get("cognito:roles")
        assert isinstance(got, list), f"cognito:roles must be a JSON array: {got!r}"
        assert len(got) == len(set(got)), f"cognito:roles must hold distinct ARNs: {got}"
        assert set(got) == roles, got
    else:
        assert "cognito:roles" not in id_claims, id_claims
    if preferred:
        assert id_claims.get("cognito:preferred_role") == preferred, id_claims
    else:
        assert "cognito:preferred_role" not in id_claims, id_claims


def test_no_groups_no_claims(auth_idp, env, user):
    id_claims, access = claims_of(auth_idp, env, user["username"])
    for c in ("cognito:groups",) + ROLE_CLAIMS:
        assert c not in id_claims and c not in access, (c, id_claims, access)


def test_membership_changes_reach_tokens(auth_idp, env, user):
    name = user["username"]
    g1 = create(auth_idp, env, Precedence=4, RoleArn=ROLE_A)["GroupName"]
    g2 = create(auth_idp, env, Precedence=8, RoleArn=ROLE_B)["GroupName"]
    add(auth_idp, env, name, g1)
    tokens = sign_in(auth_idp, env["client"], name)
    id_claims, _ = decode(env, tokens)
    assert_groups_claim(id_claims, {g1}, "after adding g1")
    assert id_claims["cognito:preferred_role"] == ROLE_A

    add(auth_idp, env, name, g2)
    id_claims, access = decode(env, refresh_tokens(auth_idp, env["client"], tokens["RefreshToken"]))
    assert_groups_claim(id_claims, {g1, g2}, "refreshed ID token")
    assert_groups_claim(access, {g1, g2}, "refreshed access token")

    auth_idp.admin_remove_user_from_group(UserPoolId=env["pool"], Username=name, GroupName=g1)
    id_claims, _ = claims_of(auth_idp, env, name)
    assert_groups_claim(id_claims, {g2}, "after removing g1")
    assert id_claims["cognito:roles"] == [ROLE_B] and id_claims["cognito:preferred_role"] == ROLE_B

    auth_idp.update_group(UserPoolId=env["pool"], GroupName=g2, RoleArn=ROLE_C, Precedence=8)
    id_claims, _ = claims_of(auth_idp, env, name)
    assert id_claims["cognito:roles"] == [ROLE_C] and id_claims["cognito:preferred_role"] == ROLE_C

    auth_idp.delete_group(UserPoolId=env["pool"], GroupName=g2)
    id_claims, access = claims_of(auth_idp, env, name)
    for c in ("cognito:groups",) + ROLE_CLAIMS:
        assert c not in id_claims and c not in access, (c, id_claims)
