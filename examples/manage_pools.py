"""Create a user pool and an app client on a running Cirrus, then clean up.

    export AWS_ACCESS_KEY_ID=AKIA... AWS_SECRET_ACCESS_KEY=...   # printed by `make run`
    python3 examples/manage_pools.py [endpoint]
"""
import sys

import boto3

endpoint = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9229"
idp = boto3.client("cognito-idp", endpoint_url=endpoint, region_name="us-east-1")

pool = idp.create_user_pool(
    PoolName="customers",
    UsernameAttributes=["email"],
    AutoVerifiedAttributes=["email"],
    Policies={"PasswordPolicy": {"MinimumLength": 12, "RequireSymbols": False}},
    Schema=[{"Name": "plan", "AttributeDataType": "String", "Mutable": True}],
)["UserPool"]
print("pool   ", pool["Id"], pool["Arn"])

client = idp.create_user_pool_client(
    UserPoolId=pool["Id"],
    ClientName="web",
    GenerateSecret=True,
    ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    CallbackURLs=["http://localhost:3000/callback"],
    AllowedOAuthFlows=["code"],
    AllowedOAuthScopes=["openid", "email"],
    AllowedOAuthFlowsUserPoolClient=True,
)["UserPoolClient"]
print("client ", client["ClientId"], "(has a secret)" if "ClientSecret" in client else "")

for page in idp.get_paginator("list_user_pools").paginate(MaxResults=10):
    for p in page["UserPools"]:
        print("listed ", p["Id"], p["Name"])

try:
    idp.describe_user_pool(UserPoolId="us-east-1_doesnotex")
except idp.exceptions.ResourceNotFoundException as e:
    print("error  ", e.response["Error"]["Code"])

idp.delete_user_pool(UserPoolId=pool["Id"])
print("deleted", pool["Id"])
