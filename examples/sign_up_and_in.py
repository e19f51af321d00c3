"""Sign a user up, confirm them with the code from the outbox, sign in.

Run `make run` (no SMTP relay configured, so mail goes to ./data/outbox), then:

    export AWS_ACCESS_KEY_ID=AKIA... AWS_SECRET_ACCESS_KEY=...
    python3 examples/sign_up_and_in.py [endpoint] [data dir]
"""
import base64
import glob
import json
import os
import re
import sys
import time

import boto3

endpoint = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9229"
data_dir = sys.argv[2] if len(sys.argv) > 2 else "./data"
idp = boto3.client("cognito-idp", endpoint_url=endpoint, region_name="us-east-1")

pool = idp.create_user_pool(
    PoolName="example", UsernameAttributes=["email"], AutoVerifiedAttributes=["email"]
)["UserPool"]
client_id = idp.create_user_pool_client(
    UserPoolId=pool["Id"],
    ClientName="app",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
)["UserPoolClient"]["ClientId"]

email = f"jane+{int(time.time())}@example.com"
sent = idp.sign_up(ClientId=client_id, Username=email, Password="Correct-horse-9!")
print("signed up", sent["UserSub"], "code sent to", sent["CodeDeliveryDetails"]["Destination"])


def newest_code():
    files = sorted(glob.glob(os.path.join(data_dir, "outbox", "*.eml")), key=os.path.getmtime)
    for path in reversed(files):
        text = open(path, encoding="utf-8").read()
        if email in text:
            return re.search(r"\b(\d{6})\b", text).group(1)
    raise SystemExit("no email in the outbox: is the server using another data directory?")


idp.confirm_sign_up(ClientId=client_id, Username=email, ConfirmationCode=newest_code())
result = idp.initiate_auth(
    ClientId=client_id,
    AuthFlow="USER_PASSWORD_AUTH",
    AuthParameters={"USERNAME": email, "PASSWORD": "Correct-horse-9!"},
)["AuthenticationResult"]
payload = result["IdToken"].split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
print("ID token for", claims["email"], "issued by", claims["iss"])
print("user:", idp.get_user(AccessToken=result["AccessToken"])["Username"])

idp.revoke_token(Token=result["RefreshToken"], ClientId=client_id)
idp.delete_user_pool(UserPoolId=pool["Id"])
