"""A hostile upstream OpenID provider for the federation security tests.

A small http.server OP on 127.0.0.1 whose issuer is http://127.0.0.1:<port>:

  /.well-known/openid-configuration   discovery (RS256 only, client_secret_basic)
  /jwks                               the public half of an RSA-2048 key
  /authorize                          no page: at once a 302 back to redirect_uri with
                                      a code and the state (or error=access_denied)
  /token                              authorization_code grant; checks client_secret_basic,
                                      redirect_uri and the PKCE verifier, then answers an
                                      ID token that `mode` can make wrong on purpose
  /userinfo                           the account's claims for the access token

`mode` (set on the object before a flow, read when the flow's /authorize or
/token request arrives):

  ok              a correct RS256 ID token (the positive control)
  wrong_nonce     nonce is not the one sent to /authorize
  missing_nonce   no nonce claim
  wrong_aud       aud is another client
  wrong_iss       iss is another issuer
  expired         exp an hour ago
  alg_none        {"alg": "none"}, unsigned
  hs256_pubkey    HS256 with the RSA public key's PEM as the HMAC secret (and the RSA key's kid)
  unknown_key     RS256 by another key, whose kid is not in the JWKS
  bad_signature   RS256 by another key, under the published kid
  upstream_error  /authorize redirects back with error=access_denied (no code)
  token_error     /token answers 400 invalid_grant

Every request is recorded in `requests` (path, query, form with the secret
masked, Authorization scheme) so a test can check what the relying party sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

MODES = ("ok", "wrong_nonce", "missing_nonce", "wrong_aud", "wrong_iss", "expired", "alg_none", "hs256_pubkey",
         "unknown_key", "bad_signature", "upstream_error", "token_error")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_json(obj) -> str:
    return _b64url(json.dumps(obj, separators=(",", ":")).encode())


def _new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeOidc:
    def __init__(self, client_id: str, client_secret: str, claims: dict | None = None):
        self.client_id = client_id
        self.client_secret = client_secret
        self.mode = "ok"
        self.sub = "fake-sub"
        self.claims = dict(claims or {})        # extra claims of the current account (email, name, ...)
        self.key = _new_key()
        self.kid = secrets.token_hex(8)
        self.other_key = _new_key()
        self.requests: list = []
        self.codes: dict = {}                  # code -> what /authorize was asked, and the mode then
        self.tokens: dict = {}                 # access token -> claims
        self.issued: list = []                 # ID tokens handed out
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> "FakeOidc":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):      # quiet
                pass

            def do_GET(self):
                fake._dispatch(self, "GET")

            def do_POST(self):
                fake._dispatch(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ------------------------------------------------------------- metadata

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def authorize_endpoint(self) -> str:
        return self.issuer + "/authorize"

    def discovery(self) -> dict:
        iss = self.issuer
        return {
            "issuer": iss,
            "authorization_endpoint": iss + "/authorize",
            "token_endpoint": iss + "/token",
            "userinfo_endpoint": iss + "/userinfo",
            "jwks_uri": iss + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "email", "profile"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "email", "email_verified", "name"],
        }

    def public_jwk(self) -> dict:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return jwk

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)

    def set(self, mode: str = "ok", sub: str | None = None, claims: dict | None = None) -> None:
        """Behaviour of the next flow."""
        assert mode in MODES, mode
        with self._lock:
            self.mode = mode
            if sub is not None:
                self.sub = sub
            if claims is not None:
                self.claims = dict(claims)

    def requests_to(self, path: str) -> list:
        return [r for r in self.requests if r["path"] == path]

    # --------------------------------------------------------------- tokens

    def id_token(self, mode: str, sub: str, nonce: str | None, extra: dict) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": sub, "aud": self.client_id, "iat": now, "exp": now + 600,
                  "auth_time": now, **extra}
        if nonce is not None:
            claims["nonce"] = nonce
        if mode == "wrong_nonce":
            claims["nonce"] = "not-" + (nonce or "the-nonce")
        elif mode == "missing_nonce":
            claims.pop("nonce", None)
        elif mode == "wrong_aud":
            claims["aud"] = "some-other-client"
        elif mode == "wrong_iss":
            claims["iss"] = "http://127.0.0.1:9/not-the-issuer"
        elif mode == "expired":
            claims["iat"] = now - 7200
            claims["auth_time"] = now - 7200
            claims["exp"] = now - 3600

        if mode == "alg_none":
            return f"{_b64url_json({'alg': 'none', 'typ': 'JWT'})}.{_b64url_json(claims)}."
        if mode == "hs256_pubkey":
            head = _b64url_json({"alg": "HS256", "typ": "JWT", "kid": self.kid})
            signing_input = f"{head}.{_b64url_json(claims)}"
            mac = hmac.new(self.public_pem(), signing_input.encode(), hashlib.sha256).digest()
            return f"{signing_input}.{_b64url(mac)}"
        if mode == "unknown_key":
            return jwt.encode(claims, self.other_key, algorithm="RS256", headers={"kid": "unknown-" + self.kid})
        if mode == "bad_signature":
            return jwt.encode(claims, self.other_key, algorithm="RS256", headers={"kid": self.kid})
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    # ------------------------------------------------- client authentication

    invalid_client_status = 401

    def client_ok(self, client_id: str | None, secret: str | None, method: str | None) -> bool:
        """Whether the token request's client authentication holds (a subclass
        may check another kind of secret, e.g. a signed JWT)."""
        return client_id == self.client_id and secret is not None and \
            hmac.compare_digest(secret.encode(), self.client_secret.encode())

    # -------------------------------------------------------------- routing

    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        form = {k: v[0] for k, v in parse_qs(raw.decode(errors="replace"), keep_blank_values=True).items()}
        auth = h.headers.get("Authorization") or ""
        entry = {"method": method, "path": url.path, "query": query,
                 "form": {k: ("<masked>" if k == "client_secret" else v) for k, v in form.items()},
                 "auth_scheme": auth.split(" ")[0] if auth else None,
                 "content_type": h.headers.get("Content-Type")}
        with self._lock:
            self.requests.append(entry)
        try:
            if url.path == "/.well-known/openid-configuration":
                return self._json(h, 200, self.discovery())
            if url.path == "/jwks":
                return self._json(h, 200, {"keys": [self.public_jwk()]})
            if url.path == "/authorize":
                return self._authorize(h, query)
            if url.path == "/token" and method == "POST":
                return self._token(h, form, auth)
            if url.path == "/userinfo":
                return self._userinfo(h, auth)
            return self._json(h, 404, {"error": "not_found"})
        except Exception as exc:  # noqa: BLE001 - report, never hang the RP
            return self._json(h, 500, {"error": "server_error", "error_description": repr(exc)})

    def _authorize(self, h, q: dict) -> None:
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri:
            return self._json(h, 400, {"error": "invalid_request", "error_description": "redirect_uri missing"})
        with self._lock:
            mode, sub, claims = self.mode, self.sub, dict(self.claims)
        params = {}
        if mode == "upstream_error":
            params["error"] = "access_denied"
            params["error_description"] = "The user said no"
        else:
            code = secrets.token_urlsafe(24)
            with self._lock:
                self.codes[code] = {"query": q, "mode": mode, "sub": sub, "claims": claims, "used": False}
            params["code"] = code
        if "state" in q:
            params["state"] = q["state"]
        sep = "&" if "?" in redirect_uri else "?"
        h.send_response(302)
        h.send_header("Location", redirect_uri + sep + urlencode(params))
        h.send_header("Content-Length", "0")
        h.end_headers()

    def _token(self, h, form: dict, auth: str) -> None:
        # client_secret_basic (or client_secret_post)
        client_id = secret = method = None
        if auth.lower().startswith("basic "):
            method = "client_secret_basic"
            try:
                from urllib.parse import unquote
                decoded = base64.b64decode(auth.split(" ", 1)[1]).decode()
                cid, _, sec = decoded.partition(":")
                client_id, secret = unquote(cid), unquote(sec)
            except Exception:  # noqa: BLE001
                pass
        elif "client_secret" in form:
            method = "client_secret_post"
            client_id, secret = form.get("client_id"), form.get("client_secret")
        if not self.client_ok(client_id, secret, method):
            return self._json(h, self.invalid_client_status, {"error": "invalid_client"})
        if form.get("grant_type") != "authorization_code":
            return self._json(h, 400, {"error": "unsupported_grant_type"})
        with self._lock:
            grant = self.codes.get(form.get("code", ""))
            if grant is None or grant["used"]:
                grant = None
            else:
                grant["used"] = True
        if grant is None:
            return self._json(h, 400, {"error": "invalid_grant", "error_description": "unknown or used code"})
        q = grant["query"]
        if form.get("redirect_uri") != q.get("redirect_uri"):
            return self._json(h, 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"})
        if q.get("code_challenge"):
            verifier = form.get("code_verifier", "")
            want = _b64url(hashlib.sha256(verifier.encode()).digest())
            if q.get("code_challenge_method") != "S256" or want != q["code_challenge"]:
                return self._json(h, 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
        mode = grant["mode"]
        if mode == "token_error":
            return self._json(h, 400, {"error": "invalid_grant", "error_description": "refused on purpose"})
        access = secrets.token_urlsafe(24)
        claims = {"sub": grant["sub"], **grant["claims"]}
        with self._lock:
            self.tokens[access] = claims
        id_token = self.id_token(mode, grant["sub"], q.get("nonce"), grant["claims"])
        with self._lock:
            self.issued.append({"mode": mode, "id_token": id_token})
        return self._json(h, 200, {"access_token": access, "token_type": "Bearer", "expires_in": 600,
                                   "id_token": id_token, "scope": q.get("scope", "openid")})

    def _userinfo(self, h, auth: str) -> None:
        token = auth.split(" ", 1)[1] if auth.lower().startswith("bearer ") else ""
        with self._lock:
            claims = self.tokens.get(token)
        if claims is None:
            h.send_response(401)
            h.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        return self._json(h, 200, claims)

    @staticmethod
    def _json(h, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Cache-Control", "no-store")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
