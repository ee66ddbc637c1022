"""Hostile HTTP servers on 127.0.0.1 for transport tests (import as `from slow_servers import ...`).

`hostile_server(mode)` answers every connection on a raw socket, in a thread per connection:
- "dribble-headers": the status line and headers, one byte every `gap_s` (0.3 s), for ever
  (an endless header), so no reply ever completes its head;
- "dribble-body": a complete head with a large Content-Length, then the body one byte every
  `gap_s`;
- "flood-headers": an endless header as fast as the client reads;
- "huge-body": a complete head and `size` bytes of generated body as fast as the client reads
  (nothing is held in memory: the same 64 KiB block is sent again and again).
`within(guard_s, fn)` runs a call that must end on its own, failing the test if it hangs.
The server counts what it sent on each connection and notices when the client hangs up, so a
test can show that the client gave up (and did not read the whole thing).
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

GAP_S = 0.3
T = TypeVar("T")


@dataclass
class HostileServer:
    url: str = ""
    sent: list[int] = field(default_factory=list)  # bytes sent, one entry per connection
    hung_up: list[bool] = field(default_factory=list)  # did the client close that connection
    closing: threading.Event = field(default_factory=threading.Event)


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        rest += chunk


def _answer(conn: socket.socket, server: HostileServer, index: int, mode: str, size: int) -> None:
    def send(data: bytes) -> bool:
        try:
            conn.sendall(data)
        except OSError:  # the client hung up
            server.hung_up[index] = True
            return False
        server.sent[index] += len(data)
        return True

    def dribble(data: bytes) -> bool:
        for byte in data:
            stopping = server.closing.wait(GAP_S)  # the gap between two bytes
            if stopping or not send(bytes([byte])):
                return False
        return True

    with conn:
        conn.settimeout(30)
        _read_request(conn)
        if mode == "dribble-headers":
            if not dribble(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: "):
                return
            while dribble(b"a"):
                pass
        elif mode == "dribble-body":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            if send(head + b"Content-Length: 1000000\r\n\r\n"):
                while dribble(b" "):
                    pass
        elif mode == "flood-headers":
            if send(b"HTTP/1.1 200 OK\r\nX-Flood: "):
                while not server.closing.is_set() and send(b"a" * 65536):
                    pass
        elif mode == "huge-body":
            head = f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {size}\r\n\r\n"
            if not send(head.encode()):
                return
            block = b"x" * 65536
            left = size
            while left > 0 and not server.closing.is_set():
                if not send(block[: min(left, len(block))]):
                    return
                left -= min(left, len(block))
        else:
            raise ValueError(mode)
        # Whatever the mode, see whether the client closes its end now.
        try:
            conn.settimeout(5)
            server.hung_up[index] = server.hung_up[index] or conn.recv(1) == b""
        except OSError:
            server.hung_up[index] = True


@contextmanager
def hostile_server(
    mode: str, *, size: int = 300 * 1024 * 1024, tls: tuple[Path, Path] | None = None
) -> Iterator[HostileServer]:
    """A HostileServer in `mode` (see the module docstring) for the duration of the block;
    `tls` (certificate, key) makes it speak HTTPS."""
    server = HostileServer()
    listener = socket.create_server(("127.0.0.1", 0))
    context = None
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
    listener.settimeout(0.1)
    server.url = f"http://127.0.0.1:{listener.getsockname()[1]}"

    def accept() -> None:
        while not server.closing.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if context is not None:
                try:
                    conn.settimeout(10)
                    conn = context.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):  # a client that refused our certificate
                    conn.close()
                    continue
            server.sent.append(0)
            server.hung_up.append(False)
            index = len(server.sent) - 1
            threading.Thread(
                target=_answer, args=(conn, server, index, mode, size), daemon=True
            ).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.closing.set()
        thread.join(timeout=5)
        listener.close()


def within(guard_s: float, fn: Callable[[], T]) -> T:
    """`fn()`, run in a thread; AssertionError if it is still running after `guard_s`.

    The guard only stops a broken deadline from hanging the test run: it is far longer
    than the deadlines the tests configure, so it never decides a passing case."""
    done: list[T] = []
    failed: list[BaseException] = []

    def call() -> None:
        try:
            done.append(fn())
        except BaseException as e:  # handed to the test thread below
            failed.append(e)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(guard_s)
    if failed:
        raise failed[0]
    assert done, f"still running after {guard_s:g} s: the total deadline did not hold"
    return done[0]
