"""Sign-in (spec user-pools.md §3, user-pools-operations.md §2.2) through boto3:
password flows, admin flows, SECRET_HASH, user-existence errors, lockout,
NEW_PASSWORD_REQUIRED."""

from __future__ import annotations

import datetime as dt
import json
import re
import time

import pytest
from botocore.exceptions import ClientError

from harness import (OTHER_PASSWORD, PASSWORD, assert_client_error, attrs_dict, attrs_list, confirmed_user,
                     new_app_client, new_pool, password_auth, secret_hash, unique)

TOKEN_RE = re.compile(r"^[A-Za-z0-9\-_=.]+$")
JWT_RE = re.compile(r"^[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
BAD_CREDENTIALS = "Incorrect username or password."
LOCKED = "Password attempts exceeded"
TEMP_PASSWORD = "Temp-Passw0rd!"
ADMIN_FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def message(ei) -> str:
    return ei.value.response["Error"]["Message"]


def assert_tokens(resp: dict, *, refresh: bool = True, expires_in: int = 3600) -> dict:
    assert "ChallengeName" not in resp, f"unexpected challenge: {resp!r}"
    assert resp.get("ChallengeParameters", {}) == {}, resp.get("ChallengeParameters")
    result = resp["AuthenticationResult"]
    assert result["TokenType"] == "Bearer"
    assert result["ExpiresIn"] == expires_in
    assert JWT_RE.match(result["AccessToken"]), result["AccessToken"][:80]
    assert JWT_RE.match(result["IdToken"]), result["IdToken"][:80]
    if refresh:
        assert TOKEN_RE.match(result["RefreshToken"]), result.get("RefreshToken")
    else:
        assert "RefreshToken" not in result, "refresh flows must not return a new RefreshToken"
    return result


@pytest.fixture(scope="module")
def env(auth_idp):
    """One pool (default policy, no auto-verification) and its clients."""
    pid = new_pool(auth_idp)
    return {
        "pool": pid,
        "plain": new_app_client(auth_idp, pid, ExplicitAuthFlows=ADMIN_FLOWS),
        "secret": new_app_client(auth_idp, pid, ExplicitAuthFlows=ADMIN_FLOWS, GenerateSecret=True),
        "enabled": new_app_client(auth_idp, pid, ExplicitAuthFlows=ADMIN_FLOWS,
                                  PreventUserExistenceErrors="ENABLED"),
        "srp_only": new_app_client(auth_idp, pid, ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH",
                                                                     "ALLOW_REFRESH_TOKEN_AUTH"]),
        "user_only": new_app_client(auth_idp, pid, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH",
                                                                      "ALLOW_REFRESH_TOKEN_AUTH"]),
        "admin_only": new_app_client(auth_idp, pid, ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH",
                                                                       "ALLOW_REFRESH_TOKEN_AUTH"]),
    }


@pytest.fixture(scope="module")
def user(auth_idp, env):
    """A confirmed user only ever used with the right password."""
    return confirmed_user(auth_idp, env["pool"], env["plain"], attrs={"email": f"{unique('u')}@example.test"})


@pytest.fixture
def fresh_user(auth_idp, env):
    return confirmed_user(auth_idp, env["pool"], env["plain"])


def admin_auth(idp, env, client, flow, params):
    return idp.admin_initiate_auth(UserPoolId=env["pool"], ClientId=client["ClientId"], AuthFlow=flow,
                                   AuthParameters=params)


# ------------------------------------------------------------ success ----

def test_user_password_auth(auth_idp, env, user):
    resp = password_auth(auth_idp, env["plain"], user["username"], user["password"])
    result = assert_tokens(resp)
    got = auth_idp.get_user(AccessToken=result["AccessToken"])
    assert got["Username"] == user["username"]
    assert attrs_dict(got["UserAttributes"])["sub"] == user["sub"]


