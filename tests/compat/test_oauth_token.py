"""The token endpoint (`{issuer}/oauth2/token`) driven by Authlib, a real
OAuth 2.0 client: client_credentials with resource-server scopes, refresh,
and the RFC 6749 §5.2 errors."""

from __future__ import annotations

import base64

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client.errors import OAuthError as AuthlibError

from harness import admin_user, fetch_jwks, issuer_for, new_app_client, new_pool, password_auth, unique, PASSWORD


@pytest.fixture(scope="module")
def m2m(idp, endpoint):
    pid = new_pool(idp)
    idp.create_resource_server(UserPoolId=pid, Identifier="orders", Name="orders",
                               Scopes=[{"ScopeName": "read", "ScopeDescription": "read"},
                                       {"ScopeName": "write", "ScopeDescription": "write"}])
    client = idp.create_user_pool_client(
        UserPoolId=pid, ClientName=unique("m2m"), GenerateSecret=True, AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthScopes=["orders/read", "orders/write"])["UserPoolClient"]
    return {"pool": pid, "client": client, "token_url": f"{issuer_for(endpoint, pid)}/oauth2/token",
            "issuer": issuer_for(endpoint, pid)}


def session(m2m, method="client_secret_basic", secret=None, **kwargs):
    c = m2m["client"]
    return OAuth2Session(c["ClientId"], secret or c["ClientSecret"], token_endpoint_auth_method=method, **kwargs)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_credentials_with_custom_scope(endpoint, m2m, method):
    token = session(m2m, method, scope="orders/read").fetch_token(m2m["token_url"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert "id_token" not in token and "refresh_token" not in token
    claims = jwt.decode(token["access_token"], jwt.PyJWK(fetch_jwks(endpoint, m2m["pool"])["keys"][0]).key,
                        algorithms=["RS256"], issuer=m2m["issuer"], options={"verify_aud": False})
    assert claims["scope"] == "orders/read" and claims["token_use"] == "access"
    assert claims["client_id"] == claims["sub"] == m2m["client"]["ClientId"]


def test_all_allowed_scopes_by_default(m2m):
    token = session(m2m).fetch_token(m2m["token_url"], grant_type="client_credentials")
    payload = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert sorted(payload["scope"].split()) == ["orders/read", "orders/write"]


def raw(m2m, data, auth=True, secret=None):
    c = m2m["client"]
    headers = {}
    if auth:
        creds = f"{c['ClientId']}:{secret or c['ClientSecret']}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(creds).decode()
    return requests.post(m2m["token_url"], data=data, headers=headers, timeout=10)


def test_errors_per_rfc_6749(m2m):
    wrong = raw(m2m, {"grant_type": "client_credentials"}, secret="not-the-secret")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    assert wrong.headers["Cache-Control"] == "no-store"
    anonymous = raw(m2m, {"grant_type": "client_credentials"}, auth=False)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    unknown = raw(m2m, {"grant_type": "password", "username": "x", "password": "y"})
    assert unknown.status_code == 400 and unknown.json()["error"] == "unsupported_grant_type"
    missing = raw(m2m, {})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    scope = raw(m2m, {"grant_type": "client_credentials", "scope": "orders/delete"})
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"
    with pytest.raises(AuthlibError) as ei:
        session(m2m, scope="openid").fetch_token(m2m["token_url"], grant_type="client_credentials")
    assert ei.value.error == "invalid_scope"


def test_unauthorized_client_and_refresh(idp, endpoint):
    """A password-flow client may not use client_credentials; its refresh token works at the endpoint."""
    pid = new_pool(idp)
    client = new_app_client(idp, pid, GenerateSecret=True)
    url = f"{issuer_for(endpoint, pid)}/oauth2/token"
    creds = (client["ClientId"], client["ClientSecret"])
    denied = requests.post(url, data={"grant_type": "client_credentials"}, auth=creds, timeout=10)
    assert denied.status_code == 400 and denied.json()["error"] == "unauthorized_client"
    user = admin_user(idp, pid)
    signed_in = password_auth(idp, client, user["username"], PASSWORD)["AuthenticationResult"]
    oauth = OAuth2Session(client["ClientId"], client["ClientSecret"])
    token = oauth.refresh_token(url, refresh_token=signed_in["RefreshToken"])
    assert jwt.decode(token["id_token"], options={"verify_signature": False})["sub"] == user["sub"]
    # (Authlib keeps the old refresh token in its result; the wire has none.)
    plain = requests.post(url, data={"grant_type": "refresh_token", "refresh_token": signed_in["RefreshToken"]},
                          auth=creds, timeout=10).json()
    assert set(plain) == {"access_token", "id_token", "expires_in", "token_type"}, plain
    bad = requests.post(url, data={"grant_type": "refresh_token", "refresh_token": "nope"}, auth=creds, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"


def test_revoke_endpoint(idp, endpoint):
    """RFC 7009: revoking a refresh token ends it (and its sign-in's access token); unknown tokens are fine."""
    pid = new_pool(idp)
    client = new_app_client(idp, pid, GenerateSecret=True)
    base = issuer_for(endpoint, pid)
    creds = (client["ClientId"], client["ClientSecret"])
    user = admin_user(idp, pid)
    signed_in = password_auth(idp, client, user["username"], PASSWORD)["AuthenticationResult"]
    assert idp.get_user(AccessToken=signed_in["AccessToken"])["Username"] == user["username"]
    done = requests.post(f"{base}/oauth2/revoke", data={"token": signed_in["RefreshToken"]}, auth=creds, timeout=10)
    assert done.status_code == 200, done.text
    again = requests.post(f"{base}/oauth2/token", data={"grant_type": "refresh_token",
                                                         "refresh_token": signed_in["RefreshToken"]},
                          auth=creds, timeout=10)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    with pytest.raises(Exception) as ei:
        idp.get_user(AccessToken=signed_in["AccessToken"])
    assert "NotAuthorizedException" in str(ei.value)
    unknown = requests.post(f"{base}/oauth2/revoke", data={"token": "never-issued"}, auth=creds, timeout=10)
    assert unknown.status_code == 200
    access = requests.post(f"{base}/oauth2/revoke", data={"token": signed_in["AccessToken"]}, auth=creds,
                           timeout=10)
    assert access.status_code == 400 and access.json()["error"] == "unsupported_token_type"
    wrong = requests.post(f"{base}/oauth2/revoke", data={"token": "x"}, auth=(client["ClientId"], "bad"), timeout=10)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
