"""A fake plain OAuth 2.0 provider (no OpenID Connect): Facebook or Login with Amazon.

A small http.server on 127.0.0.1 speaking the shape of either provider:

  kind="facebook"   /v17.0/dialog/oauth          authorization (no page: at once a 302 back)
                    /v17.0/oauth/access_token    token (POST, client_secret in the body)
                    /v17.0/me?fields=a,b,c       Graph API: only the fields asked for, plus id
  kind="amazon"     /ap/oa                        authorization
                    /auth/o2/token                token
                    /user/profile                 the whole profile (user_id, name, email)

The fake checks what the relying party sends and notes every deviation in
`problems` (a test asserts it stays empty), besides refusing as the real
provider would:

  authorization   response_type=code, its client_id, a redirect_uri, a state,
                  code_challenge with code_challenge_method=S256
  token           POST form, grant_type=authorization_code, client_id and
                  client_secret in the body (HTTP Basic alone is refused),
                  the code once, redirect_uri equal to the one of the
                  authorization, code_verifier matching the challenge
  attributes      GET with `Authorization: Bearer <the access token issued>`

`mode` (set with `set()` before a flow; fixed per flow when the authorization
request arrives):

  ok               honest answers (the positive control)
  upstream_error   the authorization redirects back with error=access_denied
  token_error      token: 400 {"error": "invalid_grant"}
  token_fb_error   token: 400 {"error": {"message", "type": "OAuthException", "code": 100}} (Graph API style)
  token_not_json   token: 200 text/html
  attrs_401        attributes: 401 (Graph API style error object)
  attrs_500        attributes: 500
  attrs_not_json   attributes: 200 text/html
  attrs_array      attributes: 200 JSON array, not an object
  missing_id       attributes: 200 JSON object without id / user_id

Every request is recorded in `requests` (method, path, query, form with the
secret masked, Authorization scheme, content type).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

MODES = ("ok", "upstream_error", "token_error", "token_fb_error", "token_not_json", "attrs_401", "attrs_500",
         "attrs_not_json", "attrs_array", "missing_id")

PATHS = {
    "facebook": {"authorize": "/v17.0/dialog/oauth", "token": "/v17.0/oauth/access_token", "attributes": "/v17.0/me"},
    "amazon": {"authorize": "/ap/oa", "token": "/auth/o2/token", "attributes": "/user/profile"},
}
ID_CLAIM = {"facebook": "id", "amazon": "user_id"}


def b64url_sha256(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


class FakeOAuth2:
    def __init__(self, kind: str, client_id: str, client_secret: str):
        assert kind in PATHS, kind
        self.kind = kind
        self.paths = PATHS[kind]
        self.id_claim = ID_CLAIM[kind]
        self.client_id = client_id
        self.client_secret = client_secret
        self.mode = "ok"
        self.account: dict = {}               # the current account's profile, id claim included
        self.requests: list = []
        self.problems: list = []              # what the relying party got wrong
        self.codes: dict = {}                 # code -> {query, mode, account, used}
        self.tokens: dict = {}                # access token -> {mode, account}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port: int | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> "FakeOAuth2":
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
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ------------------------------------------------------------- endpoints

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def authorize_url(self) -> str:
        return self.base + self.paths["authorize"]

    @property
    def token_url(self) -> str:
        return self.base + self.paths["token"]

    @property
    def attributes_url(self) -> str:
        """As configured in ProviderDetails: Facebook's ends in `fields=` for the server to complete."""
        url = self.base + self.paths["attributes"]
        return url + "?fields=" if self.kind == "facebook" else url

    def set(self, mode: str = "ok", account: dict | None = None) -> None:
        """Behaviour and account of the next flow."""
        assert mode in MODES, mode
        with self._lock:
            self.mode = mode
            if account is not None:
                self.account = dict(account)

    def requests_to(self, what: str) -> list:
        path = self.paths[what]
        with self._lock:
            return [r for r in self.requests if r["path"] == path]

    def _problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)

    # -------------------------------------------------------------- routing

    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        form = {k: v[0] for k, v in parse_qs(raw.decode(errors="replace"), keep_blank_values=True).items()}
        auth = h.headers.get("Authorization") or ""
        entry = {"method": method, "path": url.path, "query": query, "raw_query": url.query,
                 "form": {k: ("<masked>" if k == "client_secret" else v) for k, v in form.items()},
                 "auth_scheme": auth.split(" ")[0] if auth else None,
                 "content_type": h.headers.get("Content-Type")}
        with self._lock:
            self.requests.append(entry)
        try:
            if url.path == self.paths["authorize"] and method == "GET":
                return self._authorize(h, query)
            if url.path == self.paths["token"]:
                return self._token(h, method, form, auth, entry)
            if url.path == self.paths["attributes"]:
                return self._attributes(h, method, query, auth)
            return self._json(h, 404, {"error": "not_found"})
        except Exception as exc:  # noqa: BLE001 - report, never hang the relying party
            self._problem(f"fake crashed on {url.path}: {exc!r}")
            return self._json(h, 500, {"error": "server_error", "error_description": repr(exc)})

    def _authorize(self, h, q: dict) -> None:
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri:
            self._problem(f"authorize: no redirect_uri in {q}")
            return self._json(h, 400, {"error": "invalid_request", "error_description": "redirect_uri missing"})
        if q.get("response_type") != "code":
            self._problem(f"authorize: response_type {q.get('response_type')!r}")
        if q.get("client_id") != self.client_id:
            self._problem(f"authorize: client_id {q.get('client_id')!r}, expected {self.client_id!r}")
        if not q.get("state"):
            self._problem("authorize: no state")
        if not q.get("code_challenge") or q.get("code_challenge_method") != "S256":
            self._problem(f"authorize: no PKCE S256 challenge in {q}")
        with self._lock:
            mode, account = self.mode, dict(self.account)
        params = {}
        if mode == "upstream_error":
            params.update(error="access_denied", error_reason="user_denied",
                          error_description="Permissions error")
        else:
            code = secrets.token_urlsafe(24)
            with self._lock:
                self.codes[code] = {"query": q, "mode": mode, "account": account, "used": False}
            params["code"] = code
        if "state" in q:
            params["state"] = q["state"]
        sep = "&" if "?" in redirect_uri else "?"
        h.send_response(302)
        h.send_header("Location", redirect_uri + sep + urlencode(params))
        h.send_header("Content-Length", "0")
        h.end_headers()

    def _token(self, h, method: str, form: dict, auth: str, entry: dict) -> None:
        if method != "POST":
            self._problem(f"token: {method}, expected POST")
            return self._json(h, 405, {"error": "invalid_request"})
        if not (entry["content_type"] or "").startswith("application/x-www-form-urlencoded"):
            self._problem(f"token: Content-Type {entry['content_type']!r}")
        if "client_secret" not in form:
            self._problem(f"token: client_secret not in the body (Authorization scheme {entry['auth_scheme']!r})")
            return self._json(h, 401, {"error": "invalid_client", "error_description": "client_secret missing"})
        if form.get("client_id") != self.client_id or \
                not hmac.compare_digest(form["client_secret"].encode(), self.client_secret.encode()):
            self._problem(f"token: wrong client_id {form.get('client_id')!r} or client_secret")
            return self._json(h, 401, {"error": "invalid_client"})
        if form.get("grant_type") != "authorization_code":
            self._problem(f"token: grant_type {form.get('grant_type')!r}")
            return self._json(h, 400, {"error": "unsupported_grant_type"})
        with self._lock:
            grant = self.codes.get(form.get("code", ""))
            if grant is None or grant["used"]:
                grant = None
            else:
                grant["used"] = True
        if grant is None:
            self._problem("token: unknown or used code")
            return self._json(h, 400, {"error": "invalid_grant", "error_description": "unknown or used code"})
        q = grant["query"]
        if form.get("redirect_uri") != q.get("redirect_uri"):
            self._problem(f"token: redirect_uri {form.get('redirect_uri')!r} != {q.get('redirect_uri')!r}")
            return self._json(h, 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"})
        verifier = form.get("code_verifier")
        if not verifier:
            self._problem("token: no code_verifier")
            return self._json(h, 400, {"error": "invalid_grant", "error_description": "code_verifier missing"})
        if b64url_sha256(verifier) != q.get("code_challenge"):
            self._problem("token: code_verifier does not match the code_challenge")
            return self._json(h, 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
        mode = grant["mode"]
        if mode == "token_error":
            return self._json(h, 400, {"error": "invalid_grant", "error_description": "refused on purpose"})
        if mode == "token_fb_error":
            return self._json(h, 400, {"error": {"message": "Invalid verification code format.",
                                                 "type": "OAuthException", "code": 100,
                                                 "fbtrace_id": secrets.token_hex(8)}})
        if mode == "token_not_json":
            return self._raw(h, 200, "text/html", b"<html><body>Sorry, something went wrong.</body></html>")
        access = secrets.token_urlsafe(32)
        with self._lock:
            self.tokens[access] = {"mode": mode, "account": grant["account"]}
        body = {"access_token": access, "token_type": "bearer", "expires_in": 5183944}
        if self.kind == "amazon":
            body["refresh_token"] = "Atzr|" + secrets.token_urlsafe(24)
        return self._json(h, 200, body)

    def _attributes(self, h, method: str, query: dict, auth: str) -> None:
        if method != "GET":
            self._problem(f"attributes: {method}, expected GET")
        token = auth.split(" ", 1)[1] if auth.lower().startswith("bearer ") else ""
        with self._lock:
            grant = self.tokens.get(token)
        if grant is None:
            self._problem(f"attributes: no valid Bearer token (Authorization scheme {auth.split(' ')[0]!r})")
            return self._json(h, 401, {"error": {"message": "An active access token must be used.",
                                                 "type": "OAuthException", "code": 2500}})
        mode, account = grant["mode"], dict(grant["account"])
        if mode == "attrs_401":
            return self._json(h, 401, {"error": {"message": "Error validating access token.",
                                                 "type": "OAuthException", "code": 190}})
        if mode == "attrs_500":
            return self._json(h, 500, {"error": {"message": "An unexpected error has occurred.",
                                                 "type": "OAuthException", "code": 2}})
        if mode == "attrs_not_json":
            return self._raw(h, 200, "text/html", b"<!DOCTYPE html><html><body>profile</body></html>")
        if mode == "attrs_array":
            return self._json(h, 200, [account])
        if self.kind == "facebook":
            # Graph API: only the fields asked for, and always the id.
            fields = [f for f in query.get("fields", "").split(",") if f]
            profile = {f: account[f] for f in fields if f in account}
            profile["id"] = account.get("id")
        else:
            if query:
                self._problem(f"attributes: Login with Amazon got a query {query}")
            profile = account
        if mode == "missing_id":
            profile.pop(self.id_claim, None)
        return self._json(h, 200, profile)

    @staticmethod
    def _json(h, status: int, body) -> None:
        FakeOAuth2._raw(h, status, "application/json; charset=UTF-8", json.dumps(body).encode())

    @staticmethod
    def _raw(h, status: int, content_type: str, data: bytes) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Cache-Control", "no-store")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