@pytest.mark.parametrize("flow", ["ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH", "USER_PASSWORD_AUTH"])
def test_admin_initiate_auth_password_flows(auth_idp, env, user, flow):
    resp = admin_auth(auth_idp, env, env["plain"], flow,
                      {"USERNAME": user["username"], "PASSWORD": user["password"]})
    result = assert_tokens(resp)
    assert auth_idp.get_user(AccessToken=result["AccessToken"])["Username"] == user["username"]


@pytest.mark.parametrize("flow", ["REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"])
def test_initiate_auth_refresh_flows(auth_idp, env, user, flow):
    first = assert_tokens(password_auth(auth_idp, env["plain"], user["username"], user["password"]))
    resp = auth_idp.initiate_auth(ClientId=env["plain"]["ClientId"], AuthFlow=flow,
                                  AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]})
    result = assert_tokens(resp, refresh=False)
    assert auth_idp.get_user(AccessToken=result["AccessToken"])["Username"] == user["username"]


def test_admin_initiate_auth_refresh(auth_idp, env, user):
    first = assert_tokens(admin_auth(auth_idp, env, env["plain"], "ADMIN_USER_PASSWORD_AUTH",
                                     {"USERNAME": user["username"], "PASSWORD": user["password"]}))
    resp = admin_auth(auth_idp, env, env["plain"], "REFRESH_TOKEN_AUTH", {"REFRESH_TOKEN": first["RefreshToken"]})
    assert_tokens(resp, refresh=False)


def test_expires_in_follows_client_validity(auth_idp, env, user):
    client = new_app_client(auth_idp, env["pool"], AccessTokenValidity=10,
                            TokenValidityUnits={"AccessToken": "minutes"})
    assert_tokens(password_auth(auth_idp, client, user["username"], user["password"]), expires_in=600)


# ------------------------------------------------------------ failure ----

def test_wrong_password(auth_idp, env, fresh_user):
    with pytest.raises(ClientError) as ei:
        password_auth(auth_idp, env["plain"], fresh_user["username"], OTHER_PASSWORD)
    assert_client_error(ei, "NotAuthorizedException")
    assert message(ei) == BAD_CREDENTIALS
    with pytest.raises(ClientError) as ei:
        admin_auth(auth_idp, env, env["plain"], "ADMIN_USER_PASSWORD_AUTH",
                   {"USERNAME": fresh_user["username"], "PASSWORD": OTHER_PASSWORD})
    assert_client_error(ei, "NotAuthorizedException")
    assert message(ei) == BAD_CREDENTIALS


def test_unknown_user_legacy(auth_idp, env):
    with pytest.raises(ClientError) as ei:
        password_auth(auth_idp, env["plain"], unique("ghost"), PASSWORD)
    assert_client_error(ei, "UserNotFoundException")
    with pytest.raises(ClientError) as ei:
        admin_auth(auth_idp, env, env["plain"], "ADMIN_USER_PASSWORD_AUTH",
                   {"USERNAME": unique("ghost"), "PASSWORD": PASSWORD})
    assert_client_error(ei, "UserNotFoundException")


def test_unknown_user_prevent_existence_errors(auth_idp, env, fresh_user):
    with pytest.raises(ClientError) as ei:
        password_auth(auth_idp, env["enabled"], unique("ghost"), PASSWORD)
    assert_client_error(ei, "NotAuthorizedException")
    assert message(ei) == BAD_CREDENTIALS
    with pytest.raises(ClientError) as ei:
        admin_auth(auth_idp, env, env["enabled"], "ADMIN_USER_PASSWORD_AUTH",
                   {"USERNAME": unique("ghost"), "PASSWORD": PASSWORD})
    assert_client_error(ei, "NotAuthorizedException")
    assert message(ei) == BAD_CREDENTIALS
    # a wrong password looks exactly the same
    with pytest.raises(ClientError) as ei:
        password_auth(auth_idp, env["enabled"], fresh_user["username"], OTHER_PASSWORD)
    assert_client_error(ei, "NotAuthorizedException")
    assert message(ei) == BAD_CREDENTIALS


