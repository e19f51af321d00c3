"""Identity pools, IAM and STS end to end (spec identity-pools.md): boto3's
cognito-identity / iam / sts clients against a dedicated `cirrus serve`, and
the example resource service (target/debug/examples/resource_service), which
trusts the server's temporary credentials through `cirrus session-keys`."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import struct
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock
from urllib.parse import urlsplit

import boto3
import botocore.auth
import jwt
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from harness import (REGION, CirrusServer, admin_user, expect_error, jdump, new_app_client, new_pool,
                     random_access_key, random_secret_key, server_binary, sign_in, unique)

ACCOUNT = "000000000000"
COGNITO = "cognito-identity.amazonaws.com"
SESSION_NAME = "CognitoIdentityCredentials"
OWN_FOLDER = "arn:aws:photos:::photo/${cognito-identity.amazonaws.com:sub}/*"
AKID_RE = re.compile(r"^ASIA[A-Z0-9]{16}$")
ID_RE = re.compile(rf"^{REGION}:[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}$")


# ------------------------------------------------------------------ helpers ----

def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def allow(actions, resource="*") -> dict:
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}]}


def cognito_trust(pool_ids, amr: str = "authenticated") -> dict:
    """The typical Cognito role trust policy (spec §7)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": COGNITO}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{COGNITO}:aud": pool_ids},
                      "ForAnyValue:StringLike": {f"{COGNITO}:amr": amr}}}]}


def make_role(iam, name: str, trust: dict, policy: dict | None = None, **kwargs) -> str:
    """A role with `trust` and one inline policy (default: photos:* on the identity's own folder)."""
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=jdump(trust), **kwargs)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="access",
                        PolicyDocument=jdump(policy or allow(["photos:*"], OWN_FOLDER)))
    return arn


def creds_of(c: dict) -> dict:
    """Cognito (SecretKey) or STS (SecretAccessKey) credentials as one shape."""
    return {"AccessKeyId": c["AccessKeyId"], "SecretKey": c.get("SecretKey") or c["SecretAccessKey"],
            "SessionToken": c["SessionToken"], "Expiration": c["Expiration"]}


def assert_credentials(c: dict, seconds: int) -> None:
    assert AKID_RE.match(c["AccessKeyId"]), c["AccessKeyId"]
    assert re.fullmatch(r"[A-Za-z0-9/+]{40}", c["SecretKey"]), c["SecretKey"]
    assert re.fullmatch(r"[A-Za-z0-9/+=]{100,}", c["SessionToken"]), c["SessionToken"][:80]
    left = (c["Expiration"] - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert seconds - 120 < left <= seconds + 5, f"expires in {left}s, expected about {seconds}s"


def session_client(srv: CirrusServer, service: str, c: dict):
    return boto3.session.Session().client(
        service, endpoint_url=srv.endpoint, region_name=REGION, aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretKey"], aws_session_token=c["SessionToken"],
        config=Config(retries={"max_attempts": 1}))


def caller_arn(srv, c: dict) -> str:
    return session_client(srv, "sts", c).get_caller_identity()["Arn"]


def signed(c: dict, method: str, url: str, body: bytes = b"", when: dt.datetime | None = None,
           presign: bool = False, secret: str | None = None, token: str | None = None):
    """A prepared request SigV4-signed for the `photos` service (header or presigned form)."""
    req = AWSRequest(method=method, url=url, data=body)
    cred = Credentials(c["AccessKeyId"], secret or c["SecretKey"], token or c["SessionToken"])
    signer = (botocore.auth.SigV4QueryAuth(cred, "photos", REGION, expires=60) if presign
              else botocore.auth.SigV4Auth(cred, "photos", REGION))
    if when is None:
        signer.add_auth(req)
    else:
        naive = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=naive):
            signer.add_auth(req)
    return req.prepare()


def send(p) -> requests.Response:
    return requests.request(p.method, p.url, headers=dict(p.headers.items()), data=p.body, timeout=10)


def error_code(resp: requests.Response) -> str | None:
    m = re.search(r"<Code>([^<]+)</Code>", resp.text)
    return m.group(1) if m else None


def assert_refused(resp: requests.Response, *codes: str) -> None:
    assert resp.status_code == 403, f"expected 403 {codes}, got {resp.status_code}: {resp.text!r}"
    assert error_code(resp) in codes, f"expected one of {codes}: {resp.text!r}"


def authorize(endpoint: str, p, action: str, resource: str, ip: str = "127.0.0.1") -> dict:
    """POST /broker/authorize with the signed request as the resource server received it."""
    url = urlsplit(p.url)
    headers = [[k.lower(), v] for k, v in p.headers.items()]
    if not any(k == "host" for k, _ in headers):
        headers.append(["host", url.netloc])
    body = {"Method": p.method, "Path": url.path + (f"?{url.query}" if url.query else ""), "Headers": headers,
            "Service": "photos", "Action": action, "Resource": resource, "SourceIp": ip,
            "SecureTransport": False}
    if p.body:
        body["Body"] = base64.b64encode(p.body if isinstance(p.body, bytes) else p.body.encode()).decode()
    resp = requests.post(f"{endpoint}/broker/authorize", json=body, timeout=10)
    assert resp.status_code == 200, f"/broker/authorize: HTTP {resp.status_code} {resp.text!r}"
    return resp.json()


# XChaCha20-Poly1305 (HChaCha20 + ChaCha20-Poly1305), to re-seal a session token
# with the exported key ring: the only way to present genuinely expired
# credentials when no session can be shorter than 900 s.

def _hchacha20(key: bytes, nonce16: bytes) -> bytes:
    s = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574, *struct.unpack("<8I", key),
         *struct.unpack("<4I", nonce16)]

    def qr(a, b, c, d):
        for x, y, z, r in ((a, b, d, 16), (c, d, b, 12), (a, b, d, 8), (c, d, b, 7)):
            s[x] = (s[x] + s[y]) & 0xFFFFFFFF
            v = s[z] ^ s[x]
            s[z] = ((v << r) | (v >> (32 - r))) & 0xFFFFFFFF
    for _ in range(10):
        qr(0, 4, 8, 12), qr(1, 5, 9, 13), qr(2, 6, 10, 14), qr(3, 7, 11, 15)
        qr(0, 5, 10, 15), qr(1, 6, 11, 12), qr(2, 7, 8, 13), qr(3, 4, 9, 14)
    return struct.pack("<8I", *s[0:4], *s[12:16])


def _xchacha(key: bytes, nonce: bytes) -> tuple[ChaCha20Poly1305, bytes]:
    return ChaCha20Poly1305(_hchacha20(key, nonce[:16])), b"\0" * 4 + nonce[16:]


def reseal(ring: str, c: dict, **changes) -> dict:
    """Credentials whose session token (layout: sts-broker/src/credentials.rs) carries `changes`."""
    raw = base64.b64decode(c["SessionToken"])
    header, sealed = raw[:5], raw[5:]
    kid = struct.unpack(">I", header[1:5])[0]
    entry = next(e.split(":") for e in ring.split(",") if int(e.split(":")[0]) == kid)
    seal_key, secret_key = base64.b64decode(entry[1]), base64.b64decode(entry[2])
    aead, n = _xchacha(seal_key, sealed[1:25])
    claims = json.loads(aead.decrypt(n, sealed[25:], header))
    claims.update(changes)
    nonce = secrets.token_bytes(24)
    aead, n = _xchacha(seal_key, nonce)
    token = header + b"\x01" + nonce + aead.encrypt(n, json.dumps(claims).encode(), header)
    mac = hmac.new(secret_key, claims["akid"].encode() + b"\0" + token, hashlib.sha256).digest()
    return dict(c, SessionToken=base64.b64encode(token).decode(), SecretKey=base64.b64encode(mac[:30]).decode())


