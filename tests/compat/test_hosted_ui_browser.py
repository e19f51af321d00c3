"""The hosted UI and the OAuth 2.0 / OpenID Connect authorization code flow,
end to end in a real browser: tests/compat/js/oidc_browser.mjs is the relying
party (openid-client, panva's certified RP: discovery, PKCE S256, state,
nonce, ID token validation, refresh, UserInfo) and drives Debian's headless
Chromium (playwright-core, /usr/bin/chromium) through the sign-in, MFA and
sign-up pages as a person would.

Screenshots (signin.png, signup.png, mfa.png, ...) go to $CIRRUS_SCREENSHOTS
when set (relative paths from the repository root, e.g. docs/screenshots),
else to a temporary directory; every test checks the ones it takes.

Nothing here is skipped: without node, the npm packages or /usr/bin/chromium
the tests fail (tests/compat/run.sh installs all three)."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pyotp
import pytest

from harness import (JS_DIR, PASSWORD, REPO_ROOT, Totp, admin_user, fetch_jwks, free_port, issuer_for,
                     mfa_settings, new_app_client, new_email, new_pool, register_totp, sign_in, unique, verify_jwt)
from smtp_sink import extract_code

OIDC_BROWSER_JS = JS_DIR / "oidc_browser.mjs"
CHROMIUM = Path("/usr/bin/chromium")
SCOPES = ["openid", "email", "profile"]
BROWSER_TIMEOUT = 150.0          # one run, including up to ~35 s waiting for an unused TOTP step
BASE32_RE = re.compile(r"^[A-Z2-7]{16,}=*$")


# ------------------------------------------------------------- helpers ----

def redirect_uri() -> str:
    """A loopback callback on a free port: oidc_browser.mjs listens there itself."""
    return f"http://127.0.0.1:{free_port()}/callback"


def oauth_client(idp, pool_id: str, callback: str, secret: bool = False) -> dict:
    """An app client for the hosted UI's code flow (the password flow too, to set users up)."""
    return new_app_client(idp, pool_id, GenerateSecret=secret, CallbackURLs=[callback],
                          AllowedOAuthFlows=["code"], AllowedOAuthScopes=SCOPES,
                          AllowedOAuthFlowsUserPoolClient=True, SupportedIdentityProviders=["COGNITO"])


def screenshot_dir(tmp_path: Path) -> Path:
    raw = os.environ.get("CIRRUS_SCREENSHOTS")
    if not raw:
        return tmp_path / "screenshots"
    path = Path(raw)
    return path if path.is_absolute() else REPO_ROOT / path


def assert_screenshots(report: dict, directory: Path, *names: str) -> None:
    for name in names:
        png = directory / name
        assert png.is_file(), f"{png} was not written (screenshots taken: {report.get('screenshots')})"
        data = png.read_bytes()
        assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG ({len(data)} bytes)"


def _require_tools() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH (needed for the hosted-UI browser tests)")
    for pkg in ("openid-client", "playwright-core"):
        if not (JS_DIR / "node_modules" / pkg).is_dir():
            pytest.fail(f"{JS_DIR}/node_modules/{pkg} is missing: run tests/compat/run.sh (it runs `npm ci` there)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: tests/compat/run.sh installs Debian's chromium (scripts/apt-ensure.sh)")
    return node


def _brief(report: dict) -> str:
    """The parts of a failed report that say what the browser and the RP sent and got back."""
    names = ("error", "pages", "final_page", "screenshots", "callback", "refresh", "userinfo_error", "sso", "replay",
             "authorization_url", "trace", "http")
    keep = {k: report.get(k) for k in names if report.get(k) is not None}
    return json.dumps(keep, indent=1, default=str)[-12000:]