def test_unconfirmed_user(auth_idp, env):
    name = unique("unconfirmed")
    auth_idp.sign_up(ClientId=env["plain"]["ClientId"], Username=name, Password=PASSWORD)
    with pytest.raises(ClientError) as ei:
        password_auth(auth_idp, env["plain"], name, PASSWORD)
    assert_client_error(ei, "UserNotConfirmedException")
    with pytest.raises(ClientError) as ei:
        admin_auth(auth_idp, env, env["plain"], "ADMIN_USER_PASSWORD_AUTH", {"USERNAME": name, "PASSWORD": PASSWORD})
    assert_client_error(ei, "UserNotConfirmedException")


def test_unknown_client(auth_idp, env):
    with pytest.raises(ClientError) as ei:
        auth_idp.initiate_auth(ClientId="b" * 26, AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": "x", "PASSWORD": PASSWORD})
    assert_client_error(ei, "ResourceNotFoundException")
    with pytest.raises(ClientError) as ei:
        auth_idp.admin_initiate_auth(UserPoolId=env["pool"], ClientId="b" * 26, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                     AuthParameters={"USERNAME": "x", "PASSWORD": PASSWORD})
    assert_client_error(ei, "ResourceNotFoundException")


@pytest.mark.parametrize("client_key,flow,admin", [
    ("srp_only", "USER_PASSWORD_AUTH", False),
    ("admin_only", "USER_PASSWORD_AUTH", False),
    ("user_only", "ADMIN_USER_PASSWORD_AUTH", True),
    ("user_only", "ADMIN_NO_SRP_AUTH", True),
    ("admin_only", "USER_PASSWORD_AUTH", True),
])
def test_flow_not_enabled(auth_idp, env, user, client_key, flow, admin):
    params = {"USERNAME": user["username"], "PASSWORD": user["password"]}
    with pytest.raises(ClientError) as ei:
        if admin:
            admin_auth(auth_idp, env, env[client_key], flow, params)
        else:
            auth_idp.initiate_auth(ClientId=env[client_key]["ClientId"], AuthFlow=flow, AuthParameters=params)
    assert_client_error(ei, "InvalidParameterException")


def test_admin_only_flow_rejected_by_initiate_auth(auth_idp, env, user):
    """ADMIN_USER_PASSWORD_AUTH is an AdminInitiateAuth flow (§3.1)."""
    with pytest.raises(ClientError) as ei:
        auth_idp.initiate_auth(ClientId=env["plain"]["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": user["username"], "PASSWORD": user["password"]})
    assert_client_error(ei, "InvalidParameterException")


# -------------------------------------------------------- SECRET_HASH ----

def test_secret_hash(auth_idp, env, user):
    client = env["secret"]
    cid, name = client["ClientId"], user["username"]
    for params in ({"USERNAME": name, "PASSWORD": PASSWORD},
                   {"USERNAME": name, "PASSWORD": PASSWORD,
                    "SECRET_HASH": secret_hash(name, cid, client["ClientSecret"] + "x")},
                   {"USERNAME": name, "PASSWORD": PASSWORD,
                    "SECRET_HASH": secret_hash(name + "x", cid, client["ClientSecret"])}):
        with pytest.raises(ClientError) as ei:
            auth_idp.initiate_auth(ClientId=cid, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params)
        assert_client_error(ei, "NotAuthorizedException")
        assert "secret hash" in message(ei).lower(), message(ei)
    result = assert_tokens(password_auth(auth_idp, client, name, PASSWORD))

    with pytest.raises(ClientError) as ei:
        admin_auth(auth_idp, env, client, "ADMIN_USER_PASSWORD_AUTH", {"USERNAME": name, "PASSWORD": PASSWORD})
    assert_client_error(ei, "NotAuthorizedException")
    assert "secret hash" in message(ei).lower(), message(ei)
    assert_tokens(admin_auth(auth_idp, env, client, "ADMIN_USER_PASSWORD_AUTH",
                             {"USERNAME": name, "PASSWORD": PASSWORD,
                              "SECRET_HASH": secret_hash(name, cid, client["ClientSecret"])}))

    # refresh: SECRET_HASH over the internal username
    with pytest.raises(ClientError) as ei:
        auth_idp.initiate_auth(ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH",
                               AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]})
    assert_client_error(ei, "NotAuthorizedException")
    assert_tokens(auth_idp.initiate_auth(
        ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": result["RefreshToken"],
                        "SECRET_HASH": secret_hash(name, cid, client["ClientSecret"])}), refresh=False)


