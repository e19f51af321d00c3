#!/usr/bin/env python3
"""Sets up the identity-pool broker load for bench/broker.sh (botocore only).

  broker_setup.py setup --endpoint URL --out-dir DIR
      With cognito-idp, cognito-identity and iam clients signed with the fixed
      admin credentials ($CIRRUS_ADMIN_ACCESS_KEY_ID / _SECRET_ACCESS_KEY):

        CreateUserPool, CreateUserPoolClient (no secret; USER_PASSWORD and
          REFRESH_TOKEN flows), SignUp, AdminConfirmSignUp,
          InitiateAuth USER_PASSWORD_AUTH -> the user's ID token
        iam CreateRole cirrus-bench-photos, with Cognito's usual trust policy
          (Federated cognito-identity.amazonaws.com, StringEquals aud = the
          identity pool, ForAnyValue:StringLike amr = authenticated), and
          PutRolePolicy: one statement allowing photos:GetPhoto and
          photos:PutPhoto on arn:aws:photos:::photo/${cognito-identity.amazonaws.com:sub}/*
        CreateIdentityPool with the user pool as provider (no unauthenticated
          identities), SetIdentityPoolRoles authenticated = the role,
          GetId with the ID token (unsigned) -> the identity id

      then writes DIR/credentials.lua: the unsigned GetCredentialsForIdentity
      request (X-Amz-Target AWSCognitoIdentityService.GetCredentialsForIdentity,
      body {IdentityId, Logins}), sent once first and required to answer 200
      with Credentials.AccessKeyId; DIR/broker-state.json: what `sign` needs,
      the credentials of that answer included; and prints a JSON summary.

  broker_setup.py sign --endpoint URL --out-dir DIR --name NAME
      Signs `GET http://photos.example/photos/<identity id>/a.jpg` with the
      temporary credentials (botocore SigV4Auth, service photos, us-east-1,
      header form), wraps it as a POST /broker/authorize body (Method, Path,
      Headers as the resource server received them, Service, Action
      photos:GetPhoto, Resource arn:aws:photos:::photo/<identity id>/a.jpg,
      SourceIp, SecureTransport), sends it once and requires 200 with
      "Allowed": true, then writes DIR/NAME.lua. A SigV4 signature is good for
      15 minutes: sign right before each run.
"""
import argparse
import base64
import json
import os
import sys
import urllib.error
import urllib.request

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from sigv4 import write_lua

USERNAME = "bench-broker-user"
PASSWORD = "Bench!Passw0rd"
EMAIL = "bench-broker-user@example.com"
ROLE_NAME = "cirrus-bench-photos"
COGNITO = "cognito-identity.amazonaws.com"
# Byte for byte the policy bench/micro/src/broker.rs verifies against in process.
ROLE_POLICY = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["photos:GetPhoto","photos:PutPhoto"],'
               '"Resource":"arn:aws:photos:::photo/${cognito-identity.amazonaws.com:sub}/*"}]}')
TARGET = "AWSCognitoIdentityService."
PHOTOS_HOST = "photos.example"


