"""Shared pytest fixtures for the Cirrus compatibility suite (see harness.py).

Set CIRRUS_COMPAT_KEEP=1 to keep the temporary work directory (server data
dirs and stdout/stderr logs) after the run; its path is printed at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from harness import REGION, CirrusServer, random_access_key, random_secret_key, raw_request, unique
from harness import EMAIL_FROM

# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def workroot():
    root = Path(tempfile.mkdtemp(prefix="cirrus-compat-"))
    yield root
    if os.environ.get("CIRRUS_COMPAT_KEEP"):
        print(f"\ncompat: kept work directory {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def server(workroot):
    """The shared server: SQLite, fixed admin credentials."""
    srv = CirrusServer(
        data_dir=workroot / "main-data",
        workdir=workroot,
        access_key=random_access_key(),
        secret_key=random_secret_key(),
        tag="main",
    )
    srv.start()
    try:
        yield srv
    finally:
        srv.stop_clean()


@pytest.fixture(scope="session")
def endpoint(server):
    return server.endpoint


@pytest.fixture(scope="session")
def creds(server):
    return {"access_key": server.access_key, "secret_key": server.secret_key, "region": REGION}


@pytest.fixture(scope="session")
def make_client(server):
    """make_client(service='cognito-idp', **kwargs) -> boto3 client for the shared server."""
    return server.client


@pytest.fixture(scope="session")
def idp(server):
    return server.client("cognito-idp")


@pytest.fixture(scope="session")
def idp_raw(server):
    """cognito-idp client that sends whatever it is given (no botocore validation)."""
    return server.client("cognito-idp", validate=False)


@pytest.fixture(scope="session")
def sts(server):
    return server.client("sts")


@pytest.fixture
def pool(idp):
    """A fresh user pool with defaults; deleted afterwards (best effort)."""
    resp = idp.create_user_pool(PoolName=unique("pool"))
    pool_id = resp["UserPool"]["Id"]
    yield resp["UserPool"]
    try:
        idp.delete_user_pool(UserPoolId=pool_id)
    except ClientError:
        pass


@pytest.fixture
def raw(server):
    """raw(**kwargs) -> requests.Response, signed with the admin creds by default."""
    def send(**kwargs):
        kwargs.setdefault("access_key", server.access_key)
        kwargs.setdefault("secret_key", server.secret_key)
        return raw_request(server.endpoint, **kwargs)
    return send


# --------------------------------------------------------------------------
# sign-up / sign-in / tokens: a server wired to an SMTP sink and an SMS webhook
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smtp_sink():
    from smtp_sink import SmtpSink
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="module")
def sms_sink():
    from sms_sink import SmsSink
    sink = SmsSink().start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="module")
def auth_server(workroot, smtp_sink, sms_sink):
    """A server per test module, delivering email to `smtp_sink` (plain SMTP,
    no TLS) and SMS to `sms_sink`. No CIRRUS_PUBLIC_URL: the issuer is then
    derived from the listen address, i.e. equals the endpoint URL."""
    import uuid
    tag = f"auth-{uuid.uuid4().hex[:6]}"
    srv = CirrusServer(
        data_dir=workroot / f"{tag}-data",
        workdir=workroot,
        access_key=random_access_key(),
        secret_key=random_secret_key(),
        tag=tag,
        extra_env={
            "CIRRUS_SMTP_HOST": "127.0.0.1",
            "CIRRUS_SMTP_PORT": str(smtp_sink.port),
            "CIRRUS_SMTP_TLS": "none",
            "CIRRUS_EMAIL_FROM": EMAIL_FROM,
            "CIRRUS_SMS_WEBHOOK_URL": sms_sink.url,
            "CIRRUS_SMS_WEBHOOK_SECRET": sms_sink.secret,
        },
        unset_env=("CIRRUS_PUBLIC_URL",),
    )
    srv.start()
    try:
        yield srv
    finally:
        srv.stop_clean()


@pytest.fixture(scope="module")
def auth_idp(auth_server):
    """cognito-idp client for `auth_server` (public operations go unsigned)."""
    return auth_server.client("cognito-idp")


@pytest.fixture(scope="module")
def auth_idp_raw(auth_server):
    return auth_server.client("cognito-idp", validate=False)


# --------------------------------------------------------------------------
# accounts (admin users, ListUsers, self-service, recovery, groups)
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def auth_idp_public(auth_server):
    """Unsigned cognito-idp client for `auth_server`: what a browser or mobile
    app uses for the public (ClientId / AccessToken) operations."""
    return auth_server.client("cognito-idp", unsigned=True)


@pytest.fixture(scope="module")
def auth_jwks_for(auth_server):
    """auth_jwks_for(pool_id) -> the pool's JWKS fetched over HTTP."""
    from harness import fetch_jwks
    return lambda pool_id: fetch_jwks(auth_server.endpoint, pool_id)


# --------------------------------------------------------------------------
# MFA and SRP: pycognito pointed at `auth_server`
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pycognito_for(auth_server):
    """pycognito_for(pool_id, client_id, username) -> an unmodified
    pycognito.Cognito whose boto3 client talks to `auth_server` unsigned, as
    an app without AWS credentials would (its issuer and JWKS URL are then
    derived from the same endpoint_url)."""
    import botocore
    from botocore.config import Config
    from pycognito import Cognito

    def make(pool_id: str, client_id: str, username: str, **kwargs):
        return Cognito(pool_id, client_id, username=username,
                       boto3_client_kwargs={"endpoint_url": auth_server.endpoint},
                       botocore_config=Config(signature_version=botocore.UNSIGNED,
                                              retries={"max_attempts": 1}),
                       **kwargs)
    return make