def run_browser(config: dict, answer=None, timeout: float = BROWSER_TIMEOUT, expect_ok: bool = True) -> dict:
    """Run oidc_browser.mjs with `config` (sent as the first stdin line) and return
    its JSON report. `answer(event) -> str` answers {"event": "need_code"} lines
    (the script reads the reply from stdin)."""
    node = _require_tools()
    proc = subprocess.Popen([node, str(OIDC_BROWSER_JS)], cwd=str(JS_DIR), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    lines: queue.Queue = queue.Queue()
    errs: list = []

    def pump(stream, sink):
        for line in stream:
            sink(line)
        if stream is proc.stdout:
            lines.put(None)

    threading.Thread(target=pump, args=(proc.stdout, lines.put), daemon=True).start()
    threading.Thread(target=pump, args=(proc.stderr, errs.append), daemon=True).start()
    proc.stdin.write(json.dumps(config) + "\n")
    proc.stdin.flush()

    deadline = time.monotonic() + timeout
    out: list = []
    try:
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"oidc_browser.mjs gave no report within {timeout}s\nstdout: {''.join(out)[-3000:]}\n"
                            f"stderr: {''.join(errs)[-3000:]}")
            if line is None:
                break
            out.append(line)
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if isinstance(msg, dict) and msg.get("event") == "need_code":
                if answer is None:
                    pytest.fail(f"oidc_browser.mjs asked for a code and the test has none: {msg!r}")
                proc.stdin.write(str(answer(msg)).strip() + "\n")
                proc.stdin.flush()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    reports = []
    for line in out:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and "event" not in msg:
            reports.append(msg)
    if not reports:
        pytest.fail(f"oidc_browser.mjs printed no JSON report (exit {proc.returncode})\n"
                    f"stdout: {''.join(out)[-3000:]}\nstderr: {''.join(errs)[-3000:]}")
    report = reports[-1]
    if expect_ok:
        assert report.get("ok") is True and proc.returncode == 0, \
            f"oidc_browser.mjs failed (exit {proc.returncode}):\n{_brief(report)}\nstderr: {''.join(errs)[-2000:]}"
    return report


def rp_config(issuer: str, client: dict, callback: str, user: dict, shots: Path | None,
              screenshots: tuple = (), **extra) -> dict:
    cfg = {
        "issuer": issuer,
        "client_id": client["ClientId"],
        "redirect_uri": callback,
        "scope": " ".join(SCOPES),
        "username": user["username"],
        "password": user["password"],
    }
    if client.get("ClientSecret"):
        cfg["client_secret"] = client["ClientSecret"]
    if shots is not None:
        cfg["screenshot_dir"] = str(shots)
        cfg["screenshots"] = list(screenshots)
    cfg.update(extra)
    return cfg


def check_tokens(report: dict, *, issuer: str, client: dict, user: dict, email: str, jwks: dict) -> None:
    """What an RP gets back from the code flow: ID token (validated by openid-client,
    nonce included, and again here with PyJWT), access token, refresh, UserInfo."""
    token = report["token"]
    assert str(token.get("token_type", "")).lower() == "bearer", token.get("token_type")
    assert token.get("id_token") and token.get("access_token") and token.get("refresh_token"), \
        f"the code grant should give an ID, access and refresh token: {sorted(k for k, v in token.items() if v)}"

    claims = report["id_claims"]
    assert claims["iss"] == issuer, claims
    assert claims["aud"] == client["ClientId"], claims
    assert claims["sub"] == user["sub"], claims
    assert claims["token_use"] == "id", claims
    assert claims["cognito:username"] == user["username"], claims
    assert claims.get("email") == email, claims
    assert isinstance(claims.get("nonce"), str) and claims["nonce"], claims   # and openid-client compared it
    assert claims.get("at_hash"), f"ID token from the code flow lacks at_hash: {claims}"
    verify_jwt(token["id_token"], jwks, issuer, audience=client["ClientId"])

    access = verify_jwt(token["access_token"], jwks, issuer)
    assert access["token_use"] == "access", access
    assert access["client_id"] == client["ClientId"], access
    assert access["sub"] == user["sub"], access
    assert access.get("version") == 2, access
    assert sorted(access["scope"].split()) == sorted(SCOPES), access

    refresh = report["refresh"]
    assert refresh.get("ok") is True, f"refresh_token grant failed: {refresh}"
    assert refresh["new_access_token"] is True, "refresh gave back the same access token"
    again = verify_jwt(refresh["access_token"], jwks, issuer)
    assert again["sub"] == user["sub"] and sorted(again["scope"].split()) == sorted(SCOPES), again
    if refresh.get("id_token"):
        verify_jwt(refresh["id_token"], jwks, issuer, audience=client["ClientId"])

    info = report.get("userinfo")
    assert info, f"UserInfo failed: {report.get('userinfo_error')}"
    assert info["sub"] == user["sub"], info
    assert info.get("username") == user["username"], info
    assert info.get("email") == email, info
    assert str(info.get("email_verified")).lower() == "true", info


