"""Real notification receivers on 127.0.0.1 for the notification tests: an HTTP receiver
(Slack-like incoming webhook or generic webhook) that records every request and honours
`Idempotency-Key` (a key it has processed is acknowledged, not processed again), and an SMTP
server (aiosmtpd) with LOGIN/PLAIN authentication that records every message.

A receiver can be told to hold requests (`hold()`): it records the request, then blocks until
`let_go()` (or the receiver closes), so a test can act while a delivery is in flight."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOLD_LIMIT_S = 60.0


def free_port() -> int:
    """A port nothing listens on now (aiosmtpd needs one named: it checks it by connecting)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    url: str = ""
    status: int = 200
    requests: list[Received] = field(default_factory=list)
    processed: list[Received] = field(default_factory=list)  # first arrival of each key
    _keys: set[str] = field(default_factory=set)
    _held: threading.Event = field(default_factory=threading.Event)  # set: answer normally
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _closing: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._held.set()

    def hold(self) -> None:
        self._held.clear()

    def let_go(self) -> None:
        self._held.set()

    def wait_for(self, count: int, *, timeout_s: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"only {len(self.requests)} of {count} requests arrived"
                self._changed.wait(left)
            return list(self.requests)

    def events(self) -> list[str]:
        """The `event` of each processed message (webhook body, or Slack's header block)."""
        out = []
        for r in self.processed:
            doc = r.json()
            out.append(doc["event"] if "event" in doc else doc["blocks"][0]["text"]["text"])
        return out

    def _arrived(self, seen: Received) -> None:
        with self._changed:
            self.requests.append(seen)
            key = seen.headers.get("idempotency-key")
            if key is None or key not in self._keys:
                if key is not None:
                    self._keys.add(key)
                self.processed.append(seen)
            self._changed.notify_all()


def _handler(receiver: HttpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            receiver._arrived(Received(self.path, headers, body))
            if not receiver._held.is_set():
                deadline = time.monotonic() + HOLD_LIMIT_S
                while not receiver._held.wait(0.05):
                    if receiver._closing.is_set() or time.monotonic() > deadline:
                        return  # never answered
            data = b"ok" if receiver.status < 400 else b"server error"
            self.send_response(receiver.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def http_receiver(*, status: int = 200) -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(status=status)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    httpd.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver._closing.set()
        receiver.let_go()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@dataclass
class SmtpReceiver:
    host: str = "127.0.0.1"
    port: int = 0
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, *, timeout_s: float = 30.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"only {len(self.messages)} of {count} messages arrived"
                self._changed.wait(left)
            return [m for _, m in self.messages]


@contextmanager
def smtp_receiver(*, username: str, password: str) -> Iterator[SmtpReceiver]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    receiver = SmtpReceiver()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            msg = message_from_bytes(envelope.content, policy=policy.default)
            with receiver._changed:
                receiver.messages.append((list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
                receiver._changed.notify_all()
            return "250 OK"

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == username
            and auth_data.password.decode() == password
        )
        if ok:
            receiver.logins.append((username, mechanism))
        return AuthResult(success=ok)

    port = free_port()
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    receiver.port = port
    try:
        yield receiver
    finally:
        controller.stop()
