"""ListUsers (spec user-pools-operations.md §2.8, user-pools.md §1): the
filter grammar `attr = "v"` / `attr ^= "v"` on the searchable attributes,
AttributesToGet, Limit and PaginationToken, UserType shape."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import (PASSWORD, TEMP_PASSWORD, USER_TYPE_KEYS, assert_recent, attrs_dict, attrs_list,
                     confirmed_user, expect_error, new_app_client, new_pool, unique)

ALICE_PHONE = "+15550001111"
BULK = 61


@pytest.fixture(scope="module")
def env(auth_idp):
    """Four users in a private pool:
    alice  CONFIRMED, enabled, every searchable attribute set (+ nickname, custom:team)
    alfred CONFIRMED, disabled
    bob    FORCE_CHANGE_PASSWORD (AdminCreateUser)
    carol  UNCONFIRMED (SignUp only)"""
    pid = new_pool(auth_idp, Schema=[{"Name": "team", "AttributeDataType": "String", "Mutable": True}])
    client = new_app_client(auth_idp, pid)
    alice = confirmed_user(auth_idp, pid, client, username="alice", attrs={
        "email": "alice@example.test", "name": "Alice Liddell", "given_name": "Alice", "family_name": "Liddell",
        "preferred_username": "ally", "phone_number": ALICE_PHONE, "nickname": "Al", "custom:team": "red"})
    alfred = confirmed_user(auth_idp, pid, client, username="alfred", attrs={
        "email": "alfred@example.test", "given_name": "Alfred", "family_name": "Pennyworth"})
    auth_idp.admin_disable_user(UserPoolId=pid, Username="alfred")
    bob = auth_idp.admin_create_user(UserPoolId=pid, Username="bob", TemporaryPassword=TEMP_PASSWORD,
                                     MessageAction="SUPPRESS",
                                     UserAttributes=attrs_list({"email": "bob@example.test",
                                                                "name": "Bob Builder"}))["User"]
    carol = auth_idp.sign_up(ClientId=client["ClientId"], Username="carol", Password=PASSWORD,
                             UserAttributes=attrs_list({"email": "carol@example.test", "name": "Carol Alvarez"}))
    subs = {"alice": alice["sub"], "alfred": alfred["sub"], "bob": attrs_dict(bob["Attributes"])["sub"],
            "carol": carol["UserSub"]}
    return {"pool": pid, "client": client, "subs": subs}


@pytest.fixture(scope="module")
def bulk(auth_idp):
    """A pool with 61 users (one more than a default page)."""
    pid = new_pool(auth_idp)
    names = [f"bulk-{i:02d}" for i in range(BULK)]

    def create(name):
        auth_idp.admin_create_user(UserPoolId=pid, Username=name, TemporaryPassword=TEMP_PASSWORD,
                                   MessageAction="SUPPRESS")

    with ThreadPoolExecutor(max_workers=4) as ex:
        list(ex.map(create, names))
    return {"pool": pid, "names": set(names)}


def list_all(idp, pool_id, limit=None, **kwargs) -> list:
    """Every user over all pages (asserting page sizes and no repeats)."""
    users, token, pages = [], None, 0
    while True:
        req = dict(UserPoolId=pool_id, **kwargs)
        if limit is not None:
            req["Limit"] = limit
        if token:
            req["PaginationToken"] = token
        resp = idp.list_users(**req)
        assert len(resp["Users"]) <= (limit if limit is not None else 60), resp
        users.extend(resp["Users"])
        token = resp.get("PaginationToken")
        pages += 1
        assert pages <= 200, "pagination does not end"
        if not token:
            break
    names = [u["Username"] for u in users]
    assert len(names) == len(set(names)), f"a user was returned twice: {sorted(names)}"
    return users


def names_of(users) -> set:
    return {u["Username"] for u in users}


# ------------------------------------------------------------- listing ----

def test_list_all_user_type(auth_idp, env):
    resp = auth_idp.list_users(UserPoolId=env["pool"])
    assert "PaginationToken" not in resp, resp.get("PaginationToken")
    by_name = {u["Username"]: u for u in resp["Users"]}
    assert set(by_name) == {"alice", "alfred", "bob", "carol"}
    for name, u in by_name.items():
        assert USER_TYPE_KEYS <= set(u), f"{name}: UserType lacks {USER_TYPE_KEYS - set(u)}: {u}"
        assert "UserAttributes" not in u, "ListUsers uses Attributes, not UserAttributes"
        assert attrs_dict(u["Attributes"])["sub"] == env["subs"][name]
        assert_recent(u["UserCreateDate"])
        assert_recent(u["UserLastModifiedDate"])
    assert {n: (u["UserStatus"], u["Enabled"]) for n, u in by_name.items()} == {
        "alice": ("CONFIRMED", True), "alfred": ("CONFIRMED", False),
        "bob": ("FORCE_CHANGE_PASSWORD", True), "carol": ("UNCONFIRMED", True)}
    alice = attrs_dict(by_name["alice"]["Attributes"])
    assert alice["email"] == "alice@example.test"
    assert alice["phone_number"] == ALICE_PHONE
    assert alice["custom:team"] == "red"


FILTERS = [
    ('username = "alice"', {"alice"}),
    ('username ^= "al"', {"alice", "alfred"}),
    ('username = "al"', set()),
    ('email = "bob@example.test"', {"bob"}),
    ('email ^= "al"', {"alice", "alfred"}),
    ('email = "nobody@example.test"', set()),
    (f'phone_number = "{ALICE_PHONE}"', {"alice"}),
    ('phone_number ^= "+1555000"', {"alice"}),
    ('name = "Bob Builder"', {"bob"}),
    ('name ^= "Ca"', {"carol"}),
    ('given_name = "Alfred"', {"alfred"}),
    ('given_name ^= "Al"', {"alice", "alfred"}),
    ('family_name = "Liddell"', {"alice"}),
    ('family_name ^= "Penny"', {"alfred"}),
    ('preferred_username = "ally"', {"alice"}),
    ('preferred_username ^= "al"', {"alice"}),
    ('cognito:user_status = "CONFIRMED"', {"alice", "alfred"}),
    ('cognito:user_status = "UNCONFIRMED"', {"carol"}),
    ('cognito:user_status = "FORCE_CHANGE_PASSWORD"', {"bob"}),
    ('status = "Enabled"', {"alice", "bob", "carol"}),
    ('status = "Disabled"', {"alfred"}),
]


@pytest.mark.parametrize("flt,expected", FILTERS, ids=[f for f, _ in FILTERS])
def test_filter(auth_idp, env, flt, expected):
    users = auth_idp.list_users(UserPoolId=env["pool"], Filter=flt)["Users"]
    assert names_of(users) == expected, f"{flt}: got {sorted(names_of(users))}"
    for u in users:
        assert USER_TYPE_KEYS <= set(u), u


def test_filter_user_status_case_insensitive(auth_idp, env):
    """Spec §2.8: cognito:user_status matches case-insensitively."""
    users = auth_idp.list_users(UserPoolId=env["pool"], Filter='cognito:user_status = "unconfirmed"')["Users"]
    assert names_of(users) == {"carol"}


def test_filter_sub(auth_idp, env):
    sub = env["subs"]["bob"]
    users = auth_idp.list_users(UserPoolId=env["pool"], Filter=f'sub = "{sub}"')["Users"]
    assert names_of(users) == {"bob"}
    users = auth_idp.list_users(UserPoolId=env["pool"], Filter=f'sub ^= "{sub[:13]}"')["Users"]
    assert names_of(users) == {"bob"}


def test_attributes_to_get(auth_idp, env):
    users = auth_idp.list_users(UserPoolId=env["pool"], AttributesToGet=["email"])["Users"]
    assert names_of(users) == {"alice", "alfred", "bob", "carol"}
    for u in users:
        assert [a["Name"] for a in u["Attributes"]] == ["email"], u
        assert u["Attributes"][0]["Value"] == f"{u['Username']}@example.test"
        assert USER_TYPE_KEYS <= set(u), u


def test_attributes_to_get_with_filter(auth_idp, env):
    users = auth_idp.list_users(UserPoolId=env["pool"], Filter='username = "alice"',
                                AttributesToGet=["custom:team", "sub", "phone_number"])["Users"]
    assert len(users) == 1
    assert attrs_dict(users[0]["Attributes"]) == {"custom:team": "red", "sub": env["subs"]["alice"],
                                                  "phone_number": ALICE_PHONE}


def test_filter_with_limit_paginates(auth_idp, env):
    first = auth_idp.list_users(UserPoolId=env["pool"], Filter='username ^= "al"', Limit=1)
    assert len(first["Users"]) == 1 and first.get("PaginationToken"), first
    users = list_all(auth_idp, env["pool"], limit=1, Filter='username ^= "al"')
    assert names_of(users) == {"alice", "alfred"}


# ---------------------------------------------------------- pagination ----

def test_default_limit_is_60(auth_idp, bulk):
    first = auth_idp.list_users(UserPoolId=bulk["pool"])
    assert len(first["Users"]) == 60
    assert first.get("PaginationToken"), "a 61st user exists: a PaginationToken is due"
    second = auth_idp.list_users(UserPoolId=bulk["pool"], PaginationToken=first["PaginationToken"])
    assert len(second["Users"]) == 1
    assert "PaginationToken" not in second, second.get("PaginationToken")
    assert names_of(first["Users"]) | names_of(second["Users"]) == bulk["names"]


@pytest.mark.parametrize("limit,sizes", [(25, [25, 25, 11]), (60, [60, 1])])
def test_limit_pages(auth_idp, bulk, limit, sizes):
    got, token = [], None
    users = []
    while True:
        req = {"UserPoolId": bulk["pool"], "Limit": limit}
        if token:
            req["PaginationToken"] = token
        resp = auth_idp.list_users(**req)
        got.append(len(resp["Users"]))
        users.extend(resp["Users"])
        token = resp.get("PaginationToken")
        if not token:
            break
        assert len(got) < 10
    assert got == sizes
    assert names_of(users) == bulk["names"] and len(users) == BULK


def test_pages_are_disjoint_and_complete(auth_idp, bulk):
    users = list_all(auth_idp, bulk["pool"], limit=7)
    assert names_of(users) == bulk["names"]


@pytest.mark.parametrize("flt", ['status = "Enabled"', 'cognito:user_status = "FORCE_CHANGE_PASSWORD"',
                                 'username ^= "bulk-"'])
def test_filtered_pages(auth_idp, bulk, flt):
    """Many users share the filtered value: pages must still be disjoint and complete."""
    users = list_all(auth_idp, bulk["pool"], limit=10, Filter=flt)
    assert names_of(users) == bulk["names"]


@pytest.mark.parametrize("limit", [61, -1])
def test_limit_out_of_range(auth_idp_raw, bulk, limit):
    expect_error("InvalidParameterException", auth_idp_raw.list_users, UserPoolId=bulk["pool"], Limit=limit)


# ----------------------------------------------------------- refusals ----

@pytest.mark.parametrize("flt", [
    'email = alice@example.test',
    'email != "alice@example.test"',
    'email ~ "alice"',
    'email',
    'email = "alice@example.test',
    '= "alice"',
    'email = "a@example.test" and name = "b"',
    'custom:team = "red"',
    'nickname = "Al"',
    'bogus = "x"',
], ids=["unquoted", "not-equal", "unknown-operator", "no-operator", "unterminated", "no-attribute",
        "two-conditions", "custom-attribute", "nickname", "unknown-attribute"])
def test_bad_filter(auth_idp, env, flt):
    expect_error("InvalidParameterException", auth_idp.list_users, UserPoolId=env["pool"], Filter=flt)


def test_unknown_pool(auth_idp):
    expect_error("ResourceNotFoundException", auth_idp.list_users, UserPoolId="us-east-1_Nope12345")


# ------------------------------------------------ index stays in step ----

def test_filters_follow_updates_and_deletes(auth_idp):
    pid = new_pool(auth_idp)
    name = unique("moving")
    auth_idp.admin_create_user(UserPoolId=pid, Username=name, TemporaryPassword=TEMP_PASSWORD,
                               MessageAction="SUPPRESS",
                               UserAttributes=attrs_list({"email": "old@example.test", "given_name": "Old"}))
    assert names_of(auth_idp.list_users(UserPoolId=pid, Filter='email = "old@example.test"')["Users"]) == {name}
    auth_idp.admin_update_user_attributes(UserPoolId=pid, Username=name, UserAttributes=attrs_list(
        {"email": "new@example.test", "email_verified": "true", "given_name": "New"}))
    assert auth_idp.list_users(UserPoolId=pid, Filter='email = "old@example.test"')["Users"] == []
    assert auth_idp.list_users(UserPoolId=pid, Filter='given_name ^= "Ol"')["Users"] == []
    assert names_of(auth_idp.list_users(UserPoolId=pid, Filter='email = "new@example.test"')["Users"]) == {name}
    assert names_of(auth_idp.list_users(UserPoolId=pid, Filter='given_name = "New"')["Users"]) == {name}
    auth_idp.admin_delete_user_attributes(UserPoolId=pid, Username=name, UserAttributeNames=["given_name"])
    assert auth_idp.list_users(UserPoolId=pid, Filter='given_name = "New"')["Users"] == []
    auth_idp.admin_disable_user(UserPoolId=pid, Username=name)
    assert names_of(auth_idp.list_users(UserPoolId=pid, Filter='status = "Disabled"')["Users"]) == {name}
    auth_idp.admin_set_user_password(UserPoolId=pid, Username=name, Password=PASSWORD, Permanent=True)
    assert names_of(auth_idp.list_users(UserPoolId=pid,
                                        Filter='cognito:user_status = "CONFIRMED"')["Users"]) == {name}
    auth_idp.admin_delete_user(UserPoolId=pid, Username=name)
    assert auth_idp.list_users(UserPoolId=pid, Filter='email = "new@example.test"')["Users"] == []
    assert auth_idp.list_users(UserPoolId=pid)["Users"] == []