# ------------------------------------------------------------ lockout ----

def test_lockout_after_five_failures(auth_idp, env, fresh_user):
    client, name = env["plain"], fresh_user["username"]

    def wrong():
        with pytest.raises(ClientError) as ei:
            password_auth(auth_idp, client, name, OTHER_PASSWORD)
        assert_client_error(ei, "NotAuthorizedException")
        return message(ei)

    def locked(why):
        with pytest.raises(ClientError) as ei:
            password_auth(auth_idp, client, name, PASSWORD)
        assert_client_error(ei, "NotAuthorizedException")
        assert LOCKED in message(ei), f"{why}: expected {LOCKED!r}, got {message(ei)!r}"

    for i in range(5):
        assert wrong() == BAD_CREDENTIALS, f"failure #{i + 1} before any lock"
    locked("right password right after 5 failures")
    time.sleep(1.1)
    assert_tokens(password_auth(auth_idp, client, name, PASSWORD))  # lock over; success resets the count

    for i in range(5):
        assert wrong() == BAD_CREDENTIALS, f"failure #{i + 1} after a success must not be locked"
    locked("5 failures after the reset")
    time.sleep(1.1)
    wrong()                       # 6th consecutive failure: the lock doubles to 2 s
    time.sleep(1.3)
    locked("1.3 s after the 6th consecutive failure (the lock doubled to 2 s)")
    time.sleep(1.0)
    assert_tokens(password_auth(auth_idp, client, name, PASSWORD))
    # reset again: 4 failures do not lock
    for _ in range(4):
        wrong()
    assert_tokens(password_auth(auth_idp, client, name, PASSWORD))


# ---------------------------------------------------- NEW_PASSWORD_REQUIRED ----

def _recent(value) -> None:
    assert isinstance(value, dt.datetime), f"expected a timestamp, got {value!r}"
    assert abs((dt.datetime.now(dt.timezone.utc) - value).total_seconds()) < 300, value


def admin_create(idp, pool_id, username=None, attrs=None):
    username = username or unique("invited")
    email = f"{unique('inv')}@example.test"
    attrs = attrs if attrs is not None else {"email": email, "email_verified": "true"}
    resp = idp.admin_create_user(UserPoolId=pool_id, Username=username, UserAttributes=attrs_list(attrs),
                                 TemporaryPassword=TEMP_PASSWORD, MessageAction="SUPPRESS")
    return username, attrs, resp["User"]


def test_admin_create_user_response(auth_idp, env):
    username, attrs, user = admin_create(auth_idp, env["pool"])
    assert user["Username"] == username
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert user["Enabled"] is True
    got = attrs_dict(user["Attributes"])
    assert UUID_RE.match(got.get("sub", "")), got
    assert got["email"] == attrs["email"]
    _recent(user["UserCreateDate"])
    _recent(user["UserLastModifiedDate"])


def test_admin_create_existing_username(auth_idp, env, user):
    with pytest.raises(ClientError) as ei:
        admin_create(auth_idp, env["pool"], username=user["username"])
    assert_client_error(ei, "UsernameExistsException")