# ----------------------------------------------------------------- fixtures ----

@pytest.fixture(scope="module")
def srv(workroot):
    """A server of its own: IAM roles are account-wide, so names stay predictable here."""
    s = CirrusServer(data_dir=workroot / f"ip-{uuid.uuid4().hex[:8]}", workdir=workroot,
                     access_key=random_access_key(), secret_key=random_secret_key(), tag="idpools")
    s.start()
    try:
        yield s
    finally:
        s.stop_clean()


# Clients: admin-signed cognito-idp, cognito-identity (`ci`) and iam; unsigned
# cognito-identity (`cip`, what an app calls GetId with) and sts (`sts_pub`).
idp = pytest.fixture(scope="module")(lambda srv: srv.client("cognito-idp"))
ci = pytest.fixture(scope="module")(lambda srv: srv.client("cognito-identity"))
cip = pytest.fixture(scope="module")(lambda srv: srv.client("cognito-identity", unsigned=True))
iam = pytest.fixture(scope="module")(lambda srv: srv.client("iam"))
sts_pub = pytest.fixture(scope="module")(lambda srv: srv.client("sts", unsigned=True))


@pytest.fixture(scope="module")
def ring(srv):
    """`cirrus session-keys` with the server's own environment (data dir, master key)."""
    out = subprocess.run([str(server_binary()), "session-keys"], env=srv._env(), cwd=str(srv.workdir),
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, f"cirrus session-keys exited {out.returncode}: {out.stderr[-2000:]}"
    return out.stdout.strip()


@pytest.fixture(scope="module")
def photos(ring, srv):
    """The example resource service; yields its base URL."""
    binary = server_binary().parent / "examples" / "resource_service"
    if not binary.exists():
        pytest.fail(f"{binary} not found: run `cargo build --workspace --all-targets`")
    env = {"CIRRUS_SESSION_KEYS": ring, "RESOURCE_LISTEN": "127.0.0.1:0", "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([str(binary)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(20)
    m = re.search(r"listening on (http://\S+)", line[0] if line else "")
    if not m:
        proc.kill()
        proc.stdout.close()
        pytest.fail(f"resource service did not start: {line!r}")
    try:
        yield m.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


@pytest.fixture(scope="module")
def up(idp):
    """A user pool (custom:dept) and a password-flow app client; `key` is its Logins key."""
    pid = new_pool(idp, Schema=[{"Name": "dept", "AttributeDataType": "String", "Mutable": True}])
    client = new_app_client(idp, pid)
    key = f"cognito-idp.{REGION}.amazonaws.com/{pid}"
    return {"pool": pid, "client": client, "key": key, "provider": {"ProviderName": key,
                                                                    "ClientId": client["ClientId"]}}


def login(idp, up, attrs: dict | None = None, groups=()) -> str:
    """A confirmed user (in `groups`) signed in: its ID token."""
    user = admin_user(idp, up["pool"], attrs=attrs)
    for g in groups:
        idp.admin_add_user_to_group(UserPoolId=up["pool"], Username=user["username"], GroupName=g)
    return sign_in(idp, up["client"], user["username"])["IdToken"]


def new_identity_pool(ci, **kwargs) -> str:
    kwargs.setdefault("IdentityPoolName", unique("ip").replace("-", "_"))
    kwargs.setdefault("AllowUnauthenticatedIdentities", False)
    return ci.create_identity_pool(**kwargs)["IdentityPoolId"]


def enhanced(cip, pool_id: str, logins: dict | None = None) -> tuple[str, dict]:
    """GetId + GetCredentialsForIdentity: (IdentityId, credentials)."""
    kw = {"Logins": logins} if logins else {}
    iid = cip.get_id(IdentityPoolId=pool_id, **kw)["IdentityId"]
    resp = cip.get_credentials_for_identity(IdentityId=iid, **kw)
    assert resp["IdentityId"] == iid
    return iid, creds_of(resp["Credentials"])


@pytest.fixture(scope="module")
def flow(idp, ci, cip, iam, up):
    """Spec §4 enhanced flow: identity pool with the user pool, role photos-user, one signed-in user."""
    pid = new_identity_pool(ci, CognitoIdentityProviders=[up["provider"]])
    arn = make_role(iam, "photos-user", cognito_trust(pid))
    ci.set_identity_pool_roles(IdentityPoolId=pid, Roles={"authenticated": arn})
    logins = {up["key"]: login(idp, up)}
    iid, creds = enhanced(cip, pid, logins)
    return {"pool": pid, "logins": logins, "iid": iid, "creds": creds}


def photo_url(base: str, owner: str, name: str = "a.jpg") -> str:
    return f"{base}/photos/{owner}/{name}"


def photo_arn(owner: str, name: str = "a.jpg") -> str:
    return f"arn:aws:photos:::photo/{owner}/{name}"


# ---------------------------------------------------- 1. enhanced flow (§4) ----

def test_enhanced_credentials(srv, cip, flow):
    again = cip.get_id(IdentityPoolId=flow["pool"], Logins=flow["logins"])["IdentityId"]
    assert ID_RE.match(flow["iid"]) and again == flow["iid"], "the same login must give the same identity"
    assert_credentials(flow["creds"], 3600)
    assert caller_arn(srv, flow["creds"]) == f"arn:aws:sts::{ACCOUNT}:assumed-role/photos-user/{SESSION_NAME}"


def test_resource_service_own_folder(photos, flow):
    c, url = flow["creds"], photo_url(photos, flow["iid"])
    put = send(signed(c, "PUT", url, b"jpeg-bytes"))
    assert put.status_code in (200, 201), put.text
    assert put.json()["caller"].endswith(f"assumed-role/photos-user/{SESSION_NAME}")
    got = send(signed(c, "GET", url))
    assert got.status_code == 200, got.text
    assert got.json()["bytes"] == len(b"jpeg-bytes")


def test_resource_service_other_folder_denied(photos, flow):
    other = f"{REGION}:{uuid.uuid4()}"
    assert_refused(send(signed(flow["creds"], "GET", photo_url(photos, other))), "AccessDenied")
    assert_refused(send(signed(flow["creds"], "PUT", photo_url(photos, other), b"x")), "AccessDenied")


def test_resource_service_bad_signatures(photos, flow):
    c, url = flow["creds"], photo_url(photos, flow["iid"])
    mid = len(c["SessionToken"]) // 2
    bad = c["SessionToken"][:mid] + ("A" if c["SessionToken"][mid] != "A" else "B") + c["SessionToken"][mid + 1:]
    assert_refused(send(signed(c, "GET", url, token=bad)), "InvalidToken")
    assert_refused(send(signed(c, "GET", url, secret=random_secret_key())), "SignatureDoesNotMatch")
    assert_refused(requests.get(url, timeout=10), "MissingAuthenticationToken")
    stale = send(signed(c, "GET", url, when=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)))
    assert_refused(stale, "SignatureDoesNotMatch")
    assert "expired" in stale.text.lower(), stale.text


def test_resource_service_presigned(photos, flow):
    url = photo_url(photos, flow["iid"], "p.jpg")
    assert send(signed(flow["creds"], "PUT", url, b"12345")).status_code in (200, 201)
    p = signed(flow["creds"], "GET", url, presign=True)
    assert "X-Amz-Signature=" in p.url and "X-Amz-Security-Token=" in p.url
    resp = requests.get(p.url, timeout=10)
    assert resp.status_code == 200, resp.text
    other = signed(flow["creds"], "GET", photo_url(photos, f"{REGION}:{uuid.uuid4()}"), presign=True)
    assert_refused(requests.get(other.url, timeout=10), "AccessDenied")


def test_broker_authorize_agrees(srv, photos, flow):
    mine, other = flow["iid"], f"{REGION}:{uuid.uuid4()}"
    ok = authorize(srv.endpoint, signed(flow["creds"], "GET", photo_url(photos, mine)), "photos:GetPhoto",
                   photo_arn(mine))
    assert ok["Allowed"] is True, ok
    assert ok["Principal"]["Arn"].endswith(f"assumed-role/photos-user/{SESSION_NAME}")
    assert ok["Principal"]["AccessKeyId"] == flow["creds"]["AccessKeyId"]
    assert ok["Context"][f"{COGNITO}:sub"] == mine
    no = authorize(srv.endpoint, signed(flow["creds"], "GET", photo_url(photos, other)), "photos:GetPhoto",
                   photo_arn(other))
    assert no["Allowed"] is False and no["Code"] == "AccessDenied", no
    bad = authorize(srv.endpoint, signed(flow["creds"], "GET", photo_url(photos, mine),
                                         secret=random_secret_key()), "photos:GetPhoto", photo_arn(mine))
    assert bad["Allowed"] is False and bad["Code"] == "SignatureDoesNotMatch", bad
    put = signed(flow["creds"], "PUT", photo_url(photos, mine), b"body-is-signed")
    assert authorize(srv.endpoint, put, "photos:PutPhoto", photo_arn(mine))["Allowed"] is True
    put.body = b"body-is-changed"
    assert authorize(srv.endpoint, put, "photos:PutPhoto", photo_arn(mine))["Code"] == "SignatureDoesNotMatch"


# ------------------------------------------------------------- 2. expiry ----
# No session can be shorter than 900 s, so expired credentials are made by
# re-sealing a real session token with an `exp` in the past, using the key
# ring that `cirrus session-keys` exports (which can mint, by design).

def test_expired_credentials_refused(srv, photos, ring, flow):
    control = send(signed(reseal(ring, flow["creds"]), "PUT", photo_url(photos, flow["iid"], "r.jpg"), b"r"))
    assert control.status_code in (200, 201), f"re-sealing is broken, this test means nothing: {control.text!r}"
    now = int(time.time())
    c = reseal(ring, flow["creds"], iat=now - 4000, exp=now - 60)
    assert_refused(send(signed(c, "GET", photo_url(photos, flow["iid"]))), "ExpiredToken")
    out = authorize(srv.endpoint, signed(c, "GET", photo_url(photos, flow["iid"])), "photos:GetPhoto",
                    photo_arn(flow["iid"]))
    assert out["Allowed"] is False and out["Code"] == "ExpiredToken", out
    expect_error("ExpiredToken", session_client(srv, "sts", c).get_caller_identity, status=403)


# ------------------------------------------------- 3. basic (classic) flow ----

@pytest.fixture(scope="module")
def classic(idp, ci, cip, iam, up):
    """AllowClassicFlow pool, role basic-photos trusting it, an identity and its OpenID token."""
    pid = new_identity_pool(ci, AllowClassicFlow=True, CognitoIdentityProviders=[up["provider"]])
    arn = make_role(iam, "basic-photos", cognito_trust(pid))
    logins = {up["key"]: login(idp, up)}
    iid = cip.get_id(IdentityPoolId=pid, Logins=logins)["IdentityId"]
    token = cip.get_open_id_token(IdentityId=iid, Logins=logins)
    assert token["IdentityId"] == iid
    return {"pool": pid, "role": arn, "iid": iid, "token": token["Token"], "logins": logins}


def assume(sts_pub, role: str, token: str, name: str = "basic", **kwargs) -> dict:
    return sts_pub.assume_role_with_web_identity(RoleArn=role, RoleSessionName=name, WebIdentityToken=token,
                                                 **kwargs)


def test_open_id_token_claims(srv, up, classic):
    issuer = f"{srv.endpoint}/cognito-identity"
    disc = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    assert disc["issuer"] == issuer
    jwks = requests.get(f"{issuer}/.well-known/jwks.json", timeout=10).json()
    kid = jwt.get_unverified_header(classic["token"])["kid"]
    key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid)).key
    claims = jwt.decode(classic["token"], key, algorithms=["RS256", "RS512"], audience=classic["pool"],
                        issuer=issuer, options={"require": ["exp", "iat", "sub", "aud"]})
    assert claims["sub"] == classic["iid"]
    assert claims["amr"][:2] == ["authenticated", up["key"]]
    assert any(a.startswith(f"{up['key']}:CognitoSignIn:") for a in claims["amr"]), claims["amr"]
    assert 0 < claims["exp"] - claims["iat"] <= 3600


