"""Sign-up and confirmation (spec user-pools-operations.md §2.1) through boto3.

Verification codes travel the real way: email over SMTP to an in-process
aiosmtpd sink, SMS through the signed webhook to an in-process HTTP sink,
or, on a server with neither configured, into `<data_dir>/outbox/`.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import secrets
import time
import uuid

import jwt
import pytest
from botocore.exceptions import ClientError

from harness import (EMAIL_FROM, PASSWORD, assert_client_error, attrs_dict, attrs_list, new_app_client, new_pool,
                     password_auth, secret_hash, unique, wait_outbox)
from smtp_sink import extract_code

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DEFAULT_BODY_RE = re.compile(r"Your verification code is (\d{6})\.")
POLICY_PREFIX = "Password did not conform with policy"


def new_email(first: str = "j") -> str:
    """A unique address whose masked form is `<first>***@e***`."""
    return f"{first}{uuid.uuid4().hex[:12]}@example.test"


def new_phone() -> str:
    return "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))


def masked_email(addr: str) -> str:
    local, domain = addr.split("@")
    return f"{local[0]}***@{domain[0]}***"


def sign_up(idp, client: dict, username: str, password: str = PASSWORD, attrs: dict | None = None, **kwargs):
    req = dict(ClientId=client["ClientId"], Username=username, Password=password,
               UserAttributes=attrs_list(attrs or {}))
    if client.get("ClientSecret") and "SecretHash" not in kwargs:
        req["SecretHash"] = secret_hash(username, client["ClientId"], client["ClientSecret"])
    req.update(kwargs)
    return idp.sign_up(**req)


def confirm(idp, client: dict, username: str, code: str, **kwargs):
    req = dict(ClientId=client["ClientId"], Username=username, ConfirmationCode=code)
    if client.get("ClientSecret") and "SecretHash" not in kwargs:
        req["SecretHash"] = secret_hash(username, client["ClientId"], client["ClientSecret"])
    req.update(kwargs)
    return idp.confirm_sign_up(**req)


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def email_code(smtp_sink, addr: str, since: int) -> str:
    mail = smtp_sink.wait_for(addr, since=since)
    return extract_code(mail.text)


def signed_in_attributes(idp, client: dict, username: str, password: str = PASSWORD) -> tuple[dict, dict]:
    """Sign in with USER_PASSWORD_AUTH; return (GetUser response, UserAttributes as a dict)."""
    tokens = password_auth(idp, client, username, password)["AuthenticationResult"]
    user = idp.get_user(AccessToken=tokens["AccessToken"])
    return user, attrs_dict(user["UserAttributes"])


# ---------------------------------------------------------------- pools ----

@pytest.fixture(scope="module")
def email_pool(auth_idp):
    """Email auto-verified, default message and password policy, LEGACY client."""
    pid = new_pool(auth_idp, AutoVerifiedAttributes=["email"])
    return {"id": pid, "client": new_app_client(auth_idp, pid)}


@pytest.fixture(scope="module")
def phone_pool(auth_idp):
    pid = new_pool(auth_idp, AutoVerifiedAttributes=["phone_number"])
    return {"id": pid, "client": new_app_client(auth_idp, pid)}


@pytest.fixture
def email_user(auth_idp, email_pool, smtp_sink):
    """A fresh UNCONFIRMED user of `email_pool` and the code mailed to it."""
    addr = new_email()
    username = unique("user")
    mark = smtp_sink.mark()
    resp = sign_up(auth_idp, email_pool["client"], username, attrs={"email": addr})
    return {"username": username, "email": addr, "sub": resp["UserSub"], "response": resp,
            "code": email_code(smtp_sink, addr, mark)}


# ------------------------------------------------------ email over SMTP ----

def test_sign_up_response_and_email_delivery(auth_idp, email_pool, smtp_sink):
    addr = new_email("j")
    username = unique("user")
    mark = smtp_sink.mark()
    resp = sign_up(auth_idp, email_pool["client"], username, attrs={"email": addr})
    assert resp["UserConfirmed"] is False
    assert UUID_RE.match(resp["UserSub"]), f"UserSub is not a lowercase UUID: {resp['UserSub']!r}"
    assert resp["CodeDeliveryDetails"] == {"Destination": "j***@e***", "DeliveryMedium": "EMAIL",
                                           "AttributeName": "email"}, resp["CodeDeliveryDetails"]

    mail = smtp_sink.wait_for(addr, since=mark)
    assert mail.mail_from == EMAIL_FROM, f"envelope sender {mail.mail_from!r} != CIRRUS_EMAIL_FROM"
    assert EMAIL_FROM in mail.from_header, f"From: {mail.from_header!r}"
    assert addr in mail.to_header, f"To: {mail.to_header!r}"
    assert mail.recipients() == {addr.lower()}, mail.rcpt_tos
    m = DEFAULT_BODY_RE.search(mail.text)
    assert m, f"default body 'Your verification code is {{####}}.' not found: {mail.text!r}"
    assert extract_code(mail.text) == m.group(1)
    assert "{####}" not in mail.text and "{####}" not in mail.subject


def test_unconfirmed_user_cannot_sign_in(auth_idp, email_pool, email_user):
    with pytest.raises(ClientError) as ei:
        password_auth(auth_idp, email_pool["client"], email_user["username"], PASSWORD)
    assert_client_error(ei, "UserNotConfirmedException")


def test_confirm_sign_up_marks_email_verified(auth_idp, email_pool, email_user):
    client = email_pool["client"]
    confirm(auth_idp, client, email_user["username"], email_user["code"])
    user, attrs = signed_in_attributes(auth_idp, client, email_user["username"])
    assert user["Username"] == email_user["username"]
    assert attrs["sub"] == email_user["sub"]
    assert attrs["email"] == email_user["email"]
    assert attrs.get("email_verified") == "true", attrs


def test_confirm_twice_is_not_authorized(auth_idp, email_pool, email_user):
    client = email_pool["client"]
    confirm(auth_idp, client, email_user["username"], email_user["code"])
    with pytest.raises(ClientError) as ei:
        confirm(auth_idp, client, email_user["username"], email_user["code"])
    assert_client_error(ei, "NotAuthorizedException")


def test_wrong_code_then_right_code(auth_idp, email_pool, email_user):
    client = email_pool["client"]
    with pytest.raises(ClientError) as ei:
        confirm(auth_idp, client, email_user["username"], other_code(email_user["code"]))
    assert_client_error(ei, "CodeMismatchException")
    confirm(auth_idp, client, email_user["username"], email_user["code"])
    signed_in_attributes(auth_idp, client, email_user["username"])


def test_five_wrong_codes_then_limit_exceeded(auth_idp, email_pool, email_user):
    client, name, code = email_pool["client"], email_user["username"], email_user["code"]
    for attempt in range(1, 6):
        with pytest.raises(ClientError) as ei:
            confirm(auth_idp, client, name, other_code(code))
        assert_client_error(ei, "CodeMismatchException")
    with pytest.raises(ClientError) as ei:
        confirm(auth_idp, client, name, other_code(code))
    assert_client_error(ei, "LimitExceededException")
    # the attempt limit holds for the right code too
    with pytest.raises(ClientError) as ei:
        confirm(auth_idp, client, name, code)
    assert_client_error(ei, "LimitExceededException")


def test_resend_confirmation_code_replaces_the_old_one(auth_idp, email_pool, email_user, smtp_sink):
    client, name = email_pool["client"], email_user["username"]
    mark = smtp_sink.mark()
    resp = auth_idp.resend_confirmation_code(ClientId=client["ClientId"], Username=name)
    assert resp["CodeDeliveryDetails"] == {"Destination": masked_email(email_user["email"]),
                                           "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    new_code = email_code(smtp_sink, email_user["email"], mark)
    assert new_code != email_user["code"], "resend produced the same code"
    with pytest.raises(ClientError) as ei:
        confirm(auth_idp, client, name, email_user["code"])
    assert_client_error(ei, "CodeMismatchException")
    confirm(auth_idp, client, name, new_code)
    _, attrs = signed_in_attributes(auth_idp, client, name)
    assert attrs.get("email_verified") == "true"


def test_verification_message_template(auth_idp, smtp_sink):
    pid = new_pool(auth_idp, AutoVerifiedAttributes=["email"], VerificationMessageTemplate={
        "DefaultEmailOption": "CONFIRM_WITH_CODE",
        "EmailSubject": "Compat template subject",
        "EmailMessage": "Hello from the compat suite, your code: {####} (template)",
    })
    client = new_app_client(auth_idp, pid)
    addr, name = new_email(), unique("user")
    mark = smtp_sink.mark()
    sign_up(auth_idp, client, name, attrs={"email": addr})
    mail = smtp_sink.wait_for(addr, since=mark)
    assert mail.subject == "Compat template subject"
    code = extract_code(mail.text)
    assert f"Hello from the compat suite, your code: {code} (template)" in mail.text, mail.text
    confirm(auth_idp, client, name, code)


def test_legacy_email_verification_message(auth_idp, smtp_sink):
    pid = new_pool(auth_idp, AutoVerifiedAttributes=["email"],
                   EmailVerificationSubject="Compat legacy subject",
                   EmailVerificationMessage="Legacy compat code is {####}!")
    client = new_app_client(auth_idp, pid)
    addr, name = new_email(), unique("user")
    mark = smtp_sink.mark()
    sign_up(auth_idp, client, name, attrs={"email": addr})
    mail = smtp_sink.wait_for(addr, since=mark)
    assert mail.subject == "Compat legacy subject"
    code = extract_code(mail.text)
    assert f"Legacy compat code is {code}!" in mail.text, mail.text


def test_no_auto_verified_attributes_sends_nothing(auth_idp, smtp_sink):
    pid = new_pool(auth_idp)
    client = new_app_client(auth_idp, pid)
    addr = new_email()
    mark = smtp_sink.mark()
    resp = sign_up(auth_idp, client, unique("user"), attrs={"email": addr})
    assert resp["UserConfirmed"] is False
    assert "CodeDeliveryDetails" not in resp, resp
    smtp_sink.assert_nothing_for(addr, since=mark)


def test_email_preferred_over_phone(auth_idp, smtp_sink, sms_sink):
    pid = new_pool(auth_idp, AutoVerifiedAttributes=["email", "phone_number"])
    client = new_app_client(auth_idp, pid)
    addr, phone, name = new_email(), new_phone(), unique("user")
    mail_mark, sms_mark = smtp_sink.mark(), sms_sink.mark()
    resp = sign_up(auth_idp, client, name, attrs={"email": addr, "phone_number": phone})
    assert resp["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    assert resp["CodeDeliveryDetails"]["AttributeName"] == "email"
    code = email_code(smtp_sink, addr, mail_mark)
    time.sleep(0.3)
    assert not sms_sink.find(phone, since=sms_mark), "an SMS was sent although email is preferred"
    confirm(auth_idp, client, name, code)
    _, attrs = signed_in_attributes(auth_idp, client, name)
    assert attrs.get("email_verified") == "true"


# ------------------------------------------------------ SMS via webhook ----

def test_sign_up_sms_code_over_webhook(auth_idp, phone_pool, sms_sink):
    client = phone_pool["client"]
    phone, name = new_phone(), unique("user")
    mark = sms_sink.mark()
    resp = sign_up(auth_idp, client, name, attrs={"phone_number": phone})
    assert resp["UserConfirmed"] is False
    cdd = resp["CodeDeliveryDetails"]
    assert cdd["DeliveryMedium"] == "SMS" and cdd["AttributeName"] == "phone_number", cdd
    assert re.fullmatch(r"\+\*+" + re.escape(phone[-4:]), cdd["Destination"]), \
        f"Destination {cdd['Destination']!r} is not masked like +*******1234"

    sms = sms_sink.wait_for(phone, since=mark)
    assert sms.signature_ok, f"webhook signature check failed: {sms.problem}"
    assert sms.payload["kind"] == "sms"
    assert sms.payload["to"] == phone
    assert sms.payload["pool_id"] == phone_pool["id"]
    assert isinstance(sms.payload.get("purpose"), str) and sms.payload["purpose"], sms.payload
    code = extract_code(sms.message)

    with pytest.raises(ClientError) as ei:
        confirm(auth_idp, client, name, other_code(code))
    assert_client_error(ei, "CodeMismatchException")
    confirm(auth_idp, client, name, code)
    _, attrs = signed_in_attributes(auth_idp, client, name)
    assert attrs["phone_number"] == phone
    assert attrs.get("phone_number_verified") == "true", attrs


def test_resend_sms_code(auth_idp, phone_pool, sms_sink):
    client = phone_pool["client"]
    phone, name = new_phone(), unique("user")
    mark = sms_sink.mark()
    sign_up(auth_idp, client, name, attrs={"phone_number": phone})
    first = extract_code(sms_sink.wait_for(phone, since=mark).message)
    mark = sms_sink.mark()
    resp = auth_idp.resend_confirmation_code(ClientId=client["ClientId"], Username=name)
    assert resp["CodeDeliveryDetails"]["DeliveryMedium"] == "SMS"
    second_sms = sms_sink.wait_for(phone, since=mark)
    assert second_sms.signature_ok, second_sms.problem
    second = extract_code(second_sms.message)
    assert second != first
    with pytest.raises(ClientError) as ei:
        confirm(auth_idp, client, name, first)
    assert_client_error(ei, "CodeMismatchException")
    confirm(auth_idp, client, name, second)


def test_every_webhook_call_was_signed(sms_sink):
    """Runs after the SMS tests of this module: nothing unsigned ever arrived."""
    bad = [m.summary() for m in sms_sink.messages if not m.signature_ok]
    assert not bad, f"webhook calls that failed the HMAC check: {bad}"


# ----------------------------------------------- outbox (no SMTP / SMS) ----

def test_outbox_email_without_smtp(server, idp):
    pid = new_pool(idp, AutoVerifiedAttributes=["email"])
    client = new_app_client(idp, pid)
    addr, name = new_email(), unique("user")
    resp = sign_up(idp, client, name, attrs={"email": addr})
    assert resp["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    files = wait_outbox(server.data_dir, ".eml", addr)
    assert len(files) == 1, [f.name for f in files]
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert addr in str(msg["To"])
    assert "no-reply@localhost" in str(msg["From"]), f"default CIRRUS_EMAIL_FROM expected, got {msg['From']!r}"
    body = msg.get_body(preferencelist=("plain", "html")).get_content()
    m = DEFAULT_BODY_RE.search(body)
    assert m, body
    confirm(idp, client, name, m.group(1))


def test_outbox_sms_without_webhook(server, idp):
    pid = new_pool(idp, AutoVerifiedAttributes=["phone_number"])
    client = new_app_client(idp, pid)
    phone, name = new_phone(), unique("user")
    resp = sign_up(idp, client, name, attrs={"phone_number": phone})
    assert resp["CodeDeliveryDetails"]["DeliveryMedium"] == "SMS"
    files = wait_outbox(server.data_dir, ".sms.json", phone)
    assert len(files) == 1, [f.name for f in files]
    payload = json.loads(files[0].read_text())
    assert payload["to"] == phone
    assert payload.get("kind") == "sms"
    assert payload.get("pool_id") == pid
    confirm(idp, client, name, extract_code(payload["message"]))


# --------------------------------------------------------- validation ----

@pytest.mark.parametrize("password", [
    "Sh0rt!a",            # 7 characters
    "nouppercase-1!",
    "NOLOWERCASE-1!",
    "No-Numbers-Here!",
    "NoSymbols1234",
], ids=["short", "no-upper", "no-lower", "no-number", "no-symbol"])
def test_default_password_policy(auth_idp, email_pool, password):
    with pytest.raises(ClientError) as ei:
        sign_up(auth_idp, email_pool["client"], unique("user"), password=password,
                attrs={"email": new_email()})
    err = assert_client_error(ei, "InvalidPasswordException")
    assert err.response["Error"]["Message"].startswith(POLICY_PREFIX), err.response["Error"]["Message"]


def test_custom_password_policy(auth_idp):
    pid = new_pool(auth_idp, Policies={"PasswordPolicy": {
        "MinimumLength": 12, "RequireUppercase": False, "RequireLowercase": True,
        "RequireNumbers": True, "RequireSymbols": False}})
    client = new_app_client(auth_idp, pid)
    with pytest.raises(ClientError) as ei:
        sign_up(auth_idp, client, unique("user"), password="abcdefgh12")   # 10 < 12
    assert_client_error(ei, "InvalidPasswordException")
    resp = sign_up(auth_idp, client, unique("user"), password="abcdefghij12")  # no upper, no symbol: allowed
    assert resp["UserConfirmed"] is False


def test_username_exists(auth_idp, email_pool):
    name = unique("dup")
    sign_up(auth_idp, email_pool["client"], name, attrs={"email": new_email()})
    with pytest.raises(ClientError) as ei:
        sign_up(auth_idp, email_pool["client"], name, attrs={"email": new_email()})
    assert_client_error(ei, "UsernameExistsException")


def test_usernames_case_insensitive(auth_idp):
    pid = new_pool(auth_idp, UsernameConfiguration={"CaseSensitive": False})
    client = new_app_client(auth_idp, pid)
    base = uuid.uuid4().hex[:10]
    sign_up(auth_idp, client, f"Alice-{base}")
    with pytest.raises(ClientError) as ei:
        sign_up(auth_idp, client, f"aLICE-{base}")
    assert_client_error(ei, "UsernameExistsException")
    auth_idp.admin_confirm_sign_up(UserPoolId=pid, Username=f"alice-{base}")
    user, _ = signed_in_attributes(auth_idp, client, f"ALICE-{base}")
    assert user["Username"].lower() == f"alice-{base}"


def test_usernames_case_sensitive(auth_idp):
    pid = new_pool(auth_idp, UsernameConfiguration={"CaseSensitive": True})
    client = new_app_client(auth_idp, pid)
    base = uuid.uuid4().hex[:10]
    first = sign_up(auth_idp, client, f"Bob-{base}")["UserSub"]
    second = sign_up(auth_idp, client, f"bob-{base}")["UserSub"]
    assert first != second
    auth_idp.admin_confirm_sign_up(UserPoolId=pid, Username=f"Bob-{base}")
    with pytest.raises(ClientError) as ei:
        password_auth(auth_idp, client, f"BOB-{base}", PASSWORD)
    assert_client_error(ei, "UserNotFoundException")
    user, _ = signed_in_attributes(auth_idp, client, f"Bob-{base}")
    assert user["Username"] == f"Bob-{base}"


def test_email_as_username(auth_idp, smtp_sink):
    pid = new_pool(auth_idp, UsernameAttributes=["email"], AutoVerifiedAttributes=["email"])
    client = new_app_client(auth_idp, pid)
    addr = new_email()
    mark = smtp_sink.mark()
    resp = sign_up(auth_idp, client, addr, attrs={"email": addr})
    sub = resp["UserSub"]
    assert resp["CodeDeliveryDetails"]["Destination"] == masked_email(addr)
    code = email_code(smtp_sink, addr, mark)

    with pytest.raises(ClientError) as ei:
        sign_up(auth_idp, client, addr, attrs={"email": addr})
    assert_client_error(ei, "UsernameExistsException")

    confirm(auth_idp, client, addr, code)
    tokens = password_auth(auth_idp, client, addr, PASSWORD)["AuthenticationResult"]
    user = auth_idp.get_user(AccessToken=tokens["AccessToken"])
    assert user["Username"] == sub, "with email as username the internal username is the sub"
    assert attrs_dict(user["UserAttributes"])["email"] == addr
    claims = jwt.decode(tokens["IdToken"], options={"verify_signature": False})
    assert claims["cognito:username"] == sub
    assert claims["sub"] == sub

    with pytest.raises(ClientError) as ei:
        sign_up(auth_idp, client, addr, attrs={"email": addr})
    assert_client_error(ei, "UsernameExistsException")


def test_email_as_username_requires_an_email(auth_idp):
    pid = new_pool(auth_idp, UsernameAttributes=["email"])
    client = new_app_client(auth_idp, pid)
    with pytest.raises(ClientError) as ei:
        sign_up(auth_idp, client, unique("plainname"))
    assert_client_error(ei, "InvalidParameterException")


def test_email_alias_sign_in_and_alias_exists(auth_idp, smtp_sink):
    pid = new_pool(auth_idp, AliasAttributes=["email"], AutoVerifiedAttributes=["email"])
    client = new_app_client(auth_idp, pid)
    addr = new_email()
    first, second = unique("alias1"), unique("alias2")

    mark = smtp_sink.mark()
    sign_up(auth_idp, client, first, attrs={"email": addr})
    confirm(auth_idp, client, first, email_code(smtp_sink, addr, mark))
    user, attrs = signed_in_attributes(auth_idp, client, addr)
    assert user["Username"] == first, "signing in with the verified email alias must reach its owner"
    assert attrs["email_verified"] == "true"

    mark = smtp_sink.mark()
    sign_up(auth_idp, client, second, attrs={"email": addr})
    code = email_code(smtp_sink, addr, mark)
    with pytest.raises(ClientError) as ei:
        confirm(auth_idp, client, second, code)
    assert_client_error(ei, "AliasExistsException")
    user, _ = signed_in_attributes(auth_idp, client, addr)
    assert user["Username"] == first, "the alias moved although ConfirmSignUp failed"


@pytest.mark.parametrize("name,value", [
    ("email", "not-an-email"),
    ("email", "jane@"),
    ("phone_number", "555-1234"),
    ("phone_number", "15551234567"),
], ids=["email-no-at", "email-no-domain", "phone-local", "phone-no-plus"])
def test_bad_attribute_format(auth_idp, email_pool, name, value):
    attrs = {"email": new_email()}
    attrs[name] = value
    with pytest.raises(ClientError) as ei:
        sign_up(auth_idp, email_pool["client"], unique("user"), attrs=attrs)
    assert_client_error(ei, "InvalidParameterException")


def test_required_schema_attribute(auth_idp):
    pid = new_pool(auth_idp, Schema=[{"Name": "name", "AttributeDataType": "String",
                                      "Required": True, "Mutable": True}])
    client = new_app_client(auth_idp, pid)
    with pytest.raises(ClientError) as ei:
        sign_up(auth_idp, client, unique("user"), attrs={"email": new_email()})
    assert_client_error(ei, "InvalidParameterException")
    resp = sign_up(auth_idp, client, unique("user"), attrs={"email": new_email(), "name": "Compat Person"})
    assert resp["UserConfirmed"] is False


def test_unknown_client(auth_idp_raw):
    with pytest.raises(ClientError) as ei:
        auth_idp_raw.sign_up(ClientId="a" * 26, Username=unique("user"), Password=PASSWORD)
    assert_client_error(ei, "ResourceNotFoundException")


# --------------------------------------------------------- SECRET_HASH ----

def test_secret_hash_required_for_sign_up_and_confirmation(auth_idp, email_pool, smtp_sink):
    client = new_app_client(auth_idp, email_pool["id"], GenerateSecret=True)
    cid, secret = client["ClientId"], client["ClientSecret"]
    name, addr = unique("user"), new_email()
    for bad in (None, secret_hash(name + "x", cid, secret)):
        kwargs = {} if bad is None else {"SecretHash": bad}
        with pytest.raises(ClientError) as ei:
            auth_idp.sign_up(ClientId=cid, Username=name, Password=PASSWORD,
                             UserAttributes=attrs_list({"email": addr}), **kwargs)
        err = assert_client_error(ei, "NotAuthorizedException")
        assert "secret hash" in err.response["Error"]["Message"].lower(), err.response["Error"]

    good = secret_hash(name, cid, secret)
    mark = smtp_sink.mark()
    auth_idp.sign_up(ClientId=cid, Username=name, Password=PASSWORD, SecretHash=good,
                     UserAttributes=attrs_list({"email": addr}))
    email_code(smtp_sink, addr, mark)

    with pytest.raises(ClientError) as ei:
        auth_idp.resend_confirmation_code(ClientId=cid, Username=name)
    assert_client_error(ei, "NotAuthorizedException")
    mark = smtp_sink.mark()
    auth_idp.resend_confirmation_code(ClientId=cid, Username=name, SecretHash=good)
    code = email_code(smtp_sink, addr, mark)

    with pytest.raises(ClientError) as ei:
        auth_idp.confirm_sign_up(ClientId=cid, Username=name, ConfirmationCode=code)
    err = assert_client_error(ei, "NotAuthorizedException")
    assert "secret hash" in err.response["Error"]["Message"].lower(), err.response["Error"]
    auth_idp.confirm_sign_up(ClientId=cid, Username=name, ConfirmationCode=code, SecretHash=good)


# ------------------------------------------------ user existence errors ----

def test_unknown_user_legacy(auth_idp, email_pool):
    cid = email_pool["client"]["ClientId"]
    with pytest.raises(ClientError) as ei:
        auth_idp.confirm_sign_up(ClientId=cid, Username=unique("ghost"), ConfirmationCode="123456")
    assert_client_error(ei, "UserNotFoundException")
    with pytest.raises(ClientError) as ei:
        auth_idp.resend_confirmation_code(ClientId=cid, Username=unique("ghost"))
    assert_client_error(ei, "UserNotFoundException")


def test_unknown_user_prevent_existence_errors(auth_idp, email_pool):
    client = new_app_client(auth_idp, email_pool["id"], PreventUserExistenceErrors="ENABLED")
    cid = client["ClientId"]
    resp = auth_idp.resend_confirmation_code(ClientId=cid, Username=unique("ghost"))
    cdd = resp["CodeDeliveryDetails"]
    assert cdd.get("DeliveryMedium") in ("EMAIL", "SMS"), cdd
    assert cdd.get("AttributeName") in ("email", "phone_number"), cdd
    assert isinstance(cdd.get("Destination"), str) and "***" in cdd["Destination"], cdd
    with pytest.raises(ClientError) as ei:
        auth_idp.confirm_sign_up(ClientId=cid, Username=unique("ghost"), ConfirmationCode="123456")
    assert_client_error(ei, "CodeMismatchException")


# ------------------------------------------------------------- admin ----

def test_admin_confirm_sign_up(auth_idp, email_pool, email_user):
    client = email_pool["client"]
    auth_idp.admin_confirm_sign_up(UserPoolId=email_pool["id"], Username=email_user["username"])
    user, _ = signed_in_attributes(auth_idp, client, email_user["username"])
    assert user["Username"] == email_user["username"]
    with pytest.raises(ClientError) as ei:
        confirm(auth_idp, client, email_user["username"], email_user["code"])
    assert_client_error(ei, "NotAuthorizedException")


def test_admin_confirm_unknown_user(auth_idp, email_pool):
    with pytest.raises(ClientError) as ei:
        auth_idp.admin_confirm_sign_up(UserPoolId=email_pool["id"], Username=unique("ghost"))
    assert_client_error(ei, "UserNotFoundException")