def test_new_password_required(auth_idp, env):
    client = env["plain"]
    username, attrs, _ = admin_create(auth_idp, env["pool"])
    with pytest.raises(ClientError) as ei:
        password_auth(auth_idp, client, username, "Wrong-Temp-0!")
    assert_client_error(ei, "NotAuthorizedException")

    ch = password_auth(auth_idp, client, username, TEMP_PASSWORD)
    assert ch["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert "AuthenticationResult" not in ch
    session = ch["Session"]
    assert 20 <= len(session) <= 4096
    cp = ch["ChallengeParameters"]
    assert cp["USER_ID_FOR_SRP"] == username
    user_attrs = json.loads(cp["userAttributes"])
    assert isinstance(user_attrs, dict) and user_attrs.get("email") == attrs["email"], user_attrs
    assert json.loads(cp["requiredAttributes"]) == [], cp["requiredAttributes"]

    resp = auth_idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED",
                                              Session=session,
                                              ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": PASSWORD})
    result = assert_tokens(resp)
    assert auth_idp.get_user(AccessToken=result["AccessToken"])["Username"] == username

    with pytest.raises(ClientError) as ei:
        auth_idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED",
                                           Session=session,
                                           ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": OTHER_PASSWORD})
    assert_client_error(ei, "NotAuthorizedException")

    # now CONFIRMED: the new password signs in directly, the temporary one no longer works
    assert_tokens(password_auth(auth_idp, client, username, PASSWORD))
    with pytest.raises(ClientError) as ei:
        password_auth(auth_idp, client, username, TEMP_PASSWORD)
    assert_client_error(ei, "NotAuthorizedException")


def test_new_password_must_follow_policy(auth_idp, env):
    client = env["plain"]
    username, _, _ = admin_create(auth_idp, env["pool"])
    ch = password_auth(auth_idp, client, username, TEMP_PASSWORD)
    assert ch["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    with pytest.raises(ClientError) as ei:
        auth_idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED",
                                           Session=ch["Session"],
                                           ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": "weak"})
    assert_client_error(ei, "InvalidPasswordException")
    assert message(ei).startswith("Password did not conform with policy"), message(ei)
    # the user is still waiting for a new password
    ch = password_auth(auth_idp, client, username, TEMP_PASSWORD)
    assert ch["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_new_password_required_admin_flow(auth_idp, env):
    client = env["plain"]
    username, _, _ = admin_create(auth_idp, env["pool"])
    ch = admin_auth(auth_idp, env, client, "ADMIN_USER_PASSWORD_AUTH",
                    {"USERNAME": username, "PASSWORD": TEMP_PASSWORD})
    assert ch["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert ch["ChallengeParameters"]["USER_ID_FOR_SRP"] == username
    resp = auth_idp.admin_respond_to_auth_challenge(
        UserPoolId=env["pool"], ClientId=client["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=ch["Session"], ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": PASSWORD})
    assert_tokens(resp)
    assert_tokens(admin_auth(auth_idp, env, client, "ADMIN_USER_PASSWORD_AUTH",
                             {"USERNAME": username, "PASSWORD": PASSWORD}))


def test_new_password_required_with_secret(auth_idp, env):
    client = env["secret"]
    cid = client["ClientId"]
    username, _, _ = admin_create(auth_idp, env["pool"])
    ch = password_auth(auth_idp, client, username, TEMP_PASSWORD)
    assert ch["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    with pytest.raises(ClientError) as ei:
        auth_idp.respond_to_auth_challenge(ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session=ch["Session"],
                                           ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": PASSWORD})
    assert_client_error(ei, "NotAuthorizedException")
    assert "secret hash" in message(ei).lower(), message(ei)
    # a rejected answer may or may not burn the session: start over
    ch = password_auth(auth_idp, client, username, TEMP_PASSWORD)
    resp = auth_idp.respond_to_auth_challenge(
        ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session=ch["Session"],
        ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": PASSWORD,
                            "SECRET_HASH": secret_hash(username, cid, client["ClientSecret"])})
    assert_tokens(resp)
