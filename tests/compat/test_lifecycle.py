"""Process lifecycle: SIGTERM drains in-flight requests and exits 0."""

from __future__ import annotations

import signal
import socket
import time
import uuid

import botocore.auth
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from harness import (IDP_PREFIX, JSON_CT, REGION, STOP_TIMEOUT, CirrusServer, jdump, random_access_key,
                     random_secret_key)


@pytest.fixture
def own_server(workroot):
    srv = CirrusServer(data_dir=workroot / f"life-{uuid.uuid4().hex[:8]}", workdir=workroot,
                       access_key=random_access_key(), secret_key=random_secret_key(),
                       tag=f"life-{uuid.uuid4().hex[:6]}")
    srv.start()
    yield srv
    srv.kill()


def _signed_list_request(srv: CirrusServer) -> tuple[dict, bytes]:
    body = jdump({"MaxResults": 5}).encode()
    req = AWSRequest(method="POST", url=srv.endpoint + "/", data=body,
                     headers={"Content-Type": JSON_CT, "X-Amz-Target": IDP_PREFIX + "ListUserPools"})
    botocore.auth.SigV4Auth(Credentials(srv.access_key, srv.secret_key), "cognito-idp", REGION).add_auth(req)
    p = req.prepare()
    return dict(p.headers.items()), p.body


def test_sigterm_with_idle_keepalive_connection(own_server):
    srv = own_server
    with requests.Session() as s:
        headers, body = _signed_list_request(srv)
        r = s.post(srv.endpoint + "/", headers=headers, data=body, timeout=5)
        assert r.status_code == 200, r.text
        # the pooled keep-alive connection stays open while we stop the server
        srv.stop_clean()


def test_sigterm_drains_in_flight_request(own_server):
    srv = own_server
    headers, body = _signed_list_request(srv)
    headers["Content-Length"] = str(len(body))
    headers["Host"] = f"127.0.0.1:{srv.port}"
    headers["Connection"] = "close"
    head = "POST / HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        split = len(body) // 2
        sock.sendall(head.encode() + body[:split])
        time.sleep(0.5)  # the server has read the headers: the request is in flight
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert srv.proc.poll() is None, "server exited with a request still in flight (no drain)"
        sock.sendall(body[split:])
        response = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            response += chunk
    finally:
        sock.close()
    status_line = response.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 200"), f"in-flight request not completed: {response[:300]!r}"
    assert b"UserPools" in response
    rc = srv.proc.wait(timeout=STOP_TIMEOUT)
    assert rc == 0, f"exit code {rc} after SIGTERM\n{srv.logs()}"


def test_sigterm_stops_accepting_new_connections(own_server):
    srv = own_server
    srv.stop_clean()
    with pytest.raises(requests.ConnectionError):
        requests.get(srv.endpoint + "/healthz", timeout=2)