# ------------------------------------------------------------ fixtures ----

@pytest.fixture(scope="module")
def env(auth_idp, auth_server):
    """plain: no MFA. totp: MFA OPTIONAL with TOTP. setup: MFA ON with TOTP only
    (a user without a factor meets MFA_SETUP). signup: email auto-verified."""
    plain = new_pool(auth_idp)
    totp = new_pool(auth_idp)
    auth_idp.set_user_pool_mfa_config(UserPoolId=totp, MfaConfiguration="OPTIONAL",
                                      SoftwareTokenMfaConfiguration={"Enabled": True})
    setup = new_pool(auth_idp)
    auth_idp.set_user_pool_mfa_config(UserPoolId=setup, MfaConfiguration="ON",
                                      SoftwareTokenMfaConfiguration={"Enabled": True})
    signup = new_pool(auth_idp, AutoVerifiedAttributes=["email"])
    return {"endpoint": auth_server.endpoint, "plain": plain, "totp": totp, "setup": setup, "signup": signup}


def user_with_email(idp, pool_id: str) -> tuple[dict, str]:
    email = new_email("h")
    user = admin_user(idp, pool_id, attrs={"email": email, "email_verified": "true", "name": "Hosted Compat"})
    return user, email


# --------------------------------------------------------------- tests ----

