"""SRP sign-in (spec user-pools.md §3.1-§3.2 and §5, clients.md) with real,
unmodified clients: pycognito (Python, sends no Session with its
PASSWORD_VERIFIER answer) and amazon-cognito-identity-js (driven by
tests/compat/js/srp_client.js under node), both also through a TOTP
SOFTWARE_TOKEN_MFA challenge after the SRP step; wrong passwords, a
malicious SRP_A, the challenge's shape, single-use SECRET_BLOCKs and SRP
inside the choice-based USER_AUTH flow.

The TOTP answers come last in this file (see test_mfa.py: a code's 30 s step
can be used once, so registration and sign-in need different steps)."""

from __future__ import annotations

import base64
import re
import secrets

import pytest
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP
from pycognito.exceptions import SoftwareTokenMFAChallengeException

from harness import (OTHER_PASSWORD, PASSWORD, SRP_N_HEX, Totp, admin_user, expect_challenge, expect_error,
                     expect_tokens, issuer_for, jwt_claims, mfa_settings, new_app_client, new_pool,
                     password_auth, register_totp, run_srp_client_js, sign_in, verify_jwt)

SRP_FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
N = int(SRP_N_HEX, 16)
HEX_RE = re.compile(r"^[0-9a-fA-F]+$")
MINIMAL_HEX_RE = re.compile(r"^[1-9a-f][0-9a-f]*$")


# ------------------------------------------------------------ fixtures ----

@pytest.fixture(scope="module")
def env(auth_idp, auth_server):
    """A pool with optional TOTP MFA; a client allowing SRP (and the password
    flow used to set users up), one without SRP, one with USER_AUTH only."""
    pid = new_pool(auth_idp)
    auth_idp.set_user_pool_mfa_config(UserPoolId=pid, MfaConfiguration="OPTIONAL",
                                      SoftwareTokenMfaConfiguration={"Enabled": True})
    return {
        "pool": pid,
        "endpoint": auth_server.endpoint,
        "issuer": issuer_for(auth_server.endpoint, pid),
        "srp": new_app_client(auth_idp, pid, ExplicitAuthFlows=SRP_FLOWS),
        "no_srp": new_app_client(auth_idp, pid),
        "user_auth": new_app_client(auth_idp, pid, ExplicitAuthFlows=["ALLOW_USER_AUTH",
                                                                      "ALLOW_REFRESH_TOKEN_AUTH"]),
    }


@pytest.fixture(scope="module")
def user(auth_idp, env):
    """A confirmed user without MFA."""
    return admin_user(auth_idp, env["pool"])


@pytest.fixture(scope="module")
def py_totp_user(auth_idp, env, pycognito_for):
    """TOTP registered and preferred entirely through pycognito, after an SRP sign-in."""
    u = admin_user(auth_idp, env["pool"])
    cog = pycognito_for(env["pool"], env["srp"]["ClientId"], u["username"])
    cog.authenticate(password=u["password"])
    totp = Totp(cog.associate_software_token())
    assert cog.verify_software_token(totp.fresh(), device_name="pycognito") is True
    cog.set_user_mfa_preference(sms_mfa=False, software_token_mfa=True, preferred="SOFTWARE_TOKEN")
    u["totp"] = totp
    return u


@pytest.fixture(scope="module")
def js_totp_user(auth_idp, auth_idp_public, env):
    """TOTP registered and preferred through boto3, for the identity-js client."""
    u = admin_user(auth_idp, env["pool"])
    access = sign_in(auth_idp_public, env["srp"], u["username"])["AccessToken"]
    u["totp"] = register_totp(auth_idp_public, access)
    auth_idp_public.set_user_mfa_preference(AccessToken=access, **mfa_settings(totp=True,
                                                                              preferred="SOFTWARE_TOKEN_MFA"))
    return u


def srp_a() -> str:
    """A fresh client public value A = g^a mod N, as hex (user-pools.md §5)."""
    return format(pow(2, secrets.randbits(1024) | 1, N), "x")


def js(env, username, password, **kwargs) -> dict:
    return run_srp_client_js(env["endpoint"], env["pool"], env["srp"]["ClientId"], username, password, **kwargs)


def aws_srp(env, auth_idp_public, username, password, client_key="srp") -> AWSSRP:
    """pycognito's SRP helper (its math, unmodified) around our boto3 client."""
    return AWSSRP(username=username, password=password, pool_id=env["pool"],
                  client_id=env[client_key]["ClientId"], client=auth_idp_public)


