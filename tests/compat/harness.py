"""Harness for the Cirrus compatibility suite: server process, clients, raw requests.

The suite drives a real `cirrus serve` process with unmodified boto3 /
botocore clients (plus a few hand-built raw requests for wire-level cases).

Environment:
  CIRRUS_BIN  path to the server binary; relative paths are taken from the
              repository root (default: target/debug/cirrus).
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import string
import subprocess
import time
import uuid
from pathlib import Path
from unittest import mock

import boto3
import botocore
import botocore.auth
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
JSON_CT = "application/x-amz-json-1.1"
IDP_PREFIX = "AWSCognitoIdentityProviderService."
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


# --------------------------------------------------------------------------
# process management
# --------------------------------------------------------------------------

def server_binary() -> Path:
    raw = os.environ.get("CIRRUS_BIN", "target/debug/cirrus")
    path = Path(raw)
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def random_access_key() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))


def random_secret_key() -> str:
    alphabet = string.ascii_letters + string.digits + "+/"
    return "".join(secrets.choice(alphabet) for _ in range(40))


class CirrusServer:
    """One `cirrus serve` child process with its own port and data dir.

    stdout and stderr go to files inside `workdir` (a pipe could fill up and
    block the server); `stdout_text()` reads what was printed so far.
    """

    def __init__(self, data_dir: Path, workdir: Path, access_key: str | None = None,
                 secret_key: str | None = None, extra_env: dict | None = None,
                 tag: str = "server", unset_env: tuple = ()):
        self.data_dir = Path(data_dir)
        self.workdir = Path(workdir)
        self.access_key = access_key
        self.secret_key = secret_key
        self.extra_env = dict(extra_env or {})
        self.unset_env = tuple(unset_env)
        self.tag = tag
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.stdout_path: Path | None = None
        self.stderr_path: Path | None = None
        self._starts = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIRRUS_")}
        env["CIRRUS_LISTEN"] = f"127.0.0.1:{self.port}"
        env["CIRRUS_DATA_DIR"] = str(self.data_dir)
        env["CIRRUS_PUBLIC_URL"] = self.endpoint
        if self.access_key is not None:
            env["CIRRUS_ADMIN_ACCESS_KEY_ID"] = self.access_key
            env["CIRRUS_ADMIN_SECRET_ACCESS_KEY"] = self.secret_key
        env.update(self.extra_env)
        for name in self.unset_env:
            env.pop(name, None)
        return env

    def start(self) -> "CirrusServer":
        binary = server_binary()
        if not binary.exists():
            pytest.fail(f"server binary not found: {binary} (set CIRRUS_BIN or build it)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self._starts += 1
        self.stdout_path = self.workdir / f"{self.tag}.{self._starts}.stdout"
        self.stderr_path = self.workdir / f"{self.tag}.{self._starts}.stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [str(binary), "serve"],
                cwd=str(self.workdir),
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        last = "no attempt"
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                pytest.fail(f"cirrus serve exited with {rc} before becoming ready\n{self.logs()}")
            try:
                r = requests.get(self.endpoint + "/readyz", timeout=2)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}"
            except requests.RequestException as exc:
                last = repr(exc)
            time.sleep(0.1)
        self.kill()
        pytest.fail(f"cirrus serve not ready on /readyz within {READY_TIMEOUT}s (last: {last})\n{self.logs()}")

    def stop(self) -> int:
        """SIGTERM, wait up to STOP_TIMEOUT, return the exit code (None-safe)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"cirrus serve did not exit within {STOP_TIMEOUT}s of SIGTERM\n{self.logs()}")

    def stop_clean(self) -> None:
        rc = self.stop()
        assert rc == 0, f"cirrus serve exited with {rc} after SIGTERM (expected 0)\n{self.logs()}"

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stdout_text(self) -> str:
        if self.stdout_path is None or not self.stdout_path.exists():
            return ""
        return self.stdout_path.read_text(errors="replace")

    def logs(self, limit: int = 4000) -> str:
        parts = []
        for name, path in (("stdout", self.stdout_path), ("stderr", self.stderr_path)):
            text = path.read_text(errors="replace") if path and path.exists() else ""
            parts.append(f"--- {self.tag} {name} (tail) ---\n{text[-limit:]}")
        return "\n".join(parts)

    # ---- clients ---------------------------------------------------------

    def client(self, service: str = "cognito-idp", *, access_key: str | None = None,
               secret_key: str | None = None, region: str = REGION, validate: bool = True,
               unsigned: bool = False):
        kwargs = dict(retries={"max_attempts": 1}, parameter_validation=validate)
        if unsigned:
            kwargs["signature_version"] = botocore.UNSIGNED
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(**kwargs),
        )


