"""A fake "Sign in with Apple" for the federation tests (no Apple account needed).

fake_oidc.FakeOidc with Apple's shape (issuer http://127.0.0.1:<port>):

  /.well-known/openid-configuration   Apple's discovery document, as published at
                                      https://appleid.apple.com (no userinfo endpoint,
                                      response_modes query/fragment/form_post, scopes
                                      openid/email/name, client_secret_post advertised)
  /jwks                               the RSA key that signs the ID tokens (RS256, as Apple)
  /authorize                          with response_mode=form_post: a 200 HTML page whose
                                      form POSTs code, state and (when `next_user` is set)
                                      `user` = {"name": {"firstName", "lastName"}, "email"}
                                      to redirect_uri, as Apple's page does; name or email
                                      scopes without form_post: a 400 page, as Apple answers
                                      (Apple does not redirect then); otherwise a 302 (query)
  /token                              the client secret must be an ES256 JWT signed with the
                                      team's P-256 key: header kid = key_id; iss = team_id,
                                      sub = client_id, aud = the issuer, iat/exp current and
                                      exp at most six months after iat. Either client
                                      authentication method is taken (Basic or the body);
                                      which one came, and every secret presented, decoded,
                                      is recorded in `client_auth`. A bad secret: 400
                                      {"error": "invalid_client"}, as Apple answers.

`mode` (see fake_oidc.MODES) still makes the ID token wrong on purpose.
"""

from __future__ import annotations

import html
import json
import threading
import time
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fake_oidc import FakeOidc

SIX_MONTHS = 15777000          # Apple's limit on a client secret's lifetime (seconds)


class FakeApple(FakeOidc):
    invalid_client_status = 400

    def __init__(self, client_id: str, team_id: str, key_id: str, claims: dict | None = None):
        super().__init__(client_id=client_id, client_secret="(an ES256 JWT, checked by client_ok)", claims=claims)
        self.team_id = team_id
        self.key_id = key_id
        self.team_key = ec.generate_private_key(ec.SECP256R1())   # the ".p8" Apple hands out
        self.next_user: dict | None = None    # `user` to send with the next answer (then cleared)
        self.client_auth: list = []           # one record per client authentication at /token
        self.pages: list = []                 # the form_post pages served: {"action", "fields"}
        self._apple_lock = threading.Lock()

    # ------------------------------------------------------------- metadata

    def private_key_pem(self) -> str:
        """The team's key as Apple's .p8 file: PKCS#8 PEM, "-----BEGIN PRIVATE KEY-----"."""
        return self.team_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()).decode()

    def team_public_key(self):
        return self.team_key.public_key()

    def discovery(self) -> dict:
        iss = self.issuer
        return {
            "issuer": iss,
            "authorization_endpoint": iss + "/authorize",
            "token_endpoint": iss + "/token",
            "revocation_endpoint": iss + "/revoke",
            "jwks_uri": iss + "/jwks",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "name"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "is_private_email", "iss",
                                 "nonce", "nonce_supported", "real_user_status", "sub", "transfer_sub"],
        }

    # ---------------------------------------------------- client secret JWT

    def check_client_secret(self, secret: str) -> tuple[dict | None, dict | None, str | None]:
        """(header, claims, error) of a client secret, verified as Apple does."""
        try:
            header = jwt.get_unverified_header(secret)
        except jwt.PyJWTError as exc:
            return None, None, f"not a JWS: {exc}"
        try:
            claims = jwt.decode(secret, self.team_public_key(), algorithms=["ES256"], audience=self.issuer,
                                issuer=self.team_id, options={"require": ["iss", "sub", "aud", "iat", "exp"]},
                                leeway=60)
        except jwt.PyJWTError as exc:
            return header, None, f"does not verify: {exc!r}"
        now = time.time()
        if header.get("alg") != "ES256":
            return header, claims, f"alg {header.get('alg')!r}"
        if header.get("kid") != self.key_id:
            return header, claims, f"kid {header.get('kid')!r} is not the key id {self.key_id!r}"
        if claims.get("sub") != self.client_id:
            return header, claims, f"sub {claims.get('sub')!r} is not the client id"
        if claims["iat"] > now + 60:
            return header, claims, "iat in the future"
        if claims["exp"] - claims["iat"] > SIX_MONTHS:
            return header, claims, "lives longer than six months"
        return header, claims, None

    def client_ok(self, client_id, secret, method) -> bool:
        record = {"method": method, "client_id": client_id, "secret": secret, "header": None, "claims": None,
                  "error": None, "at": time.time()}
        if client_id != self.client_id:
            record["error"] = f"client_id {client_id!r}"
        elif not secret:
            record["error"] = "no client secret"
        else:
            record["header"], record["claims"], record["error"] = self.check_client_secret(secret)
        with self._apple_lock:
            self.client_auth.append(record)
        return record["error"] is None

    # ------------------------------------------------------------ authorize

    def _authorize(self, h, q: dict) -> None:
        redirect_uri = q.get("redirect_uri", "")
        scopes = set(q.get("scope", "").split())
        form_post = q.get("response_mode") == "form_post"
        if redirect_uri and scopes & {"name", "email"} and not form_post:
            return self._html(h, 400, "<p>invalid_request: response_mode must be form_post when name or email "
                                      "scope is requested.</p>")
        if not form_post or not redirect_uri:
            return super()._authorize(h, q)
        # Answer as FakeOidc does (a code, or error=access_denied), but as a form.
        import secrets as _secrets
        with self._lock:
            mode, sub, claims = self.mode, self.sub, dict(self.claims)
        fields = {}
        if mode == "upstream_error":
            fields["error"] = "user_cancelled_authorize"
        else:
            code = _secrets.token_urlsafe(24)
            with self._lock:
                self.codes[code] = {"query": q, "mode": mode, "sub": sub, "claims": claims, "used": False}
            fields["code"] = code
        if "state" in q:
            fields["state"] = q["state"]
        with self._apple_lock:
            user, self.next_user = self.next_user, None
            if user is not None and mode != "upstream_error":
                fields["user"] = json.dumps(user)
            self.pages.append({"action": redirect_uri, "fields": dict(fields)})
        inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in fields.items())
        self._html(h, 200, f'<form id="answer" method="POST" action="{html.escape(redirect_uri)}">{inputs}'
                           f'</form><script>document.getElementById("answer").submit()</script>')

    @staticmethod
    def _html(h, status: int, body: str) -> None:
        data = f"<!DOCTYPE html><html><body>{body}</body></html>".encode()
        h.send_response(status)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Cache-Control", "no-store")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


def query_answer(page: dict) -> str:
    """The GET form of a form_post answer: redirect_uri?code&state[&user]."""
    return page["action"] + "?" + urlencode(page["fields"])