# ---------------------------------------------------- challenge shape -----

def test_totp_users_registered(auth_idp, env, py_totp_user, js_totp_user):
    """Registers both TOTP users early (their codes' step must run out before the sign-ins at the end)."""
    for u in (py_totp_user, js_totp_user):
        got = auth_idp.admin_get_user(UserPoolId=env["pool"], Username=u["username"])
        assert got.get("PreferredMfaSetting") == "SOFTWARE_TOKEN_MFA", got
        expect_challenge(password_auth(auth_idp, env["srp"], u["username"], PASSWORD), "SOFTWARE_TOKEN_MFA")


def test_password_verifier_challenge(auth_idp_public, env, user):
    resp = auth_idp_public.initiate_auth(ClientId=env["srp"]["ClientId"], AuthFlow="USER_SRP_AUTH",
                                         AuthParameters={"USERNAME": user["username"], "SRP_A": srp_a()})
    _, params = expect_challenge(resp, "PASSWORD_VERIFIER")
    assert set(params) >= {"SALT", "SRP_B", "SECRET_BLOCK", "USERNAME", "USER_ID_FOR_SRP"}, params
    assert params["USERNAME"] == user["username"] and params["USER_ID_FOR_SRP"] == user["username"], params
    assert MINIMAL_HEX_RE.match(params["SALT"]), f"SALT must be minimal lowercase hex: {params['SALT']!r}"
    assert HEX_RE.match(params["SRP_B"]) and int(params["SRP_B"], 16) % N != 0, params["SRP_B"]
    assert base64.b64decode(params["SECRET_BLOCK"], validate=True), params["SECRET_BLOCK"]


# ------------------------------------------------------------ pycognito ----

def test_pycognito_srp_sign_in(auth_idp_public, env, user, pycognito_for):
    cog = pycognito_for(env["pool"], env["srp"]["ClientId"], user["username"])
    cog.authenticate(password=user["password"])   # verifies both tokens against the pool's JWKS
    assert cog.id_claims["cognito:username"] == user["username"], cog.id_claims
    assert cog.id_claims["sub"] == user["sub"], cog.id_claims
    assert cog.access_claims["username"] == user["username"], cog.access_claims
    assert auth_idp_public.get_user(AccessToken=cog.access_token)["Username"] == user["username"]


def test_pycognito_wrong_password(env, user, pycognito_for):
    cog = pycognito_for(env["pool"], env["srp"]["ClientId"], user["username"])
    with pytest.raises(ClientError) as ei:
        cog.authenticate(password=OTHER_PASSWORD)
    assert ei.value.response["Error"]["Code"] == "NotAuthorizedException", ei.value.response
    assert cog.id_token is None and cog.access_token is None


# -------------------------------------------------------- identity-js -----

def test_identity_js_srp_sign_in(env, user, auth_jwks_for):
    report = js(env, user["username"], user["password"])
    assert report["result"] == "success", report
    assert report["challenges"] == [], report
    jwks = auth_jwks_for(env["pool"])
    id_claims = verify_jwt(report["idToken"], jwks, env["issuer"], audience=env["srp"]["ClientId"])
    assert id_claims["cognito:username"] == user["username"], id_claims
    assert id_claims["token_use"] == "id", id_claims
    access_claims = verify_jwt(report["accessToken"], jwks, env["issuer"])
    assert access_claims["username"] == user["username"] and access_claims["token_use"] == "access"
    assert report["refreshToken"], report


def test_identity_js_wrong_password(env, user):
    report = js(env, user["username"], OTHER_PASSWORD)
    assert report["result"] == "failure", report
    assert report["error"]["code"] == "NotAuthorizedException", report
    assert not report.get("idToken"), report


# ---------------------------------------------------------- server side ---

@pytest.mark.parametrize("a_value", ["N", "0", "2N"])
def test_srp_a_zero_mod_n_is_refused(auth_idp_public, env, user, a_value):
    srp_a_hex = {"N": SRP_N_HEX, "0": "0", "2N": format(2 * N, "x")}[a_value]
    with pytest.raises(ClientError) as ei:
        auth_idp_public.initiate_auth(ClientId=env["srp"]["ClientId"], AuthFlow="USER_SRP_AUTH",
                                      AuthParameters={"USERNAME": user["username"], "SRP_A": srp_a_hex})
    code = ei.value.response["Error"]["Code"]
    assert code in ("NotAuthorizedException", "InvalidParameterException"), ei.value.response