# --------------------------------------------------------------------------
# raw requests (wire-level cases botocore will not produce by itself)
# --------------------------------------------------------------------------

def raw_request(endpoint: str, *, target: str | None = None, body: bytes | str = b"{}",
                content_type: str | None = JSON_CT, access_key: str | None = None,
                secret_key: str | None = None, sign: bool = True,
                when: _dt.datetime | None = None, region: str = REGION,
                service: str = "cognito-idp", extra_headers: dict | None = None,
                after_sign=None) -> requests.Response:
    """Build a request with AWSRequest, optionally SigV4-sign it (optionally
    at a chosen UTC time), let `after_sign(headers) -> (headers, body)` tamper
    with it, and send it with `requests`."""
    if isinstance(body, str):
        body = body.encode()
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if target is not None:
        headers["X-Amz-Target"] = target
    headers.update(extra_headers or {})
    req = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=headers)
    if sign:
        signer = botocore.auth.SigV4Auth(Credentials(access_key, secret_key), service, region)
        if when is None:
            signer.add_auth(req)
        else:
            naive = when.astimezone(_dt.timezone.utc).replace(tzinfo=None)
            with mock.patch.object(botocore.auth, "get_current_datetime", return_value=naive):
                signer.add_auth(req)
    prepared = req.prepare()
    out_headers = dict(prepared.headers.items())
    out_body = prepared.body if prepared.body is not None else b""
    if after_sign is not None:
        out_headers, out_body = after_sign(out_headers, out_body)
    return requests.post(endpoint + "/", headers=out_headers, data=out_body, timeout=10)


def assert_json_error(resp: requests.Response, name: str, status: int = 400) -> dict:
    """A JSON-protocol error: status, body __type, x-amzn-ErrorType, request id."""
    assert resp.status_code == status, f"expected HTTP {status} {name}, got {resp.status_code}: {resp.text!r}"
    try:
        body = resp.json()
    except ValueError:
        pytest.fail(f"error body is not JSON: {resp.text!r}")
    type_ = str(body.get("__type", ""))
    assert type_.split("#")[-1].split(":")[0] == name, f"__type {type_!r} != {name!r}; body={body!r}"
    header = resp.headers.get("x-amzn-ErrorType", "")
    assert header.split(":")[0] == name, f"x-amzn-ErrorType {header!r} != {name!r}"
    assert isinstance(body.get("message"), str), f"error body lacks a string 'message': {body!r}"
    assert resp.headers.get("x-amzn-RequestId"), "x-amzn-RequestId missing on error response"
    return body


def assert_client_error(excinfo, code: str, status: int = 400) -> ClientError:
    err = excinfo.value
    got_code = err.response.get("Error", {}).get("Code")
    got_status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    assert got_code == code, f"expected {code}, got {got_code}: {err.response!r}"
    assert got_status == status, f"expected HTTP {status} for {code}, got {got_status}"
    return err


def unique(prefix: str = "compat") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"



def jdump(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


# --------------------------------------------------------------------------
# sign-up / sign-in / tokens (spec user-pools.md §3-§4)
# --------------------------------------------------------------------------

PASSWORD = "Compat-Passw0rd!"          # satisfies the default password policy
OTHER_PASSWORD = "0ther-Compat-Pw!"
EMAIL_FROM = "cirrus-compat@example.test"   # CIRRUS_EMAIL_FROM of the auth_server fixture


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    """SECRET_HASH = base64(HMAC-SHA256(client_secret, username + client_id)) (§3.3)."""
    mac = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def issuer_for(endpoint: str, pool_id: str) -> str:
    return f"{endpoint}/{pool_id}"


def jwks_url_for(endpoint: str, pool_id: str) -> str:
    return f"{issuer_for(endpoint, pool_id)}/.well-known/jwks.json"


def new_pool(idp, **kwargs) -> str:
    """Create a user pool (name generated unless given) and return its id."""
    kwargs.setdefault("PoolName", unique("pool"))
    return idp.create_user_pool(**kwargs)["UserPool"]["Id"]


def new_app_client(idp, pool_id: str, **kwargs) -> dict:
    """Create an app client; by default it allows the password and refresh flows."""
    kwargs.setdefault("ClientName", unique("app"))
    kwargs.setdefault("ExplicitAuthFlows", ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                                            "ALLOW_REFRESH_TOKEN_AUTH"])
    return idp.create_user_pool_client(UserPoolId=pool_id, **kwargs)["UserPoolClient"]


