"""Let a user pool sign people in through another identity provider: an
OpenID Connect provider and a SAML 2.0 IdP, side by side.

Run `make run`, then:

    export AWS_ACCESS_KEY_ID=AKIA... AWS_SECRET_ACCESS_KEY=...
    python3 examples/federation.py OIDC_ISSUER OIDC_CLIENT_ID OIDC_CLIENT_SECRET [SAML_METADATA_URL] [endpoint]

It registers the providers, an app client that offers them, and prints what
to register at each provider and the URL that starts a sign-in. Open it in a
browser: the hosted sign-in page shows a button per provider. After the
provider signs the user in, the browser lands on the app's callback with a
Cirrus authorization code (exchange it at the token endpoint, as in
examples/oidc_login.py); the user appears as `Corp_<subject>` with the mapped
attributes.
"""
import sys
import urllib.parse

import boto3

if len(sys.argv) < 4:
    sys.exit(__doc__)
issuer, client_id, client_secret = sys.argv[1:4]
saml_metadata_url = sys.argv[4] if len(sys.argv) > 4 else None
endpoint = sys.argv[5] if len(sys.argv) > 5 else "http://127.0.0.1:9229"
idp = boto3.client("cognito-idp", endpoint_url=endpoint, region_name="us-east-1")

pool_id = idp.create_user_pool(PoolName="federated")["UserPool"]["Id"]
providers = ["COGNITO", "Corp"]
idp.create_identity_provider(
    UserPoolId=pool_id,
    ProviderName="Corp",
    ProviderType="OIDC",
    ProviderDetails={
        "client_id": client_id,
        "client_secret": client_secret,
        "authorize_scopes": "openid email profile",
        "oidc_issuer": issuer,
        "attributes_request_method": "GET",
    },
    AttributeMapping={"email": "email", "name": "name", "username": "sub"},
    IdpIdentifiers=["example.com"],
)
if saml_metadata_url:
    idp.create_identity_provider(
        UserPoolId=pool_id,
        ProviderName="Workforce",
        ProviderType="SAML",
        ProviderDetails={"MetadataURL": saml_metadata_url, "IDPInit": "false"},
        AttributeMapping={"email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"},
    )
    providers.append("Workforce")

client = idp.create_user_pool_client(
    UserPoolId=pool_id,
    ClientName="web",
    GenerateSecret=True,
    CallbackURLs=["http://localhost:8765/callback"],
    AllowedOAuthFlows=["code"],
    AllowedOAuthScopes=["openid", "email", "profile"],
    AllowedOAuthFlowsUserPoolClient=True,
    SupportedIdentityProviders=providers,
)["UserPoolClient"]

base = f"{endpoint}/{pool_id}"
print("At the OpenID provider, register the redirect URI:", f"{base}/oauth2/idpresponse")
if saml_metadata_url:
    print("At the SAML IdP, register the SP from its metadata:", f"{base}/saml2/metadata")
    print("  (entity ID", f"urn:amazon:cognito:sp:{pool_id},", "assertion consumer", f"{base}/saml2/idpresponse)")
query = urllib.parse.urlencode({
    "response_type": "code",
    "client_id": client["ClientId"],
    "redirect_uri": "http://localhost:8765/callback",
    "scope": "openid email profile",
    "state": "example",
})
print("Sign in (the page offers every provider):", f"{base}/oauth2/authorize?{query}")
print("Or straight through Corp:", f"{base}/oauth2/authorize?{query}&identity_provider=Corp")
