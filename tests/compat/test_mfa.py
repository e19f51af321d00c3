"""MFA (spec user-pools.md §3.1-§3.2, user-pools-operations.md §2.5) through
boto3: the pool's MFA configuration, TOTP registration with pyotp codes,
SOFTWARE_TOKEN_MFA / SMS_MFA / EMAIL_OTP challenges with the codes read from
the message the SMS webhook or the SMTP sink received, SELECT_MFA_TYPE,
MFA_SETUP, refused replays and wrong answers, and the choice-based USER_AUTH
flow (PASSWORD, SELECT_CHALLENGE, EMAIL_OTP / SMS_OTP as first factors).

TOTP: a server refuses a code it has already accepted, so every successful
use needs a later 30 s step (harness.Totp waits for one). The tests that
answer a TOTP challenge come last in this file: registration happens in
module fixtures early on, and the other tests run while that step runs out."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError

from harness import (OTHER_PASSWORD, PASSWORD, Totp, admin_user, assert_masked_phone, expect_challenge, expect_error,
                     expect_tokens, jwt_claims, mfa_settings, new_app_client, new_email, new_phone, new_pool,
                     other_code, password_auth, register_totp, respond, sign_in, with_secret_hash)
from smtp_sink import extract_code

SMS_TEMPLATE = "Compat MFA code {####} (sms)"
EMAIL_TEMPLATE = "Compat email MFA code {####} (email)"
EMAIL_SUBJECT = "Compat MFA subject"
MFA_CONFIG = {
    "SmsMfaConfiguration": {"SmsAuthenticationMessage": SMS_TEMPLATE},
    "SoftwareTokenMfaConfiguration": {"Enabled": True},
    "EmailMfaConfiguration": {"Message": EMAIL_TEMPLATE, "Subject": EMAIL_SUBJECT},
}
BASE32_RE = re.compile(r"^[A-Z2-7]{16,}=*$")
USER_AUTH_FLOWS = ["ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


# ------------------------------------------------------------ fixtures ----

@pytest.fixture(scope="module")
def env(auth_idp):
    """optional: MfaConfiguration OPTIONAL with TOTP, SMS and email factors.
    required: MfaConfiguration ON with TOTP only (MFA_SETUP).
    choice: USER_AUTH with PASSWORD, EMAIL_OTP and SMS_OTP as first factors.
    password_only: USER_AUTH with the default first factors ([PASSWORD])."""
    optional = new_pool(auth_idp)
    auth_idp.set_user_pool_mfa_config(UserPoolId=optional, MfaConfiguration="OPTIONAL", **MFA_CONFIG)
    required = new_pool(auth_idp)
    auth_idp.set_user_pool_mfa_config(UserPoolId=required, MfaConfiguration="ON",
                                      SoftwareTokenMfaConfiguration={"Enabled": True})
    choice = new_pool(auth_idp, Policies={"SignInPolicy": {
        "AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP", "SMS_OTP"]}})
    password_only = new_pool(auth_idp)
    return {
        "optional": {"pool": optional, "client": new_app_client(auth_idp, optional),
                     "secret": new_app_client(auth_idp, optional, GenerateSecret=True)},
        "required": {"pool": required, "client": new_app_client(auth_idp, required)},
        "choice": {"pool": choice, "client": new_app_client(auth_idp, choice, ExplicitAuthFlows=USER_AUTH_FLOWS),
                   "no_user_auth": new_app_client(auth_idp, choice)},
        "password_only": {"pool": password_only,
                          "client": new_app_client(auth_idp, password_only, ExplicitAuthFlows=USER_AUTH_FLOWS)},
    }


def contact_user(idp, pool_id, email=True, phone=True) -> dict:
    """A CONFIRMED user with a verified email and/or phone_number."""
    attrs = {}
    if email:
        attrs.update(email=new_email("m"), email_verified="true")
    if phone:
        attrs.update(phone_number=new_phone(), phone_number_verified="true")
    return admin_user(idp, pool_id, attrs=attrs)


@pytest.fixture(scope="module")
def totp_user(auth_idp, auth_idp_public, env):
    """A user of the OPTIONAL pool with TOTP registered, enabled and preferred."""
    e = env["optional"]
    user = contact_user(auth_idp, e["pool"], email=False, phone=False)
    access = sign_in(auth_idp, e["client"], user["username"])["AccessToken"]
    user["totp"] = register_totp(auth_idp_public, access)
    auth_idp_public.set_user_mfa_preference(AccessToken=access, **mfa_settings(totp=True,
                                                                              preferred="SOFTWARE_TOKEN_MFA"))
    user["access"] = access
    return user


@pytest.fixture(scope="module")
def select_user(auth_idp, auth_idp_public, env):
    """A user with TOTP, SMS and email MFA all enabled and none preferred."""
    e = env["optional"]
    user = contact_user(auth_idp, e["pool"])
    access = sign_in(auth_idp, e["client"], user["username"])["AccessToken"]
    user["totp"] = register_totp(auth_idp_public, access)
    auth_idp_public.set_user_mfa_preference(AccessToken=access, **mfa_settings(totp=True, sms=True, email=True))
    return user


def start(idp, client, user, password=None) -> dict:
    return password_auth(idp, client, user["username"], password or user["password"])


def sms_code(sms_sink, phone, mark) -> str:
    sms = sms_sink.wait_for(phone, since=mark)
    assert sms.signature_ok, sms.summary()
    code = extract_code(sms.message)
    assert sms.message == SMS_TEMPLATE.replace("{####}", code), \
        f"SMS does not follow SmsAuthenticationMessage {SMS_TEMPLATE!r}: {sms.message!r}"
    return code


def email_code(smtp_sink, addr, mark) -> str:
    mail = smtp_sink.wait_for(addr, since=mark)
    code = extract_code(mail.text)
    assert mail.subject == EMAIL_SUBJECT, f"subject {mail.subject!r} is not EmailMfaConfiguration.Subject"
    assert EMAIL_TEMPLATE.replace("{####}", code) in mail.text, \
        f"email does not follow EmailMfaConfiguration.Message {EMAIL_TEMPLATE!r}: {mail.text!r}"
    return code


def assert_signed_in_as(result: dict, user: dict) -> None:
    claims = jwt_claims(result["IdToken"])
    assert claims["cognito:username"] == user["username"], claims
    assert claims["sub"] == user["sub"], claims


def assert_masked_email(destination: str, addr: str) -> None:
    assert destination and addr not in destination and "***" in destination, \
        f"CODE_DELIVERY_DESTINATION {destination!r} is not a masked form of {addr!r}"


def mfa_view(resp: dict) -> tuple:
    return resp.get("PreferredMfaSetting"), sorted(resp.get("UserMFASettingList") or [])


# ------------------------------------------------------ pool config -------

def test_pool_mfa_config_round_trip(auth_idp):
    pid = new_pool(auth_idp)
    assert auth_idp.get_user_pool_mfa_config(UserPoolId=pid)["MfaConfiguration"] == "OFF"
    resp = auth_idp.set_user_pool_mfa_config(UserPoolId=pid, MfaConfiguration="OPTIONAL", **MFA_CONFIG)
    got = auth_idp.get_user_pool_mfa_config(UserPoolId=pid)
    for out in (resp, got):
        assert out["MfaConfiguration"] == "OPTIONAL", out
        assert out["SoftwareTokenMfaConfiguration"] == {"Enabled": True}, out
        assert out["SmsMfaConfiguration"]["SmsAuthenticationMessage"] == SMS_TEMPLATE, out
        assert out["EmailMfaConfiguration"] == {"Message": EMAIL_TEMPLATE, "Subject": EMAIL_SUBJECT}, out
    assert auth_idp.describe_user_pool(UserPoolId=pid)["UserPool"]["MfaConfiguration"] == "OPTIONAL"
    # switching to ON keeps the factors
    auth_idp.set_user_pool_mfa_config(UserPoolId=pid, MfaConfiguration="ON", **MFA_CONFIG)
    assert auth_idp.get_user_pool_mfa_config(UserPoolId=pid)["MfaConfiguration"] == "ON"


def test_mfa_on_without_any_factor_is_refused(auth_idp):
    pid = new_pool(auth_idp)
    expect_error("InvalidParameterException", auth_idp.set_user_pool_mfa_config, UserPoolId=pid,
                 MfaConfiguration="ON", SoftwareTokenMfaConfiguration={"Enabled": False})
    assert auth_idp.get_user_pool_mfa_config(UserPoolId=pid)["MfaConfiguration"] == "OFF"


def test_mfa_config_unknown_pool(auth_idp):
    expect_error("ResourceNotFoundException", auth_idp.get_user_pool_mfa_config, UserPoolId="us-east-1_Nope12345")


# ------------------------------------------------------------- TOTP -------

def test_associate_software_token_wrong_code(auth_idp, auth_idp_public, env):
    e = env["optional"]
    user = contact_user(auth_idp, e["pool"], email=False, phone=False)
    access = sign_in(auth_idp, e["client"], user["username"])["AccessToken"]
    secret = auth_idp_public.associate_software_token(AccessToken=access)["SecretCode"]
    assert BASE32_RE.match(secret), f"SecretCode {secret!r} is not base32"
    import pyotp
    wrong = other_code(pyotp.TOTP(secret).now())
    expect_error("EnableSoftwareTokenMFAException", auth_idp_public.verify_software_token,
                 AccessToken=access, UserCode=wrong, FriendlyDeviceName="compat")
    # nothing was registered: the user still signs in without MFA
    sign_in(auth_idp, e["client"], user["username"])


def test_totp_registered_user_settings_and_challenge(auth_idp, auth_idp_public, env, totp_user):
    e = env["optional"]
    assert BASE32_RE.match(totp_user["totp"].secret), totp_user["totp"].secret
    expected = ("SOFTWARE_TOKEN_MFA", ["SOFTWARE_TOKEN_MFA"])
    assert mfa_view(auth_idp_public.get_user(AccessToken=totp_user["access"])) == expected
    assert mfa_view(auth_idp.admin_get_user(UserPoolId=e["pool"], Username=totp_user["username"])) == expected
    expect_challenge(start(auth_idp, e["client"], totp_user), "SOFTWARE_TOKEN_MFA")


def test_select_mfa_type_user_settings(auth_idp, env, select_user):
    got = auth_idp.admin_get_user(UserPoolId=env["optional"]["pool"], Username=select_user["username"])
    assert got.get("PreferredMfaSetting") in (None, ""), got
    assert sorted(got["UserMFASettingList"]) == ["EMAIL_OTP", "SMS_MFA", "SOFTWARE_TOKEN_MFA"], got


def test_challenge_parameters_name_the_user(auth_idp, env, totp_user, select_user):
    """Every challenge's ChallengeParameters name the internal user. user-pools.md §3.1 says USERNAME;
    Cognito itself sends USER_ID_FOR_SRP (and no USERNAME) after the password step, which both
    pycognito and identity-js cope with, so either key is accepted."""
    opt, req = env["optional"], env["required"]
    sms = contact_user(auth_idp, opt["pool"], email=False)
    auth_idp.admin_set_user_mfa_preference(UserPoolId=opt["pool"], Username=sms["username"],
                                           **mfa_settings(sms=True, preferred="SMS_MFA"))
    mail = contact_user(auth_idp, opt["pool"], phone=False)
    auth_idp.admin_set_user_mfa_preference(UserPoolId=opt["pool"], Username=mail["username"],
                                           **mfa_settings(email=True, preferred="EMAIL_OTP"))
    setup = contact_user(auth_idp, req["pool"], email=False, phone=False)
    seen = {}
    for name, client, user in (("SOFTWARE_TOKEN_MFA", opt["client"], totp_user), ("SMS_MFA", opt["client"], sms),
                               ("EMAIL_OTP", opt["client"], mail), ("SELECT_MFA_TYPE", opt["client"], select_user),
                               ("MFA_SETUP", req["client"], setup)):
        _, params = expect_challenge(start(auth_idp, client, user), name)
        seen[name] = (params.get("USERNAME", params.get("USER_ID_FOR_SRP")), user["username"], params)
    missing = {name: params for name, (got, want, params) in seen.items() if got != want}
    assert not missing, f"ChallengeParameters without USERNAME / USER_ID_FOR_SRP = internal username: {missing}"


def test_user_without_mfa_gets_tokens_in_optional_pool(auth_idp, env):
    e = env["optional"]
    user = contact_user(auth_idp, e["pool"])
    expect_tokens(start(auth_idp, e["client"], user))
    got = auth_idp.admin_get_user(UserPoolId=e["pool"], Username=user["username"])
    assert got.get("UserMFASettingList") in (None, []), got


# -------------------------------------------------------------- SMS -------

def test_sms_mfa_sign_in(auth_idp, auth_idp_public, env, sms_sink):
    e = env["optional"]
    user = contact_user(auth_idp, e["pool"], email=False)
    phone = user["attrs"]["phone_number"]
    access = sign_in(auth_idp, e["client"], user["username"])["AccessToken"]
    auth_idp_public.set_user_mfa_preference(AccessToken=access, **mfa_settings(sms=True, preferred="SMS_MFA"))
    assert mfa_view(auth_idp_public.get_user(AccessToken=access)) == ("SMS_MFA", ["SMS_MFA"])

    mark = sms_sink.mark()
    session, params = expect_challenge(start(auth_idp, e["client"], user), "SMS_MFA")
    assert params.get("CODE_DELIVERY_DELIVERY_MEDIUM") == "SMS", params
    assert_masked_phone(params.get("CODE_DELIVERY_DESTINATION"), phone)
    code = sms_code(sms_sink, phone, mark)
    result = expect_tokens(respond(auth_idp_public, e["client"], "SMS_MFA", session,
                                   {"USERNAME": user["username"], "SMS_MFA_CODE": code}))
    assert_signed_in_as(result, user)


def test_sms_mfa_single_use_and_three_wrong_answers(auth_idp, auth_idp_public, env, sms_sink):
    e = env["optional"]
    user = contact_user(auth_idp, e["pool"], email=False)
    phone = user["attrs"]["phone_number"]
    auth_idp.admin_set_user_mfa_preference(UserPoolId=e["pool"], Username=user["username"],
                                           **mfa_settings(sms=True, preferred="SMS_MFA"))
    answer = lambda session, code: respond(auth_idp_public, e["client"], "SMS_MFA", session,  # noqa: E731
                                           {"USERNAME": user["username"], "SMS_MFA_CODE": code})

    mark = sms_sink.mark()
    first_session, _ = expect_challenge(start(auth_idp, e["client"], user), "SMS_MFA")
    first_code = sms_code(sms_sink, phone, mark)
    expect_tokens(answer(first_session, first_code))
    # the answered session and its code are spent
    with pytest.raises(ClientError) as ei:
        answer(first_session, first_code)
    assert ei.value.response["Error"]["Code"] in ("NotAuthorizedException", "CodeMismatchException"), \
        ei.value.response

    # a new sign-in sends a new code; the old one does not answer it
    mark = sms_sink.mark()
    session, _ = expect_challenge(start(auth_idp, e["client"], user), "SMS_MFA")
    code = sms_code(sms_sink, phone, mark)
    wrong = first_code if first_code != code else other_code(code)
    expect_error("CodeMismatchException", answer, session, wrong)
    expect_error("CodeMismatchException", answer, session, other_code(code))
    with pytest.raises(ClientError) as ei:
        answer(session, other_code(other_code(code)))
    assert ei.value.response["Error"]["Code"] in ("CodeMismatchException", "NotAuthorizedException"), \
        ei.value.response
    # three wrong answers ended the session: even the right code is refused now
    expect_error("NotAuthorizedException", answer, session, code)

    # a new sign-in works again
    mark = sms_sink.mark()
    session, _ = expect_challenge(start(auth_idp, e["client"], user), "SMS_MFA")
    assert_signed_in_as(expect_tokens(answer(session, sms_code(sms_sink, phone, mark))), user)


# ------------------------------------------------------------ email -------

def test_email_otp_mfa_sign_in_with_secret_client(auth_idp, auth_idp_public, env, smtp_sink):
    """EMAIL_OTP as the second factor, through a client with a secret (SECRET_HASH in every step)."""
    e = env["optional"]
    user = contact_user(auth_idp, e["pool"], phone=False)
    addr = user["attrs"]["email"]
    auth_idp.admin_set_user_mfa_preference(UserPoolId=e["pool"], Username=user["username"],
                                           **mfa_settings(email=True, preferred="EMAIL_OTP"))
    got = auth_idp.admin_get_user(UserPoolId=e["pool"], Username=user["username"])
    assert mfa_view(got) == ("EMAIL_OTP", ["EMAIL_OTP"]), got

    mark = smtp_sink.mark()
    session, params = expect_challenge(start(auth_idp, e["secret"], user), "EMAIL_OTP")
    assert params.get("CODE_DELIVERY_DELIVERY_MEDIUM") == "EMAIL", params
    assert_masked_email(params.get("CODE_DELIVERY_DESTINATION"), addr)
    code = email_code(smtp_sink, addr, mark)
    expect_error("CodeMismatchException", respond, auth_idp_public, e["secret"], "EMAIL_OTP", session,
                 {"USERNAME": user["username"], "EMAIL_OTP_CODE": other_code(code)})
    result = expect_tokens(respond(auth_idp_public, e["secret"], "EMAIL_OTP", session,
                                   {"USERNAME": user["username"], "EMAIL_OTP_CODE": code}))
    assert_signed_in_as(result, user)


def test_email_otp_answer_needs_secret_hash(auth_idp, auth_idp_public, env, smtp_sink):
    e = env["optional"]
    user = contact_user(auth_idp, e["pool"], phone=False)
    auth_idp.admin_set_user_mfa_preference(UserPoolId=e["pool"], Username=user["username"],
                                           **mfa_settings(email=True, preferred="EMAIL_OTP"))
    mark = smtp_sink.mark()
    session, _ = expect_challenge(start(auth_idp, e["secret"], user), "EMAIL_OTP")
    code = email_code(smtp_sink, user["attrs"]["email"], mark)
    expect_error("NotAuthorizedException", auth_idp_public.respond_to_auth_challenge,
                 ClientId=e["secret"]["ClientId"], ChallengeName="EMAIL_OTP", Session=session,
                 ChallengeResponses={"USERNAME": user["username"], "EMAIL_OTP_CODE": code})


# -------------------------------------------- preference and selection ----

def test_preferred_factor_is_challenged_directly(auth_idp, env, sms_sink, smtp_sink):
    e = env["optional"]
    user = contact_user(auth_idp, e["pool"])
    auth_idp.admin_set_user_mfa_preference(UserPoolId=e["pool"], Username=user["username"],
                                           **mfa_settings(sms=True, email=True, preferred="EMAIL_OTP"))
    got = auth_idp.admin_get_user(UserPoolId=e["pool"], Username=user["username"])
    assert mfa_view(got) == ("EMAIL_OTP", ["EMAIL_OTP", "SMS_MFA"]), got
    expect_challenge(start(auth_idp, e["client"], user), "EMAIL_OTP")

    auth_idp.admin_set_user_mfa_preference(UserPoolId=e["pool"], Username=user["username"],
                                           **mfa_settings(sms=True, email=True, preferred="SMS_MFA"))
    got = auth_idp.admin_get_user(UserPoolId=e["pool"], Username=user["username"])
    assert mfa_view(got) == ("SMS_MFA", ["EMAIL_OTP", "SMS_MFA"]), got
    expect_challenge(start(auth_idp, e["client"], user), "SMS_MFA")

    # disabling both turns MFA off for this user again
    auth_idp.admin_set_user_mfa_preference(UserPoolId=e["pool"], Username=user["username"],
                                           **mfa_settings(sms=False, email=False))
    expect_tokens(start(auth_idp, e["client"], user))


def select(idp, client, user, answer: str) -> tuple[str, dict]:
    """Sign in, expect SELECT_MFA_TYPE offering all three factors, answer it; return the next challenge."""
    session, params = expect_challenge(start(idp, client, user), "SELECT_MFA_TYPE")
    choices = json.loads(params["MFAS_CAN_CHOOSE"])
    assert sorted(choices) == ["EMAIL_OTP", "SMS_MFA", "SOFTWARE_TOKEN_MFA"], params
    resp = respond(idp, client, "SELECT_MFA_TYPE", session, {"USERNAME": user["username"], "ANSWER": answer})
    return expect_challenge(resp, answer)


def test_select_mfa_type_sms(auth_idp_public, env, select_user, sms_sink):
    e, user = env["optional"], select_user
    phone = user["attrs"]["phone_number"]
    mark = sms_sink.mark()
    session, params = select(auth_idp_public, e["client"], user, "SMS_MFA")
    assert params.get("CODE_DELIVERY_DELIVERY_MEDIUM") == "SMS", params
    code = sms_code(sms_sink, phone, mark)
    result = expect_tokens(respond(auth_idp_public, e["client"], "SMS_MFA", session,
                                   {"USERNAME": user["username"], "SMS_MFA_CODE": code}))
    assert_signed_in_as(result, user)


def test_select_mfa_type_email(auth_idp_public, env, select_user, smtp_sink):
    e, user = env["optional"], select_user
    addr = user["attrs"]["email"]
    mark = smtp_sink.mark()
    session, params = select(auth_idp_public, e["client"], user, "EMAIL_OTP")
    assert params.get("CODE_DELIVERY_DELIVERY_MEDIUM") == "EMAIL", params
    code = email_code(smtp_sink, addr, mark)
    result = expect_tokens(respond(auth_idp_public, e["client"], "EMAIL_OTP", session,
                                   {"USERNAME": user["username"], "EMAIL_OTP_CODE": code}))
    assert_signed_in_as(result, user)


# -------------------------------------------------------- MFA_SETUP -------

def test_mfa_setup_registers_totp(auth_idp, auth_idp_public, env):
    e = env["required"]
    user = contact_user(auth_idp, e["pool"], email=False, phone=False)
    session, params = expect_challenge(start(auth_idp, e["client"], user), "MFA_SETUP")
    assert "SOFTWARE_TOKEN_MFA" in json.loads(params["MFAS_CAN_SETUP"]), params

    assoc = auth_idp_public.associate_software_token(Session=session)
    assert BASE32_RE.match(assoc["SecretCode"]), assoc
    assert assoc.get("Session"), f"AssociateSoftwareToken(Session) returned no new Session: {assoc!r}"
    totp = Totp(assoc["SecretCode"])
    verified = auth_idp_public.verify_software_token(Session=assoc["Session"], UserCode=totp.fresh(),
                                                     FriendlyDeviceName="compat-setup")
    assert verified["Status"] == "SUCCESS", verified
    assert verified.get("Session"), f"VerifySoftwareToken(Session) returned no new Session: {verified!r}"

    result = expect_tokens(respond(auth_idp_public, e["client"], "MFA_SETUP", verified["Session"],
                                   {"USERNAME": user["username"]}))
    assert_signed_in_as(result, user)
    me = auth_idp_public.get_user(AccessToken=result["AccessToken"])
    assert "SOFTWARE_TOKEN_MFA" in (me.get("UserMFASettingList") or []), me
    # from now on the pool asks for the registered token instead of a setup
    expect_challenge(start(auth_idp, e["client"], user), "SOFTWARE_TOKEN_MFA")


def test_mfa_setup_wrong_code(auth_idp, auth_idp_public, env):
    e = env["required"]
    user = contact_user(auth_idp, e["pool"], email=False, phone=False)
    session, _ = expect_challenge(start(auth_idp, e["client"], user), "MFA_SETUP")
    assoc = auth_idp_public.associate_software_token(Session=session)
    import pyotp
    wrong = other_code(pyotp.TOTP(assoc["SecretCode"]).now())
    with pytest.raises(ClientError) as ei:
        auth_idp_public.verify_software_token(Session=assoc["Session"], UserCode=wrong)
    assert ei.value.response["Error"]["Code"] in ("EnableSoftwareTokenMFAException", "CodeMismatchException"), \
        ei.value.response
    # nothing registered: the next sign-in asks for a setup again
    expect_challenge(start(auth_idp, e["client"], user), "MFA_SETUP")


# --------------------------------------------- USER_AUTH (choice-based) ----

def user_auth(idp, client, username, **extra) -> dict:
    params = with_secret_hash(client, {"USERNAME": username, **extra})
    return idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_AUTH", AuthParameters=params)


def test_user_auth_preferred_password(auth_idp, auth_idp_public, env):
    e = env["choice"]
    user = contact_user(auth_idp, e["pool"])
    session, _ = expect_challenge(user_auth(auth_idp_public, e["client"], user["username"],
                                            PREFERRED_CHALLENGE="PASSWORD"), "PASSWORD")
    expect_error("NotAuthorizedException", respond, auth_idp_public, e["client"], "PASSWORD", session,
                 {"USERNAME": user["username"], "PASSWORD": OTHER_PASSWORD})
    session, _ = expect_challenge(user_auth(auth_idp_public, e["client"], user["username"],
                                            PREFERRED_CHALLENGE="PASSWORD"), "PASSWORD")
    result = expect_tokens(respond(auth_idp_public, e["client"], "PASSWORD", session,
                                   {"USERNAME": user["username"], "PASSWORD": PASSWORD}))
    assert_signed_in_as(result, user)


def test_user_auth_select_challenge_password(auth_idp, auth_idp_public, env):
    e = env["choice"]
    user = contact_user(auth_idp, e["pool"])
    resp = user_auth(auth_idp_public, e["client"], user["username"])
    session, _ = expect_challenge(resp, "SELECT_CHALLENGE")
    available = resp.get("AvailableChallenges") or []
    assert "PASSWORD" in available and "EMAIL_OTP" in available, resp
    result = expect_tokens(respond(auth_idp_public, e["client"], "SELECT_CHALLENGE", session,
                                   {"USERNAME": user["username"], "ANSWER": "PASSWORD", "PASSWORD": PASSWORD}))
    assert_signed_in_as(result, user)


def test_user_auth_select_challenge_email_otp(auth_idp, auth_idp_public, env, smtp_sink):
    e = env["choice"]
    user = contact_user(auth_idp, e["pool"], phone=False)
    addr = user["attrs"]["email"]
    session, _ = expect_challenge(user_auth(auth_idp_public, e["client"], user["username"]), "SELECT_CHALLENGE")
    mark = smtp_sink.mark()
    session, params = expect_challenge(respond(auth_idp_public, e["client"], "SELECT_CHALLENGE", session,
                                               {"USERNAME": user["username"], "ANSWER": "EMAIL_OTP"}), "EMAIL_OTP")
    code = extract_code(smtp_sink.wait_for(addr, since=mark).text)
    result = expect_tokens(respond(auth_idp_public, e["client"], "EMAIL_OTP", session,
                                   {"USERNAME": user["username"], "EMAIL_OTP_CODE": code}))
    assert_signed_in_as(result, user)


def test_user_auth_email_otp_first_factor(auth_idp, auth_idp_public, env, smtp_sink):
    e = env["choice"]
    user = contact_user(auth_idp, e["pool"], phone=False)
    addr = user["attrs"]["email"]
    mark = smtp_sink.mark()
    session, params = expect_challenge(user_auth(auth_idp_public, e["client"], user["username"],
                                                 PREFERRED_CHALLENGE="EMAIL_OTP"), "EMAIL_OTP")
    assert params.get("CODE_DELIVERY_DELIVERY_MEDIUM") == "EMAIL", params
    assert_masked_email(params.get("CODE_DELIVERY_DESTINATION"), addr)
    code = extract_code(smtp_sink.wait_for(addr, since=mark).text)
    expect_error("CodeMismatchException", respond, auth_idp_public, e["client"], "EMAIL_OTP", session,
                 {"USERNAME": user["username"], "EMAIL_OTP_CODE": other_code(code)})
    result = expect_tokens(respond(auth_idp_public, e["client"], "EMAIL_OTP", session,
                                   {"USERNAME": user["username"], "EMAIL_OTP_CODE": code}))
    assert_signed_in_as(result, user)


def test_user_auth_sms_otp_first_factor(auth_idp, auth_idp_public, env, sms_sink):
    e = env["choice"]
    user = contact_user(auth_idp, e["pool"], email=False)
    phone = user["attrs"]["phone_number"]
    mark = sms_sink.mark()
    session, params = expect_challenge(user_auth(auth_idp_public, e["client"], user["username"],
                                                 PREFERRED_CHALLENGE="SMS_OTP"), "SMS_OTP")
    assert params.get("CODE_DELIVERY_DELIVERY_MEDIUM") == "SMS", params
    assert_masked_phone(params.get("CODE_DELIVERY_DESTINATION"), phone)
    sms = sms_sink.wait_for(phone, since=mark)
    assert sms.signature_ok, sms.summary()
    result = expect_tokens(respond(auth_idp_public, e["client"], "SMS_OTP", session,
                                   {"USERNAME": user["username"], "SMS_OTP_CODE": extract_code(sms.message)}))
    assert_signed_in_as(result, user)


def test_user_auth_email_otp_needs_allowed_first_factor(auth_idp, auth_idp_public, env, smtp_sink):
    e = env["password_only"]
    user = contact_user(auth_idp, e["pool"], phone=False)
    mark = smtp_sink.mark()
    try:
        resp = user_auth(auth_idp_public, e["client"], user["username"], PREFERRED_CHALLENGE="EMAIL_OTP")
    except ClientError:
        resp = None
    if resp is not None:
        assert resp.get("ChallengeName") != "EMAIL_OTP" and "AuthenticationResult" not in resp, resp
        assert "EMAIL_OTP" not in (resp.get("AvailableChallenges") or []), resp
    smtp_sink.assert_nothing_for(user["attrs"]["email"], since=mark, wait=0.3)


def test_user_auth_flow_not_enabled(auth_idp, auth_idp_public, env):
    e = env["choice"]
    user = contact_user(auth_idp, e["pool"])
    expect_error("InvalidParameterException", user_auth, auth_idp_public, e["no_user_auth"], user["username"],
                 PREFERRED_CHALLENGE="PASSWORD")


# ------------------------------------- TOTP answers (after the first step) --

def test_totp_sign_in_wrong_code_then_replay_refused(auth_idp, auth_idp_public, env, totp_user):
    e, user, totp = env["optional"], totp_user, totp_user["totp"]
    answer = lambda session, code: respond(auth_idp_public, e["client"], "SOFTWARE_TOKEN_MFA", session,  # noqa
                                           {"USERNAME": user["username"], "SOFTWARE_TOKEN_MFA_CODE": code})
    code = totp.fresh(margin=4)
    session, _ = expect_challenge(start(auth_idp_public, e["client"], user), "SOFTWARE_TOKEN_MFA")
    expect_error("CodeMismatchException", answer, session, other_code(code))
    result = expect_tokens(answer(session, code))
    assert_signed_in_as(result, user)

    # the same code again, in a second sign-in within the same 30 s step
    session, _ = expect_challenge(start(auth_idp_public, e["client"], user), "SOFTWARE_TOKEN_MFA")
    expect_error("CodeMismatchException", answer, session, code)


def test_select_mfa_type_software_token(auth_idp_public, env, select_user):
    e, user = env["optional"], select_user
    code = user["totp"].fresh(margin=4)
    session, _ = select(auth_idp_public, e["client"], user, "SOFTWARE_TOKEN_MFA")
    result = expect_tokens(respond(auth_idp_public, e["client"], "SOFTWARE_TOKEN_MFA", session,
                                   {"USERNAME": user["username"], "SOFTWARE_TOKEN_MFA_CODE": code}))
    assert_signed_in_as(result, user)
