#!/usr/bin/env python3
"""Sets up the sign-in and refresh load for bench/auth.sh.

With a botocore cognito-idp client (the fixed admin credentials from
$CIRRUS_ADMIN_ACCESS_KEY_ID / $CIRRUS_ADMIN_SECRET_ACCESS_KEY):

  CreateUserPool        no AutoVerifiedAttributes, default password policy
  CreateUserPoolClient  no secret; ExplicitAuthFlows ALLOW_USER_PASSWORD_AUTH,
                        ALLOW_REFRESH_TOKEN_AUTH, ALLOW_ADMIN_USER_PASSWORD_AUTH
  SignUp                (public) Username, Password, UserAttributes email
  AdminConfirmSignUp
  InitiateAuth          USER_PASSWORD_AUTH once, for a RefreshToken

then writes two unsigned requests (InitiateAuth is a public operation) for
bench/wrk.lua to replay, each sent once first and required to answer 200
with ID and access tokens:

  OUT_DIR/login.lua     InitiateAuth USER_PASSWORD_AUTH
  OUT_DIR/refresh.lua   InitiateAuth REFRESH_TOKEN_AUTH

and prints a JSON summary (ids, token sizes, claim counts) on stdout.
"""
import argparse
import base64
import json
import os
import sys
import urllib.error
import urllib.request

import botocore.session
from botocore.config import Config

from sigv4 import TARGET_PREFIX, write_lua

USERNAME = "bench-user"
PASSWORD = "Bench!Passw0rd"
EMAIL = "bench-user@example.com"


def jwt_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def raw_request(endpoint, target, body):
    url = endpoint.rstrip("/") + "/"
    return {
        "method": "POST",
        "path": "/",
        "url": url,
        "headers": {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": TARGET_PREFIX + target,
        },
        "body": json.dumps(body, separators=(",", ":")),
    }


def send(req):
    http_req = urllib.request.Request(
        req["url"], data=req["body"].encode(), method=req["method"], headers=req["headers"]
    )
    try:
        with urllib.request.urlopen(http_req, timeout=30) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def checked(req, what, need):
    """Sends req once; it must answer 200 with every AuthenticationResult key in need."""
    status, text = send(req)
    if status != 200:
        sys.exit(f"auth_setup: {what} answered HTTP {status}: {text[:2000]}")
    result = json.loads(text).get("AuthenticationResult") or {}
    missing = [k for k in need if not result.get(k)]
    if missing:
        sys.exit(f"auth_setup: {what} answered 200 without {missing}: {text[:2000]}")
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--region", default=os.environ.get("CIRRUS_BENCH_REGION", "us-east-1"))
    args = p.parse_args()
    key_id = os.environ.get("CIRRUS_ADMIN_ACCESS_KEY_ID")
    secret = os.environ.get("CIRRUS_ADMIN_SECRET_ACCESS_KEY")
    if not key_id or not secret:
        sys.exit("auth_setup: set CIRRUS_ADMIN_ACCESS_KEY_ID / CIRRUS_ADMIN_SECRET_ACCESS_KEY")

    idp = botocore.session.get_session().create_client(
        "cognito-idp",
        region_name=args.region,
        endpoint_url=args.endpoint,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )
    pool_id = idp.create_user_pool(PoolName="cirrus-bench-auth")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="cirrus-bench-auth",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    idp.sign_up(
        ClientId=client_id,
        Username=USERNAME,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": EMAIL}],
    )
    idp.admin_confirm_sign_up(UserPoolId=pool_id, Username=USERNAME)
    first = idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=client_id,
        AuthParameters={"USERNAME": USERNAME, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    refresh_token = first["RefreshToken"]

    login = raw_request(args.endpoint, "InitiateAuth", {
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": client_id,
        "AuthParameters": {"USERNAME": USERNAME, "PASSWORD": PASSWORD},
    })
    refresh = raw_request(args.endpoint, "InitiateAuth", {
        "AuthFlow": "REFRESH_TOKEN_AUTH",
        "ClientId": client_id,
        "AuthParameters": {"REFRESH_TOKEN": refresh_token},
    })
    login_result = checked(login, "unsigned InitiateAuth USER_PASSWORD_AUTH", ["IdToken", "AccessToken", "RefreshToken"])
    refresh_result = checked(refresh, "unsigned InitiateAuth REFRESH_TOKEN_AUTH", ["IdToken", "AccessToken"])
    if refresh_result.get("RefreshToken"):
        # A rotated refresh token would make every replay after the first fail.
        sys.exit("auth_setup: REFRESH_TOKEN_AUTH rotated the refresh token; a replayed refresh cannot work")
    write_lua(login, os.path.join(args.out_dir, "login.lua"))
    write_lua(refresh, os.path.join(args.out_dir, "refresh.lua"))

    print(json.dumps({
        "pool_id": pool_id,
        "client_id": client_id,
        "username": USERNAME,
        "id_token_claims": len(jwt_claims(login_result["IdToken"])),
        "access_token_claims": len(jwt_claims(login_result["AccessToken"])),
        "id_token_bytes": len(login_result["IdToken"]),
        "access_token_bytes": len(login_result["AccessToken"]),
        "refresh_id_token_claims": len(jwt_claims(refresh_result["IdToken"])),
        "login_body_bytes": len(login["body"]),
        "refresh_body_bytes": len(refresh["body"]),
    }))


if __name__ == "__main__":
    main()
