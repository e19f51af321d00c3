"""The SMS webhook receiver: a small HTTP server on loopback.

`cirrus serve` with CIRRUS_SMS_WEBHOOK_URL/CIRRUS_SMS_WEBHOOK_SECRET POSTs
    {"kind":"sms","to":"+1555...","message":"...","pool_id":"...","purpose":"..."}
with
    X-Cirrus-Timestamp: <unix seconds>
    X-Cirrus-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>
The sink checks the signature of every request (answering 401 when it does
not verify, 204 otherwise) and records everything it received, valid or not.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_SKEW = 300  # seconds between X-Cirrus-Timestamp and our clock


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass
class ReceivedSms:
    path: str
    headers: dict
    raw: bytes
    payload: dict | None
    signature_ok: bool
    problem: str
    received_at: float = field(default_factory=time.time)

    @property
    def to(self) -> str | None:
        return (self.payload or {}).get("to")

    @property
    def message(self) -> str:
        return str((self.payload or {}).get("message", ""))

    def summary(self) -> str:
        return f"path={self.path!r} ok={self.signature_ok} problem={self.problem!r} body={self.raw[:300]!r}"


class SmsSink:
    def __init__(self, secret: str | None = None, host: str = "127.0.0.1"):
        self.secret = secret or secrets.token_hex(24)
        self.host = host
        self.messages: list[ReceivedSms] = []
        self._cond = threading.Condition()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/sms"

    def start(self) -> "SmsSink":
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # keep pytest output clean
                pass

            def _read_body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def do_POST(self):
                raw = self._read_body()
                ok, problem = sink._verify(self.headers, raw)
                try:
                    payload = json.loads(raw)
                    if not isinstance(payload, dict):
                        payload, problem, ok = None, problem or "body is not a JSON object", False
                except ValueError:
                    payload, problem, ok = None, problem or "body is not JSON", False
                sink._add(ReceivedSms(path=self.path, headers={k.lower(): v for k, v in self.headers.items()},
                                      raw=raw, payload=payload, signature_ok=ok, problem=problem))
                self.send_response(204 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._httpd = ThreadingHTTPServer((self.host, 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="sms-sink", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def _verify(self, headers, raw: bytes) -> tuple[bool, str]:
        ts = headers.get("X-Cirrus-Timestamp")
        sig = headers.get("X-Cirrus-Signature")
        if not ts or not sig:
            return False, f"missing header(s): timestamp={ts!r} signature={sig!r}"
        if not ts.isdigit():
            return False, f"timestamp is not unix seconds: {ts!r}"
        if abs(int(ts) - time.time()) > MAX_SKEW:
            return False, f"timestamp {ts} too far from now ({int(time.time())})"
        want = sign(self.secret, ts, raw)
        if not hmac.compare_digest(want, sig):
            return False, f"bad signature {sig!r}, expected {want!r}"
        ctype = headers.get("Content-Type", "")
        if not ctype.startswith("application/json"):
            return False, f"Content-Type {ctype!r} is not application/json"
        return True, ""

    def _add(self, sms: ReceivedSms) -> None:
        with self._cond:
            self.messages.append(sms)
            self._cond.notify_all()

    def mark(self) -> int:
        with self._cond:
            return len(self.messages)

    def find(self, to: str, since: int = 0) -> list[ReceivedSms]:
        with self._cond:
            return [m for m in self.messages[since:] if m.to == to]

    def wait_for(self, to: str, since: int = 0, timeout: float = 10.0) -> ReceivedSms:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self.messages[since:] if m.to == to]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = "\n".join(m.summary() for m in self.messages[since:]) or "(none)"
                    raise AssertionError(f"no SMS to {to} within {timeout}s; received since mark:\n{seen}")
                self._cond.wait(left)
