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
