"""Tokens (spec user-pools.md §4, user-pools-operations.md §2.2 and §2.7):
JWTs verified with PyJWT against the pool's JWKS fetched over HTTP, refresh,
GetTokensFromRefreshToken, RevokeToken, GlobalSignOut, AdminUserGlobalSignOut."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid

import jwt
import pytest
import requests
from botocore.exceptions import ClientError

from harness import (PASSWORD, assert_client_error, attrs_dict, attrs_list, confirmed_user, issuer_for,
                     jwks_url_for, new_app_client, new_pool, password_auth, secret_hash, unique)
from smtp_sink import extract_code

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ADMIN_SCOPE = "aws.cognito.signin.user.admin"
ACCESS_SECONDS = 15 * 60
ID_SECONDS = 20 * 60
ID_CLAIMS = {"sub", "iss", "aud", "token_use", "auth_time", "iat", "exp", "jti", "origin_jti", "cognito:username"}
ACCESS_CLAIMS = {"sub", "iss", "client_id", "token_use", "scope", "auth_time", "iat", "exp", "jti", "origin_jti",
                 "username"}


# ------------------------------------------------------------ fixtures ----

@pytest.fixture(scope="module")
def env(auth_idp, auth_server, smtp_sink):
    """A pool with a custom attribute and email verification, clients with
    different validities / secrets / revocation, and one user confirmed by
    the emailed code (so email_verified is true)."""
    pid = new_pool(auth_idp, AutoVerifiedAttributes=["email"],
                   Schema=[{"Name": "tier", "AttributeDataType": "String", "Mutable": True}])
    timed = new_app_client(auth_idp, pid, AccessTokenValidity=15, IdTokenValidity=20, RefreshTokenValidity=1,
                           TokenValidityUnits={"AccessToken": "minutes", "IdToken": "minutes",
                                               "RefreshToken": "days"})
    env = {
        "pool": pid,
        "issuer": issuer_for(auth_server.endpoint, pid),
        "timed": timed,
        "default": new_app_client(auth_idp, pid),
        "secret": new_app_client(auth_idp, pid, GenerateSecret=True),
        "norevoke": new_app_client(auth_idp, pid, EnableTokenRevocation=False),
    }
    name, email = unique("alice"), f"a{uuid.uuid4().hex[:12]}@example.test"
    mark = smtp_sink.mark()
    sub = auth_idp.sign_up(ClientId=timed["ClientId"], Username=name, Password=PASSWORD,
                           UserAttributes=attrs_list({"email": email, "name": "Alice Compat",
                                                      "custom:tier": "gold"}))["UserSub"]
    code = extract_code(smtp_sink.wait_for(email, since=mark).text)
    auth_idp.confirm_sign_up(ClientId=timed["ClientId"], Username=name, ConfirmationCode=code)
    env["alice"] = {"username": name, "email": email, "sub": sub}
    return env


@pytest.fixture(scope="module")
def jwks(auth_server, env):
    resp = requests.get(jwks_url_for(auth_server.endpoint, env["pool"]), timeout=10)
    assert resp.status_code == 200, f"JWKS: HTTP {resp.status_code} {resp.text[:300]!r}"
    return resp.json()


@pytest.fixture
def fresh(auth_idp, env):
    """A confirmed user for tests that sign everybody out."""
    return confirmed_user(auth_idp, env["pool"], env["default"])


def sign_in(idp, client, username, password=PASSWORD) -> dict:
    return password_auth(idp, client, username, password)["AuthenticationResult"]


def refresh(idp, client, refresh_token, username=None) -> dict:
    params = {"REFRESH_TOKEN": refresh_token}
    if client.get("ClientSecret"):
        params["SECRET_HASH"] = secret_hash(username, client["ClientId"], client["ClientSecret"])
    return idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
                             AuthParameters=params)["AuthenticationResult"]


def verify(token: str, jwks: dict, issuer: str, audience: str | None = None) -> dict:
    """Verify signature (RS256 only), iss, exp/iat and, for ID tokens, aud."""
    header = jwt.get_unverified_header(token)
    keys = [k for k in jwks["keys"] if k.get("kid") == header.get("kid")]
    assert len(keys) == 1, f"kid {header.get('kid')!r} not (uniquely) in the JWKS {[k.get('kid') for k in jwks['keys']]}"
    key = jwt.PyJWK(keys[0]).key
    require = ["exp", "iat", "iss", "sub"] + (["aud"] if audience else [])
    return jwt.decode(token, key, algorithms=["RS256"], issuer=issuer, audience=audience,
                      options={"require": require}, leeway=5)


def assert_rejected(idp, access_token: str, why: str) -> None:
    with pytest.raises(ClientError) as ei:
        idp.get_user(AccessToken=access_token)
    assert_client_error(ei, "NotAuthorizedException")


def assert_refresh_rejected(idp, client, refresh_token: str, username=None) -> None:
    with pytest.raises(ClientError) as ei:
        refresh(idp, client, refresh_token, username)
    assert_client_error(ei, "NotAuthorizedException")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ---------------------------------------------------------------- JWKS ----

def test_jwks_document(auth_server, env, jwks):
    resp = requests.get(jwks_url_for(auth_server.endpoint, env["pool"]), timeout=10)
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers.get("Content-Type")
    keys = jwks["keys"]
    assert isinstance(keys, list) and keys, jwks
    for k in keys:
        assert k["kty"] == "RSA" and k["alg"] == "RS256" and k["use"] == "sig", k
        assert k["e"] == "AQAB", k
        assert isinstance(k["kid"], str) and k["kid"], k
        n = unb64url(k["n"])
        assert len(n) * 8 >= 2048, f"RSA modulus of {k['kid']} is only {len(n) * 8} bits"
        assert "d" not in k and "p" not in k and "q" not in k, "private key material in the JWKS"
    assert len({k["kid"] for k in keys}) == len(keys), "duplicate kids"


# -------------------------------------------------------------- claims ----

def test_id_token(auth_idp, env, jwks):
    alice, client = env["alice"], env["timed"]
    before = int(time.time())
    tokens = sign_in(auth_idp, client, alice["username"])
    header = jwt.get_unverified_header(tokens["IdToken"])
    assert header == {"kid": header["kid"], "alg": "RS256"}, f"header must be exactly kid+alg: {header}"
    c = verify(tokens["IdToken"], jwks, env["issuer"], audience=client["ClientId"])
    missing = ID_CLAIMS - set(c)
    assert not missing, f"ID token lacks {sorted(missing)}: {c}"
    assert c["iss"] == env["issuer"]
    assert c["aud"] == client["ClientId"]
    assert c["token_use"] == "id"
    assert c["sub"] == alice["sub"]
    assert c["cognito:username"] == alice["username"]
    assert c["email"] == alice["email"]
    assert c["email_verified"] is True, f"email_verified must be a JSON boolean: {c['email_verified']!r}"
    assert c["name"] == "Alice Compat"
    assert c["custom:tier"] == "gold"
    assert c["exp"] - c["iat"] == ID_SECONDS
    assert before - 5 <= c["auth_time"] <= c["iat"] <= int(time.time()) + 5, c
    assert UUID_RE.match(c["jti"]) and UUID_RE.match(c["origin_jti"]), c
    for absent in ("client_id", "scope", "username", "password"):
        assert absent not in c, f"{absent!r} does not belong in an ID token: {c}"


def test_access_token(auth_idp, env, jwks):
    alice, client = env["alice"], env["timed"]
    tokens = sign_in(auth_idp, client, alice["username"])
    assert tokens["ExpiresIn"] == ACCESS_SECONDS
    header = jwt.get_unverified_header(tokens["AccessToken"])
    assert header == {"kid": header["kid"], "alg": "RS256"}, header
    a = verify(tokens["AccessToken"], jwks, env["issuer"])
    i = verify(tokens["IdToken"], jwks, env["issuer"], audience=client["ClientId"])
    missing = ACCESS_CLAIMS - set(a)
    assert not missing, f"access token lacks {sorted(missing)}: {a}"
    assert "aud" not in a, f"access tokens carry no aud: {a}"
    assert a["client_id"] == client["ClientId"]
    assert a["token_use"] == "access"
    assert a["scope"] == ADMIN_SCOPE
    assert a["sub"] == alice["sub"]
    assert a["username"] == alice["username"]
    assert a["exp"] - a["iat"] == ACCESS_SECONDS
    assert a["auth_time"] == i["auth_time"]
    assert a["origin_jti"] == i["origin_jti"], "tokens of one authentication share origin_jti"
    assert a["jti"] != i["jti"]
    for absent in ("email", "cognito:username", "name", "custom:tier"):
        assert absent not in a, f"{absent!r} does not belong in an access token: {a}"


def test_default_validity(auth_idp, env, jwks):
    client = env["default"]
    tokens = sign_in(auth_idp, client, env["alice"]["username"])
    assert tokens["ExpiresIn"] == 3600
    a = verify(tokens["AccessToken"], jwks, env["issuer"])
    i = verify(tokens["IdToken"], jwks, env["issuer"], audience=client["ClientId"])
    assert a["exp"] - a["iat"] == 3600 and i["exp"] - i["iat"] == 3600
    assert i["aud"] == a["client_id"] == client["ClientId"]


def test_each_sign_in_has_its_own_origin_jti(auth_idp, env, jwks):
    one = sign_in(auth_idp, env["timed"], env["alice"]["username"])
    two = sign_in(auth_idp, env["timed"], env["alice"]["username"])
    a1 = verify(one["AccessToken"], jwks, env["issuer"])
    a2 = verify(two["AccessToken"], jwks, env["issuer"])
    assert a1["origin_jti"] != a2["origin_jti"]
    assert a1["jti"] != a2["jti"]
    assert one["RefreshToken"] != two["RefreshToken"]


def test_tampered_token_fails_verification_and_get_user(auth_idp, env, jwks):
    tokens = sign_in(auth_idp, env["timed"], env["alice"]["username"])
    head, payload, sig = tokens["AccessToken"].split(".")
    claims = json.loads(unb64url(payload))
    claims["username"] = "mallory"
    forged = ".".join([head, b64url(json.dumps(claims).encode()), sig])
    with pytest.raises(jwt.InvalidSignatureError):
        verify(forged, jwks, env["issuer"])
    assert_rejected(auth_idp, forged, "forged access token")


# ---------------------------------------------------------- GetUser ----

def test_get_user(auth_idp, env):
    alice = env["alice"]
    tokens = sign_in(auth_idp, env["timed"], alice["username"])
    got = auth_idp.get_user(AccessToken=tokens["AccessToken"])
    assert got["Username"] == alice["username"]
    attrs = attrs_dict(got["UserAttributes"])
    assert attrs["sub"] == alice["sub"]
    assert attrs["email"] == alice["email"]
    assert attrs["email_verified"] == "true"
    assert attrs["name"] == "Alice Compat"
    assert attrs["custom:tier"] == "gold"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."],
                         ids=["garbage", "three-parts", "alg-none"])
def test_get_user_bad_token(auth_idp, token):
    assert_rejected(auth_idp, token, token)


def test_get_user_with_id_token(auth_idp, env):
    tokens = sign_in(auth_idp, env["timed"], env["alice"]["username"])
    assert_rejected(auth_idp, tokens["IdToken"], "an ID token is not an access token")


# ------------------------------------------------------------ refresh ----

@pytest.mark.parametrize("flow", ["REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"])
def test_refresh_keeps_auth_time_and_origin_jti(auth_idp, env, jwks, flow):
    client, alice = env["timed"], env["alice"]
    first = sign_in(auth_idp, client, alice["username"])
    a1 = verify(first["AccessToken"], jwks, env["issuer"])
    i1 = verify(first["IdToken"], jwks, env["issuer"], audience=client["ClientId"])
    time.sleep(1.1)
    resp = auth_idp.initiate_auth(ClientId=client["ClientId"], AuthFlow=flow,
                                  AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]})
    second = resp["AuthenticationResult"]
    assert "RefreshToken" not in second, "REFRESH_TOKEN_AUTH returns no new refresh token"
    assert second["TokenType"] == "Bearer" and second["ExpiresIn"] == ACCESS_SECONDS
    a2 = verify(second["AccessToken"], jwks, env["issuer"])
    i2 = verify(second["IdToken"], jwks, env["issuer"], audience=client["ClientId"])
    for old, new, what in ((a1, a2, "access"), (i1, i2, "id")):
        assert new["auth_time"] == old["auth_time"], f"{what}: refresh must keep auth_time"
        assert new["origin_jti"] == old["origin_jti"], f"{what}: refresh must keep origin_jti"
        assert new["jti"] != old["jti"], f"{what}: a refreshed token needs a new jti"
        assert new["iat"] > old["iat"], f"{what}: iat did not advance"
        assert new["sub"] == old["sub"] == alice["sub"]
        assert new["token_use"] == old["token_use"]
    assert i2["email_verified"] is True and i2["custom:tier"] == "gold"
    assert a2["exp"] - a2["iat"] == ACCESS_SECONDS and i2["exp"] - i2["iat"] == ID_SECONDS
    assert auth_idp.get_user(AccessToken=second["AccessToken"])["Username"] == alice["username"]


def test_refresh_with_secret_hash(auth_idp, env, jwks):
    client, alice = env["secret"], env["alice"]
    first = sign_in(auth_idp, client, alice["username"])
    second = refresh(auth_idp, client, first["RefreshToken"], alice["username"])
    assert verify(second["IdToken"], jwks, env["issuer"], audience=client["ClientId"])["aud"] == client["ClientId"]


def test_refresh_garbage_token(auth_idp, env):
    assert_refresh_rejected(auth_idp, env["timed"], "not-a-refresh-token")


def test_refresh_token_is_bound_to_its_client(auth_idp, env):
    first = sign_in(auth_idp, env["timed"], env["alice"]["username"])
    assert_refresh_rejected(auth_idp, env["default"], first["RefreshToken"])


def test_get_tokens_from_refresh_token(auth_idp, env, jwks):
    client, alice = env["timed"], env["alice"]
    first = sign_in(auth_idp, client, alice["username"])
    a1 = verify(first["AccessToken"], jwks, env["issuer"])
    resp = auth_idp.get_tokens_from_refresh_token(RefreshToken=first["RefreshToken"], ClientId=client["ClientId"])
    result = resp["AuthenticationResult"]
    assert result["TokenType"] == "Bearer" and result["ExpiresIn"] == ACCESS_SECONDS
    a2 = verify(result["AccessToken"], jwks, env["issuer"])
    i2 = verify(result["IdToken"], jwks, env["issuer"], audience=client["ClientId"])
    assert a2["origin_jti"] == i2["origin_jti"] == a1["origin_jti"]
    assert a2["auth_time"] == a1["auth_time"]
    assert a2["jti"] != a1["jti"]
    assert auth_idp.get_user(AccessToken=result["AccessToken"])["Username"] == alice["username"]


def test_get_tokens_from_refresh_token_with_secret(auth_idp, env, jwks):
    client, alice = env["secret"], env["alice"]
    first = sign_in(auth_idp, client, alice["username"])
    resp = auth_idp.get_tokens_from_refresh_token(RefreshToken=first["RefreshToken"], ClientId=client["ClientId"],
                                                  ClientSecret=client["ClientSecret"])
    verify(resp["AuthenticationResult"]["AccessToken"], jwks, env["issuer"])


def test_get_tokens_from_garbage_refresh_token(auth_idp, env):
    with pytest.raises(ClientError) as ei:
        auth_idp.get_tokens_from_refresh_token(RefreshToken="not-a-refresh-token", ClientId=env["timed"]["ClientId"])
    assert_client_error(ei, "NotAuthorizedException")


# ---------------------------------------------------------- RevokeToken ----

def test_revoke_token(auth_idp, env):
    client, name = env["secret"], env["alice"]["username"]
    revoked = sign_in(auth_idp, client, name)
    other = sign_in(auth_idp, client, name)
    resp = auth_idp.revoke_token(Token=revoked["RefreshToken"], ClientId=client["ClientId"],
                                 ClientSecret=client["ClientSecret"])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert_refresh_rejected(auth_idp, client, revoked["RefreshToken"], name)
    assert_rejected(auth_idp, revoked["AccessToken"], "access token of the revoked sign-in")
    # another sign-in of the same user is not affected
    assert auth_idp.get_user(AccessToken=other["AccessToken"])["Username"] == name
    refresh(auth_idp, client, other["RefreshToken"], name)
    # revoking again (already revoked) succeeds
    auth_idp.revoke_token(Token=revoked["RefreshToken"], ClientId=client["ClientId"],
                          ClientSecret=client["ClientSecret"])


def test_revoke_token_public_client(auth_idp, env):
    client, name = env["timed"], env["alice"]["username"]
    tokens = sign_in(auth_idp, client, name)
    auth_idp.revoke_token(Token=tokens["RefreshToken"], ClientId=client["ClientId"])
    assert_refresh_rejected(auth_idp, client, tokens["RefreshToken"])
    assert_rejected(auth_idp, tokens["AccessToken"], "after RevokeToken")


def test_revoke_token_wrong_client_secret(auth_idp, env):
    """Spec §2.7 and the botocore model: RevokeToken's errors include
    UnauthorizedException and not NotAuthorizedException."""
    client, name = env["secret"], env["alice"]["username"]
    tokens = sign_in(auth_idp, client, name)
    for bad in ({"ClientSecret": client["ClientSecret"][::-1]}, {}):
        with pytest.raises(ClientError) as ei:
            auth_idp.revoke_token(Token=tokens["RefreshToken"], ClientId=client["ClientId"], **bad)
        assert_client_error(ei, "UnauthorizedException")
    # nothing was revoked
    refresh(auth_idp, client, tokens["RefreshToken"], name)
    auth_idp.get_user(AccessToken=tokens["AccessToken"])


def test_revoke_access_token_is_unsupported(auth_idp, env):
    client = env["timed"]
    tokens = sign_in(auth_idp, client, env["alice"]["username"])
    with pytest.raises(ClientError) as ei:
        auth_idp.revoke_token(Token=tokens["AccessToken"], ClientId=client["ClientId"])
    assert_client_error(ei, "UnsupportedTokenTypeException")
    auth_idp.get_user(AccessToken=tokens["AccessToken"])


def test_revoke_token_disabled_on_client(auth_idp, env):
    client = env["norevoke"]
    tokens = sign_in(auth_idp, client, env["alice"]["username"])
    with pytest.raises(ClientError) as ei:
        auth_idp.revoke_token(Token=tokens["RefreshToken"], ClientId=client["ClientId"])
    assert_client_error(ei, "UnsupportedOperationException")
    refresh(auth_idp, client, tokens["RefreshToken"])


# ------------------------------------------------------------ sign-out ----

def test_global_sign_out(auth_idp, env, fresh):
    client, name = env["default"], fresh["username"]
    one, two = sign_in(auth_idp, client, name), sign_in(auth_idp, client, name)
    resp = auth_idp.global_sign_out(AccessToken=one["AccessToken"])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    for t in (one, two):
        assert_rejected(auth_idp, t["AccessToken"], "access token after GlobalSignOut")
        assert_refresh_rejected(auth_idp, client, t["RefreshToken"])
    with pytest.raises(ClientError) as ei:
        auth_idp.global_sign_out(AccessToken=two["AccessToken"])
    assert_client_error(ei, "NotAuthorizedException")
    # signing in again works and yields working tokens
    again = sign_in(auth_idp, client, name)
    assert auth_idp.get_user(AccessToken=again["AccessToken"])["Username"] == name
    refresh(auth_idp, client, again["RefreshToken"])


def test_global_sign_out_leaves_other_users_alone(auth_idp, env, fresh):
    client = env["default"]
    bystander = confirmed_user(auth_idp, env["pool"], client)
    theirs = sign_in(auth_idp, client, bystander["username"])
    auth_idp.global_sign_out(AccessToken=sign_in(auth_idp, client, fresh["username"])["AccessToken"])
    assert auth_idp.get_user(AccessToken=theirs["AccessToken"])["Username"] == bystander["username"]
    refresh(auth_idp, client, theirs["RefreshToken"])


def test_global_sign_out_bad_token(auth_idp):
    with pytest.raises(ClientError) as ei:
        auth_idp.global_sign_out(AccessToken="garbage")
    assert_client_error(ei, "NotAuthorizedException")


def test_admin_user_global_sign_out(auth_idp, env, fresh):
    client, name = env["default"], fresh["username"]
    one, two = sign_in(auth_idp, client, name), sign_in(auth_idp, client, name)
    auth_idp.admin_user_global_sign_out(UserPoolId=env["pool"], Username=name)
    for t in (one, two):
        assert_rejected(auth_idp, t["AccessToken"], "access token after AdminUserGlobalSignOut")
        assert_refresh_rejected(auth_idp, client, t["RefreshToken"])
    again = sign_in(auth_idp, client, name)
    assert auth_idp.get_user(AccessToken=again["AccessToken"])["Username"] == name


def test_admin_user_global_sign_out_unknown_user(auth_idp, env):
    with pytest.raises(ClientError) as ei:
        auth_idp.admin_user_global_sign_out(UserPoolId=env["pool"], Username=unique("ghost"))
    assert_client_error(ei, "UserNotFoundException")
