"""A user-pool sign-in becomes temporary AWS-style credentials (enhanced flow).

Creates a user pool with one confirmed user, an IAM role that trusts the
identity pool and lets each identity use only its own folder of a "photos"
service, and an identity pool over the user pool; then signs the user in,
gets an identity and credentials, and asks STS who they are.

Run `make run`, then:

    export AWS_ACCESS_KEY_ID=AKIA... AWS_SECRET_ACCESS_KEY=...   # the admin key
    python3 examples/identity_pool_credentials.py [endpoint]

To see the credentials at work on a resource server, start
`CIRRUS_SESSION_KEYS=$(cirrus session-keys) cargo run --example resource_service`
and sign requests for the service `photos` with them (botocore's SigV4Auth).
"""
import json
import sys
import time

import boto3

endpoint = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9229"
region = "us-east-1"
clients = {name: boto3.client(name, endpoint_url=endpoint, region_name=region)
           for name in ("cognito-idp", "cognito-identity", "iam")}
idp, identity, iam = clients["cognito-idp"], clients["cognito-identity"], clients["iam"]

# A user pool, an app client and a confirmed user.
user_pool_id = idp.create_user_pool(PoolName="photos-users")["UserPool"]["Id"]
client_id = idp.create_user_pool_client(
    UserPoolId=user_pool_id, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
)["UserPoolClient"]["ClientId"]
username = f"jane{int(time.time())}"
idp.admin_create_user(UserPoolId=user_pool_id, Username=username, MessageAction="SUPPRESS")
idp.admin_set_user_password(UserPoolId=user_pool_id, Username=username, Password="Correct-horse-9!", Permanent=True)

# The identity pool, trusting that user pool's app client.
provider = f"cognito-idp.{region}.amazonaws.com/{user_pool_id}"
pool_id = identity.create_identity_pool(
    IdentityPoolName="photos",
    AllowUnauthenticatedIdentities=False,
    CognitoIdentityProviders=[{"ProviderName": provider, "ClientId": client_id}],
)["IdentityPoolId"]

# The role: assumable by authenticated identities of this pool only, and
# allowed photos:* on the identity's own folder.
trust = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
            "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
        },
    }],
}
own_folder = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": "photos:*",
        "Resource": "arn:aws:photos:::photo/${cognito-identity.amazonaws.com:sub}/*",
    }],
}
role_name = f"photos-user-{int(time.time())}"
role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
iam.put_role_policy(RoleName=role_name, PolicyName="own-folder", PolicyDocument=json.dumps(own_folder))
identity.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": role_arn})

# The user signs in; the ID token is the login.
tokens = idp.initiate_auth(
    ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
    AuthParameters={"USERNAME": username, "PASSWORD": "Correct-horse-9!"},
)["AuthenticationResult"]
logins = {provider: tokens["IdToken"]}
identity_id = identity.get_id(IdentityPoolId=pool_id, Logins=logins)["IdentityId"]
creds = identity.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)["Credentials"]
print("identity", identity_id)
print("access key", creds["AccessKeyId"], "expires", creds["Expiration"])

sts = boto3.client(
    "sts", endpoint_url=endpoint, region_name=region,
    aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretKey"],
    aws_session_token=creds["SessionToken"],
)
print("caller", sts.get_caller_identity()["Arn"])