def test_assume_role_with_web_identity(srv, sts_pub, classic):
    resp = assume(sts_pub, classic["role"], classic["token"])
    assert resp["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/basic-photos/basic"
    assert re.fullmatch(r"AROA[A-Z0-9]{17}:basic", resp["AssumedRoleUser"]["AssumedRoleId"])
    assert resp["SubjectFromWebIdentityToken"] == classic["iid"]
    assert resp["Audience"] == classic["pool"] and resp["Provider"] == f"{srv.endpoint}/cognito-identity"
    c = creds_of(resp["Credentials"])
    assert_credentials(c, 3600)
    assert caller_arn(srv, c).endswith("assumed-role/basic-photos/basic")
    short = creds_of(assume(sts_pub, classic["role"], classic["token"], DurationSeconds=900)["Credentials"])
    assert_credentials(short, 900)


def test_classic_flow_disabled(sts_pub, cip, flow):
    token = cip.get_open_id_token(IdentityId=flow["iid"], Logins=flow["logins"])["Token"]
    expect_error("InvalidIdentityToken", assume, sts_pub, role_arn("photos-user"), token)


def test_user_pool_id_token_with_sts(srv, idp, iam, sts_pub, up):
    """A user-pool ID token goes to STS directly once its issuer is registered as an OIDC provider."""
    issuer = f"{srv.endpoint}/{up['pool']}"
    host = issuer.split("://", 1)[1]
    client_id = up["client"]["ClientId"]
    arn = iam.create_open_id_connect_provider(Url=issuer, ClientIDList=[client_id],
                                              ThumbprintList=["0" * 40])["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:aud": client_id}}}]}
    role = make_role(iam, "pool-token-role", trust)
    token = login(idp, up)
    resp = assume(sts_pub, role, token, name="pooltoken")
    assert resp["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/pool-token-role/pooltoken"
    assert resp["Audience"] == client_id and resp["Provider"] == issuer
    forged = token.rsplit(".", 1)[0] + "." + ("A" * 342)
    expect_error("InvalidIdentityToken", assume, sts_pub, role, forged)


def test_trust_policy_for_another_pool(sts_pub, iam, classic):
    other = make_role(iam, unique("elsewhere"), cognito_trust(f"{REGION}:{uuid.uuid4()}"))
    expect_error("AccessDenied", assume, sts_pub, other, classic["token"], status=403)
    expect_error("AccessDenied", assume, sts_pub, role_arn("no-such-role"), classic["token"], status=403)


def test_duration_and_token_errors(sts_pub, classic):
    expect_error("ValidationError", assume, sts_pub, classic["role"], classic["token"], DurationSeconds=7200)
    forged = jwt.encode({"iss": "https://nowhere.example", "sub": "x", "aud": "y", "exp": int(time.time()) + 60},
                        rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256")
    expect_error("InvalidIdentityToken", assume, sts_pub, classic["role"], forged)
    expect_error("MalformedPolicyDocument", assume, sts_pub, classic["role"], classic["token"],
                 Policy='{"Statement": [{"Effect": "Perhaps"}]}')


def test_session_policy_narrows(sts_pub, photos, classic):
    full = creds_of(assume(sts_pub, classic["role"], classic["token"])["Credentials"])
    url = photo_url(photos, classic["iid"])
    assert send(signed(full, "PUT", url, b"v1")).status_code in (200, 201)
    ro = assume(sts_pub, classic["role"], classic["token"], Policy=jdump(allow(["photos:GetPhoto"])))
    assert 0 < ro["PackedPolicySize"] <= 100
    ro = creds_of(ro["Credentials"])
    assert send(signed(ro, "GET", url)).status_code == 200
    assert_refused(send(signed(ro, "PUT", url, b"v2")), "AccessDenied")
    # a session policy never grants beyond the role: another folder stays closed
    wide = creds_of(assume(sts_pub, classic["role"], classic["token"], Policy=jdump(allow(["photos:*"])))
                    ["Credentials"])
    assert_refused(send(signed(wide, "GET", photo_url(photos, f"{REGION}:{uuid.uuid4()}"))), "AccessDenied")


def test_deny_conditions_and_managed_session_policy(srv, iam, sts_pub, photos, classic):
    """Explicit Deny wins; conditions see the request (aws:SourceIp); PolicyArns act as session policies."""
    policy = allow(["photos:*"], OWN_FOLDER)
    policy["Statement"] += [
        {"Effect": "Deny", "Action": "photos:PutPhoto", "Resource": "arn:aws:photos:::photo/*/locked.jpg"},
        {"Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}]
    c = creds_of(assume(sts_pub, make_role(iam, unique("deny"), cognito_trust(classic["pool"]), policy),
                        classic["token"])["Credentials"])
    assert send(signed(c, "PUT", photo_url(photos, classic["iid"], "open.jpg"), b"o")).status_code in (200, 201)
    locked = send(signed(c, "PUT", photo_url(photos, classic["iid"], "locked.jpg"), b"l"))
    assert_refused(locked, "AccessDenied")
    assert "explicit deny" in locked.text
    p = signed(c, "GET", photo_url(photos, classic["iid"], "open.jpg"))
    assert authorize(srv.endpoint, p, "photos:GetPhoto", photo_arn(classic["iid"], "open.jpg"))["Allowed"] is True
    far = authorize(srv.endpoint, p, "photos:GetPhoto", photo_arn(classic["iid"], "open.jpg"), ip="10.1.2.3")
    assert far["Allowed"] is False and far["Code"] == "AccessDenied", far
    ro = iam.create_policy(PolicyName=unique("ro"), PolicyDocument=jdump(allow(["photos:GetPhoto"])))["Policy"]
    c = creds_of(assume(sts_pub, classic["role"], classic["token"], PolicyArns=[{"arn": ro["Arn"]}])["Credentials"])
    assert send(signed(c, "GET", photo_url(photos, classic["iid"], "open.jpg"))).status_code == 200
    assert_refused(send(signed(c, "PUT", photo_url(photos, classic["iid"], "open.jpg"), b"x")), "AccessDenied")


# ------------------------------------------------------ 4. role mapping ----

@pytest.fixture(scope="module")
def mapping(idp, ci, iam, up):
    """Three pools on one user pool: Rules+Deny, Rules+AuthenticatedRole, Token+Deny."""
    pools = {k: new_identity_pool(ci, CognitoIdentityProviders=[up["provider"]])
             for k in ("deny", "fallback", "token")}
    trust = cognito_trust(list(pools.values()))
    roles = {n: make_role(iam, n, trust) for n in ("map-default", "map-eng", "map-boss", "map-admins")}
    idp.create_group(UserPoolId=up["pool"], GroupName="admins", RoleArn=roles["map-admins"], Precedence=1)
    rules = {"Rules": [
        {"Claim": "custom:dept", "MatchType": "Equals", "Value": "engineering", "RoleARN": roles["map-eng"]},
        {"Claim": "email", "MatchType": "StartsWith", "Value": "boss", "RoleARN": roles["map-boss"]}]}
    key = f"{up['key']}:{up['client']['ClientId']}"
    for name, m in (("deny", {"Type": "Rules", "AmbiguousRoleResolution": "Deny", "RulesConfiguration": rules}),
                    ("fallback", {"Type": "Rules", "AmbiguousRoleResolution": "AuthenticatedRole",
                                  "RulesConfiguration": rules}),
                    ("token", {"Type": "Token", "AmbiguousRoleResolution": "Deny"})):
        ci.set_identity_pool_roles(IdentityPoolId=pools[name], Roles={"authenticated": roles["map-default"]},
                                   RoleMappings={key: m})
    return pools


def mapped_role(srv, idp, cip, up, pool_id: str, attrs=None, groups=()) -> str:
    _, c = enhanced(cip, pool_id, {up["key"]: login(idp, up, attrs, groups)})
    return caller_arn(srv, c).split("/")[1]


def test_rules_equals(srv, idp, cip, up, mapping):
    assert mapped_role(srv, idp, cip, up, mapping["deny"], {"custom:dept": "engineering"}) == "map-eng"


def test_rules_starts_with(srv, idp, cip, up, mapping):
    attrs = {"email": f"boss{uuid.uuid4().hex[:6]}@example.test", "custom:dept": "sales"}
    assert mapped_role(srv, idp, cip, up, mapping["deny"], attrs) == "map-boss"


def test_rules_no_match(srv, idp, cip, up, mapping):
    token = login(idp, up, {"custom:dept": "sales"})
    iid = cip.get_id(IdentityPoolId=mapping["deny"], Logins={up["key"]: token})["IdentityId"]
    expect_error("NotAuthorizedException", cip.get_credentials_for_identity, IdentityId=iid,
                 Logins={up["key"]: token})
    assert mapped_role(srv, idp, cip, up, mapping["fallback"], {"custom:dept": "sales"}) == "map-default"


def test_token_preferred_role(srv, idp, cip, up, mapping):
    assert mapped_role(srv, idp, cip, up, mapping["token"], groups=["admins"]) == "map-admins"
    token = login(idp, up)
    iid = cip.get_id(IdentityPoolId=mapping["token"], Logins={up["key"]: token})["IdentityId"]
    expect_error("NotAuthorizedException", cip.get_credentials_for_identity, IdentityId=iid,
                 Logins={up["key"]: token})


def test_custom_role_arn(srv, idp, cip, up, mapping):
    token = login(idp, up, groups=["admins"])
    iid = cip.get_id(IdentityPoolId=mapping["token"], Logins={up["key"]: token})["IdentityId"]
    expect_error("NotAuthorizedException", cip.get_credentials_for_identity, IdentityId=iid,
                 Logins={up["key"]: token}, CustomRoleArn=role_arn("map-eng"))
    c = cip.get_credentials_for_identity(IdentityId=iid, Logins={up["key"]: token},
                                         CustomRoleArn=role_arn("map-admins"))["Credentials"]
    assert caller_arn(srv, creds_of(c)).endswith(f"assumed-role/map-admins/{SESSION_NAME}")


def test_principal_tags(srv, idp, ci, cip, iam, up, photos):
    """Spec §6: mapped claims become aws:PrincipalTag/*; the trust policy must allow sts:TagSession."""
    pid = new_identity_pool(ci, CognitoIdentityProviders=[up["provider"]])
    ci.set_principal_tag_attribute_map(IdentityPoolId=pid, IdentityProviderName=up["key"], UseDefaults=False,
                                       PrincipalTags={"dept": "custom:dept"})
    trust = cognito_trust(pid)
    policy = allow(["photos:GetPhoto"], "arn:aws:photos:::photo/${aws:PrincipalTag/dept}/*")
    no_tag = make_role(iam, unique("untaggable"), trust, policy)
    ci.set_identity_pool_roles(IdentityPoolId=pid, Roles={"authenticated": no_tag})
    logins = {up["key"]: login(idp, up, {"custom:dept": "engineering"})}
    iid = cip.get_id(IdentityPoolId=pid, Logins=logins)["IdentityId"]
    expect_error("InvalidIdentityPoolConfigurationException", cip.get_credentials_for_identity, IdentityId=iid,
                 Logins=logins)
    trust["Statement"][0]["Action"] = ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]
    ci.set_identity_pool_roles(IdentityPoolId=pid, Roles={"authenticated": make_role(
        iam, unique("taggable"), trust, policy)})
    c = creds_of(cip.get_credentials_for_identity(IdentityId=iid, Logins=logins)["Credentials"])
    ok = authorize(srv.endpoint, signed(c, "GET", photo_url(photos, "engineering")), "photos:GetPhoto",
                   photo_arn("engineering"))
    assert ok["Allowed"] is True and ok["Context"]["aws:PrincipalTag/dept"] == "engineering", ok
    assert_refused(send(signed(c, "GET", photo_url(photos, "sales"))), "AccessDenied")


# ------------------------------------------------- 5. unauthenticated ----

@pytest.fixture(scope="module")
def guest(ci, iam, up):
    pid = new_identity_pool(ci, AllowUnauthenticatedIdentities=True, CognitoIdentityProviders=[up["provider"]])
    unauth = make_role(iam, "guest-photos", cognito_trust(pid, "unauthenticated"))
    auth = make_role(iam, "member-photos", cognito_trust(pid))
    ci.set_identity_pool_roles(IdentityPoolId=pid, Roles={"authenticated": auth, "unauthenticated": unauth})
    return pid


def test_unauthenticated_identity(srv, ci, cip, guest):
    iid, c = enhanced(cip, guest)
    assert ID_RE.match(iid)
    assert cip.get_id(IdentityPoolId=guest)["IdentityId"] != iid, "GetId without logins makes a new identity"
    assert caller_arn(srv, c).endswith(f"assumed-role/guest-photos/{SESSION_NAME}")
    assert ci.describe_identity(IdentityId=iid).get("Logins", []) == []


def test_unauthenticated_becomes_authenticated(srv, idp, ci, cip, up, guest):
    iid, _ = enhanced(cip, guest)
    logins = {up["key"]: login(idp, up)}
    c = cip.get_credentials_for_identity(IdentityId=iid, Logins=logins)["Credentials"]
    assert caller_arn(srv, creds_of(c)).endswith(f"assumed-role/member-photos/{SESSION_NAME}")
    assert ci.describe_identity(IdentityId=iid)["Logins"] == [up["key"]]
    assert cip.get_id(IdentityPoolId=guest, Logins=logins)["IdentityId"] == iid
    expect_error("NotAuthorizedException", cip.get_credentials_for_identity, IdentityId=iid)


def test_unauthenticated_not_allowed(ci, cip, flow):
    expect_error("NotAuthorizedException", cip.get_id, IdentityPoolId=flow["pool"])


def test_unauth_role_trust_checked(ci, cip, iam, guest):
    """The enhanced flow evaluates the role's trust policy: an authenticated-only role refuses guests."""
    pid = new_identity_pool(ci, AllowUnauthenticatedIdentities=True)
    arn = make_role(iam, unique("auth-only"), cognito_trust(pid))
    ci.set_identity_pool_roles(IdentityPoolId=pid, Roles={"unauthenticated": arn})
    iid = cip.get_id(IdentityPoolId=pid)["IdentityId"]
    expect_error("InvalidIdentityPoolConfigurationException", cip.get_credentials_for_identity, IdentityId=iid)


# ---------------------------------------------- 6. developer identities ----

DEV = "login.myapp"


@pytest.fixture(scope="module")
def dev(ci, iam):
    pid = new_identity_pool(ci, DeveloperProviderName=DEV)
    ci.set_identity_pool_roles(IdentityPoolId=pid, Roles={"authenticated": make_role(
        iam, "dev-photos", cognito_trust(pid))})
    return pid


def dev_token(ci, pool: str, user: str, **kwargs) -> dict:
    return ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: user}, **kwargs)


def test_developer_identity_credentials(srv, ci, cip, dev):
    first = dev_token(ci, dev, "user-1")
    assert ID_RE.match(first["IdentityId"])
    assert dev_token(ci, dev, "user-1")["IdentityId"] == first["IdentityId"]
    claims = jwt.decode(first["Token"], options={"verify_signature": False})
    assert claims["aud"] == dev and claims["sub"] == first["IdentityId"] and DEV in claims["amr"]
    c = cip.get_credentials_for_identity(IdentityId=first["IdentityId"],
                                         Logins={COGNITO: first["Token"]})["Credentials"]
    assert caller_arn(srv, creds_of(c)).endswith(f"assumed-role/dev-photos/{SESSION_NAME}")
    expect_error("NotAuthorizedException", cip.get_id, IdentityPoolId=dev, Logins={DEV: "user-1"})


def test_developer_token_duration(ci, dev):
    t = dev_token(ci, dev, "user-dur", TokenDuration=120)["Token"]
    claims = jwt.decode(t, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120


def test_lookup_merge_unlink(ci, dev):
    a = dev_token(ci, dev, "alice")["IdentityId"]
    b = dev_token(ci, dev, "bob")["IdentityId"]
    assert a != b
    look = ci.lookup_developer_identity(IdentityPoolId=dev, IdentityId=a, MaxResults=10)
    assert look["IdentityId"] == a and look["DeveloperUserIdentifierList"] == ["alice"]
    assert ci.lookup_developer_identity(IdentityPoolId=dev, DeveloperUserIdentifier="bob")["IdentityId"] == b
    merged = ci.merge_developer_identities(SourceUserIdentifier="bob", DestinationUserIdentifier="alice",
                                           DeveloperProviderName=DEV, IdentityPoolId=dev)
    assert merged["IdentityId"] == a
    assert ci.lookup_developer_identity(IdentityPoolId=dev, DeveloperUserIdentifier="bob")["IdentityId"] == a
    assert sorted(ci.lookup_developer_identity(IdentityPoolId=dev, IdentityId=a)
                  ["DeveloperUserIdentifierList"]) == ["alice", "bob"]
    ci.unlink_developer_identity(IdentityId=a, IdentityPoolId=dev, DeveloperProviderName=DEV,
                                 DeveloperUserIdentifier="bob")
    expect_error("ResourceNotFoundException", ci.lookup_developer_identity, IdentityPoolId=dev,
                 DeveloperUserIdentifier="bob")
    expect_error("ResourceConflictException", ci.unlink_developer_identity, IdentityId=a, IdentityPoolId=dev,
                 DeveloperProviderName=DEV, DeveloperUserIdentifier="bob")


def test_developer_user_already_registered(ci, dev):
    a = dev_token(ci, dev, "carol")["IdentityId"]
    b = dev_token(ci, dev, "dave")["IdentityId"]
    assert a != b
    expect_error("DeveloperUserAlreadyRegisteredException", dev_token, ci, dev, "carol", IdentityId=b)


# ------------------------------------------------------------- 7. IAM ----

def test_iam_roles(iam):
    name = unique("role")
    trust = cognito_trust(f"{REGION}:{uuid.uuid4()}")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=jdump(trust), Description="d1")["Role"]
    assert role["Arn"] == role_arn(name) and re.fullmatch(r"AROA[A-Z0-9]{17}", role["RoleId"])
    expect_error("EntityAlreadyExists", iam.create_role, RoleName=name, AssumeRolePolicyDocument=jdump(trust),
                 status=409)
    got = iam.get_role(RoleName=name)["Role"]
    assert got["AssumeRolePolicyDocument"] == trust and got["MaxSessionDuration"] == 3600
    trust2 = cognito_trust([f"{REGION}:{uuid.uuid4()}"], "unauthenticated")
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=jdump(trust2))
    iam.update_role(RoleName=name, Description="d2", MaxSessionDuration=7200)
    got = iam.get_role(RoleName=name)["Role"]
    assert got["AssumeRolePolicyDocument"] == trust2 and got["Description"] == "d2"
    assert got["MaxSessionDuration"] == 7200
    assert name in [r["RoleName"] for r in iam.list_roles(MaxItems=1000)["Roles"]]
    iam.create_role(RoleName=name + "-b", AssumeRolePolicyDocument=jdump(trust))
    first = iam.list_roles(MaxItems=1)
    assert len(first["Roles"]) == 1 and first["IsTruncated"] is True and first["Marker"]
    second = iam.list_roles(MaxItems=1, Marker=first["Marker"])["Roles"]
    assert len(second) == 1 and second[0]["RoleName"] != first["Roles"][0]["RoleName"]
    doc = allow(["photos:GetPhoto"], OWN_FOLDER)
    iam.put_role_policy(RoleName=name, PolicyName="p1", PolicyDocument=jdump(doc))
    assert iam.get_role_policy(RoleName=name, PolicyName="p1")["PolicyDocument"] == doc
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["p1"]
    expect_error("DeleteConflict", iam.delete_role, RoleName=name, status=409)
    iam.delete_role_policy(RoleName=name, PolicyName="p1")
    expect_error("NoSuchEntity", iam.get_role_policy, RoleName=name, PolicyName="p1", status=404)
    iam.delete_role(RoleName=name)
    expect_error("NoSuchEntity", iam.get_role, RoleName=name, status=404)
    expect_error("NoSuchEntity", iam.delete_role, RoleName=name, status=404)


