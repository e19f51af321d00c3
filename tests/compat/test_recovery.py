"""Password recovery (spec user-pools-operations.md §2.3): ForgotPassword over
the pool's AccountRecoverySetting (verified email / verified phone, by
priority), ConfirmForgotPassword (codes, attempt limit, policy, SECRET_HASH,
user-existence errors) and revocation of every earlier session."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from harness import (OTHER_PASSWORD, PASSWORD, POLICY_PREFIX, WEAK_PASSWORD, admin_user, assert_masked_phone,
                     error_message, expect_error, masked_email, new_app_client, new_email, new_phone, new_pool,
                     other_code, password_auth, refresh_tokens, secret_hash, sign_in, unique)
from smtp_sink import extract_code

TEMPLATE = {
    "DefaultEmailOption": "CONFIRM_WITH_CODE",
    "EmailSubject": "Compat recovery",
    "EmailMessage": "Recovery compat code {####} (template)",
    "SmsMessage": "Compat SMS recovery {####}",
}
EMAIL_FIRST = {"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"},
                                      {"Priority": 2, "Name": "verified_phone_number"}]}
PHONE_FIRST = {"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_phone_number"},
                                      {"Priority": 2, "Name": "verified_email"}]}


@pytest.fixture(scope="module")
def env(auth_idp):
    email_first = new_pool(auth_idp, AutoVerifiedAttributes=["email"], VerificationMessageTemplate=TEMPLATE,
                           AccountRecoverySetting=EMAIL_FIRST)
    phone_first = new_pool(auth_idp, AutoVerifiedAttributes=["email"], VerificationMessageTemplate=TEMPLATE,
                           AccountRecoverySetting=PHONE_FIRST)
    legacy = new_pool(auth_idp, AutoVerifiedAttributes=["email"],
                      EmailVerificationSubject="Compat legacy recovery",
                      EmailVerificationMessage="Legacy recovery code is {####}!")
    return {
        "email_first": {"pool": email_first, "client": new_app_client(auth_idp, email_first),
                        "second": new_app_client(auth_idp, email_first),
                        "enabled": new_app_client(auth_idp, email_first, PreventUserExistenceErrors="ENABLED"),
                        "secret": new_app_client(auth_idp, email_first, GenerateSecret=True)},
        "phone_first": {"pool": phone_first, "client": new_app_client(auth_idp, phone_first)},
        "legacy": {"pool": legacy, "client": new_app_client(auth_idp, legacy)},
    }


def forgot(pub, client, username):
    kwargs = {}
    if client.get("ClientSecret"):
        kwargs["SecretHash"] = secret_hash(username, client["ClientId"], client["ClientSecret"])
    return pub.forgot_password(ClientId=client["ClientId"], Username=username, **kwargs)


def confirm(pub, client, username, code, password=OTHER_PASSWORD):
    kwargs = {}
    if client.get("ClientSecret"):
        kwargs["SecretHash"] = secret_hash(username, client["ClientId"], client["ClientSecret"])
    return pub.confirm_forgot_password(ClientId=client["ClientId"], Username=username, ConfirmationCode=code,
                                       Password=password, **kwargs)


def email_user(idp, pool_id, verified=True, phone=None, phone_verified=False):
    attrs = {"email": new_email("r"), "email_verified": "true" if verified else "false"}
    if phone:
        attrs.update(phone_number=phone, phone_number_verified="true" if phone_verified else "false")
    return admin_user(idp, pool_id, attrs=attrs)


def status(idp, pool_id, username) -> str:
    return idp.admin_get_user(UserPoolId=pool_id, Username=username)["UserStatus"]


# --------------------------------------------------------------- email ----

def test_forgot_password_by_email(auth_idp, auth_idp_public, env, smtp_sink):
    pub, e = auth_idp_public, env["email_first"]
    client, pid = e["client"], e["pool"]
    u = email_user(auth_idp, pid)
    name, addr = u["username"], u["attrs"]["email"]

    mark = smtp_sink.mark()
    resp = forgot(pub, client, name)
    assert resp["CodeDeliveryDetails"] == {"Destination": masked_email(addr), "DeliveryMedium": "EMAIL",
                                           "AttributeName": "email"}, resp
    mail = smtp_sink.wait_for(addr, since=mark)
    assert mail.subject == TEMPLATE["EmailSubject"], mail.summary()
    code = extract_code(mail.text)
    assert f"Recovery compat code {code} (template)" in mail.text, mail.text

    # nothing changes until the code is used
    assert status(auth_idp, pid, name) == "CONFIRMED"
    sign_in(pub, client, name, PASSWORD)

    expect_error("CodeMismatchException", confirm, pub, client, name, other_code(code))
    err = expect_error("InvalidPasswordException", confirm, pub, client, name, code, WEAK_PASSWORD)
    assert error_message(err).startswith(POLICY_PREFIX), error_message(err)
    sign_in(pub, client, name, PASSWORD)

    confirm(pub, client, name, code, OTHER_PASSWORD)
    assert status(auth_idp, pid, name) == "CONFIRMED"
    sign_in(pub, client, name, OTHER_PASSWORD)
    expect_error("NotAuthorizedException", password_auth, pub, client, name, PASSWORD)


def test_code_is_single_use(auth_idp, auth_idp_public, env, smtp_sink):
    pub, e = auth_idp_public, env["email_first"]
    u = email_user(auth_idp, e["pool"])
    mark = smtp_sink.mark()
    forgot(pub, e["client"], u["username"])
    code = extract_code(smtp_sink.wait_for(u["attrs"]["email"], since=mark).text)
    confirm(pub, e["client"], u["username"], code, OTHER_PASSWORD)
    with pytest.raises(ClientError) as ei:
        confirm(pub, e["client"], u["username"], code, PASSWORD)
    code_name = ei.value.response["Error"]["Code"]
    assert code_name in ("CodeMismatchException", "ExpiredCodeException"), ei.value.response
    sign_in(pub, e["client"], u["username"], OTHER_PASSWORD)


def test_confirm_forgot_password_revokes_every_session(auth_idp, auth_idp_public, env, smtp_sink):
    pub, e = auth_idp_public, env["email_first"]
    client, second = e["client"], e["second"]
    u = email_user(auth_idp, e["pool"])
    name = u["username"]
    sessions = [(client, sign_in(pub, client, name)), (client, sign_in(pub, client, name)),
                (second, sign_in(pub, second, name))]
    for c, t in sessions:                           # all alive before
        refresh_tokens(pub, c, t["RefreshToken"])

    mark = smtp_sink.mark()
    forgot(pub, client, name)
    code = extract_code(smtp_sink.wait_for(u["attrs"]["email"], since=mark).text)
    confirm(pub, client, name, code, OTHER_PASSWORD)

    for c, t in sessions:
        expect_error("NotAuthorizedException", refresh_tokens, pub, c, t["RefreshToken"])
        expect_error("NotAuthorizedException", pub.get_user, AccessToken=t["AccessToken"])
    fresh = sign_in(pub, client, name, OTHER_PASSWORD)
    assert pub.get_user(AccessToken=fresh["AccessToken"])["Username"] == name
    refresh_tokens(pub, client, fresh["RefreshToken"])


def test_legacy_email_verification_message(auth_idp, auth_idp_public, env, smtp_sink):
    pub, e = auth_idp_public, env["legacy"]
    u = email_user(auth_idp, e["pool"])
    mark = smtp_sink.mark()
    resp = forgot(pub, e["client"], u["username"])
    assert resp["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    mail = smtp_sink.wait_for(u["attrs"]["email"], since=mark)
    assert mail.subject == "Compat legacy recovery", mail.summary()
    code = extract_code(mail.text)
    assert f"Legacy recovery code is {code}!" in mail.text, mail.text
    confirm(pub, e["client"], u["username"], code)
    sign_in(pub, e["client"], u["username"], OTHER_PASSWORD)


# ------------------------------------------------- recovery priorities ----

def test_phone_first_sends_sms(auth_idp, auth_idp_public, env, smtp_sink, sms_sink):
    pub, e = auth_idp_public, env["phone_first"]
    phone = new_phone()
    u = email_user(auth_idp, e["pool"], verified=True, phone=phone, phone_verified=True)
    sms_mark, mail_mark = sms_sink.mark(), smtp_sink.mark()
    resp = forgot(pub, e["client"], u["username"])
    cdd = resp["CodeDeliveryDetails"]
    assert cdd["DeliveryMedium"] == "SMS" and cdd["AttributeName"] == "phone_number", cdd
    assert_masked_phone(cdd["Destination"], phone)
    sms = sms_sink.wait_for(phone, since=sms_mark)
    assert sms.signature_ok, sms.problem
    assert sms.payload["pool_id"] == e["pool"]
    code = extract_code(sms.message)
    assert f"Compat SMS recovery {code}" in sms.message, sms.message
    smtp_sink.assert_nothing_for(u["attrs"]["email"], since=mail_mark, wait=0.3)
    confirm(pub, e["client"], u["username"], code)
    sign_in(pub, e["client"], u["username"], OTHER_PASSWORD)


def test_email_first_with_both_verified(auth_idp, auth_idp_public, env, smtp_sink, sms_sink):
    pub, e = auth_idp_public, env["email_first"]
    phone = new_phone()
    u = email_user(auth_idp, e["pool"], verified=True, phone=phone, phone_verified=True)
    sms_mark, mail_mark = sms_sink.mark(), smtp_sink.mark()
    resp = forgot(pub, e["client"], u["username"])
    assert resp["CodeDeliveryDetails"] == {"Destination": masked_email(u["attrs"]["email"]),
                                           "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    extract_code(smtp_sink.wait_for(u["attrs"]["email"], since=mail_mark).text)
    assert not sms_sink.find(phone, since=sms_mark), "an SMS was sent although verified_email comes first"


def test_unverified_first_channel_falls_back(auth_idp, auth_idp_public, env, smtp_sink, sms_sink):
    """email_first pool, unverified email, verified phone: the phone (priority 2) is used."""
    pub, e = auth_idp_public, env["email_first"]
    phone = new_phone()
    u = email_user(auth_idp, e["pool"], verified=False, phone=phone, phone_verified=True)
    sms_mark, mail_mark = sms_sink.mark(), smtp_sink.mark()
    resp = forgot(pub, e["client"], u["username"])
    assert resp["CodeDeliveryDetails"]["DeliveryMedium"] == "SMS", resp
    assert resp["CodeDeliveryDetails"]["AttributeName"] == "phone_number", resp
    code = extract_code(sms_sink.wait_for(phone, since=sms_mark).message)
    assert not smtp_sink.find(u["attrs"]["email"], since=mail_mark), "the unverified email got the code"
    confirm(pub, e["client"], u["username"], code)


@pytest.mark.parametrize("with_contacts", [True, False], ids=["unverified-contacts", "no-contacts"])
def test_no_verified_channel(auth_idp, auth_idp_public, env, smtp_sink, sms_sink, with_contacts):
    pub, e = auth_idp_public, env["email_first"]
    if with_contacts:
        u = email_user(auth_idp, e["pool"], verified=False, phone=new_phone(), phone_verified=False)
    else:
        u = admin_user(auth_idp, e["pool"])
    mail_mark, sms_mark = smtp_sink.mark(), sms_sink.mark()
    expect_error("InvalidParameterException", forgot, pub, e["client"], u["username"])
    time.sleep(0.3)
    assert smtp_sink.messages[mail_mark:] == [] and sms_sink.messages[sms_mark:] == []
    sign_in(pub, e["client"], u["username"], PASSWORD)


# ------------------------------------------------------- attempt limit ----

def test_five_wrong_codes_then_limit_exceeded(auth_idp, auth_idp_public, env, smtp_sink):
    pub, e = auth_idp_public, env["email_first"]
    u = email_user(auth_idp, e["pool"])
    name = u["username"]
    mark = smtp_sink.mark()
    forgot(pub, e["client"], name)
    code = extract_code(smtp_sink.wait_for(u["attrs"]["email"], since=mark).text)
    for _ in range(5):
        expect_error("CodeMismatchException", confirm, pub, e["client"], name, other_code(code))
    expect_error("LimitExceededException", confirm, pub, e["client"], name, other_code(code))
    expect_error("LimitExceededException", confirm, pub, e["client"], name, code)
    sign_in(pub, e["client"], name, PASSWORD)      # the password did not change


def test_concurrent_wrong_codes_cannot_exceed_the_limit(auth_idp, auth_server, env, smtp_sink):
    """Twenty wrong guesses sent at once (three rounds, a fresh code each):
    still only five are judged (CodeMismatchException), the rest are refused
    with LimitExceededException, and the right code is refused afterwards."""
    e = env["email_first"]
    u = email_user(auth_idp, e["pool"])
    name = u["username"]
    pubs = [auth_server.client("cognito-idp", unsigned=True) for _ in range(20)]
    barrier = threading.Barrier(len(pubs))
    rounds = []
    for _ in range(3):
        mark = smtp_sink.mark()
        forgot(pubs[0], e["client"], name)
        code = extract_code(smtp_sink.wait_for(u["attrs"]["email"], since=mark).text)

        def guess(pub):
            barrier.wait(timeout=10)
            try:
                confirm(pub, e["client"], name, other_code(code))
                return "accepted"
            except ClientError as err:
                return err.response["Error"]["Code"]

        with ThreadPoolExecutor(max_workers=len(pubs)) as ex:
            rounds.append(dict(Counter(ex.map(guess, pubs))))
        expect_error("LimitExceededException", confirm, pubs[0], e["client"], name, code)
    for outcomes in rounds:
        assert set(outcomes) <= {"CodeMismatchException", "LimitExceededException"}, rounds
    judged = [r.get("CodeMismatchException", 0) for r in rounds]
    assert max(judged) <= 5, f"more than 5 wrong codes were checked in a round: {rounds}"
    sign_in(pubs[0], e["client"], name, PASSWORD)


# -------------------------------------------------------- SECRET_HASH ----

def test_secret_hash_required(auth_idp, auth_idp_public, env, smtp_sink):
    pub, e = auth_idp_public, env["email_first"]
    client = e["secret"]
    cid = client["ClientId"]
    u = email_user(auth_idp, e["pool"])
    name = u["username"]
    for bad in ({}, {"SecretHash": secret_hash(name + "x", cid, client["ClientSecret"])}):
        err = expect_error("NotAuthorizedException", pub.forgot_password, ClientId=cid, Username=name, **bad)
        assert "secret hash" in error_message(err).lower(), error_message(err)
    mark = smtp_sink.mark()
    forgot(pub, client, name)
    code = extract_code(smtp_sink.wait_for(u["attrs"]["email"], since=mark).text)
    err = expect_error("NotAuthorizedException", pub.confirm_forgot_password, ClientId=cid, Username=name,
                       ConfirmationCode=code, Password=OTHER_PASSWORD)
    assert "secret hash" in error_message(err).lower(), error_message(err)
    confirm(pub, client, name, code, OTHER_PASSWORD)
    sign_in(pub, client, name, OTHER_PASSWORD)


# ------------------------------------------------ user existence errors ----

def test_unknown_user_legacy(auth_idp_public, env):
    pub, client = auth_idp_public, env["email_first"]["client"]
    expect_error("UserNotFoundException", forgot, pub, client, unique("ghost"))
    expect_error("UserNotFoundException", confirm, pub, client, unique("ghost"), "123456")


def test_unknown_user_prevent_existence_errors(auth_idp_public, env):
    pub, client = auth_idp_public, env["email_first"]["enabled"]
    cdd = forgot(pub, client, unique("ghost"))["CodeDeliveryDetails"]
    assert cdd.get("DeliveryMedium") in ("EMAIL", "SMS"), cdd
    assert cdd.get("AttributeName") in ("email", "phone_number"), cdd
    assert isinstance(cdd.get("Destination"), str) and "***" in cdd["Destination"], cdd
    expect_error("CodeMismatchException", confirm, pub, client, unique("ghost"), "123456")


# ------------------------------------------------------ RESET_REQUIRED ----

def test_reset_required_user_recovers_with_forgot_password(auth_idp, auth_idp_public, env, smtp_sink):
    pub, e = auth_idp_public, env["email_first"]
    u = email_user(auth_idp, e["pool"])
    name, addr = u["username"], u["attrs"]["email"]
    mark = smtp_sink.mark()
    auth_idp.admin_reset_user_password(UserPoolId=e["pool"], Username=name)
    admin_mail = smtp_sink.wait_for(addr, since=mark)
    assert admin_mail.subject == TEMPLATE["EmailSubject"], admin_mail.summary()
    assert status(auth_idp, e["pool"], name) == "RESET_REQUIRED"
    expect_error("PasswordResetRequiredException", password_auth, pub, e["client"], name, PASSWORD)

    mark = smtp_sink.mark()
    forgot(pub, e["client"], name)
    code = extract_code(smtp_sink.wait_for(addr, since=mark).text)
    confirm(pub, e["client"], name, code, OTHER_PASSWORD)
    assert status(auth_idp, e["pool"], name) == "CONFIRMED"
    sign_in(pub, e["client"], name, OTHER_PASSWORD)
