"""First start without fixed admin credentials: generated keys are printed once."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from harness import CirrusServer, assert_client_error, random_secret_key, unique

HEADER = "Admin credentials (shown once; store them now):"
KEY_RE = re.compile(r"^  aws_access_key_id     = (\S+)$", re.M)
SECRET_RE = re.compile(r"^  aws_secret_access_key = (\S+)$", re.M)


def _read_banner(srv: CirrusServer, timeout: float = 5.0) -> tuple[str, str, str]:
    """Wait until both credential lines are on stdout (they may be flushed
    slightly after /readyz turns 200) and return (stdout, key, secret)."""
    deadline = time.monotonic() + timeout
    while True:
        out = srv.stdout_text()
        k, s = KEY_RE.search(out), SECRET_RE.search(out)
        if k and s:
            return out, k.group(1), s.group(1)
        if time.monotonic() > deadline:
            pytest.fail(f"credential lines not printed on first start\n{srv.logs()}")
        time.sleep(0.1)


@pytest.fixture
def fresh_server(workroot):
    srv = CirrusServer(data_dir=workroot / f"first-{uuid.uuid4().hex[:8]}", workdir=workroot,
                       tag=f"first-{uuid.uuid4().hex[:6]}")
    yield srv
    srv.kill()


def test_generated_credentials_printed_once_and_persist(fresh_server):
    srv = fresh_server
    srv.start()
    out, key, secret = _read_banner(srv)

    lines = out.splitlines()
    assert lines.count(HEADER) == 1, f"header line must appear exactly once:\n{out}"
    i = lines.index(HEADER)
    assert KEY_RE.fullmatch(lines[i + 1]), f"line after the header must be the key line:\n{out}"
    assert SECRET_RE.fullmatch(lines[i + 2]), f"second line after the header must be the secret line:\n{out}"
    assert len(KEY_RE.findall(out)) == 1 and len(SECRET_RE.findall(out)) == 1
    assert re.fullmatch(r"AKIA[A-Z0-9]{12,}", key), f"access key id should look like AKIA...: {key!r}"
    assert len(secret) >= 20, f"secret too short: {secret!r}"
    assert secret != key

    idp = srv.client("cognito-idp", access_key=key, secret_key=secret)
    name = unique("first")
    pool = idp.create_user_pool(PoolName=name)["UserPool"]
    assert pool["Name"] == name
    client = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("app"),
                                         GenerateSecret=True)["UserPoolClient"]

    bad = srv.client("cognito-idp", access_key=key, secret_key=random_secret_key())
    with pytest.raises(ClientError) as ei:
        bad.list_user_pools(MaxResults=1)
    assert_client_error(ei, "InvalidSignatureException")

    srv.stop_clean()

    # Second start on the same data dir: nothing printed, same creds valid, data kept.
    srv.start()
    time.sleep(0.5)  # give a (wrong) late banner the chance to show up
    out2 = srv.stdout_text()
    assert HEADER not in out2, f"credentials printed again on restart:\n{out2}"
    assert "aws_secret_access_key" not in out2 and secret not in out2, f"secret leaked on restart:\n{out2}"
    idp = srv.client("cognito-idp", access_key=key, secret_key=secret)
    got = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert got["Name"] == name, "pool created before the restart must survive it"
    got_client = idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=client["ClientId"])["UserPoolClient"]
    assert got_client["ClientSecret"] == client["ClientSecret"], "client secret must survive a restart"
    assert srv.client("sts", access_key=key, secret_key=secret).get_caller_identity()["Account"]
    srv.stop_clean()


def test_two_fresh_data_dirs_get_different_credentials(workroot):
    keys = []
    for _ in range(2):
        srv = CirrusServer(data_dir=workroot / f"pair-{uuid.uuid4().hex[:8]}", workdir=workroot,
                           tag=f"pair-{uuid.uuid4().hex[:6]}")
        try:
            srv.start()
            _, key, secret = _read_banner(srv)
            keys.append((key, secret))
            srv.stop_clean()
        finally:
            srv.kill()
    assert keys[0][0] != keys[1][0] and keys[0][1] != keys[1][1], "generated credentials must be random"


def test_fixed_credentials_print_no_banner(server):
    out = server.stdout_text()
    assert HEADER not in out, f"banner printed although fixed admin credentials were configured:\n{out}"
    assert server.secret_key not in out, "fixed secret must never be printed"
    err = server.stderr_path.read_text(errors="replace") if server.stderr_path else ""
    assert server.secret_key not in err, "fixed secret must never be logged"