def test_srp_flow_not_enabled(auth_idp_public, env, user):
    expect_error("InvalidParameterException", auth_idp_public.initiate_auth, ClientId=env["no_srp"]["ClientId"],
                 AuthFlow="USER_SRP_AUTH", AuthParameters={"USERNAME": user["username"], "SRP_A": srp_a()})


def test_secret_block_is_single_use(auth_idp_public, env, user):
    """A PASSWORD_VERIFIER answer (sent without Session, as pycognito does) works once."""
    helper = aws_srp(env, auth_idp_public, user["username"], user["password"])
    params = helper.get_auth_params()
    resp = auth_idp_public.initiate_auth(ClientId=env["srp"]["ClientId"], AuthFlow="USER_SRP_AUTH",
                                         AuthParameters=params)
    _, challenge = expect_challenge(resp, "PASSWORD_VERIFIER")
    answer = helper.process_challenge(challenge, params)
    result = expect_tokens(auth_idp_public.respond_to_auth_challenge(
        ClientId=env["srp"]["ClientId"], ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answer))
    assert jwt_claims(result["IdToken"])["cognito:username"] == user["username"]
    expect_error("NotAuthorizedException", auth_idp_public.respond_to_auth_challenge,
                 ClientId=env["srp"]["ClientId"], ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answer)


def test_user_auth_password_srp(auth_idp_public, env, user):
    """USER_AUTH with PREFERRED_CHALLENGE=PASSWORD_SRP and SRP_A → PASSWORD_VERIFIER → tokens."""
    helper = aws_srp(env, auth_idp_public, user["username"], user["password"], client_key="user_auth")
    params = helper.get_auth_params()
    resp = auth_idp_public.initiate_auth(ClientId=env["user_auth"]["ClientId"], AuthFlow="USER_AUTH",
                                         AuthParameters={**params, "PREFERRED_CHALLENGE": "PASSWORD_SRP"})
    session, challenge = expect_challenge(resp, "PASSWORD_VERIFIER")
    answer = helper.process_challenge(challenge, params)
    result = expect_tokens(auth_idp_public.respond_to_auth_challenge(
        ClientId=env["user_auth"]["ClientId"], ChallengeName="PASSWORD_VERIFIER", Session=session,
        ChallengeResponses=answer))
    assert jwt_claims(result["IdToken"])["cognito:username"] == user["username"]


# ------------------------------------- SRP + TOTP (after the first step) ---

def test_pycognito_srp_then_totp(env, py_totp_user, pycognito_for):
    u = py_totp_user
    cog = pycognito_for(env["pool"], env["srp"]["ClientId"], u["username"])
    with pytest.raises(SoftwareTokenMFAChallengeException):
        cog.authenticate(password=u["password"])
    assert cog.id_token is None
    cog.respond_to_software_token_mfa_challenge(u["totp"].fresh(margin=4))
    assert cog.id_claims["cognito:username"] == u["username"], cog.id_claims
    assert cog.access_claims["username"] == u["username"], cog.access_claims


def test_pycognito_srp_then_totp_wrong_password(env, py_totp_user, pycognito_for):
    cog = pycognito_for(env["pool"], env["srp"]["ClientId"], py_totp_user["username"])
    with pytest.raises(ClientError) as ei:
        cog.authenticate(password=OTHER_PASSWORD)
    assert ei.value.response["Error"]["Code"] == "NotAuthorizedException", ei.value.response


def test_identity_js_srp_then_totp(env, js_totp_user, auth_jwks_for):
    u = js_totp_user
    step = u["totp"].reserve(margin=6)      # node computes the code for this step itself
    report = js(env, u["username"], u["password"], totp_secret=u["totp"].secret, wrong_totp_first=True)
    u["totp"].last_step = max(step, report.get("totpStep") or step)
    assert report["challenges"] == ["SOFTWARE_TOKEN_MFA"], report
    assert [e["code"] for e in report.get("mfaErrors", [])] == ["CodeMismatchException"], report
    assert report["result"] == "success", report
    claims = verify_jwt(report["idToken"], auth_jwks_for(env["pool"]), env["issuer"],
                        audience=env["srp"]["ClientId"])
    assert claims["cognito:username"] == u["username"], claims


def test_identity_js_srp_then_totp_wrong_password(env, js_totp_user):
    report = js(env, js_totp_user["username"], OTHER_PASSWORD, totp_secret=js_totp_user["totp"].secret)
    assert report["result"] == "failure", report
    assert report["error"]["code"] == "NotAuthorizedException", report
    assert report["challenges"] == [], report
