"""Hook-driven sign-in through boto3: CUSTOM_AUTH (DefineAuthChallenge,
CreateAuthChallenge, VerifyAuthChallengeResponse), UserMigration, and the
custom email / SMS senders (codes encrypted for the hook).

A pool's LambdaConfig names loopback URLs of a threaded http.server run by
this module; it checks the X-Cirrus-Signature of every call (with the pool's
secret from `cirrus hook-secret`), logs the events and answers them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from harness import (OTHER_PASSWORD, PASSWORD, admin_user, assert_client_error, attrs_dict, attrs_list,
                     expect_challenge, expect_tokens, fetch_jwks, issuer_for, jwt_claims, new_app_client,
                     new_email, new_phone, new_pool, password_auth, server_binary, unique, verify_jwt)
from smtp_sink import extract_code

CUSTOM_FLOWS = ["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
ROUNDS = 3
SECRET_MARK = "private-" + secrets.token_hex(8)   # in privateChallengeParameters only
LEGACY: dict = {}   # the "old system" UserMigration looks users up in: name -> {password, attributes}


class HookServer:
    """Loopback webhook receiver: verifies signatures, logs events, answers per path."""

    def __init__(self, secret_for):
        self.secret_for = secret_for          # pool id -> hook secret
        self.calls: list[dict] = []           # {path, event, ok, problem}
        self.lock = threading.Lock()
        self.routes = {"/define": define, "/create": create, "/verify": verify,
                       "/migrate": migrate, "/email-sender": ack, "/sms-sender": ack,
                       "/define-srp": define_srp_first}

    def start(self) -> "HookServer":
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, body = hooks.handle(self.path, self.headers, raw)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def handle(self, path, headers, raw):
        try:
            event = json.loads(raw)
        except ValueError:
            event = None
        ok, problem = self.verify(headers, raw, event)
        with self.lock:
            self.calls.append({"path": path, "event": event, "ok": ok, "problem": problem})
        if not ok:
            return 401, {"errorMessage": f"bad signature: {problem}"}
        if path not in self.routes:
            return 404, {"errorMessage": f"no route {path}"}
        answer = self.routes[path](event)
        if isinstance(answer, tuple):
            return answer
        return 200, dict(event, response=answer)

    def verify(self, headers, raw, event):
        ts, sig = headers.get("X-Cirrus-Timestamp"), headers.get("X-Cirrus-Signature") or ""
        if not isinstance(event, dict) or not ts or not sig.startswith("sha256="):
            return False, f"missing headers or body (ts={ts!r} sig={sig!r})"
        if abs(time.time() - int(ts)) > 300:
            return False, f"timestamp {ts} too far from now"
        secret = self.secret_for(event.get("userPoolId"))
        want = hmac.new(secret.encode(), f"{ts}.".encode() + raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig[len("sha256="):]):
            return False, "signature mismatch"
        return True, ""

    def events(self, pool_id: str, source: str | None = None, user: str | None = None) -> list[dict]:
        """Events (all correctly signed) for `pool_id`, optionally of one triggerSource / userName."""
        with self.lock:
            calls = [c for c in self.calls if (c["event"] or {}).get("userPoolId") == pool_id]
        bad = [c for c in calls if not c["ok"]]
        assert not bad, f"hook calls with bad signatures: {bad!r}"
        return [c["event"] for c in calls
                if (source is None or c["event"]["triggerSource"] == source)
                and (user is None or c["event"]["userName"] == user)]


# ------------------------------------------------------------ hook logic ----

def define(event):
    history = event["request"]["session"]
    if any(not h["challengeResult"] for h in history):
        return {"issueTokens": False, "failAuthentication": True}
    if len(history) >= ROUNDS:
        return {"issueTokens": True, "failAuthentication": False}
    return {"challengeName": "CUSTOM_CHALLENGE", "issueTokens": False, "failAuthentication": False}


def define_srp_first(event):
    """The SRP_A-first variant: password first, then one question."""
    history = event["request"]["session"]
    if any(not h["challengeResult"] for h in history):
        return {"issueTokens": False, "failAuthentication": True}
    if not history:
        return {"challengeName": "SRP_A", "issueTokens": False, "failAuthentication": False}
    if history[-1]["challengeName"] == "PASSWORD_VERIFIER":
        return {"challengeName": "CUSTOM_CHALLENGE", "issueTokens": False, "failAuthentication": False}
    return {"issueTokens": True, "failAuthentication": False}


def question(n: int) -> tuple[str, str]:
    """Round n (1-based): round 1 asks 2+3?, answer 5."""
    return f"{n + 1}+{n + 2}?", str(2 * n + 3)


def create(event):
    n = len(event["request"]["session"]) + 1
    q, a = question(n)
    return {"publicChallengeParameters": {"question": q},
            "privateChallengeParameters": {"answer": a, "mark": SECRET_MARK},
            "challengeMetadata": f"Q{n}"}


def verify(event):
    req = event["request"]
    return {"answerCorrect": req["challengeAnswer"] == req["privateChallengeParameters"]["answer"]}


def migrate(event):
    known = LEGACY.get(event["userName"])
    password = event["request"].get("password")
    if known is None or (event["triggerSource"] == "UserMigration_Authentication" and password != known["password"]):
        return 400, {"errorMessage": "User not found in the legacy directory"}
    return {"userAttributes": dict(known["attributes"]), "finalUserStatus": "CONFIRMED",
            "messageAction": "SUPPRESS"}


def ack(event):
    return {}


# --------------------------------------------------------------- fixtures ----

@pytest.fixture(scope="module")
def hook_secret(auth_server):
    cache: dict = {}

    def secret_for(pool_id: str) -> str:
        if pool_id not in cache:
            out = subprocess.run([str(server_binary()), "hook-secret", "--pool-id", pool_id],
                                 env=auth_server._env(), cwd=str(auth_server.workdir),
                                 capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, f"cirrus hook-secret exited {out.returncode}: {out.stderr[-2000:]}"
            cache[pool_id] = out.stdout.strip()
        return cache[pool_id]
    return secret_for


@pytest.fixture(scope="module")
def hooks(hook_secret):
    server = HookServer(hook_secret).start()
    try:
        yield server
    finally:
        server.stop()


def hook_pool(idp, hooks, hook_secret, lambda_config: dict, **kwargs) -> str:
    pid = new_pool(idp, LambdaConfig=lambda_config, **kwargs)
    assert len(hook_secret(pid)) >= 32   # known before the first call
    return pid


@pytest.fixture(scope="module")
def custom(auth_idp, hooks, hook_secret):
    pid = hook_pool(auth_idp, hooks, hook_secret, {"DefineAuthChallenge": hooks.url("/define"),
                                                   "CreateAuthChallenge": hooks.url("/create"),
                                                   "VerifyAuthChallengeResponse": hooks.url("/verify")})
    return {"pool": pid, "client": new_app_client(auth_idp, pid, ExplicitAuthFlows=CUSTOM_FLOWS)}


def start_custom(idp, env, username):
    return idp.initiate_auth(ClientId=env["client"]["ClientId"], AuthFlow="CUSTOM_AUTH",
                             AuthParameters={"USERNAME": username})


def answer(idp, env, username, session, value):
    return idp.respond_to_auth_challenge(ClientId=env["client"]["ClientId"], ChallengeName="CUSTOM_CHALLENGE",
                                         Session=session, ChallengeResponses={"USERNAME": username,
                                                                             "ANSWER": value})


def expect_question(resp, username, n):
    session, params = expect_challenge(resp, "CUSTOM_CHALLENGE")
    assert params == {"question": question(n)[0], "USERNAME": username}, params
    assert SECRET_MARK not in json.dumps(resp, default=str), "private challenge parameters reached the client"
    return session


def history(*results):
    return [{"challengeName": "CUSTOM_CHALLENGE", "challengeResult": r, "challengeMetadata": f"Q{i + 1}"}
            for i, r in enumerate(results)]


def expect_error(code, fn, *args, **kwargs):
    with pytest.raises(ClientError) as ei:
        fn(*args, **kwargs)
    return assert_client_error(ei, code)


# ------------------------------------------------------------ CUSTOM_AUTH ----

def test_three_round_challenge_ends_in_tokens(auth_server, auth_idp, hooks, custom):
    user = admin_user(auth_idp, custom["pool"], attrs={"email": new_email()})
    name, pid, cid = user["username"], custom["pool"], custom["client"]["ClientId"]
    session = expect_question(start_custom(auth_idp, custom, name), name, 1)
    for n in range(1, ROUNDS + 1):
        resp = answer(auth_idp, custom, name, session, question(n)[1])
        if n < ROUNDS:
            session = expect_question(resp, name, n + 1)
    tokens = expect_tokens(resp)

    claims = verify_jwt(tokens["IdToken"], fetch_jwks(auth_server.endpoint, pid),
                        issuer_for(auth_server.endpoint, pid), audience=cid)
    assert claims["sub"] == user["sub"] and claims["cognito:username"] == name, claims
    assert claims["token_use"] == "id"
    assert jwt_claims(tokens["AccessToken"])["username"] == name
    assert auth_idp.get_user(AccessToken=tokens["AccessToken"])["Username"] == name

    defines = hooks.events(pid, "DefineAuthChallenge_Authentication", name)
    assert [d["request"]["session"] for d in defines] == [history(), history(True), history(True, True),
                                                          history(True, True, True)]
    creates = hooks.events(pid, "CreateAuthChallenge_Authentication", name)
    assert [c["request"]["session"] for c in creates] == [history(), history(True), history(True, True)]
    assert all(c["request"]["challengeName"] == "CUSTOM_CHALLENGE" for c in creates)
    verifies = hooks.events(pid, "VerifyAuthChallengeResponse_Authentication", name)
    assert [(v["request"]["challengeAnswer"], v["request"]["privateChallengeParameters"]) for v in verifies] == \
        [(question(n)[1], {"answer": question(n)[1], "mark": SECRET_MARK}) for n in range(1, ROUNDS + 1)]
    for event in defines + creates + verifies:
        assert event["userName"] == name and event["callerContext"]["clientId"] == cid, event
        assert event["region"] and event["version"] and event["response"] == {}, event
        assert event["request"]["userAttributes"]["sub"] == user["sub"], event["request"]


def test_wrong_answer_fails_authentication(auth_idp, hooks, custom):
    name = admin_user(auth_idp, custom["pool"])["username"]
    session = expect_question(start_custom(auth_idp, custom, name), name, 1)
    session = expect_question(answer(auth_idp, custom, name, session, question(1)[1]), name, 2)
    err = expect_error("NotAuthorizedException", answer, auth_idp, custom, name, session, "not-" + question(2)[1])
    assert err.response["Error"]["Message"] == "Incorrect username or password."
    defines = hooks.events(custom["pool"], "DefineAuthChallenge_Authentication", name)
    assert [d["request"]["session"] for d in defines] == [history(), history(True), history(True, False)]
    assert len(hooks.events(custom["pool"], "CreateAuthChallenge_Authentication", name)) == 2


def test_reused_session_refused(auth_idp, hooks, custom):
    name = admin_user(auth_idp, custom["pool"])["username"]
    first = expect_question(start_custom(auth_idp, custom, name), name, 1)
    second = expect_question(answer(auth_idp, custom, name, first, question(1)[1]), name, 2)
    expect_error("NotAuthorizedException", answer, auth_idp, custom, name, first, question(1)[1])
    # The refused replay neither reached Verify nor spoiled the live session.
    assert len(hooks.events(custom["pool"], "VerifyAuthChallengeResponse_Authentication", name)) == 1
    third = expect_question(answer(auth_idp, custom, name, second, question(2)[1]), name, 3)
    expect_tokens(answer(auth_idp, custom, name, third, question(3)[1]))
    expect_error("NotAuthorizedException", answer, auth_idp, custom, name, third, question(3)[1])


def test_pool_without_define_hook(auth_idp):
    pid = new_pool(auth_idp)
    client = new_app_client(auth_idp, pid, ExplicitAuthFlows=CUSTOM_FLOWS)
    name = admin_user(auth_idp, pid)["username"]
    expect_error("InvalidUserPoolConfigurationException", start_custom, auth_idp, {"client": client}, name)


def test_client_without_custom_auth(auth_idp, hooks, custom):
    client = new_app_client(auth_idp, custom["pool"])   # password and refresh flows only
    name = admin_user(auth_idp, custom["pool"])["username"]
    expect_error("InvalidParameterException", start_custom, auth_idp, {"client": client}, name)
    assert hooks.events(custom["pool"], user=name) == []


def test_srp_a_first_then_custom_challenge(auth_idp, hooks, hook_secret):
    """CUSTOM_AUTH with SRP_A: Define asks for the password (SRP_A → PASSWORD_VERIFIER), then a question."""
    from pycognito.aws_srp import AWSSRP
    pid = hook_pool(auth_idp, hooks, hook_secret, {"DefineAuthChallenge": hooks.url("/define-srp"),
                                                   "CreateAuthChallenge": hooks.url("/create"),
                                                   "VerifyAuthChallengeResponse": hooks.url("/verify")})
    client = new_app_client(auth_idp, pid, ExplicitAuthFlows=CUSTOM_FLOWS)
    cid = client["ClientId"]
    name = admin_user(auth_idp, pid)["username"]
    srp = AWSSRP(username=name, password=PASSWORD, pool_id=pid, client_id=cid, client=auth_idp)
    params = dict(srp.get_auth_params(), CHALLENGE_NAME="SRP_A")
    resp = auth_idp.initiate_auth(ClientId=cid, AuthFlow="CUSTOM_AUTH", AuthParameters=params)
    assert resp["ChallengeName"] == "PASSWORD_VERIFIER", resp
    proof = srp.process_challenge(resp["ChallengeParameters"], params)
    resp = auth_idp.respond_to_auth_challenge(ClientId=cid, ChallengeName="PASSWORD_VERIFIER",
                                              ChallengeResponses=proof, **({"Session": resp["Session"]}
                                                                           if resp.get("Session") else {}))
    # The create hook numbers questions by the history length: two SRP steps, so question 3.
    session = expect_question(resp, name, 3)
    expect_tokens(answer(auth_idp, {"client": client}, name, session, question(3)[1]))
    defines = hooks.events(pid, "DefineAuthChallenge_Authentication", name)
    srp_steps = [{"challengeName": "SRP_A", "challengeResult": True, "challengeMetadata": None},
                 {"challengeName": "PASSWORD_VERIFIER", "challengeResult": True, "challengeMetadata": None}]
    assert [d["request"]["session"] for d in defines] == [
        [], srp_steps, srp_steps + [{"challengeName": "CUSTOM_CHALLENGE", "challengeResult": True,
                                     "challengeMetadata": "Q3"}]], defines
    # A wrong password ends the sign-in at PASSWORD_VERIFIER.
    bad = AWSSRP(username=name, password=OTHER_PASSWORD, pool_id=pid, client_id=cid, client=auth_idp)
    bad_params = dict(bad.get_auth_params(), CHALLENGE_NAME="SRP_A")
    resp = auth_idp.initiate_auth(ClientId=cid, AuthFlow="CUSTOM_AUTH", AuthParameters=bad_params)
    expect_error("NotAuthorizedException", auth_idp.respond_to_auth_challenge, ClientId=cid,
                 ChallengeName="PASSWORD_VERIFIER",
                 ChallengeResponses=bad.process_challenge(resp["ChallengeParameters"], bad_params))


# ---------------------------------------------------------- UserMigration ----

@pytest.fixture(scope="module")
def migration(auth_idp, hooks, hook_secret):
    pid = hook_pool(auth_idp, hooks, hook_secret, {"UserMigration": hooks.url("/migrate")},
                    Schema=[{"Name": "legacy_id", "AttributeDataType": "String", "Mutable": True}])
    return {"pool": pid, "client": new_app_client(auth_idp, pid),
            "enabled": new_app_client(auth_idp, pid, PreventUserExistenceErrors="ENABLED")}


def legacy_user(password: str = PASSWORD) -> dict:
    name, email = unique("legacy"), new_email()
    LEGACY[name] = {"password": password, "attributes": {"email": email, "email_verified": "true",
                                                         "custom:legacy_id": name.upper()}}
    return {"username": name, "email": email, "password": password}


def test_migration_on_sign_in(auth_idp, hooks, migration):
    pid, client, u = migration["pool"], migration["client"], legacy_user()
    tokens = expect_tokens(password_auth(auth_idp, client, u["username"], u["password"]))
    assert auth_idp.get_user(AccessToken=tokens["AccessToken"])["Username"] == u["username"]
    (event,) = hooks.events(pid, "UserMigration_Authentication", u["username"])
    assert event["request"]["password"] == u["password"] and event["callerContext"]["clientId"] == client["ClientId"]

    got = auth_idp.admin_get_user(UserPoolId=pid, Username=u["username"])
    attrs = attrs_dict(got["UserAttributes"])
    assert got["UserStatus"] == "CONFIRMED" and got["Enabled"] is True
    assert (attrs["email"], attrs["email_verified"], attrs["custom:legacy_id"]) == \
        (u["email"], "true", u["username"].upper())
    assert jwt_claims(tokens["IdToken"])["sub"] == attrs["sub"]

    # From now on the password is Cirrus's own: no further hook calls.
    expect_tokens(password_auth(auth_idp, client, u["username"], u["password"]))
    expect_error("NotAuthorizedException", password_auth, auth_idp, client, u["username"], OTHER_PASSWORD)
    assert len(hooks.events(pid, user=u["username"])) == 1


@pytest.mark.parametrize("client_key,code", [("client", "UserNotFoundException"),
                                             ("enabled", "NotAuthorizedException")])
def test_migration_declined(auth_idp, hooks, migration, client_key, code):
    pid, client = migration["pool"], migration[client_key]
    ghost = unique("ghost")
    expect_error(code, password_auth, auth_idp, client, ghost, PASSWORD)
    (event,) = hooks.events(pid, "UserMigration_Authentication", ghost)
    assert event["request"]["password"] == PASSWORD
    # A known legacy user with the wrong password: declined as well, nothing created.
    u = legacy_user()
    expect_error(code, password_auth, auth_idp, client, u["username"], OTHER_PASSWORD)
    for name in (ghost, u["username"]):
        expect_error("UserNotFoundException", auth_idp.admin_get_user, UserPoolId=pid, Username=name)


def test_migration_on_forgot_password(auth_idp, hooks, migration, smtp_sink):
    pid, client, u = migration["pool"], migration["client"], legacy_user(password="Old-Legacy-Pw1!")
    mark = smtp_sink.mark()
    details = auth_idp.forgot_password(ClientId=client["ClientId"], Username=u["username"])["CodeDeliveryDetails"]
    assert details["DeliveryMedium"] == "EMAIL" and details["AttributeName"] == "email", details
    (event,) = hooks.events(pid, "UserMigration_ForgotPassword", u["username"])
    assert "password" not in event["request"], event["request"]

    got = auth_idp.admin_get_user(UserPoolId=pid, Username=u["username"])
    assert got["UserStatus"] == "RESET_REQUIRED"
    assert attrs_dict(got["UserAttributes"])["email"] == u["email"]
    expect_error("PasswordResetRequiredException", password_auth, auth_idp, client, u["username"], u["password"])

    code = extract_code(smtp_sink.wait_for(u["email"], since=mark).text)
    auth_idp.confirm_forgot_password(ClientId=client["ClientId"], Username=u["username"], ConfirmationCode=code,
                                     Password=OTHER_PASSWORD)
    expect_tokens(password_auth(auth_idp, client, u["username"], OTHER_PASSWORD))
    assert auth_idp.admin_get_user(UserPoolId=pid, Username=u["username"])["UserStatus"] == "CONFIRMED"
    assert len(hooks.events(pid, user=u["username"])) == 1


# ------------------------------------------------- custom email / SMS senders ----

def derived_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"cirrus/custom-sender", hashlib.sha256).digest()


def decrypt_code(key: bytes, blob: str) -> str:
    raw = base64.b64decode(blob, validate=True)
    return AESGCM(key).decrypt(raw[:12], raw[12:], None).decode()


def sender_pool(idp, hooks, hook_secret, trigger, path, kms_key, **kwargs) -> str:
    config = {trigger: {"LambdaVersion": "V1_0", "LambdaArn": hooks.url(path)}}
    if kms_key is not None:
        config["KMSKeyID"] = "base64:" + base64.b64encode(kms_key).decode()
    return hook_pool(idp, hooks, hook_secret, config, **kwargs)


def check_sender_event(pid, hooks, name, source, kind, key, wrong_key):
    (event,) = hooks.events(pid, source, name)
    req = event["request"]
    assert req["type"] == kind, req
    code = decrypt_code(key, req["code"])
    assert len(code) == 6 and code.isdigit(), code
    with pytest.raises(InvalidTag):
        decrypt_code(wrong_key, req["code"])
    assert code not in json.dumps(event), "the plaintext code reached the hook"
    return event, code


@pytest.mark.parametrize("configured", [False, True], ids=["derived-key", "kms-key"])
def test_custom_email_sender_sign_up(auth_idp, hooks, hook_secret, smtp_sink, configured):
    kms_key = secrets.token_bytes(32) if configured else None
    pid = sender_pool(auth_idp, hooks, hook_secret, "CustomEmailSender", "/email-sender", kms_key,
                      AutoVerifiedAttributes=["email"])
    client = new_app_client(auth_idp, pid)
    name, email, mark = unique("sender"), new_email(), smtp_sink.mark()
    resp = auth_idp.sign_up(ClientId=client["ClientId"], Username=name, Password=PASSWORD,
                            UserAttributes=attrs_list({"email": email}))
    assert resp["UserConfirmed"] is False
    assert resp["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    derived = derived_key(hook_secret(pid))
    key, wrong = (kms_key, derived) if configured else (derived, secrets.token_bytes(32))
    event, code = check_sender_event(pid, hooks, name, "CustomEmailSender_SignUp", "customEmailSenderRequestV1",
                                     key, wrong)
    assert event["request"]["userAttributes"]["email"] == email

    auth_idp.confirm_sign_up(ClientId=client["ClientId"], Username=name, ConfirmationCode=code)
    got = auth_idp.admin_get_user(UserPoolId=pid, Username=name)
    assert got["UserStatus"] == "CONFIRMED"
    assert attrs_dict(got["UserAttributes"])["email_verified"] == "true"
    smtp_sink.assert_nothing_for(email, since=mark)


def test_custom_sms_sender_sign_up(auth_idp, hooks, hook_secret, sms_sink):
    pid = sender_pool(auth_idp, hooks, hook_secret, "CustomSMSSender", "/sms-sender", None,
                      AutoVerifiedAttributes=["phone_number"])
    client = new_app_client(auth_idp, pid)
    name, phone, mark = unique("sms"), new_phone(), sms_sink.mark()
    resp = auth_idp.sign_up(ClientId=client["ClientId"], Username=name, Password=PASSWORD,
                            UserAttributes=attrs_list({"phone_number": phone}))
    assert resp["CodeDeliveryDetails"]["DeliveryMedium"] == "SMS"
    event, code = check_sender_event(pid, hooks, name, "CustomSMSSender_SignUp", "customSMSSenderRequestV1",
                                     derived_key(hook_secret(pid)), secrets.token_bytes(32))
    assert event["request"]["userAttributes"]["phone_number"] == phone
    auth_idp.confirm_sign_up(ClientId=client["ClientId"], Username=name, ConfirmationCode=code)
    got = auth_idp.admin_get_user(UserPoolId=pid, Username=name)
    assert got["UserStatus"] == "CONFIRMED"
    assert attrs_dict(got["UserAttributes"])["phone_number_verified"] == "true"
    time.sleep(0.3)
    assert not sms_sink.find(phone, since=mark), "an SMS went out although CustomSMSSender is configured"


def test_custom_email_sender_invitation(auth_idp, hooks, hook_secret, smtp_sink):
    """AdminCreateUser's invitation: the temporary password goes to the sender encrypted, nothing is mailed."""
    pid = sender_pool(auth_idp, hooks, hook_secret, "CustomEmailSender", "/email-sender", None)
    client = new_app_client(auth_idp, pid)
    name, email, mark = unique("invite"), new_email(), smtp_sink.mark()
    auth_idp.admin_create_user(UserPoolId=pid, Username=name, UserAttributes=attrs_list({"email": email}),
                               TemporaryPassword="Temp0rary!pw1", DesiredDeliveryMediums=["EMAIL"])
    (event,) = hooks.events(pid, "CustomEmailSender_AdminCreateUser", name)
    assert event["request"]["type"] == "customEmailSenderRequestV1"
    assert decrypt_code(derived_key(hook_secret(pid)), event["request"]["code"]) == "Temp0rary!pw1"
    assert "Temp0rary!pw1" not in json.dumps(event)
    smtp_sink.assert_nothing_for(email, since=mark)
    resp = password_auth(auth_idp, client, name, "Temp0rary!pw1")
    assert resp["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