def attrs_list(attrs: dict) -> list:
    return [{"Name": k, "Value": v} for k, v in attrs.items()]


def attrs_dict(attrs: list) -> dict:
    return {a["Name"]: a.get("Value") for a in attrs or []}


def confirmed_user(idp, pool_id: str, client: dict, username: str | None = None,
                   password: str = PASSWORD, attrs: dict | None = None) -> dict:
    """SignUp + AdminConfirmSignUp; returns {username, password, sub}."""
    username = username or unique("user")
    kwargs = dict(ClientId=client["ClientId"], Username=username, Password=password,
                  UserAttributes=attrs_list(attrs or {}))
    if client.get("ClientSecret"):
        kwargs["SecretHash"] = secret_hash(username, client["ClientId"], client["ClientSecret"])
    sub = idp.sign_up(**kwargs)["UserSub"]
    idp.admin_confirm_sign_up(UserPoolId=pool_id, Username=username)
    return {"username": username, "password": password, "sub": sub}


def password_auth(idp, client: dict, username: str, password: str, flow: str = "USER_PASSWORD_AUTH") -> dict:
    """InitiateAuth with USER_PASSWORD_AUTH (SECRET_HASH added when the client has a secret)."""
    params = {"USERNAME": username, "PASSWORD": password}
    if client.get("ClientSecret"):
        params["SECRET_HASH"] = secret_hash(username, client["ClientId"], client["ClientSecret"])
    return idp.initiate_auth(ClientId=client["ClientId"], AuthFlow=flow, AuthParameters=params)


def outbox_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "outbox"


def wait_outbox(data_dir: Path, suffix: str, contains: str, timeout: float = 10.0) -> list:
    """Outbox files (server without SMTP / SMS webhook) ending in `suffix`
    whose text contains `contains`, waiting until at least one exists."""
    deadline = time.monotonic() + timeout
    box = outbox_dir(data_dir)
    while True:
        hits = []
        if box.is_dir():
            for f in sorted(box.iterdir(), key=lambda p: (p.stat().st_mtime, p.name)):
                if f.name.endswith(suffix) and contains in f.read_text(errors="replace"):
                    hits.append(f)
        if hits:
            return hits
        if time.monotonic() > deadline:
            listing = sorted(p.name for p in box.iterdir()) if box.is_dir() else "(no outbox dir)"
            pytest.fail(f"no {suffix} file mentioning {contains!r} in {box} within {timeout}s: {listing}")
        time.sleep(0.1)


# --------------------------------------------------------------------------
# accounts: user administration, ListUsers, self-service, recovery, groups
# (spec user-pools-operations.md §2.3, §2.4, §2.8, §2.9; user-pools.md §1, §4)
# --------------------------------------------------------------------------

TEMP_PASSWORD = "Temp-Passw0rd!"
THIRD_PASSWORD = "Third-Compat-Pw9!"
WEAK_PASSWORD = "weak"
POLICY_PREFIX = "Password did not conform with policy"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
USER_TYPE_KEYS = {"Username", "Attributes", "UserCreateDate", "UserLastModifiedDate", "Enabled", "UserStatus"}


def new_email(first: str = "u") -> str:
    """A unique lowercase address whose masked form is `<first>***@e***`."""
    return f"{first}{uuid.uuid4().hex[:12]}@example.test"


def new_phone() -> str:
    return "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))


def masked_email(addr: str) -> str:
    local, domain = addr.split("@")
    return f"{local[0]}***@{domain[0]}***"


def assert_masked_phone(destination: str, phone: str) -> None:
    import re
    assert re.fullmatch(r"\+\*+" + re.escape(phone[-4:]), destination or ""), \
        f"Destination {destination!r} is not masked like +*******{phone[-4:]}"


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def expect_error(code: str, fn, *args, status: int = 400, **kwargs) -> ClientError:
    """Call fn(*args, **kwargs) and assert it fails with `code` (and HTTP `status`)."""
    with pytest.raises(ClientError) as ei:
        fn(*args, **kwargs)
    return assert_client_error(ei, code, status)