@pytest.mark.parametrize("doc", ["not json", '{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", '
                                 '"Action": "photos:*", "Resource": "*"}]}',
                                 '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}'],
                         ids=["not-json", "bad-effect", "no-action"])
def test_iam_malformed_policy(iam, doc):
    err = expect_error("MalformedPolicyDocument", iam.create_role, RoleName=unique("bad"),
                       AssumeRolePolicyDocument=doc)
    assert err.response["Error"]["Message"], "MalformedPolicyDocument must say why"
    name = unique("okrole")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=jdump(cognito_trust("x:1")))
    expect_error("MalformedPolicyDocument", iam.put_role_policy, RoleName=name, PolicyName="p", PolicyDocument=doc)
    expect_error("MalformedPolicyDocument", iam.create_policy, PolicyName=unique("pol"), PolicyDocument=doc)


def test_iam_managed_policies(iam):
    role, name = unique("mrole"), unique("pol")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=jdump(cognito_trust("x:1")))
    doc = allow(["photos:GetPhoto"])
    pol = iam.create_policy(PolicyName=name, PolicyDocument=jdump(doc), Description="ro")["Policy"]
    assert pol["Arn"] == f"arn:aws:iam::{ACCOUNT}:policy/{name}" and pol["DefaultVersionId"] == "v1"
    expect_error("EntityAlreadyExists", iam.create_policy, PolicyName=name, PolicyDocument=jdump(doc), status=409)
    assert iam.get_policy_version(PolicyArn=pol["Arn"], VersionId="v1")["PolicyVersion"]["Document"] == doc
    assert pol["Arn"] in [p["Arn"] for p in iam.list_policies(MaxItems=1000)["Policies"]]
    iam.attach_role_policy(RoleName=role, PolicyArn=pol["Arn"])
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == [
        {"PolicyName": name, "PolicyArn": pol["Arn"]}]
    assert iam.get_policy(PolicyArn=pol["Arn"])["Policy"]["AttachmentCount"] == 1
    expect_error("DeleteConflict", iam.delete_policy, PolicyArn=pol["Arn"], status=409)
    expect_error("DeleteConflict", iam.delete_role, RoleName=role, status=409)
    iam.detach_role_policy(RoleName=role, PolicyArn=pol["Arn"])
    expect_error("NoSuchEntity", iam.detach_role_policy, RoleName=role, PolicyArn=pol["Arn"], status=404)
    iam.delete_policy(PolicyArn=pol["Arn"])
    expect_error("NoSuchEntity", iam.get_policy, PolicyArn=pol["Arn"], status=404)
    expect_error("NoSuchEntity", iam.attach_role_policy, RoleName=role, PolicyArn=pol["Arn"], status=404)
    iam.delete_role(RoleName=role)


