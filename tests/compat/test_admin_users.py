"""User administration (spec user-pools-operations.md §2.3 and §2.8,
user-pools.md §1): AdminGetUser, AdminDeleteUser, AdminDisableUser /
AdminEnableUser, AdminSetUserPassword, AdminResetUserPassword,
AdminUpdateUserAttributes, AdminDeleteUserAttributes, AdminListUserAuthEvents,
AdminCreateUser invitations (EMAIL / SMS, RESEND), custom attributes."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError

from harness import (IDP_PREFIX, OTHER_PASSWORD, PASSWORD, TEMP_PASSWORD, THIRD_PASSWORD, UUID_PATTERN,
                     WEAK_PASSWORD, POLICY_PREFIX, admin_user, assert_recent, attrs_dict, attrs_list,
                     confirmed_user, error_message, expect_error, issuer_for, jdump, new_app_client, new_email,
                     new_phone, new_pool, password_auth, raw_request, refresh_tokens, sign_in, unique, verify_jwt)
from smtp_sink import extract_code

INVITE_SUBJECT = "Compat invitation"
INVITE_EMAIL = "Hello {username}, your temporary password is [[{####}]]."
INVITE_SMS = "Compat SMS invite for {username}: [[{####}]]"
TEMP_IN_MESSAGE = re.compile(r"\[\[(.+?)\]\]")
DISABLED = "User is disabled."
GHOST_POOL = "us-east-1_Nope12345"


def invite_password(text: str) -> str:
    found = TEMP_IN_MESSAGE.findall(text)
    assert len(found) == 1, f"expected one [[temporary password]] in the invitation: {text!r}"
    return found[0]


@pytest.fixture(scope="module")
def env(auth_idp, auth_server, auth_jwks_for):
    """Email auto-verified, an invitation template, three custom attributes
    (bounded String, bounded Number, immutable String) and a LEGACY client."""
    pid = new_pool(auth_idp, AutoVerifiedAttributes=["email"],
                   AdminCreateUserConfig={"AllowAdminCreateUserOnly": False, "InviteMessageTemplate": {
                       "EmailSubject": INVITE_SUBJECT, "EmailMessage": INVITE_EMAIL, "SMSMessage": INVITE_SMS}},
                   Schema=[
                       {"Name": "tier", "AttributeDataType": "String", "Mutable": True,
                        "StringAttributeConstraints": {"MinLength": "2", "MaxLength": "8"}},
                       {"Name": "level", "AttributeDataType": "Number", "Mutable": True,
                        "NumberAttributeConstraints": {"MinValue": "1", "MaxValue": "10"}},
                       {"Name": "origin", "AttributeDataType": "String", "Mutable": False},
                   ])
    client = new_app_client(auth_idp, pid)
    return {"pool": pid, "client": client, "issuer": issuer_for(auth_server.endpoint, pid),
            "jwks": auth_jwks_for(pid)}


@pytest.fixture
def user(auth_idp, env):
    """A fresh CONFIRMED user (SignUp + AdminConfirmSignUp) with an unverified email."""
    u = confirmed_user(auth_idp, env["pool"], env["client"], attrs={"email": new_email(), "name": "Compat Admin"})
    return u


def get(idp, env, username) -> dict:
    return idp.admin_get_user(UserPoolId=env["pool"], Username=username)


# ---------------------------------------------------------- AdminGetUser ----

def test_admin_get_user(auth_idp, env, user):
    resp = get(auth_idp, env, user["username"])
    assert resp["Username"] == user["username"]
    attrs = attrs_dict(resp["UserAttributes"])
    assert attrs["sub"] == user["sub"]
    assert re.match(UUID_PATTERN, attrs["sub"])
    assert attrs["name"] == "Compat Admin"
    assert "@" in attrs["email"]
    assert resp["Enabled"] is True
    assert resp["UserStatus"] == "CONFIRMED"
    assert_recent(resp["UserCreateDate"])
    assert_recent(resp["UserLastModifiedDate"])
    assert resp["UserLastModifiedDate"] >= resp["UserCreateDate"]
    assert "MFAOptions" not in resp, resp.get("MFAOptions")
    assert "PreferredMfaSetting" not in resp, resp.get("PreferredMfaSetting")
    assert resp.get("UserMFASettingList") == [], resp.get("UserMFASettingList")
    assert "Attributes" not in resp, "AdminGetUser uses UserAttributes, not Attributes"


def test_admin_get_user_admin_created(auth_idp, env):
    name, addr = unique("created"), new_email()
    created = auth_idp.admin_create_user(UserPoolId=env["pool"], Username=name, TemporaryPassword=TEMP_PASSWORD,
                                         MessageAction="SUPPRESS",
                                         UserAttributes=attrs_list({"email": addr, "email_verified": "true"}))["User"]
    resp = get(auth_idp, env, name)
    assert resp["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert resp["Enabled"] is True
    attrs = attrs_dict(resp["UserAttributes"])
    assert attrs["email"] == addr
    assert attrs["email_verified"] == "true"
    assert attrs["sub"] == attrs_dict(created["Attributes"])["sub"]


UNKNOWN_USER_OPS = {
    "AdminGetUser": lambda idp, pid, n: idp.admin_get_user(UserPoolId=pid, Username=n),
    "AdminDeleteUser": lambda idp, pid, n: idp.admin_delete_user(UserPoolId=pid, Username=n),
    "AdminDisableUser": lambda idp, pid, n: idp.admin_disable_user(UserPoolId=pid, Username=n),
    "AdminEnableUser": lambda idp, pid, n: idp.admin_enable_user(UserPoolId=pid, Username=n),
    "AdminSetUserPassword": lambda idp, pid, n: idp.admin_set_user_password(UserPoolId=pid, Username=n,
                                                                            Password=PASSWORD, Permanent=True),
    "AdminResetUserPassword": lambda idp, pid, n: idp.admin_reset_user_password(UserPoolId=pid, Username=n),
    "AdminUpdateUserAttributes": lambda idp, pid, n: idp.admin_update_user_attributes(
        UserPoolId=pid, Username=n, UserAttributes=attrs_list({"name": "x"})),
    "AdminDeleteUserAttributes": lambda idp, pid, n: idp.admin_delete_user_attributes(
        UserPoolId=pid, Username=n, UserAttributeNames=["name"]),
    "AdminListUserAuthEvents": lambda idp, pid, n: idp.admin_list_user_auth_events(UserPoolId=pid, Username=n),
    "AdminCreateUser-RESEND": lambda idp, pid, n: idp.admin_create_user(UserPoolId=pid, Username=n,
                                                                        MessageAction="RESEND"),
}


@pytest.mark.parametrize("op", sorted(UNKNOWN_USER_OPS))
def test_unknown_user(auth_idp, env, op):
    expect_error("UserNotFoundException", UNKNOWN_USER_OPS[op], auth_idp, env["pool"], unique("ghost"))


def test_unknown_pool(auth_idp):
    expect_error("ResourceNotFoundException", auth_idp.admin_get_user, UserPoolId=GHOST_POOL, Username="x")
    expect_error("ResourceNotFoundException", auth_idp.admin_disable_user, UserPoolId=GHOST_POOL, Username="x")


# ------------------------------------------------------- AdminDeleteUser ----

def test_admin_delete_user(auth_idp, env, user):
    client, name = env["client"], user["username"]
    tokens = sign_in(auth_idp, client, name)
    auth_idp.admin_delete_user(UserPoolId=env["pool"], Username=name)
    expect_error("UserNotFoundException", get, auth_idp, env, name)
    expect_error("UserNotFoundException", password_auth, auth_idp, client, name, PASSWORD)
    with pytest.raises(ClientError) as ei:
        auth_idp.get_user(AccessToken=tokens["AccessToken"])
    assert ei.value.response["Error"]["Code"] in ("NotAuthorizedException", "UserNotFoundException"), \
        ei.value.response
    expect_error("UserNotFoundException", auth_idp.admin_delete_user, UserPoolId=env["pool"], Username=name)
    # the username is free again, and the new user is a different person (sub never reused)
    again = confirmed_user(auth_idp, env["pool"], client, username=name)
    assert again["sub"] != user["sub"]
    sign_in(auth_idp, client, name)


# ---------------------------------------------- AdminDisable/EnableUser ----

def test_admin_disable_and_enable_user(auth_idp, env, user):
    client, name, pid = env["client"], user["username"], env["pool"]
    tokens = sign_in(auth_idp, client, name)
    auth_idp.admin_disable_user(UserPoolId=pid, Username=name)
    assert get(auth_idp, env, name)["Enabled"] is False

    err = expect_error("NotAuthorizedException", password_auth, auth_idp, client, name, PASSWORD)
    assert error_message(err) == DISABLED, error_message(err)
    err = expect_error("NotAuthorizedException", auth_idp.admin_initiate_auth, UserPoolId=pid,
                       ClientId=client["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                       AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD})
    assert error_message(err) == DISABLED, error_message(err)
    expect_error("NotAuthorizedException", auth_idp.get_user, AccessToken=tokens["AccessToken"])
    expect_error("NotAuthorizedException", refresh_tokens, auth_idp, client, tokens["RefreshToken"])

    auth_idp.admin_enable_user(UserPoolId=pid, Username=name)
    resp = get(auth_idp, env, name)
    assert resp["Enabled"] is True and resp["UserStatus"] == "CONFIRMED"
    fresh = sign_in(auth_idp, client, name)
    assert auth_idp.get_user(AccessToken=fresh["AccessToken"])["Username"] == name


# -------------------------------------------------- AdminSetUserPassword ----

def test_set_password_permanent(auth_idp, env):
    client, pid, name = env["client"], env["pool"], unique("setpw")
    auth_idp.admin_create_user(UserPoolId=pid, Username=name, TemporaryPassword=TEMP_PASSWORD,
                               MessageAction="SUPPRESS")
    auth_idp.admin_set_user_password(UserPoolId=pid, Username=name, Password=OTHER_PASSWORD, Permanent=True)
    assert get(auth_idp, env, name)["UserStatus"] == "CONFIRMED"
    tokens = sign_in(auth_idp, client, name, OTHER_PASSWORD)
    assert auth_idp.get_user(AccessToken=tokens["AccessToken"])["Username"] == name
    expect_error("NotAuthorizedException", password_auth, auth_idp, client, name, TEMP_PASSWORD)


def test_set_password_temporary(auth_idp, env, user):
    client, pid, name = env["client"], env["pool"], user["username"]
    auth_idp.admin_set_user_password(UserPoolId=pid, Username=name, Password=TEMP_PASSWORD, Permanent=False)
    assert get(auth_idp, env, name)["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    expect_error("NotAuthorizedException", password_auth, auth_idp, client, name, PASSWORD)
    ch = password_auth(auth_idp, client, name, TEMP_PASSWORD)
    assert ch.get("ChallengeName") == "NEW_PASSWORD_REQUIRED", ch
    resp = auth_idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED",
                                              Session=ch["Session"],
                                              ChallengeResponses={"USERNAME": name, "NEW_PASSWORD": THIRD_PASSWORD})
    assert "AccessToken" in resp["AuthenticationResult"]
    assert get(auth_idp, env, name)["UserStatus"] == "CONFIRMED"
    sign_in(auth_idp, client, name, THIRD_PASSWORD)


@pytest.mark.parametrize("permanent", [True, False])
def test_set_password_policy(auth_idp, env, user, permanent):
    err = expect_error("InvalidPasswordException", auth_idp.admin_set_user_password, UserPoolId=env["pool"],
                       Username=user["username"], Password=WEAK_PASSWORD, Permanent=permanent)
    assert error_message(err).startswith(POLICY_PREFIX), error_message(err)
    assert get(auth_idp, env, user["username"])["UserStatus"] == "CONFIRMED"
    sign_in(auth_idp, env["client"], user["username"])


# ------------------------------------------------ AdminResetUserPassword ----

def test_admin_reset_user_password(auth_idp, env, smtp_sink):
    client, pid = env["client"], env["pool"]
    addr = new_email()
    u = admin_user(auth_idp, pid, attrs={"email": addr, "email_verified": "true"})
    name = u["username"]
    mark = smtp_sink.mark()
    auth_idp.admin_reset_user_password(UserPoolId=pid, Username=name)
    assert get(auth_idp, env, name)["UserStatus"] == "RESET_REQUIRED"
    code = extract_code(smtp_sink.wait_for(addr, since=mark).text)

    expect_error("PasswordResetRequiredException", password_auth, auth_idp, client, name, PASSWORD)
    expect_error("PasswordResetRequiredException", auth_idp.admin_initiate_auth, UserPoolId=pid,
                 ClientId=client["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                 AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD})

    auth_idp.confirm_forgot_password(ClientId=client["ClientId"], Username=name, ConfirmationCode=code,
                                     Password=OTHER_PASSWORD)
    assert get(auth_idp, env, name)["UserStatus"] == "CONFIRMED"
    sign_in(auth_idp, client, name, OTHER_PASSWORD)
    expect_error("NotAuthorizedException", password_auth, auth_idp, client, name, PASSWORD)


# ------------------------------------------- AdminUpdate/DeleteAttributes ----

def test_admin_update_user_attributes(auth_idp, env, user):
    pid, name = env["pool"], user["username"]
    before = get(auth_idp, env, name)
    addr = new_email()
    auth_idp.admin_update_user_attributes(UserPoolId=pid, Username=name, UserAttributes=attrs_list({
        "email": addr, "email_verified": "true", "given_name": "Grace", "custom:tier": "gold"}))
    after = get(auth_idp, env, name)
    attrs = attrs_dict(after["UserAttributes"])
    assert attrs["email"] == addr
    assert attrs["email_verified"] == "true"
    assert attrs["given_name"] == "Grace"
    assert attrs["custom:tier"] == "gold"
    assert attrs["name"] == "Compat Admin", "attributes not named in the update must stay"
    assert attrs["sub"] == user["sub"]
    assert after["UserLastModifiedDate"] >= before["UserLastModifiedDate"]
    # the ID token reflects them
    tokens = sign_in(auth_idp, env["client"], name)
    claims = verify_jwt(tokens["IdToken"], env["jwks"], env["issuer"], audience=env["client"]["ClientId"])
    assert claims["email"] == addr and claims["email_verified"] is True
    assert claims["given_name"] == "Grace"
    assert claims["custom:tier"] == "gold"


@pytest.mark.parametrize("attrs", [
    {"sub": "00000000-0000-0000-0000-000000000000"},
    {"custom:nope": "x"},
    {"not_an_attribute": "x"},
    {"email": "not-an-email"},
    {"email_verified": "yes"},
], ids=["sub", "unknown-custom", "unknown-standard", "bad-email", "bad-boolean"])
def test_admin_update_user_attributes_invalid(auth_idp, env, user, attrs):
    expect_error("InvalidParameterException", auth_idp.admin_update_user_attributes, UserPoolId=env["pool"],
                 Username=user["username"], UserAttributes=attrs_list(attrs))
    assert attrs_dict(get(auth_idp, env, user["username"])["UserAttributes"])["sub"] == user["sub"]


def test_admin_update_alias_conflict(auth_idp):
    """A verified email alias belongs to one user (spec §2.8: AliasExistsException)."""
    pid = new_pool(auth_idp, AliasAttributes=["email"])
    addr = new_email()
    owner = admin_user(auth_idp, pid, attrs={"email": addr, "email_verified": "true"})
    other = admin_user(auth_idp, pid)
    expect_error("AliasExistsException", auth_idp.admin_update_user_attributes, UserPoolId=pid,
                 Username=other["username"], UserAttributes=attrs_list({"email": addr, "email_verified": "true"}))
    assert "email" not in attrs_dict(auth_idp.admin_get_user(UserPoolId=pid,
                                                             Username=other["username"])["UserAttributes"])
    client = new_app_client(auth_idp, pid)
    assert auth_idp.get_user(AccessToken=sign_in(auth_idp, client, addr)["AccessToken"])["Username"] == \
        owner["username"]


def test_admin_update_immutable_custom_attribute(auth_idp, env):
    pid, name = env["pool"], unique("immutable")
    auth_idp.admin_create_user(UserPoolId=pid, Username=name, TemporaryPassword=TEMP_PASSWORD,
                               MessageAction="SUPPRESS", UserAttributes=attrs_list({"custom:origin": "import"}))
    expect_error("InvalidParameterException", auth_idp.admin_update_user_attributes, UserPoolId=pid, Username=name,
                 UserAttributes=attrs_list({"custom:origin": "changed"}))
    assert attrs_dict(get(auth_idp, env, name)["UserAttributes"])["custom:origin"] == "import"


def test_admin_delete_user_attributes(auth_idp, env, user):
    pid, name = env["pool"], user["username"]
    auth_idp.admin_update_user_attributes(UserPoolId=pid, Username=name,
                                          UserAttributes=attrs_list({"custom:tier": "silver", "locale": "en"}))
    auth_idp.admin_delete_user_attributes(UserPoolId=pid, Username=name,
                                          UserAttributeNames=["name", "custom:tier"])
    attrs = attrs_dict(get(auth_idp, env, name)["UserAttributes"])
    assert "name" not in attrs and "custom:tier" not in attrs, attrs
    assert attrs["locale"] == "en"
    assert attrs["sub"] == user["sub"]
    claims = verify_jwt(sign_in(auth_idp, env["client"], name)["IdToken"], env["jwks"], env["issuer"],
                        audience=env["client"]["ClientId"])
    assert "name" not in claims and "custom:tier" not in claims, claims


# ------------------------------------------------------ custom attributes ----

def test_custom_attributes_stored_and_in_id_token(auth_idp, env):
    pid, client = env["pool"], env["client"]
    u = admin_user(auth_idp, pid, attrs={"custom:tier": "gold", "custom:level": "7", "custom:origin": "import"})
    attrs = attrs_dict(get(auth_idp, env, u["username"])["UserAttributes"])
    assert attrs["custom:tier"] == "gold"
    assert attrs["custom:level"] == "7"
    assert attrs["custom:origin"] == "import"
    tokens = sign_in(auth_idp, client, u["username"])
    got = attrs_dict(auth_idp.get_user(AccessToken=tokens["AccessToken"])["UserAttributes"])
    assert got["custom:tier"] == "gold" and got["custom:level"] == "7" and got["custom:origin"] == "import"
    claims = verify_jwt(tokens["IdToken"], env["jwks"], env["issuer"], audience=client["ClientId"])
    assert claims["custom:tier"] == "gold"
    assert claims["custom:level"] == "7", f"custom attributes are strings in the ID token: {claims['custom:level']!r}"
    assert claims["custom:origin"] == "import"
    access = verify_jwt(tokens["AccessToken"], env["jwks"], env["issuer"])
    assert not [k for k in access if k.startswith("custom:")], access


BAD_CUSTOM = {
    "string-too-short": {"custom:tier": "a"},
    "string-too-long": {"custom:tier": "abcdefghi"},
    "number-below-min": {"custom:level": "0"},
    "number-above-max": {"custom:level": "11"},
    "number-not-a-number": {"custom:level": "abc"},
    "undeclared": {"custom:color": "red"},
}


@pytest.mark.parametrize("case", sorted(BAD_CUSTOM))
@pytest.mark.parametrize("op", ["AdminCreateUser", "AdminUpdateUserAttributes", "SignUp"])
def test_custom_attribute_validation(auth_idp, env, user, op, case):
    attrs, pid = BAD_CUSTOM[case], env["pool"]
    if op == "AdminCreateUser":
        expect_error("InvalidParameterException", auth_idp.admin_create_user, UserPoolId=pid,
                     Username=unique("bad"), TemporaryPassword=TEMP_PASSWORD, MessageAction="SUPPRESS",
                     UserAttributes=attrs_list(attrs))
    elif op == "AdminUpdateUserAttributes":
        expect_error("InvalidParameterException", auth_idp.admin_update_user_attributes, UserPoolId=pid,
                     Username=user["username"], UserAttributes=attrs_list(attrs))
        got = attrs_dict(get(auth_idp, env, user["username"])["UserAttributes"])
        assert not (set(attrs) & set(got)), f"a rejected value was stored: {got}"
    else:
        expect_error("InvalidParameterException", auth_idp.sign_up, ClientId=env["client"]["ClientId"],
                     Username=unique("bad"), Password=PASSWORD, UserAttributes=attrs_list(attrs))


def test_custom_attribute_bounds_inclusive(auth_idp, env):
    pid = env["pool"]
    for attrs in ({"custom:tier": "ab", "custom:level": "1"}, {"custom:tier": "abcdefgh", "custom:level": "10"}):
        u = admin_user(auth_idp, pid, attrs=attrs)
        got = attrs_dict(get(auth_idp, env, u["username"])["UserAttributes"])
        assert {k: got.get(k) for k in attrs} == attrs


# ----------------------------------------------- AdminListUserAuthEvents ----

def raw_sign_in(endpoint: str, client: dict, username: str, password: str, user_agent: str):
    """Unsigned InitiateAuth with a chosen User-Agent (recorded as DeviceName)."""
    body = jdump({"ClientId": client["ClientId"], "AuthFlow": "USER_PASSWORD_AUTH",
                  "AuthParameters": {"USERNAME": username, "PASSWORD": password}})
    return raw_request(endpoint, target=IDP_PREFIX + "InitiateAuth", body=body, sign=False,
                       extra_headers={"User-Agent": user_agent})


def test_auth_events(auth_idp, auth_server, env, user):
    pid, client, name = env["pool"], env["client"], user["username"]
    assert auth_idp.admin_list_user_auth_events(UserPoolId=pid, Username=name)["AuthEvents"] == []

    fail_ua, pass_ua = "CirrusCompat-Fail/1.0", "CirrusCompat-Pass/2.0"
    r = raw_sign_in(auth_server.endpoint, client, name, OTHER_PASSWORD, fail_ua)
    assert r.status_code == 400 and "NotAuthorizedException" in r.text, r.text
    r = raw_sign_in(auth_server.endpoint, client, name, PASSWORD, pass_ua)
    assert r.status_code == 200 and "AuthenticationResult" in r.json(), r.text
    auth_idp.admin_initiate_auth(UserPoolId=pid, ClientId=client["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD})

    events = auth_idp.admin_list_user_auth_events(UserPoolId=pid, Username=name)["AuthEvents"]
    assert len(events) == 3, events
    assert [e["EventResponse"] for e in events] == ["Pass", "Pass", "Fail"], "newest first"
    assert all(e["EventType"] == "SignIn" for e in events), events
    ids = [e["EventId"] for e in events]
    assert all(isinstance(i, str) and i for i in ids) and len(set(ids)) == 3, ids
    for e in events:
        assert_recent(e["CreationDate"])
        assert e["EventContextData"]["IpAddress"] == "127.0.0.1", e
    assert events[0]["CreationDate"] >= events[1]["CreationDate"] >= events[2]["CreationDate"]
    assert events[2]["EventContextData"]["DeviceName"] == fail_ua
    assert events[1]["EventContextData"]["DeviceName"] == pass_ua
    assert events[0]["EventContextData"]["DeviceName"].startswith("Boto3/"), events[0]["EventContextData"]


def test_auth_events_pagination(auth_idp, env, user):
    pid, client, name = env["pool"], env["client"], user["username"]
    expect_error("NotAuthorizedException", password_auth, auth_idp, client, name, OTHER_PASSWORD)
    sign_in(auth_idp, client, name)
    expect_error("NotAuthorizedException", password_auth, auth_idp, client, name, OTHER_PASSWORD)
    first = auth_idp.admin_list_user_auth_events(UserPoolId=pid, Username=name, MaxResults=2)
    assert len(first["AuthEvents"]) == 2 and first.get("NextToken"), first
    pages, token = [first["AuthEvents"]], first["NextToken"]
    while token:
        page = auth_idp.admin_list_user_auth_events(UserPoolId=pid, Username=name, MaxResults=2, NextToken=token)
        assert len(page["AuthEvents"]) <= 2
        pages.append(page["AuthEvents"])
        token = page.get("NextToken")
        assert len(pages) < 5, "pagination does not end"
    events = [e for p in pages for e in p]
    assert [e["EventResponse"] for e in events] == ["Fail", "Pass", "Fail"], events
    assert len({e["EventId"] for e in events}) == 3


def test_auth_events_belong_to_their_user(auth_idp, env, user):
    expect_error("UserNotFoundException", password_auth, auth_idp, env["client"], unique("ghost"), PASSWORD)
    assert auth_idp.admin_list_user_auth_events(UserPoolId=env["pool"], Username=user["username"])["AuthEvents"] == []


# ---------------------------------------------- AdminCreateUser invitations ----

def test_invitation_by_email_and_resend(auth_idp, env, smtp_sink):
    pid, client = env["pool"], env["client"]
    name, addr = unique("invitee"), new_email()
    mark = smtp_sink.mark()
    created = auth_idp.admin_create_user(UserPoolId=pid, Username=name, DesiredDeliveryMediums=["EMAIL"],
                                         UserAttributes=attrs_list({"email": addr, "email_verified": "true"}))
    assert created["User"]["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    mail = smtp_sink.wait_for(addr, since=mark)
    assert mail.subject == INVITE_SUBJECT, mail.summary()
    assert f"Hello {name}, your temporary password is [[" in mail.text, mail.text
    assert "{username}" not in mail.text and "{####}" not in mail.text
    first = invite_password(mail.text)
    ch = password_auth(auth_idp, client, name, first)
    assert ch.get("ChallengeName") == "NEW_PASSWORD_REQUIRED", ch

    mark = smtp_sink.mark()
    resent = auth_idp.admin_create_user(UserPoolId=pid, Username=name, MessageAction="RESEND",
                                        DesiredDeliveryMediums=["EMAIL"])
    assert resent["User"]["Username"] == name
    assert resent["User"]["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert attrs_dict(resent["User"]["Attributes"])["email"] == addr
    mail = smtp_sink.wait_for(addr, since=mark)
    assert mail.subject == INVITE_SUBJECT
    second = invite_password(mail.text)
    assert second != first, "RESEND must issue a new temporary password"
    expect_error("NotAuthorizedException", password_auth, auth_idp, client, name, first)
    ch = password_auth(auth_idp, client, name, second)
    assert ch.get("ChallengeName") == "NEW_PASSWORD_REQUIRED", ch
    resp = auth_idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED",
                                              Session=ch["Session"],
                                              ChallengeResponses={"USERNAME": name, "NEW_PASSWORD": PASSWORD})
    assert "AccessToken" in resp["AuthenticationResult"]

    # now CONFIRMED: RESEND no longer applies
    expect_error("UnsupportedUserStateException", auth_idp.admin_create_user, UserPoolId=pid, Username=name,
                 MessageAction="RESEND", DesiredDeliveryMediums=["EMAIL"])


def test_invitation_by_sms_is_the_default(auth_idp, env, sms_sink, smtp_sink):
    pid, name, phone, addr = env["pool"], unique("smsinvite"), new_phone(), new_email()
    sms_mark, mail_mark = sms_sink.mark(), smtp_sink.mark()
    auth_idp.admin_create_user(UserPoolId=pid, Username=name,
                               UserAttributes=attrs_list({"phone_number": phone, "email": addr}))
    sms = sms_sink.wait_for(phone, since=sms_mark)
    assert sms.signature_ok, sms.problem
    assert sms.message.startswith(f"Compat SMS invite for {name}: [["), sms.message
    temp = invite_password(sms.message)
    ch = password_auth(auth_idp, env["client"], name, temp)
    assert ch.get("ChallengeName") == "NEW_PASSWORD_REQUIRED", ch
    smtp_sink.assert_nothing_for(addr, since=mail_mark, wait=0.3)


def test_suppress_sends_nothing(auth_idp, env, smtp_sink):
    name, addr = unique("quiet"), new_email()
    mark = smtp_sink.mark()
    auth_idp.admin_create_user(UserPoolId=env["pool"], Username=name, MessageAction="SUPPRESS",
                               DesiredDeliveryMediums=["EMAIL"], TemporaryPassword=TEMP_PASSWORD,
                               UserAttributes=attrs_list({"email": addr}))
    smtp_sink.assert_nothing_for(addr, since=mark, wait=0.3)


def test_resend_for_confirmed_user(auth_idp, env, user):
    expect_error("UnsupportedUserStateException", auth_idp.admin_create_user, UserPoolId=env["pool"],
                 Username=user["username"], MessageAction="RESEND")


def test_create_existing_user_without_resend(auth_idp, env, user):
    expect_error("UsernameExistsException", auth_idp.admin_create_user, UserPoolId=env["pool"],
                 Username=user["username"], MessageAction="SUPPRESS", TemporaryPassword=TEMP_PASSWORD)