def error_message(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Message", "")


def assert_recent(value, seconds: float = 300) -> None:
    assert isinstance(value, _dt.datetime), f"expected a timestamp, got {value!r}"
    now = _dt.datetime.now(_dt.timezone.utc)
    assert abs((now - value).total_seconds()) < seconds, f"timestamp {value} is not close to now ({now})"


def sign_in(idp, client: dict, username: str, password: str = PASSWORD) -> dict:
    """USER_PASSWORD_AUTH that must end in tokens; returns AuthenticationResult."""
    resp = password_auth(idp, client, username, password)
    assert "ChallengeName" not in resp, f"unexpected challenge {resp.get('ChallengeName')!r} for {username}"
    return resp["AuthenticationResult"]


def refresh_tokens(idp, client: dict, refresh_token: str, username: str | None = None) -> dict:
    params = {"REFRESH_TOKEN": refresh_token}
    if client.get("ClientSecret"):
        params["SECRET_HASH"] = secret_hash(username, client["ClientId"], client["ClientSecret"])
    return idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
                             AuthParameters=params)["AuthenticationResult"]


def fetch_jwks(endpoint: str, pool_id: str) -> dict:
    resp = requests.get(jwks_url_for(endpoint, pool_id), timeout=10)
    assert resp.status_code == 200, f"JWKS: HTTP {resp.status_code} {resp.text[:300]!r}"
    return resp.json()


def verify_jwt(token: str, jwks: dict, issuer: str, audience: str | None = None) -> dict:
    """PyJWT verification against the JWKS: RS256 only, iss, exp/iat, and aud for ID tokens."""
    import jwt
    header = jwt.get_unverified_header(token)
    keys = [k for k in jwks["keys"] if k.get("kid") == header.get("kid")]
    assert len(keys) == 1, f"kid {header.get('kid')!r} not (uniquely) in the JWKS"
    key = jwt.PyJWK(keys[0]).key
    require = ["exp", "iat", "iss", "sub"] + (["aud"] if audience else [])
    return jwt.decode(token, key, algorithms=["RS256"], issuer=issuer, audience=audience,
                      options={"require": require}, leeway=5)


def admin_user(idp, pool_id: str, username: str | None = None, attrs: dict | None = None,
               password: str = PASSWORD, permanent: bool = True) -> dict:
    """AdminCreateUser (SUPPRESS, temporary password) then AdminSetUserPassword:
    a CONFIRMED user (permanent) whose attributes, e.g. *_verified flags, are
    exactly as given. Returns {username, password, sub, attrs}."""
    username = username or unique("user")
    user = idp.admin_create_user(UserPoolId=pool_id, Username=username, UserAttributes=attrs_list(attrs or {}),
                                 TemporaryPassword=TEMP_PASSWORD, MessageAction="SUPPRESS")["User"]
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=permanent)
    return {"username": user["Username"], "password": password, "sub": attrs_dict(user["Attributes"])["sub"],
            "attrs": dict(attrs or {})}


# --------------------------------------------------------------------------
# MFA and SRP (spec user-pools.md §3 and §5, user-pools-operations.md §2.5)
# --------------------------------------------------------------------------

TOTP_STEP = 30
JS_DIR = Path(__file__).resolve().parent / "js"
SRP_CLIENT_JS = JS_DIR / "srp_client.js"
# RFC 3526 group 15 (3072-bit MODP), the SRP modulus of user-pools.md §5.
SRP_N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)