def test_managed_policy_grants_to_sessions(srv, iam, sts_pub, photos, classic):
    """An attached managed policy is part of the role's permissions at mint time."""
    role = unique("managed")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=jdump(cognito_trust(classic["pool"])))
    pol = iam.create_policy(PolicyName=unique("own"), PolicyDocument=jdump(allow(["photos:*"], OWN_FOLDER)))
    c = creds_of(assume(sts_pub, role_arn(role), classic["token"])["Credentials"])
    assert_refused(send(signed(c, "PUT", photo_url(photos, classic["iid"], "m.jpg"), b"m")), "AccessDenied")
    iam.attach_role_policy(RoleName=role, PolicyArn=pol["Policy"]["Arn"])
    c = creds_of(assume(sts_pub, role_arn(role), classic["token"])["Credentials"])
    assert send(signed(c, "PUT", photo_url(photos, classic["iid"], "m.jpg"), b"m")).status_code in (200, 201)


def test_iam_oidc_providers(iam):
    url = f"https://oidc-{uuid.uuid4().hex[:8]}.example.test"
    arn = iam.create_open_id_connect_provider(Url=url, ClientIDList=["app-1"],
                                              ThumbprintList=["0" * 40])["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{url[len('https://'):]}"
    expect_error("EntityAlreadyExists", iam.create_open_id_connect_provider, Url=url, ClientIDList=["x"],
                 ThumbprintList=["0" * 40], status=409)
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == url[len("https://"):] and got["ClientIDList"] == ["app-1"]
    assert got["ThumbprintList"] == ["0" * 40]
    assert arn in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    expect_error("NoSuchEntity", iam.get_open_id_connect_provider, OpenIDConnectProviderArn=arn, status=404)


# ----------------------------------------------- 8. identity pool CRUD ----

def test_identity_pool_crud(ci, up):
    name = unique("crud").replace("-", "_")
    created = ci.create_identity_pool(IdentityPoolName=name, AllowUnauthenticatedIdentities=False,
                                      CognitoIdentityProviders=[up["provider"]], IdentityPoolTags={"team": "a"})
    pid = created["IdentityPoolId"]
    assert re.fullmatch(rf"{REGION}:[0-9a-f-]{{36}}", pid)
    got = ci.describe_identity_pool(IdentityPoolId=pid)
    assert got["IdentityPoolName"] == name and got["AllowUnauthenticatedIdentities"] is False
    assert got["AllowClassicFlow"] is False and got["IdentityPoolTags"] == {"team": "a"}
    assert got["CognitoIdentityProviders"][0]["ProviderName"] == up["key"]
    arn = f"arn:aws:cognito-identity:{REGION}:{ACCOUNT}:identitypool/{pid}"
    ci.tag_resource(ResourceArn=arn, Tags={"env": "test"})
    assert ci.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "a", "env": "test"}
    ci.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert ci.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "test"}
    up2 = ci.update_identity_pool(IdentityPoolId=pid, IdentityPoolName=name + "_2",
                                  AllowUnauthenticatedIdentities=True, AllowClassicFlow=True,
                                  CognitoIdentityProviders=[up["provider"]], IdentityPoolTags={"env": "test"})
    assert up2["IdentityPoolName"] == name + "_2" and up2["AllowClassicFlow"] is True
    got = ci.describe_identity_pool(IdentityPoolId=pid)
    assert got["AllowUnauthenticatedIdentities"] is True and got["IdentityPoolTags"] == {"env": "test"}
    tags = ci.set_principal_tag_attribute_map(IdentityPoolId=pid, IdentityProviderName=up["key"],
                                              UseDefaults=False, PrincipalTags={"dept": "custom:dept"})
    assert tags["PrincipalTags"] == {"dept": "custom:dept"}
    got = ci.get_principal_tag_attribute_map(IdentityPoolId=pid, IdentityProviderName=up["key"])
    assert got["PrincipalTags"] == {"dept": "custom:dept"} and got["UseDefaults"] is False
    ci.delete_identity_pool(IdentityPoolId=pid)
    expect_error("ResourceNotFoundException", ci.describe_identity_pool, IdentityPoolId=pid)
    expect_error("ResourceNotFoundException", ci.delete_identity_pool, IdentityPoolId=pid)


