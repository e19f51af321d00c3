"""A web app that signs people in through Cirrus's hosted UI (OpenID Connect
authorization code flow with PKCE), using Authlib as the relying party.

Run `make run`, then:

    export AWS_ACCESS_KEY_ID=AKIA... AWS_SECRET_ACCESS_KEY=...
    python3 examples/oidc_login.py [endpoint]

It creates a pool, an app client whose callback is http://localhost:8765/callback
and a user, then serves http://localhost:8765/: open it in a browser, sign in
as the printed user, and the page shows the verified ID token's claims and
what `oauth2/userInfo` says. Needs boto3, Authlib and PyJWT (tests/compat/.venv
has them).
"""
import html
import http.server
import json
import secrets
import sys
import urllib.parse

import boto3
import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session

endpoint = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9229"
app_url = "http://localhost:8765"
idp = boto3.client("cognito-idp", endpoint_url=endpoint, region_name="us-east-1")

pool_id = idp.create_user_pool(PoolName="web-example")["UserPool"]["Id"]
client = idp.create_user_pool_client(
    UserPoolId=pool_id,
    ClientName="Example web app",
    GenerateSecret=True,
    CallbackURLs=[f"{app_url}/callback"],
    LogoutURLs=[f"{app_url}/"],
    AllowedOAuthFlows=["code"],
    AllowedOAuthScopes=["openid", "email", "profile"],
    AllowedOAuthFlowsUserPoolClient=True,
    SupportedIdentityProviders=["COGNITO"],
)["UserPoolClient"]
password = "Example-pass-1!"
idp.admin_create_user(
    UserPoolId=pool_id, Username="jane", MessageAction="SUPPRESS",
    UserAttributes=[{"Name": "email", "Value": "jane@example.com"}, {"Name": "email_verified", "Value": "true"}],
)
idp.admin_set_user_password(UserPoolId=pool_id, Username="jane", Password=password, Permanent=True)

issuer = f"{endpoint}/{pool_id}"
oidc = requests.get(f"{issuer}/.well-known/openid-configuration").json()
keys = jwt.PyJWKClient(oidc["jwks_uri"])
pending = {}  # state -> (code_verifier, nonce)


def session():
    return OAuth2Session(client["ClientId"], client["ClientSecret"], scope="openid email profile",
                         redirect_uri=f"{app_url}/callback", code_challenge_method="S256")


class App(http.server.BaseHTTPRequestHandler):
    def page(self, body, status=200):
        data = f"<!doctype html><meta charset=utf-8><title>Example app</title>{body}".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/":
            self.page('<p><a href="/login">Sign in with Cirrus</a></p>')
        elif url.path == "/login":
            verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
            target, state = session().create_authorization_url(
                oidc["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
            pending[state] = (verifier, nonce)
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()
        elif url.path == "/callback":
            query = dict(urllib.parse.parse_qsl(url.query))
            verifier, nonce = pending.pop(query.get("state", ""), (None, None))
            if verifier is None:
                return self.page("<p>Unknown or reused state.</p>", 400)
            token = session().fetch_token(oidc["token_endpoint"], authorization_response=f"{app_url}{self.path}",
                                          code_verifier=verifier)
            # Signature (RS256 only), issuer, audience and expiry, then the nonce.
            key = keys.get_signing_key_from_jwt(token["id_token"]).key
            claims = jwt.decode(token["id_token"], key, algorithms=["RS256"], issuer=issuer,
                                audience=client["ClientId"])
            if claims.get("nonce") != nonce:
                return self.page("<p>The ID token's nonce is not this sign-in's.</p>", 400)
            info = requests.get(oidc["userinfo_endpoint"],
                                headers={"Authorization": f"Bearer {token['access_token']}"}).json()
            logout = oidc["end_session_endpoint"] + "?" + urllib.parse.urlencode(
                {"client_id": client["ClientId"], "logout_uri": f"{app_url}/"})
            self.page(f"<h1>Signed in</h1><h2>ID token</h2><pre>{html.escape(json.dumps(claims, indent=2))}</pre>"
                      f"<h2>userInfo</h2><pre>{html.escape(json.dumps(info, indent=2))}</pre>"
                      f'<p><a href="{html.escape(logout)}">Sign out</a></p>')
        else:
            self.page("<p>Not found.</p>", 404)


print(f"open {app_url}/ and sign in as jane / {password}")
http.server.HTTPServer(("127.0.0.1", 8765), App).serve_forever()