def test_totp_generator_matches_pyotp():
    """The script's RFC 6238 codes are pyotp's (so an MFA failure is the server's)."""
    secret = pyotp.random_base32(32)
    step = int(time.time() // 30)
    report = run_browser({"scenario": "totp", "totp_secret": secret, "step": step})
    assert report["code"] == pyotp.TOTP(secret).at(step * 30)


@pytest.mark.parametrize("auth", ["none", "client_secret_basic", "client_secret_post"])
def test_code_flow_sign_in(auth_idp, env, tmp_path, auth):
    pool = env["plain"]
    issuer = issuer_for(env["endpoint"], pool)
    callback = redirect_uri()
    client = oauth_client(auth_idp, pool, callback, secret=auth != "none")
    user, email = user_with_email(auth_idp, pool)
    shots = screenshot_dir(tmp_path)
    extra = {"token_auth": auth} if auth != "none" else {}
    report = run_browser(rp_config(issuer, client, callback, user, shots, ("signin.png",),
                                   error_screenshot=str(tmp_path / "error.png"), **extra))

    assert report["discovery"]["issuer"] == issuer
    assert report["discovery"]["authorization_endpoint"] == f"{issuer}/oauth2/authorize"
    assert report["pages"][0] == "login" and report["pages"][-1] == "callback", report["pages"]
    assert set(report["callback"]["params"]) >= {"code", "state"}, report["callback"]
    check_tokens(report, issuer=issuer, client=client, user=user, email=email, jwks=fetch_jwks(env["endpoint"], pool))
    assert report["userinfo"].get("name") == "Hosted Compat", f"scope profile: name missing {report['userinfo']}"
    assert_screenshots(report, shots, "signin.png")


def test_session_reused_and_code_replay_revokes(auth_idp, env, tmp_path):
    """A second authorization in the same browser (prompt=none) is answered from
    the hosted-UI session; a code redeemed twice is refused (invalid_grant) and
    the refresh token issued from it stops working."""
    pool = env["plain"]
    issuer = issuer_for(env["endpoint"], pool)
    callback = redirect_uri()
    client = oauth_client(auth_idp, pool, callback)
    user, email = user_with_email(auth_idp, pool)
    report = run_browser(rp_config(issuer, client, callback, user, None, extra_checks=["sso", "replay"],
                                   error_screenshot=str(tmp_path / "error.png")))

    sso = report["sso"]
    assert sso["page"] == "callback" and sso.get("ok") is True, f"prompt=none with a session: {sso}"
    assert sso["sub"] == user["sub"], sso
    second = report["replay"]["second_redeem"]
    assert second["ok"] is False and second["error"].get("error") == "invalid_grant", \
        f"a code redeemed twice: {second}\n{_brief(report)}"
    after = report["replay"]["refresh_after"]
    assert after["ok"] is False and after["error"].get("error") == "invalid_grant", \
        f"refresh with the token from a replayed code: {after}"


def test_totp_mfa_in_hosted_ui(auth_idp, auth_idp_public, env, tmp_path):
    pool = env["totp"]
    issuer = issuer_for(env["endpoint"], pool)
    callback = redirect_uri()
    client = oauth_client(auth_idp, pool, callback)
    user, email = user_with_email(auth_idp, pool)
    access = sign_in(auth_idp, client, user["username"])["AccessToken"]
    totp: Totp = register_totp(auth_idp_public, access)
    auth_idp_public.set_user_mfa_preference(AccessToken=access, **mfa_settings(totp=True,
                                                                              preferred="SOFTWARE_TOKEN_MFA"))
    shots = screenshot_dir(tmp_path)
    report = run_browser(rp_config(issuer, client, callback, user, shots, ("mfa.png",), mfa="totp",
                                   totp_secret=totp.secret, totp_min_step=totp.last_step + 1,
                                   error_screenshot=str(tmp_path / "error.png")))

    assert report["pages"] == ["login", "mfa", "callback"], report["pages"]
    check_tokens(report, issuer=issuer, client=client, user=user, email=email, jwks=fetch_jwks(env["endpoint"], pool))
    assert_screenshots(report, shots, "mfa.png")


def test_totp_setup_in_hosted_ui(auth_idp, env, tmp_path):
    """MfaConfiguration ON and no factor yet: the hosted UI shows a QR code and
    the secret, the person types a code from it, and signs in."""
    pool = env["setup"]
    issuer = issuer_for(env["endpoint"], pool)
    callback = redirect_uri()
    client = oauth_client(auth_idp, pool, callback)
    user, email = user_with_email(auth_idp, pool)
    shots = screenshot_dir(tmp_path)
    report = run_browser(rp_config(issuer, client, callback, user, shots, ("mfa_setup.png",), mfa="setup",
                                   error_screenshot=str(tmp_path / "error.png")))

    assert report["pages"] == ["login", "mfa_setup", "callback"], report["pages"]
    setup = report["mfa_setup"]
    assert setup["qr_svg"] is True, "no <svg role=img aria-label='QR code'> on the MFA setup page"
    assert BASE32_RE.match(setup["secret"]), setup
    check_tokens(report, issuer=issuer, client=client, user=user, email=email, jwks=fetch_jwks(env["endpoint"], pool))
    got = auth_idp.admin_get_user(UserPoolId=pool, Username=user["username"])
    assert "SOFTWARE_TOKEN_MFA" in (got.get("UserMFASettingList") or []), got
    assert_screenshots(report, shots, "mfa_setup.png")


def test_sign_up_in_hosted_ui(auth_idp, env, smtp_sink, tmp_path):
    """Sign-up link, sign-up form, the emailed code on the confirm page, the
    password once more, then the code flow's tokens for the new user."""
    pool = env["signup"]
    issuer = issuer_for(env["endpoint"], pool)
    callback = redirect_uri()
    client = oauth_client(auth_idp, pool, callback)
    email = new_email("s")
    user = {"username": unique("hosted"), "password": PASSWORD}
    mark = smtp_sink.mark()
    asked: list = []

    def mailed_code(event: dict) -> str:
        asked.append(event)
        return extract_code(smtp_sink.wait_for(email, since=mark).text)

    shots = screenshot_dir(tmp_path)
    report = run_browser(rp_config(issuer, client, callback, user, shots, ("signup.png",), scenario="signup",
                                   signup_attributes={"email": email}, error_screenshot=str(tmp_path / "error.png")),
                         answer=mailed_code)

    assert asked and asked[0]["username"] == user["username"], asked
    assert report["pages"] == ["login", "signup", "confirm", "login", "callback"], report["pages"]
    got = auth_idp.admin_get_user(UserPoolId=pool, Username=user["username"])
    assert got["UserStatus"] == "CONFIRMED", got["UserStatus"]
    user["sub"] = {a["Name"]: a["Value"] for a in got["UserAttributes"]}["sub"]
    check_tokens(report, issuer=issuer, client=client, user=user, email=email, jwks=fetch_jwks(env["endpoint"], pool))
    assert_screenshots(report, shots, "signup.png")
    # Only what a person can supply: no `sub` (Required in every schema, but never writable).
    fields = {f["name"] for f in report["signup_fields"]}
    assert fields == {"username", "email", "password"}, \
        f"sign-up form of a pool without extra required attributes: {report['signup_fields']}"