def jwt_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def send(url, body, headers):
    req = urllib.request.Request(url, data=body.encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def unsigned(endpoint, target, body):
    return {
        "method": "POST",
        "path": "/",
        "url": endpoint.rstrip("/") + "/",
        "headers": {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + target},
        "body": json.dumps(body, separators=(",", ":")),
    }


def call(req, what):
    status, text = send(req["url"], req["body"], req["headers"])
    if status != 200:
        sys.exit(f"broker_setup: {what} answered HTTP {status}: {text[:2000]}")
    return json.loads(text)


def setup(args):
    key_id = os.environ.get("CIRRUS_ADMIN_ACCESS_KEY_ID")
    secret = os.environ.get("CIRRUS_ADMIN_SECRET_ACCESS_KEY")
    if not key_id or not secret:
        sys.exit("broker_setup: set CIRRUS_ADMIN_ACCESS_KEY_ID / CIRRUS_ADMIN_SECRET_ACCESS_KEY")
    session = botocore.session.get_session()

    def client(service):
        return session.create_client(service, region_name=args.region, endpoint_url=args.endpoint,
                                     aws_access_key_id=key_id, aws_secret_access_key=secret,
                                     config=Config(retries={"max_attempts": 1}))

    idp, ci, iam = client("cognito-idp"), client("cognito-identity"), client("iam")
    pool_id = idp.create_user_pool(PoolName="cirrus-bench-broker")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="cirrus-bench-broker",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    idp.sign_up(ClientId=client_id, Username=USERNAME, Password=PASSWORD,
                UserAttributes=[{"Name": "email", "Value": EMAIL}])
    idp.admin_confirm_sign_up(UserPoolId=pool_id, Username=USERNAME)
    id_token = idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH", ClientId=client_id,
        AuthParameters={"USERNAME": USERNAME, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["IdToken"]

    provider = f"cognito-idp.{args.region}.amazonaws.com/{pool_id}"
    identity_pool_id = ci.create_identity_pool(
        IdentityPoolName="cirrus_bench_broker", AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[{"ProviderName": provider, "ClientId": client_id}],
    )["IdentityPoolId"]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": COGNITO}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{COGNITO}:aud": identity_pool_id},
                      "ForAnyValue:StringLike": {f"{COGNITO}:amr": "authenticated"}}}]}
    role_arn = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="photos-own-folder", PolicyDocument=ROLE_POLICY)
    ci.set_identity_pool_roles(IdentityPoolId=identity_pool_id, Roles={"authenticated": role_arn})

    logins = {provider: id_token}
    identity_id = call(unsigned(args.endpoint, "GetId", {"IdentityPoolId": identity_pool_id, "Logins": logins}),
                       "unsigned GetId")["IdentityId"]
    creds_req = unsigned(args.endpoint, "GetCredentialsForIdentity", {"IdentityId": identity_id, "Logins": logins})
    answer = call(creds_req, "unsigned GetCredentialsForIdentity")
    creds = answer.get("Credentials") or {}
    if answer.get("IdentityId") != identity_id or not creds.get("AccessKeyId") or not creds.get("SessionToken"):
        sys.exit(f"broker_setup: GetCredentialsForIdentity answered 200 without credentials: {answer}")
    write_lua(creds_req, os.path.join(args.out_dir, "credentials.lua"))

    state = {"identity_id": identity_id, "access_key_id": creds["AccessKeyId"], "secret_key": creds["SecretKey"],
             "session_token": creds["SessionToken"], "expiration": creds["Expiration"], "region": args.region}
    path = os.path.join(args.out_dir, "broker-state.json")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump(state, f)

    token_raw = base64.b64decode(creds["SessionToken"])
    print(json.dumps({
        "user_pool_id": pool_id,
        "client_id": client_id,
        "identity_pool_id": identity_pool_id,
        "identity_id": identity_id,
        "role_arn": role_arn,
        "id_token_claims": len(jwt_claims(id_token)),
        "id_token_bytes": len(id_token),
        "credentials_body_bytes": len(creds_req["body"]),
        "credentials_response_bytes": len(json.dumps(answer, separators=(",", ":"))),
        "session_token_bytes": len(creds["SessionToken"]),
        # version, kid (5) + version, nonce (25) + Poly1305 tag (16) around the claims JSON
        "session_plaintext_bytes": len(token_raw) - 5 - 25 - 16,
        "role_policy_bytes": len(ROLE_POLICY),
    }))


def sign(args):
    with open(os.path.join(args.out_dir, "broker-state.json")) as f:
        state = json.load(f)
    iid = state["identity_id"]
    path = f"/photos/{iid}/a.jpg"
    req = AWSRequest(method="GET", url=f"http://{PHOTOS_HOST}{path}")
    cred = Credentials(state["access_key_id"], state["secret_key"], state["session_token"])
    SigV4Auth(cred, "photos", state["region"]).add_auth(req)
    headers = [["host", PHOTOS_HOST]] + [[k.lower(), v] for k, v in req.headers.items()]
    body = {
        "Method": "GET", "Path": path, "Headers": headers, "Service": "photos", "Action": "photos:GetPhoto",
        "Resource": f"arn:aws:photos:::photo/{iid}/a.jpg", "SourceIp": "203.0.113.9", "SecureTransport": True,
    }
    authorize = {
        "method": "POST",
        "path": "/broker/authorize",
        "url": args.endpoint.rstrip("/") + "/broker/authorize",
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, separators=(",", ":")),
    }
    status, text = send(authorize["url"], authorize["body"], authorize["headers"])
    if status != 200 or json.loads(text).get("Allowed") is not True:
        sys.exit(f"broker_setup: /broker/authorize answered HTTP {status}: {text[:2000]}")
    if '"Allowed":true' not in text:
        sys.exit(f"broker_setup: the answer does not carry the mark bench/broker.sh counts: {text[:300]}")
    write_lua(authorize, os.path.join(args.out_dir, f"{args.name}.lua"))
    print(f"broker_setup: signed GET {path} (X-Amz-Date {req.headers['X-Amz-Date']}), /broker/authorize "
          f"allowed it; {len(authorize['body'])}-byte body written to {args.name}.lua", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["setup", "sign"])
    p.add_argument("--endpoint", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--name", default="authorize")
    p.add_argument("--region", default=os.environ.get("CIRRUS_BENCH_REGION", "us-east-1"))
    args = p.parse_args()
    setup(args) if args.mode == "setup" else sign(args)


if __name__ == "__main__":
    main()
