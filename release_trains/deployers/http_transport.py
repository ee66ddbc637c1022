"""The one way release-trains speaks HTTP: a total deadline and a body cap on every request.

Every HTTP call goes through `request()`: the http deployer (its POST, status polling and
`version_url`), http health probes and the http signal sources (`http_json`, Prometheus
queries, /metrics pages).

Deadline. The `timeout_s` a caller passes (the configured `timeout`) is the whole request:
connecting, the TLS handshake, sending, the status line and headers, and the whole body.
httpx and httpcore timeouts bound each socket read alone, so a server that sends one byte
every 0.3 s would hold a request for ever; here the network backend gives every socket
operation at most the time left before the deadline (`_DeadlineBackend`), and an operation
that starts with no time left fails at once. The request therefore ends at its deadline
wherever the server stalls, with the error "timed out after N s". Name resolution runs in a
thread that the request waits for only until the deadline.

Caps (what one reply may make the process hold):
- `MAX_BODY_BYTES` (1 MiB): the body of every reply by default: health checks, deploy
  webhooks and their status and version URLs, `http_json` signals, Prometheus queries.
- `MAX_METRICS_BODY_BYTES` (16 MiB): a service's Prometheus /metrics page, which is large by
  nature; signals.py asks for it explicitly.
- Status line and headers: httpcore's limit of 100 KiB (a larger head is a protocol error).
Reading stops at the cap and the connection is dropped; the reply says so (`cut`). Callers
that need the whole body (a JSON document) refuse a cut one; callers that need only the status
use it. Bodies are asked for and read as sent (`Accept-Encoding: identity`, nothing is
decompressed), so the cap is a cap on memory.

Nothing here raises for a failed request: connection refused, a timeout, a protocol error or an
invalid URL is the reply's `error`. Proxy variables (HTTP_PROXY, ...) are not used: requests go
straight to the host named; TLS is verified as httpx does by default (certifi, or
SSL_CERT_FILE / SSL_CERT_DIR).
"""

from __future__ import annotations

import base64
import json
import math
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpcore
import httpx

from .. import __version__

MAX_BODY_BYTES = 1024 * 1024  # every reply's body, unless the caller asks for another cap
MAX_METRICS_BODY_BYTES = 16 * 1024 * 1024  # a /metrics page (signals.py)
SNIPPET_CHARS = 200  # characters of a body quoted as evidence in a failure detail
_USER_AGENT = f"release-trains/{__version__}"


@dataclass(frozen=True)
class HttpReply:
    """What a request got: `status` and `body` (at most the cap), or the `error` why not."""

    status: int = 0
    body: bytes = b""
    cut: bool = False  # the body was longer than the cap; `body` holds its first bytes
    error: str | None = None  # no answer: "connection refused", "timed out after 5 s", ...

    @property
    def success(self) -> bool:
        """An answer with a 2xx status."""
        return self.error is None and 200 <= self.status < 300

    @property
    def snippet(self) -> str:
        """The body's first characters as `: text`, for a detail line ("" for an empty body)."""
        text = " ".join(self.body[: SNIPPET_CHARS * 4].decode("utf-8", "replace").split())
        return f": {text[:SNIPPET_CHARS]}" if text else ""

    def json(self, *, cap: int = MAX_BODY_BYTES) -> Any:
        """The body as JSON; ValueError (saying why) for a cut body or one that is not JSON."""
        if self.cut:
            raise ValueError(f"body is larger than {_size(cap)}")
        try:
            return json.loads(self.body)
        except ValueError:
            raise ValueError("body is not JSON") from None


def request(
    method: str,
    url: str,
    *,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    max_body: int = MAX_BODY_BYTES,
) -> HttpReply:
    """One HTTP request that ends within `timeout_s` in total (see the module docstring)."""
    if not (isinstance(timeout_s, (int, float)) and math.isfinite(timeout_s) and timeout_s > 0):
        return HttpReply(error=f"timeout must be a positive number of seconds, not {timeout_s!r}")
    deadline = time.monotonic() + timeout_s
    try:
        target = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as e:
        return HttpReply(error=f"invalid URL: {e}")
    if target.scheme not in ("http", "https") or not target.host:
        return HttpReply(error=f"invalid URL {url!r}: expected http:// or https:// and a host")
    content = None if json_body is None else json.dumps(json_body).encode()
    try:
        raw_headers = _headers(headers or {}, target=target, json=content is not None)
    except UnicodeEncodeError as e:
        return HttpReply(error=f"header value is not ASCII: {e.object[e.start : e.end]!r}")
    # Every part of the exchange gets the whole timeout as its own bound; the backend cuts
    # each socket operation down to what is left of the total.
    limits = {"connect": timeout_s, "read": timeout_s, "write": timeout_s, "pool": timeout_s}
    pool = httpcore.ConnectionPool(
        ssl_context=_ssl_context() if target.scheme == "https" else None,
        network_backend=_DeadlineBackend(deadline),
        max_connections=1,
        max_keepalive_connections=0,  # one request per pool: nothing is kept for later
    )
    try:
        with (
            pool,
            pool.stream(
                method.upper(),
                httpcore.URL(
                    scheme=target.raw_scheme,
                    host=target.raw_host,
                    port=target.port,
                    target=target.raw_path,
                ),
                headers=raw_headers,
                content=content,
                extensions={"timeout": limits},
            ) as response,
        ):
            body = bytearray()
            for chunk in response.iter_stream():
                body += chunk
                if len(body) > max_body:
                    # Stop reading: leaving the block closes the connection mid-body.
                    return HttpReply(response.status, bytes(body[:max_body]), cut=True)
            return HttpReply(response.status, bytes(body))
    except httpcore.TimeoutException:
        return HttpReply(error=f"timed out after {timeout_s:g} s")
    except httpcore.ConnectError as e:
        text = str(e)
        return HttpReply(
            error="connection refused" if "refused" in text.lower() else f"cannot connect: {text}"
        )
    except httpcore.UnsupportedProtocol as e:
        return HttpReply(error=f"invalid URL {url!r}: {e}")
    except httpcore.LocalProtocolError:
        # Not the error's text: h11 quotes the offending header value, which may be a secret.
        return HttpReply(error="cannot send the request: a header name or value is not valid")
    except httpcore.ProtocolError as e:
        return HttpReply(error=f"not a valid HTTP answer: {e or type(e).__name__}")
    except (httpcore.NetworkError, OSError) as e:
        return HttpReply(error=f"connection failed: {e or type(e).__name__}")


