"""Lambda triggers as signed webhooks: a pool's LambdaConfig names, per
trigger, a URL (http only on loopback) that Cirrus POSTs Cognito's trigger
event to. An in-process hook server records every call, checks its
X-Cirrus-Signature against `cirrus hook-secret --pool-id` (run with the
server's own environment) and answers as a Lambda would."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP

from harness import (OTHER_PASSWORD, PASSWORD, REGION, admin_user, assert_client_error, attrs_dict, attrs_list,
                     error_message, expect_error, free_port, issuer_for, new_app_client, new_email, new_pool,
                     password_auth, refresh_tokens, server_binary, unique, verify_jwt)
from smtp_sink import extract_code

ADMIN_SCOPE = "aws.cognito.signin.user.admin"
MAX_SKEW = 300


# --------------------------------------------------------- hook server ----

def signature_problem(secret: str, headers: dict, raw: bytes) -> str | None:
    """Why a call's X-Cirrus-Signature is not valid (None when it is)."""
    ts, sig = headers.get("x-cirrus-timestamp", ""), headers.get("x-cirrus-signature", "")
    if not ts.isdigit():
        return f"X-Cirrus-Timestamp {ts!r} is not unix seconds"
    if abs(time.time() - int(ts)) > MAX_SKEW:
        return f"X-Cirrus-Timestamp {ts} is more than {MAX_SKEW}s from now ({int(time.time())})"
    mac = hmac.new(secret.encode(), ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(sig, "sha256=" + mac):
        return f"X-Cirrus-Signature {sig!r} != sha256=<HMAC-SHA256(secret, ts + '.' + body)>"
    return None


@dataclass
class Call:
    path: str
    headers: dict
    raw: bytes
    event: dict | None
    problem: str | None
    at: float


def reply(event: dict, **response):
    """A Lambda's answer: the event, with `response` filled in."""
    return 200, dict(event, response=dict(response))


class HookServer:
    """ThreadingHTTPServer on 127.0.0.1:0. route(name, fn) gives a fresh URL
    whose calls are answered by fn(event) -> (status, dict | str); every
    call is recorded, and one with a bad signature is answered 401."""

    def __init__(self, secret_for):
        self._secret_for = secret_for
        self._secrets: dict[str, str] = {}
        self.routes: dict = {}
        self.all_calls: list[Call] = []
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, body = hook._handle(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
                data = body if isinstance(body, bytes) else (
                    body.encode() if isinstance(body, str) else json.dumps(body).encode())
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass          # the caller gave up (timeout tests)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def secret(self, pool_id: str) -> str:
        with self.lock:
            if pool_id not in self._secrets:
                self._secrets[pool_id] = self._secret_for(pool_id)
            return self._secrets[pool_id]

    def route(self, name: str, fn=None) -> str:
        path = f"/{name}-{uuid.uuid4().hex[:10]}"
        self.routes[path] = fn or (lambda ev: reply(ev))
        return self.base + path

    def _handle(self, path: str, headers: dict, raw: bytes):
        try:
            event = json.loads(raw)
        except ValueError:
            event = None
        pool_id = event.get("userPoolId") if isinstance(event, dict) else None
        problem = (signature_problem(self.secret(pool_id), headers, raw) if isinstance(pool_id, str)
                   else f"body is not an event with userPoolId: {raw[:200]!r}")
        with self.lock:
            self.all_calls.append(Call(path, headers, raw, event, problem, time.monotonic()))
        if problem:
            return 401, {"errorMessage": problem}
        fn = self.routes.get(path)
        return fn(event) if fn else (404, {"errorMessage": f"no route {path}"})

    def calls(self, url: str) -> list[Call]:
        """The calls to `url`, each asserted well signed and shaped as a trigger event."""
        path = url[len(self.base):]
        with self.lock:
            got = [c for c in self.all_calls if c.path == path]
        for c in got:
            assert c.problem is None, f"bad call to {path}: {c.problem}"
            assert c.headers.get("content-type", "").startswith("application/json"), c.headers
            assert {"version", "triggerSource", "region", "userPoolId", "userName", "callerContext", "request",
                    "response"} <= set(c.event), sorted(c.event)
        return got

    def events(self, url: str) -> list[dict]:
        return [c.event for c in self.calls(url)]


@pytest.fixture(scope="module")
def hook(auth_server):
    def secret_for(pool_id: str) -> str:
        out = subprocess.run([str(server_binary()), "hook-secret", "--pool-id", pool_id], env=auth_server._env(),
                             cwd=str(auth_server.workdir), capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, f"cirrus hook-secret exited {out.returncode}: {out.stderr[-2000:]}"
        secret = out.stdout.strip()
        assert re.fullmatch(r"[0-9a-f]{32,128}", secret), f"hook secret is not hex: {secret!r}"
        return secret

    server = HookServer(secret_for)
    try:
        yield server
    finally:
        server.stop()


def trigger_pool(idp, hook, lambda_config: dict, **kwargs) -> tuple[str, dict]:
    """A pool (email verified by code) with `lambda_config` and one app client."""
    kwargs.setdefault("AutoVerifiedAttributes", ["email"])
    pid = new_pool(idp, LambdaConfig=lambda_config, **kwargs)
    hook.secret(pid)
    return pid, new_app_client(idp, pid)


def sign_up(idp, client, username, email, **kwargs):
    return idp.sign_up(ClientId=client["ClientId"], Username=username, Password=PASSWORD,
                       UserAttributes=attrs_list({"email": email}), **kwargs)


def assert_no_user(idp, pid, username):
    expect_error("UserNotFoundException", idp.admin_get_user, UserPoolId=pid, Username=username)


# ---------------------------------------------------------- PreSignUp ----

def test_pre_sign_up_auto_confirms_and_verifies_email(auth_idp, hook, smtp_sink):
    url = hook.route("pre-sign-up", lambda ev: reply(ev, autoConfirmUser=True, autoVerifyEmail=True,
                                                     autoVerifyPhone=False))
    pid, client = trigger_pool(auth_idp, hook, {"PreSignUp": url})
    name, addr = unique("auto"), new_email("a")
    mark = smtp_sink.mark()
    resp = sign_up(auth_idp, client, name, addr, ValidationData=[{"Name": "invite", "Value": "XYZ-42"}],
                   ClientMetadata={"source": "compat"})
    assert resp["UserConfirmed"] is True, resp
    assert "CodeDeliveryDetails" not in resp, resp["CodeDeliveryDetails"]

    user = auth_idp.admin_get_user(UserPoolId=pid, Username=name)
    assert user["UserStatus"] == "CONFIRMED"
    assert attrs_dict(user["UserAttributes"]).get("email_verified") == "true", user["UserAttributes"]
    tokens = password_auth(auth_idp, client, name, PASSWORD)["AuthenticationResult"]
    assert tokens["AccessToken"] and tokens["IdToken"]
    smtp_sink.assert_nothing_for(addr, since=mark)

    calls = hook.calls(url)
    assert len(calls) == 1, [c.event for c in calls]
    call = calls[0]
    ev = call.event
    assert ev["version"] == "1"
    assert ev["triggerSource"] == "PreSignUp_SignUp"
    assert ev["region"] == REGION
    assert ev["userPoolId"] == pid
    assert ev["userName"] == name
    assert ev["callerContext"]["clientId"] == client["ClientId"]
    assert ev["request"]["userAttributes"]["email"] == addr
    assert ev["request"]["validationData"] == {"invite": "XYZ-42"}
    assert ev["request"]["clientMetadata"] == {"source": "compat"}
    assert ev["response"] == {}
    assert PASSWORD not in call.raw.decode(), "the password went to the PreSignUp hook"
    # The check above is not vacuous: a changed body or another pool's secret fails it.
    secret = hook.secret(pid)
    assert signature_problem(secret, call.headers, call.raw + b" ") is not None
    assert signature_problem(hook.secret(new_pool(auth_idp)), call.headers, call.raw) is not None


def refuse_example_org(ev):
    if ev["userName"].startswith("robot"):
        return 403, "no robots"
    if ev["request"]["userAttributes"].get("email", "").endswith("@example.org"):
        return 400, {"errorMessage": "Sign-ups from example.org are closed"}
    return reply(ev)


def test_pre_sign_up_refusal(auth_idp, hook, smtp_sink):
    url = hook.route("pre-sign-up-refuse", refuse_example_org)
    pid, client = trigger_pool(auth_idp, hook, {"PreSignUp": url})
    name, addr = unique("org"), f"o{uuid.uuid4().hex[:8]}@example.org"
    mark = smtp_sink.mark()
    err = expect_error("UserLambdaValidationException", sign_up, auth_idp, client, name, addr)
    assert error_message(err) == "PreSignUp failed with error Sign-ups from example.org are closed.", err.response
    assert_no_user(auth_idp, pid, name)
    smtp_sink.assert_nothing_for(addr, since=mark, wait=0.2)

    robot = unique("robot")
    err = expect_error("UserLambdaValidationException", sign_up, auth_idp, client, robot, new_email("r"))
    assert error_message(err) == "PreSignUp failed with error no robots.", err.response
    assert_no_user(auth_idp, pid, robot)

    # A sign-up the hook accepts without confirming it goes the usual way.
    name, addr = unique("ok"), new_email("k")
    resp = sign_up(auth_idp, client, name, addr)
    assert resp["UserConfirmed"] is False
    code = extract_code(smtp_sink.wait_for(addr, since=mark).text)
    assert auth_idp.admin_get_user(UserPoolId=pid, Username=name)["UserStatus"] == "UNCONFIRMED"
    auth_idp.confirm_sign_up(ClientId=client["ClientId"], Username=name, ConfirmationCode=code)
    assert [e["userName"] for e in hook.events(url)][-1] == name


# --------------------------------------------------- PostConfirmation ----

def test_post_confirmation(auth_idp, hook, smtp_sink):
    def post(ev):
        if ev["userName"].startswith("grumpy"):
            return 400, {"errorMessage": "CRM is down"}
        return reply(ev)
    url = hook.route("post-confirmation", post)
    pid, client = trigger_pool(auth_idp, hook, {"PostConfirmation": url})
    cid = client["ClientId"]

    name, addr = unique("pc"), new_email("p")
    mark = smtp_sink.mark()
    sub = sign_up(auth_idp, client, name, addr)["UserSub"]
    assert hook.calls(url) == [], "PostConfirmation called before confirmation"
    auth_idp.confirm_sign_up(ClientId=cid, Username=name,
                             ConfirmationCode=extract_code(smtp_sink.wait_for(addr, since=mark).text))
    [ev] = hook.events(url)
    assert ev["triggerSource"] == "PostConfirmation_ConfirmSignUp"
    assert (ev["userPoolId"], ev["userName"], ev["callerContext"]["clientId"]) == (pid, name, cid)
    attrs = ev["request"]["userAttributes"]
    assert (attrs["sub"], attrs["email"], attrs["email_verified"]) == (sub, addr, "true"), attrs

    mark = smtp_sink.mark()
    auth_idp.forgot_password(ClientId=cid, Username=name)
    code = extract_code(smtp_sink.wait_for(addr, since=mark).text)
    auth_idp.confirm_forgot_password(ClientId=cid, Username=name, ConfirmationCode=code, Password=OTHER_PASSWORD)
    ev = hook.events(url)[-1]
    assert len(hook.calls(url)) == 2
    assert ev["triggerSource"] == "PostConfirmation_ConfirmForgotPassword"
    assert (ev["userName"], ev["callerContext"]["clientId"]) == (name, cid)
    assert ev["request"]["userAttributes"]["email"] == addr
    assert password_auth(auth_idp, client, name, OTHER_PASSWORD)["AuthenticationResult"]["AccessToken"]

    other = unique("pc")
    sign_up(auth_idp, client, other, new_email("q"))
    auth_idp.admin_confirm_sign_up(UserPoolId=pid, Username=other)
    ev = hook.events(url)[-1]
    assert (ev["triggerSource"], ev["userName"]) == ("PostConfirmation_ConfirmSignUp", other)

    # A refusal is reported to the caller; the confirmation itself stands.
    grumpy = unique("grumpy")
    sign_up(auth_idp, client, grumpy, new_email("g"))
    err = expect_error("UserLambdaValidationException", auth_idp.admin_confirm_sign_up, UserPoolId=pid,
                       Username=grumpy)
    assert error_message(err) == "PostConfirmation failed with error CRM is down.", err.response
    assert auth_idp.admin_get_user(UserPoolId=pid, Username=grumpy)["UserStatus"] == "CONFIRMED"


# ---------------------------------------------- Pre/PostAuthentication ----

def test_pre_and_post_authentication(auth_idp, hook):
    pre = hook.route("pre-auth", lambda ev: (400, {"errorMessage": "Account suspended"})
                     if ev["userName"].startswith("blocked") else reply(ev))
    post = hook.route("post-auth")
    pid = new_pool(auth_idp)
    client = new_app_client(auth_idp, pid)
    alice = admin_user(auth_idp, pid, unique("alice"), attrs={"email": new_email("a"), "email_verified": "true"})
    blocked = admin_user(auth_idp, pid, unique("blocked"))
    # Triggers set afterwards, with UpdateUserPool.
    auth_idp.update_user_pool(UserPoolId=pid, LambdaConfig={"PreAuthentication": pre, "PostAuthentication": post})
    assert auth_idp.describe_user_pool(UserPoolId=pid)["UserPool"]["LambdaConfig"] == \
        {"PreAuthentication": pre, "PostAuthentication": post}
    hook.secret(pid)

    assert password_auth(auth_idp, client, alice["username"], PASSWORD)["AuthenticationResult"]["IdToken"]
    admin = auth_idp.admin_initiate_auth(
        UserPoolId=pid, ClientId=client["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": alice["username"], "PASSWORD": PASSWORD})
    assert admin["AuthenticationResult"]["IdToken"], admin
    assert len(hook.calls(pre)) == 2 and len(hook.calls(post)) == 2

    expect_error("NotAuthorizedException", password_auth, auth_idp, client, alice["username"], "Wr0ng-Password!")
    assert len(hook.calls(pre)) == 3, "PreAuthentication comes before the password check"
    assert len(hook.calls(post)) == 2, "PostAuthentication called for a wrong password"

    for password in (PASSWORD, "Wr0ng-Password!"):
        err = expect_error("UserLambdaValidationException", password_auth, auth_idp, client,
                           blocked["username"], password)
        assert error_message(err) == "PreAuthentication failed with error Account suspended.", err.response
    assert all(e["userName"] != blocked["username"] for e in hook.events(post))

    pre_ev = hook.events(pre)[0]
    assert pre_ev["triggerSource"] == "PreAuthentication_Authentication"
    assert (pre_ev["userName"], pre_ev["callerContext"]["clientId"]) == (alice["username"], client["ClientId"])
    assert pre_ev["request"]["userAttributes"]["sub"] == alice["sub"]
    assert PASSWORD not in hook.calls(pre)[0].raw.decode()
    post_ev = hook.events(post)[0]
    assert post_ev["triggerSource"] == "PostAuthentication_Authentication"
    assert (post_ev["userName"], post_ev["userPoolId"]) == (alice["username"], pid)
    assert post_ev["request"]["userAttributes"]["email"] == alice["attrs"]["email"]


def test_pre_authentication_refusal_also_stops_srp(auth_idp, auth_idp_public, hook):
    pre = hook.route("pre-auth-srp", lambda ev: (400, {"errorMessage": "Account suspended"}))
    pid, _ = trigger_pool(auth_idp, hook, {"PreAuthentication": pre})
    client = new_app_client(auth_idp, pid, ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    user = admin_user(auth_idp, pid, unique("blocked"))
    srp = AWSSRP(username=user["username"], password=PASSWORD, pool_id=pid, client_id=client["ClientId"],
                 client=auth_idp_public)
    with pytest.raises(ClientError) as ei:
        srp.authenticate_user()
    err = assert_client_error(ei, "UserLambdaValidationException")
    assert error_message(err) == "PreAuthentication failed with error Account suspended.", err.response
    [ev] = hook.events(pre)
    assert (ev["triggerSource"], ev["userName"]) == ("PreAuthentication_Authentication", user["username"])


# ------------------------------------------------- PreTokenGeneration ----

def group_user(idp, pid, group: str) -> dict:
    user = admin_user(idp, pid, unique("tok"), attrs={"email": new_email("t"), "email_verified": "true"})
    idp.create_group(UserPoolId=pid, GroupName=group)
    idp.admin_add_user_to_group(UserPoolId=pid, Username=user["username"], GroupName=group)
    return user


def test_pre_token_generation_v1(auth_idp, auth_server, auth_jwks_for, hook):
    url = hook.route("ptg-v1", lambda ev: reply(ev, claimsOverrideDetails={
        "claimsToAddOrOverride": {"tenant": "acme", "sub": "forged-sub", "token_use": "access",
                                  "iss": "https://evil.example", "cognito:username": "mallory"},
        "claimsToSuppress": ["email", "aud", "exp"],
        "groupOverrideDetails": {"groupsToOverride": ["tenant-admins", "billing"]},
    }))
    pid, client = trigger_pool(auth_idp, hook, {"PreTokenGeneration": url})
    user = group_user(auth_idp, pid, "staff")
    issuer, jwks = issuer_for(auth_server.endpoint, pid), auth_jwks_for(pid)

    tokens = password_auth(auth_idp, client, user["username"], PASSWORD)["AuthenticationResult"]
    idt = verify_jwt(tokens["IdToken"], jwks, issuer, audience=client["ClientId"])
    assert idt["tenant"] == "acme"
    assert "email" not in idt, idt
    assert idt["email_verified"] is True or idt["email_verified"] == "true", idt
    assert (idt["sub"], idt["token_use"], idt["cognito:username"]) == (user["sub"], "id", user["username"])
    assert idt["cognito:groups"] == ["tenant-admins", "billing"]
    access = verify_jwt(tokens["AccessToken"], jwks, issuer)
    assert "tenant" not in access, "v1 overrides apply to the ID token only"
    assert access["cognito:groups"] == ["tenant-admins", "billing"]
    assert access["scope"] == ADMIN_SCOPE and access["sub"] == user["sub"]

    [ev] = hook.events(url)
    assert (ev["version"], ev["triggerSource"]) == ("1", "TokenGeneration_Authentication")
    assert (ev["userName"], ev["callerContext"]["clientId"]) == (user["username"], client["ClientId"])
    assert ev["request"]["groupConfiguration"]["groupsToOverride"] == ["staff"]
    assert ev["request"]["userAttributes"]["email"] == user["attrs"]["email"]
    assert "scopes" not in ev["request"]

    fresh = refresh_tokens(auth_idp, client, tokens["RefreshToken"])
    idt = verify_jwt(fresh["IdToken"], jwks, issuer, audience=client["ClientId"])
    assert idt["tenant"] == "acme" and "email" not in idt and idt["sub"] == user["sub"]
    assert idt["cognito:groups"] == ["tenant-admins", "billing"]
    events = hook.events(url)
    assert [e["triggerSource"] for e in events] == ["TokenGeneration_Authentication",
                                                    "TokenGeneration_RefreshTokens"]


def test_pre_token_generation_v2(auth_idp, auth_server, auth_jwks_for, hook):
    url = hook.route("ptg-v2", lambda ev: reply(ev, claimsAndScopeOverrideDetails={
        "idTokenGeneration": {"claimsToAddOrOverride": {"plan": "gold"}, "claimsToSuppress": ["email"]},
        "accessTokenGeneration": {
            "claimsToAddOrOverride": {"tenant": "acme", "roles": ["reader", "writer"], "client_id": "forged",
                                      "scope": "root:all"},
            "claimsToSuppress": ["username", "cognito:groups"],
            "scopesToAdd": ["acme/read", "acme/write"],
            "scopesToSuppress": [ADMIN_SCOPE],
        },
    }))
    pid, client = trigger_pool(auth_idp, hook, {"PreTokenGenerationConfig": {"LambdaVersion": "V2_0",
                                                                             "LambdaArn": url}})
    assert auth_idp.describe_user_pool(UserPoolId=pid)["UserPool"]["LambdaConfig"]["PreTokenGenerationConfig"] \
        == {"LambdaVersion": "V2_0", "LambdaArn": url}
    user = group_user(auth_idp, pid, "staff")
    issuer, jwks = issuer_for(auth_server.endpoint, pid), auth_jwks_for(pid)

    tokens = password_auth(auth_idp, client, user["username"], PASSWORD)["AuthenticationResult"]
    access = verify_jwt(tokens["AccessToken"], jwks, issuer)
    assert sorted(access["scope"].split(" ")) == ["acme/read", "acme/write"], access["scope"]
    assert access["tenant"] == "acme" and access["roles"] == ["reader", "writer"]
    assert access["client_id"] == client["ClientId"], "client_id is protected"
    # scope changes only through scopesToAdd/scopesToSuppress; cognito:* cannot be suppressed
    assert access["username"] == user["username"], "username is protected"
    assert access["cognito:groups"] == ["staff"]
    assert "plan" not in access
    idt = verify_jwt(tokens["IdToken"], jwks, issuer, audience=client["ClientId"])
    assert idt["plan"] == "gold" and "email" not in idt and "tenant" not in idt, idt

    # Without aws.cognito.signin.user.admin the access token cannot call GetUser.
    err = expect_error("NotAuthorizedException", auth_idp.get_user, AccessToken=tokens["AccessToken"])
    assert error_message(err) == "Access Token does not have required scopes"

    [ev] = hook.events(url)
    assert (ev["version"], ev["triggerSource"]) == ("2", "TokenGeneration_Authentication")
    assert ev["request"]["scopes"] == [ADMIN_SCOPE]
    assert ev["request"]["groupConfiguration"]["groupsToOverride"] == ["staff"]


# ------------------------------------------------------- CustomMessage ----

SUBJECTS = {"CustomMessage_SignUp": "Welcome to Acme", "CustomMessage_ResendCode": "Your new Acme code",
            "CustomMessage_ForgotPassword": "Reset your Acme password"}
CUSTOM_BODY = re.compile(r"^Acme says: your code is (\d{6}) \((CustomMessage_\w+)\)\.$")


def custom_message(ev):
    req = ev["request"]
    return reply(ev, emailSubject=SUBJECTS.get(ev["triggerSource"], "Acme"),
                 emailMessage=f"Acme says: your code is {req['codeParameter']} ({ev['triggerSource']}).",
                 smsMessage=f"Acme {req['codeParameter']}")


def custom_mail(smtp_sink, addr, mark, source) -> str:
    mail = smtp_sink.wait_for(addr, since=mark)
    assert mail.subject == SUBJECTS[source], mail.summary()
    m = CUSTOM_BODY.match(mail.text.strip())
    assert m and m.group(2) == source, f"not the hook's message: {mail.text!r}"
    return m.group(1)


def test_custom_message(auth_idp, hook, smtp_sink):
    url = hook.route("custom-message", custom_message)
    pid, client = trigger_pool(auth_idp, hook, {"CustomMessage": url})
    cid = client["ClientId"]
    name, addr = unique("cm"), new_email("c")

    mark = smtp_sink.mark()
    sign_up(auth_idp, client, name, addr)
    first = custom_mail(smtp_sink, addr, mark, "CustomMessage_SignUp")
    mark = smtp_sink.mark()
    auth_idp.resend_confirmation_code(ClientId=cid, Username=name)
    second = custom_mail(smtp_sink, addr, mark, "CustomMessage_ResendCode")
    auth_idp.confirm_sign_up(ClientId=cid, Username=name, ConfirmationCode=second)
    assert auth_idp.admin_get_user(UserPoolId=pid, Username=name)["UserStatus"] == "CONFIRMED"

    mark = smtp_sink.mark()
    auth_idp.forgot_password(ClientId=cid, Username=name)
    third = custom_mail(smtp_sink, addr, mark, "CustomMessage_ForgotPassword")
    auth_idp.confirm_forgot_password(ClientId=cid, Username=name, ConfirmationCode=third, Password=OTHER_PASSWORD)
    assert password_auth(auth_idp, client, name, OTHER_PASSWORD)["AuthenticationResult"]["AccessToken"]

    calls = hook.calls(url)
    assert [c.event["triggerSource"] for c in calls] == list(SUBJECTS), [c.event["triggerSource"] for c in calls]
    for c in calls:
        req = c.event["request"]
        assert (req["codeParameter"], req["usernameParameter"]) == ("{####}", "{username}"), req
        assert (c.event["userName"], c.event["userPoolId"]) == (name, pid)
        assert req["userAttributes"]["email"] == addr
        body = c.raw.decode()
        for code in (first, second, third):
            assert code not in body, f"code {code} was sent to the CustomMessage hook: {body}"


# ------------------------------------------------------------ failures ----

def test_hook_timeout_is_unexpected_lambda(auth_idp, hook):
    url = hook.route("slow", lambda ev: (time.sleep(6), reply(ev, autoConfirmUser=True))[1])
    pid, client = trigger_pool(auth_idp, hook, {"PreSignUp": url})
    name = unique("slow")
    started = time.monotonic()
    err = expect_error("UnexpectedLambdaException", sign_up, auth_idp, client, name, new_email("s"))
    elapsed = time.monotonic() - started
    assert 4.5 <= elapsed < 5.9, f"gave up after {elapsed:.2f}s, expected the 5 s hook timeout"
    assert "TimeoutException" in error_message(err), err.response
    assert len(hook.calls(url)) == 1
    assert_no_user(auth_idp, pid, name)


def test_hook_connection_refused_is_unexpected_lambda(auth_idp, hook):
    pid, client = trigger_pool(auth_idp, hook, {"PreSignUp": f"http://127.0.0.1:{free_port()}/gone"})
    name = unique("gone")
    expect_error("UnexpectedLambdaException", sign_up, auth_idp, client, name, new_email("g"))
    assert_no_user(auth_idp, pid, name)


def test_hook_answer_not_json_is_invalid_lambda_response(auth_idp, hook):
    url = hook.route("garbage", lambda ev: (200, "not json"))
    pid, client = trigger_pool(auth_idp, hook, {"PreSignUp": url})
    name = unique("garbage")
    expect_error("InvalidLambdaResponseException", sign_up, auth_idp, client, name, new_email("n"))
    assert len(hook.calls(url)) == 1
    assert_no_user(auth_idp, pid, name)


def test_circuit_breaker(auth_idp, hook):
    url = hook.route("breaker", lambda ev: (time.sleep(1.0), (500, {"errorMessage": "backend exploded"}))[1])
    pid, client = trigger_pool(auth_idp, hook, {"PreSignUp": url})
    for i in range(5):
        err = expect_error("UserLambdaValidationException", sign_up, auth_idp, client, unique("cb"), new_email("b"))
        assert error_message(err) == "PreSignUp failed with error backend exploded.", (i, err.response)
    assert len(hook.calls(url)) == 5
    name = unique("cb")
    started = time.monotonic()
    expect_error("UnexpectedLambdaException", sign_up, auth_idp, client, name, new_email("b"))
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"the 6th call took {elapsed:.2f}s: the open circuit should fail at once"
    assert len(hook.calls(url)) == 5, "the hook was called although its circuit is open"
    assert_no_user(auth_idp, pid, name)

    # Refusals (4xx) are the hook's answer, not its failure: they never open the circuit.
    url = hook.route("refuser", lambda ev: (400, {"errorMessage": "not today"}))
    _, client = trigger_pool(auth_idp, hook, {"PreSignUp": url})
    for i in range(6):
        err = expect_error("UserLambdaValidationException", sign_up, auth_idp, client, unique("nt"), new_email("n"))
        assert error_message(err) == "PreSignUp failed with error not today.", (i, err.response)
    assert len(hook.calls(url)) == 6


# ---------------------------------------------------------- Lambda ARNs ----

def test_lambda_arns_are_stored_but_not_called(auth_idp, hook, smtp_sink):
    arn = "arn:aws:lambda:us-east-1:123456789012:function:{}"
    config = {"PreSignUp": arn.format("pre-sign-up"), "CustomMessage": arn.format("custom-message"),
              "PostConfirmation": arn.format("post-confirmation"),
              "PreTokenGenerationConfig": {"LambdaVersion": "V2_0", "LambdaArn": arn.format("ptg")}}
    pid, client = trigger_pool(auth_idp, hook, config)
    assert auth_idp.describe_user_pool(UserPoolId=pid)["UserPool"]["LambdaConfig"] == config
    name, addr = unique("arn"), new_email("z")
    mark = smtp_sink.mark()
    assert sign_up(auth_idp, client, name, addr)["UserConfirmed"] is False
    mail = smtp_sink.wait_for(addr, since=mark)
    assert re.search(r"Your verification code is \d{6}\.", mail.text), mail.summary()
    auth_idp.confirm_sign_up(ClientId=client["ClientId"], Username=name, ConfirmationCode=extract_code(mail.text))
    access = password_auth(auth_idp, client, name, PASSWORD)["AuthenticationResult"]["AccessToken"]
    assert auth_idp.get_user(AccessToken=access)["Username"] == name
    with hook.lock:
        assert not [c for c in hook.all_calls if c.event and c.event.get("userPoolId") == pid]



def test_uncallable_hook_urls_are_refused(auth_idp):
    """A mistyped hook URL must not silently turn a check off."""
    for target in ("http://10.1.2.3/hook", "ftp://127.0.0.1:21/hook", "http://hooks.example.com/x", "hooks://127.0.0.1:9/x"):
        expect_error("InvalidParameterException", auth_idp.create_user_pool, PoolName=unique("badhook"),
                     LambdaConfig={"PreAuthentication": target})
    pid = auth_idp.create_user_pool(PoolName=unique("okhook"))["UserPool"]["Id"]
    expect_error("InvalidParameterException", auth_idp.update_user_pool, UserPoolId=pid,
                 LambdaConfig={"PreSignUp": "http://192.168.1.1/x"})


def test_admin_create_user_triggers(auth_idp, hook, smtp_sink):
    """PreSignUp_AdminCreateUser may refuse or verify; CustomMessage_AdminCreateUser writes the invitation."""
    def pre_sign_up(ev):
        if ev["request"]["userAttributes"].get("email", "").endswith("@blocked.example"):
            return 400, {"errorMessage": "That domain is not invited"}
        return reply(ev, autoVerifyEmail=True)

    pre = hook.route("admin-pre-sign-up", pre_sign_up)
    msg = hook.route("admin-custom-message", lambda ev: reply(
        ev, emailSubject="Welcome aboard", emailMessage=f"Hi {ev['request']['usernameParameter']}, "
        f"your first password is {ev['request']['codeParameter']}."))
    pid, client = trigger_pool(auth_idp, hook, {"PreSignUp": pre, "CustomMessage": msg})

    blocked = unique("blocked")
    err = expect_error("UserLambdaValidationException", auth_idp.admin_create_user, UserPoolId=pid,
                       Username=blocked, UserAttributes=attrs_list({"email": f"{blocked}@blocked.example"}))
    assert "That domain is not invited" in error_message(err)
    assert_no_user(auth_idp, pid, blocked)

    name, addr = unique("invited"), new_email("i")
    mark = smtp_sink.mark()
    auth_idp.admin_create_user(UserPoolId=pid, Username=name, UserAttributes=attrs_list({"email": addr}),
                               DesiredDeliveryMediums=["EMAIL"])
    user = auth_idp.admin_get_user(UserPoolId=pid, Username=name)
    assert attrs_dict(user["UserAttributes"])["email_verified"] == "true"
    mail = smtp_sink.wait_for(addr, since=mark)
    assert mail.subject == "Welcome aboard", mail.summary()
    m = re.fullmatch(rf"Hi {re.escape(name)}, your first password is (\S+)\.", mail.text.strip())
    assert m, mail.text
    temporary = m.group(1)
    [pre_ev] = [e for e in hook.events(pre) if e["userName"] == name]
    assert pre_ev["triggerSource"] == "PreSignUp_AdminCreateUser"
    [msg_ev] = hook.events(msg)
    assert msg_ev["triggerSource"] == "CustomMessage_AdminCreateUser"
    assert msg_ev["request"]["codeParameter"] == "{####}"
    assert temporary not in json.dumps(msg_ev), "the temporary password never goes to the hook"
    challenge = auth_idp.admin_initiate_auth(
        UserPoolId=pid, ClientId=client["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": name, "PASSWORD": temporary})
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_custom_message_for_mfa_codes(auth_idp, hook, smtp_sink):
    """CustomMessage_Authentication writes the email of an EMAIL_OTP second factor."""
    from harness import mfa_settings
    url = hook.route("mfa-message", lambda ev: reply(
        ev, emailSubject="Acme sign-in", emailMessage=f"Acme sign-in code: {ev['request']['codeParameter']}"))
    pid, client = trigger_pool(auth_idp, hook, {"CustomMessage": url})
    auth_idp.set_user_pool_mfa_config(UserPoolId=pid, MfaConfiguration="OPTIONAL",
                                      EmailMfaConfiguration={"Message": "Code {####}", "Subject": "Code"})
    addr = new_email("mfa")
    user = admin_user(auth_idp, pid, attrs={"email": addr, "email_verified": "true"})
    auth_idp.admin_set_user_mfa_preference(UserPoolId=pid, Username=user["username"],
                                           **mfa_settings(email=True, preferred="EMAIL_OTP"))
    mark = smtp_sink.mark()
    resp = password_auth(auth_idp, client, user["username"], PASSWORD)
    assert resp["ChallengeName"] == "EMAIL_OTP", resp
    mail = smtp_sink.wait_for(addr, since=mark)
    assert mail.subject == "Acme sign-in", mail.summary()
    m = re.fullmatch(r"Acme sign-in code: (\d{6})", mail.text.strip())
    assert m, mail.text
    [ev] = hook.events(url)
    assert ev["triggerSource"] == "CustomMessage_Authentication" and m.group(1) not in json.dumps(ev)
    done = auth_idp.respond_to_auth_challenge(
        ClientId=client["ClientId"], ChallengeName="EMAIL_OTP", Session=resp["Session"],
        ChallengeResponses={"USERNAME": user["username"], "EMAIL_OTP_CODE": m.group(1)})
    assert "IdToken" in done["AuthenticationResult"]
