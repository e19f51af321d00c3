"""Self-service with an access token (spec user-pools-operations.md §2.3 and
§2.4), all through an unsigned client: UpdateUserAttributes (email change
with verification before update, WriteAttributes, immutable and bounded custom
attributes), DeleteUserAttributes, DeleteUser, ChangePassword,
GetUserAttributeVerificationCode and VerifyUserAttribute."""

from __future__ import annotations

import pytest

from harness import (OTHER_PASSWORD, PASSWORD, POLICY_PREFIX, WEAK_PASSWORD, attrs_dict, attrs_list,
                     confirmed_user, error_message, expect_error, issuer_for, masked_email, new_app_client,
                     new_email, new_phone, new_pool, other_code, password_auth, refresh_tokens, sign_in, unique, verify_jwt)
from smtp_sink import extract_code

SCHEMA = [
    {"Name": "level", "AttributeDataType": "Number", "Mutable": True,
     "NumberAttributeConstraints": {"MinValue": "1", "MaxValue": "10"}},
    {"Name": "origin", "AttributeDataType": "String", "Mutable": False},
]
VERIFY_FIRST = {"AttributesRequireVerificationBeforeUpdate": ["email"]}


@pytest.fixture(scope="module")
def pools(auth_idp, auth_server, auth_jwks_for):
    """alias:    AliasAttributes=[email], email kept until the new one is verified
    username: UsernameAttributes=[email], email kept until the new one is verified
    plain:    usernames, email auto-verified, changes apply at once"""
    out = {}
    for key, extra in (("alias", {"AliasAttributes": ["email"], "UserAttributeUpdateSettings": VERIFY_FIRST}),
                       ("username", {"UsernameAttributes": ["email"], "UserAttributeUpdateSettings": VERIFY_FIRST}),
                       ("plain", {})):
        pid = new_pool(auth_idp, AutoVerifiedAttributes=["email"], Schema=SCHEMA, **extra)
        out[key] = {"pool": pid, "client": new_app_client(auth_idp, pid),
                    "issuer": issuer_for(auth_server.endpoint, pid), "jwks": auth_jwks_for(pid)}
    both = new_pool(auth_idp, AutoVerifiedAttributes=["email", "phone_number"],
                    AccountRecoverySetting={"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]})
    out["both"] = {"pool": both, "client": new_app_client(auth_idp, both)}
    plain = out["plain"]
    plain["restricted"] = new_app_client(auth_idp, plain["pool"], WriteAttributes=["name"])
    return out


def verified_user(pub, env, smtp_sink, sign_in_with_email: bool = False, attrs: dict | None = None) -> dict:
    """SignUp + ConfirmSignUp with the emailed code: email_verified is true.
    Returns {login (name to sign in with), username (internal), email, sub}."""
    addr = new_email()
    login = addr if sign_in_with_email else unique("self")
    mark = smtp_sink.mark()
    resp = pub.sign_up(ClientId=env["client"]["ClientId"], Username=login, Password=PASSWORD,
                       UserAttributes=attrs_list({"email": addr, **(attrs or {})}))
    code = extract_code(smtp_sink.wait_for(addr, since=mark).text)
    pub.confirm_sign_up(ClientId=env["client"]["ClientId"], Username=login, ConfirmationCode=code)
    tokens = sign_in(pub, env["client"], login)
    username = pub.get_user(AccessToken=tokens["AccessToken"])["Username"]
    return {"login": login, "username": username, "email": addr, "sub": resp["UserSub"], "tokens": tokens}


def user_attrs(pub, access_token: str) -> dict:
    return attrs_dict(pub.get_user(AccessToken=access_token)["UserAttributes"])


# ------------------------------------------------------ changing email ----

@pytest.mark.parametrize("kind", ["alias", "username"])
def test_email_change_keeps_old_email_until_verified(auth_idp_public, pools, smtp_sink, kind):
    pub, env = auth_idp_public, pools[kind]
    client = env["client"]
    u = verified_user(pub, env, smtp_sink, sign_in_with_email=(kind == "username"))
    old, new = u["email"], new_email("n")
    tokens = sign_in(pub, client, old)           # the verified email signs in (alias / username attribute)

    mark = smtp_sink.mark()
    resp = pub.update_user_attributes(AccessToken=tokens["AccessToken"], UserAttributes=attrs_list({"email": new}))
    assert resp["CodeDeliveryDetailsList"] == [{"Destination": masked_email(new), "DeliveryMedium": "EMAIL",
                                                "AttributeName": "email"}], resp
    code = extract_code(smtp_sink.wait_for(new, since=mark).text)
    assert not smtp_sink.find(old, since=mark), "the code must go to the new address only"

    # pending: the old email is still the email, verified, and still signs in
    attrs = user_attrs(pub, tokens["AccessToken"])
    assert attrs["email"] == old and attrs["email_verified"] == "true", attrs
    assert pub.get_user(AccessToken=sign_in(pub, client, old)["AccessToken"])["Username"] == u["username"]
    expect_error("UserNotFoundException", password_auth, pub, client, new, PASSWORD)

    expect_error("CodeMismatchException", pub.verify_user_attribute, AccessToken=tokens["AccessToken"],
                 AttributeName="email", Code=other_code(code))
    pub.verify_user_attribute(AccessToken=tokens["AccessToken"], AttributeName="email", Code=code)

    attrs = user_attrs(pub, tokens["AccessToken"])
    assert attrs["email"] == new and attrs["email_verified"] == "true", attrs
    fresh = sign_in(pub, client, new)
    assert pub.get_user(AccessToken=fresh["AccessToken"])["Username"] == u["username"]
    claims = verify_jwt(fresh["IdToken"], env["jwks"], env["issuer"], audience=client["ClientId"])
    assert claims["email"] == new and claims["email_verified"] is True
    assert claims["sub"] == u["sub"]
    expect_error("UserNotFoundException", password_auth, pub, client, old, PASSWORD)


def test_unverified_email_change_applies_at_once(auth_idp_public, auth_idp, pools, smtp_sink):
    """An email that was never verified is simply replaced: the new one is the
    email at once, unverified, and (email being auto-verified) a code goes to
    it (spec §2.4)."""
    pub, env = auth_idp_public, pools["plain"]
    old = new_email("o")
    u = confirmed_user(auth_idp, env["pool"], env["client"], attrs={"email": old})   # admin-confirmed: unverified
    token = sign_in(pub, env["client"], u["username"])["AccessToken"]
    new = new_email("p")
    mark = smtp_sink.mark()
    resp = pub.update_user_attributes(AccessToken=token, UserAttributes=attrs_list({"email": new}))
    assert resp["CodeDeliveryDetailsList"] == [{"Destination": masked_email(new), "DeliveryMedium": "EMAIL",
                                                "AttributeName": "email"}], resp
    code = extract_code(smtp_sink.wait_for(new, since=mark).text)
    assert not smtp_sink.find(old, since=mark)
    attrs = user_attrs(pub, token)
    assert attrs["email"] == new and attrs.get("email_verified", "false") == "false", attrs
    pub.verify_user_attribute(AccessToken=token, AttributeName="email", Code=code)
    attrs = user_attrs(pub, token)
    assert attrs["email"] == new and attrs["email_verified"] == "true", attrs


def test_verified_email_change_in_pool_without_update_setting(auth_idp_public, pools, smtp_sink):
    """The contract keeps a verified email until the new one is verified in
    every pool (AWS does so only with AttributesRequireVerificationBeforeUpdate)."""
    pub, env = auth_idp_public, pools["plain"]
    u = verified_user(pub, env, smtp_sink)
    token = u["tokens"]["AccessToken"]
    new = new_email("q")
    mark = smtp_sink.mark()
    pub.update_user_attributes(AccessToken=token, UserAttributes=attrs_list({"email": new}))
    code = extract_code(smtp_sink.wait_for(new, since=mark).text)
    attrs = user_attrs(pub, token)
    assert attrs["email"] == u["email"] and attrs["email_verified"] == "true", attrs
    pub.verify_user_attribute(AccessToken=token, AttributeName="email", Code=code)
    attrs = user_attrs(pub, token)
    assert attrs["email"] == new and attrs["email_verified"] == "true", attrs


def test_email_and_phone_change_together(auth_idp_public, auth_idp, pools, smtp_sink, sms_sink):
    """Both auto-verified attributes changed in one call: each gets its own
    code, and each code verifies its attribute."""
    pub, env = auth_idp_public, pools["both"]
    u = confirmed_user(auth_idp, env["pool"], env["client"])
    token = sign_in(pub, env["client"], u["username"])["AccessToken"]
    addr, phone = new_email("b"), new_phone()
    mail_mark, sms_mark = smtp_sink.mark(), sms_sink.mark()
    resp = pub.update_user_attributes(AccessToken=token,
                                      UserAttributes=attrs_list({"email": addr, "phone_number": phone}))
    cdd = sorted(resp["CodeDeliveryDetailsList"], key=lambda d: d["AttributeName"])
    assert [(d["AttributeName"], d["DeliveryMedium"]) for d in cdd] == [("email", "EMAIL"), ("phone_number", "SMS")]
    email_code = extract_code(smtp_sink.wait_for(addr, since=mail_mark).text)
    sms_code = extract_code(sms_sink.wait_for(phone, since=sms_mark).message)
    pub.verify_user_attribute(AccessToken=token, AttributeName="email", Code=email_code)
    pub.verify_user_attribute(AccessToken=token, AttributeName="phone_number", Code=sms_code)
    attrs = user_attrs(pub, token)
    assert attrs["email"] == addr and attrs["email_verified"] == "true", attrs
    assert attrs["phone_number"] == phone and attrs["phone_number_verified"] == "true", attrs


def test_pending_email_is_not_a_recovery_channel(auth_idp_public, pools, smtp_sink):
    """While a new email waits for its code, ForgotPassword still goes to the
    old, verified address."""
    pub, env = auth_idp_public, pools["alias"]
    u = verified_user(pub, env, smtp_sink)
    new = new_email("w")
    mark = smtp_sink.mark()
    pub.update_user_attributes(AccessToken=u["tokens"]["AccessToken"], UserAttributes=attrs_list({"email": new}))
    smtp_sink.wait_for(new, since=mark)
    mark = smtp_sink.mark()
    resp = pub.forgot_password(ClientId=env["client"]["ClientId"], Username=u["login"])
    assert resp["CodeDeliveryDetails"]["Destination"] == masked_email(u["email"]), resp
    extract_code(smtp_sink.wait_for(u["email"], since=mark).text)
    assert not smtp_sink.find(new, since=mark)


def test_update_other_attributes_sends_nothing(auth_idp_public, pools, smtp_sink):
    pub, env = auth_idp_public, pools["plain"]
    u = verified_user(pub, env, smtp_sink)
    mark = smtp_sink.mark()
    resp = pub.update_user_attributes(AccessToken=u["tokens"]["AccessToken"],
                                      UserAttributes=attrs_list({"name": "Renamed", "given_name": "Ren"}))
    assert resp.get("CodeDeliveryDetailsList", []) == [], resp
    attrs = user_attrs(pub, u["tokens"]["AccessToken"])
    assert attrs["name"] == "Renamed" and attrs["given_name"] == "Ren"
    assert attrs["email"] == u["email"] and attrs["email_verified"] == "true"
    smtp_sink.assert_nothing_for(u["email"], since=mark, wait=0.3)


# ------------------------------------------------- attribute permissions ----

def test_client_write_attributes_enforced(auth_idp_public, auth_idp, pools):
    pub, env = auth_idp_public, pools["plain"]
    restricted = env["restricted"]
    u = confirmed_user(auth_idp, env["pool"], env["client"], attrs={"given_name": "Before"})
    token = sign_in(pub, restricted, u["username"])["AccessToken"]
    err = expect_error("NotAuthorizedException", pub.update_user_attributes, AccessToken=token,
                       UserAttributes=attrs_list({"given_name": "After"}))
    assert "given_name" in error_message(err), error_message(err)
    assert user_attrs(pub, token)["given_name"] == "Before"
    pub.update_user_attributes(AccessToken=token, UserAttributes=attrs_list({"name": "Allowed"}))
    assert user_attrs(pub, token)["name"] == "Allowed"


def test_verified_flags_not_writable_by_default(auth_idp_public, auth_idp, pools):
    pub, env = auth_idp_public, pools["plain"]
    u = confirmed_user(auth_idp, env["pool"], env["client"], attrs={"email": new_email()})
    token = sign_in(pub, env["client"], u["username"])["AccessToken"]
    expect_error("NotAuthorizedException", pub.update_user_attributes, AccessToken=token,
                 UserAttributes=attrs_list({"email_verified": "true"}))
    assert user_attrs(pub, token).get("email_verified") != "true"


def test_immutable_custom_attribute(auth_idp_public, auth_idp, pools):
    pub, env = auth_idp_public, pools["plain"]
    u = confirmed_user(auth_idp, env["pool"], env["client"], attrs={"custom:origin": "web"})
    token = sign_in(pub, env["client"], u["username"])["AccessToken"]
    expect_error("InvalidParameterException", pub.update_user_attributes, AccessToken=token,
                 UserAttributes=attrs_list({"custom:origin": "mobile"}))
    assert user_attrs(pub, token)["custom:origin"] == "web"


@pytest.mark.parametrize("attrs", [{"custom:level": "11"}, {"custom:level": "zero"}, {"custom:nope": "x"},
                                   {"nonexistent": "x"}, {"sub": "00000000-0000-0000-0000-000000000000"}],
                         ids=["above-max", "not-a-number", "undeclared-custom", "unknown", "sub"])
def test_update_invalid_attributes(auth_idp_public, auth_idp, pools, attrs):
    pub, env = auth_idp_public, pools["plain"]
    u = confirmed_user(auth_idp, env["pool"], env["client"])
    token = sign_in(pub, env["client"], u["username"])["AccessToken"]
    expect_error("InvalidParameterException", pub.update_user_attributes, AccessToken=token,
                 UserAttributes=attrs_list(attrs))
    assert user_attrs(pub, token)["sub"] == u["sub"]


def test_custom_attribute_update_reaches_id_token(auth_idp_public, auth_idp, pools):
    pub, env = auth_idp_public, pools["plain"]
    client = env["client"]
    u = confirmed_user(auth_idp, env["pool"], client)
    token = sign_in(pub, client, u["username"])["AccessToken"]
    pub.update_user_attributes(AccessToken=token, UserAttributes=attrs_list({"custom:level": "3"}))
    assert user_attrs(pub, token)["custom:level"] == "3"
    id_token = sign_in(pub, client, u["username"])["IdToken"]
    claims = verify_jwt(id_token, env["jwks"], env["issuer"], audience=client["ClientId"])
    assert claims["custom:level"] == "3", claims


def test_delete_user_attributes(auth_idp_public, auth_idp, pools):
    pub, env = auth_idp_public, pools["plain"]
    u = confirmed_user(auth_idp, env["pool"], env["client"],
                       attrs={"name": "Gone Soon", "given_name": "Stays", "custom:level": "4"})
    token = sign_in(pub, env["client"], u["username"])["AccessToken"]
    pub.delete_user_attributes(AccessToken=token, UserAttributeNames=["name", "custom:level"])
    attrs = user_attrs(pub, token)
    assert "name" not in attrs and "custom:level" not in attrs, attrs
    assert attrs["given_name"] == "Stays" and attrs["sub"] == u["sub"]
    admin = attrs_dict(auth_idp.admin_get_user(UserPoolId=env["pool"], Username=u["username"])["UserAttributes"])
    assert "name" not in admin and "custom:level" not in admin


# ------------------------------------------------------------ DeleteUser ----

def test_delete_user(auth_idp_public, auth_idp, pools):
    pub, env = auth_idp_public, pools["plain"]
    client = env["client"]
    u = confirmed_user(auth_idp, env["pool"], client)
    tokens = sign_in(pub, client, u["username"])
    other = sign_in(pub, client, u["username"])
    resp = pub.delete_user(AccessToken=tokens["AccessToken"])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    for t in (tokens, other):
        expect_error("NotAuthorizedException", pub.get_user, AccessToken=t["AccessToken"])
        expect_error("NotAuthorizedException", refresh_tokens, pub, client, t["RefreshToken"])
    expect_error("NotAuthorizedException", pub.delete_user, AccessToken=tokens["AccessToken"])
    expect_error("UserNotFoundException", password_auth, pub, client, u["username"], PASSWORD)
    expect_error("UserNotFoundException", auth_idp.admin_get_user, UserPoolId=env["pool"], Username=u["username"])


# --------------------------------------------------------- ChangePassword ----

def test_change_password(auth_idp_public, auth_idp, pools):
    pub, env = auth_idp_public, pools["plain"]
    client = env["client"]
    u = confirmed_user(auth_idp, env["pool"], client)
    token = sign_in(pub, client, u["username"])["AccessToken"]

    err = expect_error("NotAuthorizedException", pub.change_password, AccessToken=token,
                       PreviousPassword=OTHER_PASSWORD, ProposedPassword=OTHER_PASSWORD)
    assert error_message(err) == "Incorrect username or password.", error_message(err)
    err = expect_error("InvalidPasswordException", pub.change_password, AccessToken=token,
                       PreviousPassword=PASSWORD, ProposedPassword=WEAK_PASSWORD)
    assert error_message(err).startswith(POLICY_PREFIX), error_message(err)
    sign_in(pub, client, u["username"], PASSWORD)       # nothing changed so far

    pub.change_password(AccessToken=token, PreviousPassword=PASSWORD, ProposedPassword=OTHER_PASSWORD)
    sign_in(pub, client, u["username"], OTHER_PASSWORD)
    expect_error("NotAuthorizedException", password_auth, pub, client, u["username"], PASSWORD)


# ------------------------------------------- attribute verification codes ----

def test_get_user_attribute_verification_code(auth_idp_public, auth_idp, pools, smtp_sink):
    pub, env = auth_idp_public, pools["plain"]
    client, addr = env["client"], new_email("v")
    u = confirmed_user(auth_idp, env["pool"], client, attrs={"email": addr})   # admin-confirmed: unverified
    token = sign_in(pub, client, u["username"])["AccessToken"]
    assert user_attrs(pub, token).get("email_verified", "false") == "false"

    mark = smtp_sink.mark()
    resp = pub.get_user_attribute_verification_code(AccessToken=token, AttributeName="email")
    assert resp["CodeDeliveryDetails"] == {"Destination": masked_email(addr), "DeliveryMedium": "EMAIL",
                                           "AttributeName": "email"}, resp
    code = extract_code(smtp_sink.wait_for(addr, since=mark).text)

    expect_error("CodeMismatchException", pub.verify_user_attribute, AccessToken=token, AttributeName="email",
                 Code=other_code(code))
    assert user_attrs(pub, token).get("email_verified", "false") == "false"
    pub.verify_user_attribute(AccessToken=token, AttributeName="email", Code=code)
    assert user_attrs(pub, token)["email_verified"] == "true"
    claims = verify_jwt(sign_in(pub, client, u["username"])["IdToken"], env["jwks"], env["issuer"],
                        audience=client["ClientId"])
    assert claims["email_verified"] is True


# ------------------------------------------------------------ bad tokens ----

BAD_TOKEN_OPS = {
    "UpdateUserAttributes": lambda c, t: c.update_user_attributes(AccessToken=t,
                                                                   UserAttributes=attrs_list({"name": "x"})),
    "DeleteUserAttributes": lambda c, t: c.delete_user_attributes(AccessToken=t, UserAttributeNames=["name"]),
    "DeleteUser": lambda c, t: c.delete_user(AccessToken=t),
    "ChangePassword": lambda c, t: c.change_password(AccessToken=t, PreviousPassword=PASSWORD,
                                                     ProposedPassword=OTHER_PASSWORD),
    "GetUserAttributeVerificationCode": lambda c, t: c.get_user_attribute_verification_code(
        AccessToken=t, AttributeName="email"),
    "VerifyUserAttribute": lambda c, t: c.verify_user_attribute(AccessToken=t, AttributeName="email",
                                                                Code="123456"),
}


@pytest.mark.parametrize("op", sorted(BAD_TOKEN_OPS))
def test_bad_access_token(auth_idp_public, op):
    expect_error("NotAuthorizedException", BAD_TOKEN_OPS[op], auth_idp_public, "garbage.not.atoken")


@pytest.mark.parametrize("op", sorted(BAD_TOKEN_OPS))
def test_id_token_is_not_an_access_token(auth_idp_public, auth_idp, pools, op):
    env = pools["plain"]
    u = confirmed_user(auth_idp, env["pool"], env["client"])
    id_token = sign_in(auth_idp_public, env["client"], u["username"])["IdToken"]
    expect_error("NotAuthorizedException", BAD_TOKEN_OPS[op], auth_idp_public, id_token)