def test_list_identity_pools_paginates(ci):
    mine = {new_identity_pool(ci) for _ in range(3)}
    seen, token = [], None
    for _ in range(200):
        page = ci.list_identity_pools(MaxResults=1, **({"NextToken": token} if token else {}))
        assert len(page["IdentityPools"]) <= 1
        seen += [p["IdentityPoolId"] for p in page["IdentityPools"]]
        token = page.get("NextToken")
        if not token:
            break
    assert mine <= set(seen) and len(seen) == len(set(seen)), seen


def test_identity_pool_roles(ci, up):
    pid = new_identity_pool(ci, CognitoIdentityProviders=[up["provider"]])
    key = f"{up['key']}:{up['client']['ClientId']}"
    rules = {"Type": "Rules", "AmbiguousRoleResolution": "Deny", "RulesConfiguration": {"Rules": [
        {"Claim": "custom:dept", "MatchType": "Contains", "Value": "eng", "RoleARN": role_arn("map-eng")}]}}
    ci.set_identity_pool_roles(IdentityPoolId=pid, Roles={"authenticated": role_arn("a")},
                               RoleMappings={key: rules})
    got = ci.get_identity_pool_roles(IdentityPoolId=pid)
    assert got["IdentityPoolId"] == pid and got["Roles"] == {"authenticated": role_arn("a")}
    assert got["RoleMappings"] == {key: rules}
    for bad in ({"Type": "Rules", "AmbiguousRoleResolution": "Deny"}, {"Type": "Token"}):
        expect_error("InvalidParameterException", ci.set_identity_pool_roles, IdentityPoolId=pid,
                     Roles={"authenticated": role_arn("a")}, RoleMappings={key: bad})
    assert ci.get_identity_pool_roles(IdentityPoolId=pid)["RoleMappings"] == {key: rules}