class Totp:
    """RFC 6238 codes (pyotp: HMAC-SHA1, 6 digits, 30 s) for one registered
    secret that never hand out the same time step twice.

    A server must refuse a code it has already accepted (replay), so every
    legitimate use needs a step later than the last one used; `fresh()` waits
    for such a step, with at least `margin` seconds of it left so the code
    is still current when the server checks it."""

    def __init__(self, secret: str):
        import pyotp
        self.secret = secret
        self.otp = pyotp.TOTP(secret)
        self.last_step: int | None = None

    @staticmethod
    def step_now() -> int:
        return int(time.time() // TOTP_STEP)

    def code_at(self, step: int) -> str:
        return self.otp.at(step * TOTP_STEP)

    def reserve(self, margin: float = 5.0) -> int:
        """Wait for an unused step with `margin` seconds left, mark it used, return it."""
        while True:
            now = time.time()
            step = int(now // TOTP_STEP)
            left = (step + 1) * TOTP_STEP - now
            if (self.last_step is None or step > self.last_step) and left >= margin:
                self.last_step = step
                return step
            time.sleep(left + 0.05)

    def fresh(self, margin: float = 5.0) -> str:
        return self.code_at(self.reserve(margin))


def jwt_claims(token: str) -> dict:
    """The payload of a JWS, not verified (for reading claims only)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def with_secret_hash(client: dict, params: dict) -> dict:
    """A copy of AuthParameters / ChallengeResponses plus SECRET_HASH when the client has a secret."""
    params = dict(params)
    if client.get("ClientSecret"):
        params["SECRET_HASH"] = secret_hash(params["USERNAME"], client["ClientId"], client["ClientSecret"])
    return params


def expect_challenge(resp: dict, name: str) -> tuple[str, dict]:
    """Assert `resp` is the challenge `name` (with a Session, no tokens); return (Session, ChallengeParameters)."""
    assert resp.get("ChallengeName") == name, \
        f"expected challenge {name}, got {resp.get('ChallengeName')!r}: {_no_meta(resp)!r}"
    assert "AuthenticationResult" not in resp, f"challenge {name} came with tokens: {_no_meta(resp)!r}"
    session = resp.get("Session")
    assert isinstance(session, str) and 20 <= len(session) <= 4096, f"bad Session {session!r}"
    return session, resp.get("ChallengeParameters") or {}


def expect_tokens(resp: dict) -> dict:
    """Assert `resp` ends the sign-in with tokens; return AuthenticationResult."""
    assert "ChallengeName" not in resp, f"unexpected challenge {resp.get('ChallengeName')!r}: {_no_meta(resp)!r}"
    result = resp.get("AuthenticationResult") or {}
    for key in ("AccessToken", "IdToken", "RefreshToken"):
        assert result.get(key), f"AuthenticationResult lacks {key}: {_no_meta(resp)!r}"
    assert result.get("TokenType") == "Bearer", result.get("TokenType")
    return result


def _no_meta(resp: dict) -> dict:
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


def respond(idp, client: dict, name: str, session: str | None, responses: dict) -> dict:
    """RespondToAuthChallenge (SECRET_HASH added when the client has a secret)."""
    kwargs = dict(ClientId=client["ClientId"], ChallengeName=name,
                  ChallengeResponses=with_secret_hash(client, responses))
    if session is not None:
        kwargs["Session"] = session
    return idp.respond_to_auth_challenge(**kwargs)


def register_totp(idp, access_token: str, device: str = "compat-device") -> Totp:
    """AssociateSoftwareToken + VerifySoftwareToken with a fresh pyotp code."""
    secret = idp.associate_software_token(AccessToken=access_token)["SecretCode"]
    totp = Totp(secret)
    resp = idp.verify_software_token(AccessToken=access_token, UserCode=totp.fresh(), FriendlyDeviceName=device)
    assert resp["Status"] == "SUCCESS", _no_meta(resp)
    return totp


def mfa_settings(totp: bool | None = None, sms: bool | None = None, email: bool | None = None,
                 preferred: str | None = None) -> dict:
    """Keyword arguments for (Admin)SetUserMFAPreference; `preferred` is
    SOFTWARE_TOKEN_MFA, SMS_MFA or EMAIL_OTP; None leaves a factor unchanged."""
    out = {}
    for key, on, name in (("SoftwareTokenMfaSettings", totp, "SOFTWARE_TOKEN_MFA"),
                          ("SMSMfaSettings", sms, "SMS_MFA"), ("EmailMfaSettings", email, "EMAIL_OTP")):
        if on is not None:
            out[key] = {"Enabled": on, "PreferredMfa": bool(on) and preferred == name}
    return out


def run_srp_client_js(endpoint: str, pool_id: str, client_id: str, username: str, password: str,
                      totp_secret: str | None = None, wrong_totp_first: bool = False,
                      timeout: float = 30.0) -> dict:
    """Run tests/compat/js/srp_client.js (amazon-cognito-identity-js) with node and return its JSON report."""
    import shutil
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH (needed for the amazon-cognito-identity-js tests)")
    if not (JS_DIR / "node_modules" / "amazon-cognito-identity-js").is_dir():
        pytest.fail(f"{JS_DIR}/node_modules is missing: run tests/compat/run.sh (it runs `npm ci` there)")
    args = [node, str(SRP_CLIENT_JS), "--endpoint", endpoint, "--pool-id", pool_id, "--client-id", client_id,
            "--username", username]
    if totp_secret:
        args += ["--totp-secret", totp_secret]
    if wrong_totp_first:
        args.append("--wrong-totp-first")
    env = dict(os.environ, CIRRUS_JS_PASSWORD=password)
    proc = subprocess.run(args, cwd=str(JS_DIR), env=env, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        report = json.loads(lines[-1])
    except (IndexError, ValueError):
        pytest.fail(f"srp_client.js printed no JSON (exit {proc.returncode})\n"
                    f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}")
    assert proc.returncode == 0, f"srp_client.js exited {proc.returncode}: {report!r}\n{proc.stderr[-2000:]}"
    return report
