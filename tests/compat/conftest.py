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