def test_get_id_login_errors(idp, ci, cip, up, flow):
    bare = new_identity_pool(ci)
    token = flow["logins"][up["key"]]
    expect_error("NotAuthorizedException", cip.get_id, IdentityPoolId=bare, Logins={up["key"]: token})
    expect_error("NotAuthorizedException", cip.get_id, IdentityPoolId=flow["pool"], Logins={up["key"]: "garbage"})
    head, _, sig = token.split(".")
    foreign = jwt.encode(jwt.decode(token, options={"verify_signature": False}),
                         rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256",
                         headers={"kid": jwt.get_unverified_header(token)["kid"]})
    expect_error("NotAuthorizedException", cip.get_id, IdentityPoolId=flow["pool"], Logins={up["key"]: foreign})
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["exp"] = claims["iat"] = int(time.time()) - 3600     # payload changed: signature no longer fits
    altered = f"{head}.{base64.urlsafe_b64encode(jdump(claims).encode()).decode().rstrip('=')}.{sig}"
    expect_error("NotAuthorizedException", cip.get_id, IdentityPoolId=flow["pool"], Logins={up["key"]: altered})
    expect_error("ResourceNotFoundException", cip.get_id, IdentityPoolId=f"{REGION}:{uuid.uuid4()}")
    expect_error("ResourceNotFoundException", cip.get_credentials_for_identity,
                 IdentityId=f"{REGION}:{uuid.uuid4()}")