def quoted(value: Any, *, limit: int = 80) -> str:
    """`repr(value)` for a detail line, cut to `limit` characters: a value read from a reply
    (a `status`, a `version`, a health field) may be as large as the body."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... [{len(text) - limit} chars cut]"


def _headers(
    given: Mapping[str, str], *, target: httpx.URL, json: bool
) -> list[tuple[bytes, bytes]]:
    out = [(k.encode("ascii"), v.encode("ascii")) for k, v in given.items()]
    present = {k.lower() for k, _ in out}
    defaults: list[tuple[bytes, bytes]] = [
        (b"user-agent", _USER_AGENT.encode()),
        (b"accept", b"application/json, */*;q=0.5"),
        (b"accept-encoding", b"identity"),  # no compressed bodies: the cap stays a memory cap
    ]
    if json:
        defaults.append((b"content-type", b"application/json"))
    if target.userinfo:  # http://user:password@host/ : basic authentication, as httpx does
        userinfo = unquote(target.userinfo.decode("ascii"))
        defaults.append((b"authorization", b"Basic " + base64.b64encode(userinfo.encode())))
    return out + [(k, v) for k, v in defaults if k not in present]


def _ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n} bytes"


def _left(deadline: float) -> float:
    return deadline - time.monotonic()


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own socket backend, with every operation bounded by a shared deadline."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        # Resolve first, within the deadline (the resolver has no timeout of its own to
        # pass), then try each address in turn as socket.create_connection would.
        addresses = _resolve(host, port, timeout=_bounded(timeout, self._deadline, _CT))
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address,
                    port,
                    timeout=_bounded(timeout, self._deadline, _CT),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as e:
                failure = e
                continue
            return _DeadlineStream(stream, self._deadline)
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:  # pragma: no cover - no unix socket URLs are built here
        raise httpcore.ConnectError("unix sockets are not supported")

    def sleep(self, seconds: float) -> None:  # pragma: no cover - only used by pool retries
        time.sleep(min(seconds, max(0.0, _left(self._deadline))))


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        # One recv returns as soon as any byte arrives, so a server that trickles bytes gets
        # one short read each time, each bounded by what is left: the total cannot run over.
        return self._inner.read(
            max_bytes, timeout=_bounded(timeout, self._deadline, httpcore.ReadTimeout)
        )

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout=_bounded(timeout, self._deadline, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.start_tls(
            ssl_context,
            server_hostname=server_hostname,
            timeout=_bounded(timeout, self._deadline, httpcore.ConnectTimeout),
        )
        return _DeadlineStream(stream, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


_CT = httpcore.ConnectTimeout


def _resolve(host: str, port: int, *, timeout: float) -> list[str]:
    """The addresses of `host`, looked up in a thread so that a stalled resolver cannot hold
    the request past its deadline (the thread ends on its own when the resolver answers)."""
    found: list[str] = []
    failed: list[OSError] = []

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as e:
            failed.append(e)
            return
        found.extend(dict.fromkeys(str(info[4][0]) for info in infos))

    thread = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise httpcore.ConnectTimeout(f"resolving {host} took too long")
    if failed:
        raise httpcore.ConnectError(f"cannot resolve {host}: {failed[0].strerror or failed[0]}")
    return found


def _bounded(
    timeout: float | None, deadline: float, error: type[httpcore.TimeoutException]
) -> float:
    """`timeout` cut down to the time left before `deadline`; `error` when none is left."""
    left = _left(deadline)
    if left <= 0:
        raise error("the request's total deadline has passed")
    return left if timeout is None else min(timeout, left)
