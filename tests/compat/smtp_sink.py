"""A real SMTP server on loopback that keeps every message it receives.

The compat suite points `cirrus serve` at it (CIRRUS_SMTP_HOST/PORT,
CIRRUS_SMTP_TLS=none) and reads verification codes out of what arrives.

    sink = SmtpSink().start()
    mark = sink.mark()
    ...                                   # something sends mail
    msg = sink.wait_for("jane@example.test", since=mark)
    code = extract_code(msg.text)
    sink.stop()
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller

from harness import free_port

CODE_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


@dataclass
class ReceivedMail:
    """One message as delivered: SMTP envelope plus the parsed RFC 5322 message."""

    mail_from: str
    rcpt_tos: list
    raw: bytes
    message: email.message.EmailMessage
    received_at: float = field(default_factory=time.time)

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def from_header(self) -> str:
        return str(self.message.get("From", ""))

    @property
    def to_header(self) -> str:
        return str(self.message.get("To", ""))

    @property
    def text(self) -> str:
        """The readable body: text/plain if there is one, else text/html."""
        body = self.message.get_body(preferencelist=("plain", "html"))
        if body is None:
            payload = self.message.get_payload(decode=True) or b""
            return payload.decode(errors="replace")
        return body.get_content()

    def recipients(self) -> set:
        return {r.lower() for r in self.rcpt_tos}

    def summary(self) -> str:
        return (f"from={self.mail_from!r} to={self.rcpt_tos!r} subject={self.subject!r} "
                f"body={self.text[:200]!r}")


def extract_code(text: str) -> str:
    """The 6-digit verification code in a message body (exactly one expected)."""
    codes = set(CODE_RE.findall(text))
    assert len(codes) == 1, f"expected exactly one 6-digit code in the message, found {sorted(codes)}: {text!r}"
    return codes.pop()


class _Handler:
    def __init__(self, sink: "SmtpSink"):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.sink._add(ReceivedMail(mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
                                    raw=raw, message=msg))
        return "250 Message accepted for delivery"


class SmtpSink:
    """aiosmtpd Controller on 127.0.0.1:<free port>, messages kept in memory."""

    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.port: int | None = None
        self.messages: list[ReceivedMail] = []
        self._cond = threading.Condition()
        self._controller: Controller | None = None

    def start(self) -> "SmtpSink":
        self.port = free_port()
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port,
                                      enable_SMTPUTF8=True, ready_timeout=10)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _add(self, mail: ReceivedMail) -> None:
        with self._cond:
            self.messages.append(mail)
            self._cond.notify_all()

    def mark(self) -> int:
        """Position to pass as `since=` so only later messages are considered."""
        with self._cond:
            return len(self.messages)

    def find(self, rcpt: str, since: int = 0) -> list[ReceivedMail]:
        rcpt = rcpt.lower()
        with self._cond:
            return [m for m in self.messages[since:] if rcpt in m.recipients()]

    def wait_for(self, rcpt: str, since: int = 0, timeout: float = 10.0) -> ReceivedMail:
        """The first message to `rcpt` received after position `since`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self.messages[since:] if rcpt.lower() in m.recipients()]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = "\n".join(m.summary() for m in self.messages[since:]) or "(none)"
                    raise AssertionError(f"no email to {rcpt} within {timeout}s; received since mark:\n{seen}")
                self._cond.wait(left)

    def assert_nothing_for(self, rcpt: str, since: int = 0, wait: float = 0.5) -> None:
        time.sleep(wait)
        got = self.find(rcpt, since)
        assert not got, f"unexpected email(s) to {rcpt}: {[m.summary() for m in got]}"