def test_identities_describe_list_delete(ci, cip):
    pid = new_identity_pool(ci, AllowUnauthenticatedIdentities=True)
    ids = {cip.get_id(IdentityPoolId=pid)["IdentityId"] for _ in range(3)}
    d = ci.describe_identity(IdentityId=next(iter(ids)))
    assert d["IdentityId"] in ids and d.get("Logins", []) == []
    assert isinstance(d["CreationDate"], dt.datetime)
    seen, token = [], None
    for _ in range(10):
        page = ci.list_identities(IdentityPoolId=pid, MaxResults=1, **({"NextToken": token} if token else {}))
        assert page["IdentityPoolId"] == pid and len(page["Identities"]) <= 1
        seen += [i["IdentityId"] for i in page["Identities"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(ids)
    gone = sorted(ids)[0]
    assert ci.delete_identities(IdentityIdsToDelete=[gone])["UnprocessedIdentityIds"] == []
    expect_error("ResourceNotFoundException", ci.describe_identity, IdentityId=gone)
    assert {i["IdentityId"] for i in ci.list_identities(IdentityPoolId=pid, MaxResults=60)["Identities"]} == \
        ids - {gone}


def test_unlink_identity(idp, ci, cip, up, guest):
    logins = {up["key"]: login(idp, up)}
    iid = cip.get_id(IdentityPoolId=guest, Logins=logins)["IdentityId"]
    cip.unlink_identity(IdentityId=iid, Logins=logins, LoginsToRemove=[up["key"]])
    assert ci.describe_identity(IdentityId=iid).get("Logins", []) == []
    assert cip.get_id(IdentityPoolId=guest, Logins=logins)["IdentityId"] != iid, "the login was unlinked"


# ----------------------------------- 9. temporary credentials vs admin API ----

def test_session_credentials_on_admin_api(srv, iam, sts_pub, classic):
    reader = make_role(iam, unique("lister"), cognito_trust(classic["pool"]),
                       allow(["cognito-idp:ListUserPools"]))
    plain = creds_of(assume(sts_pub, classic["role"], classic["token"])["Credentials"])
    err = expect_error("AccessDeniedException", session_client(srv, "cognito-idp", plain).list_user_pools,
                       MaxResults=10)
    assert "cognito-idp:ListUserPools" in err.response["Error"]["Message"]
    c = creds_of(assume(sts_pub, reader, classic["token"])["Credentials"])
    assert "UserPools" in session_client(srv, "cognito-idp", c).list_user_pools(MaxResults=10)
    expect_error("AccessDeniedException", session_client(srv, "cognito-idp", c).create_user_pool,
                 PoolName="nope")
    expect_error("AccessDeniedException", session_client(srv, "cognito-identity", c).list_identity_pools,
                 MaxResults=10)


# ------------------------------------------- OIDC provider (spec §3, §7) ----

@pytest.fixture(scope="module")
def oidc(iam):
    """A tiny OpenID issuer on 127.0.0.1 (discovery + JWKS), registered as an IAM OIDC provider."""
    key, docs = rsa.generate_private_key(public_exponent=65537, key_size=2048), {}

    class Issuer(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server API)
            self.send_response(200 if self.path in docs else 404)
            self.end_headers()
            self.wfile.write(json.dumps(docs.get(self.path, {})).encode())

        def log_message(self, *args):
            pass
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Issuer)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": "k1", "alg": "RS256"}
    docs.update({"/.well-known/openid-configuration": {"issuer": base, "jwks_uri": f"{base}/jwks.json"},
                 "/jwks.json": {"keys": [jwk]}})
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    arn = iam.create_open_id_connect_provider(Url=base, ClientIDList=["my-client"],
                                              ThumbprintList=["0" * 40])["OpenIDConnectProviderArn"]

    def token(sub="oidc-user-1", aud="my-client", **extra):
        now = int(time.time())
        return jwt.encode({"iss": base, "sub": sub, "aud": aud, "iat": now, "exp": now + 600, **extra}, key,
                          algorithm="RS256", headers={"kid": "k1"})
    try:
        yield {"base": base, "key": base[len("http://"):], "arn": arn, "token": token}
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_oidc_enhanced_flow(srv, ci, cip, iam, oidc):
    pid = new_identity_pool(ci, OpenIdConnectProviderARNs=[oidc["arn"]])
    ci.set_identity_pool_roles(IdentityPoolId=pid, Roles={"authenticated": make_role(
        iam, unique("oidc-user"), cognito_trust(pid))})
    iid, c = enhanced(cip, pid, {oidc["key"]: oidc["token"]()})
    assert cip.get_id(IdentityPoolId=pid, Logins={oidc["key"]: oidc["token"]()})["IdentityId"] == iid
    assert "/oidc-user-" in caller_arn(srv, c)
    assert ci.describe_identity(IdentityId=iid)["Logins"] == [oidc["key"]]
    expect_error("NotAuthorizedException", cip.get_id, IdentityPoolId=pid,
                 Logins={oidc["key"]: oidc["token"](aud="someone-else")})


def test_oidc_assume_role_with_web_identity(srv, iam, sts_pub, oidc):
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": oidc["arn"]}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{oidc['key']}:aud": "my-client", f"{oidc['key']}:sub": "oidc-user-1"}}}]}
    name = unique("oidc-web")
    arn = make_role(iam, name, trust)
    resp = assume(sts_pub, arn, oidc["token"](), name="oidc")
    assert resp["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/oidc"
    assert resp["SubjectFromWebIdentityToken"] == "oidc-user-1" and resp["Audience"] == "my-client"
    assert resp["Provider"] == oidc["base"]
    assert caller_arn(srv, creds_of(resp["Credentials"])).endswith(f"assumed-role/{name}/oidc")
    expect_error("AccessDenied", assume, sts_pub, arn, oidc["token"](sub="someone"), status=403)
    expect_error("InvalidIdentityToken", assume, sts_pub, arn, oidc["token"](aud="other-client"))


# ------------------------------------------ logins reach only their own identity ----

def test_own_login_cannot_claim_another_identity(srv, idp, ci, cip, up, guest):
    victim = cip.get_id(IdentityPoolId=guest, Logins={up["key"]: login(idp, up)})["IdentityId"]
    mine = {up["key"]: login(idp, up)}
    me = cip.get_id(IdentityPoolId=guest, Logins=mine)["IdentityId"]
    with pytest.raises(ClientError) as ei:
        cip.get_credentials_for_identity(IdentityId=victim, Logins=mine)
    assert ei.value.response["Error"]["Code"] in ("NotAuthorizedException", "ResourceConflictException")
    expect_error("NotAuthorizedException", cip.get_open_id_token, IdentityId=victim, Logins=mine)
    assert cip.get_id(IdentityPoolId=guest, Logins=mine)["IdentityId"] == me


def test_developer_token_is_bound_to_its_identity(ci, cip, dev):
    a, b = dev_token(ci, dev, "mallory"), dev_token(ci, dev, "bob-2")
    expect_error("NotAuthorizedException", cip.get_credentials_for_identity, IdentityId=b["IdentityId"],
                 Logins={COGNITO: a["Token"]})
    assert ci.lookup_developer_identity(IdentityPoolId=dev, DeveloperUserIdentifier="mallory")["IdentityId"] == \
        a["IdentityId"]


def test_server_side_token_check(idp, ci, cip, up):
    pid = new_identity_pool(ci, CognitoIdentityProviders=[dict(up["provider"], ServerSideTokenCheck=True)])
    user = admin_user(idp, up["pool"])
    token = sign_in(idp, up["client"], user["username"])["IdToken"]
    cip.get_id(IdentityPoolId=pid, Logins={up["key"]: token})
    idp.admin_disable_user(UserPoolId=up["pool"], Username=user["username"])
    expect_error("NotAuthorizedException", cip.get_id, IdentityPoolId=pid, Logins={up["key"]: token})
