"""The one HTTP transport: a total deadline over the whole exchange, and a body cap."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from helpers import Reply, closed_port, serve, wait_until
from slow_servers import hostile_server, within

from release_trains.deployers.http_transport import MAX_BODY_BYTES, request

GUARD_S = 30.0  # only stops a broken deadline from hanging the run; never decides a pass


@pytest.mark.parametrize("mode", ["dribble-headers", "dribble-body"])
def test_a_server_that_dribbles_bytes_is_cut_off_at_the_total_deadline(mode: str) -> None:
    with hostile_server(mode) as server:
        started = time.monotonic()
        reply = within(GUARD_S, lambda: request("GET", f"{server.url}/h", timeout_s=1.0))
        elapsed = time.monotonic() - started
        assert reply.error == "timed out after 1 s"
        # Each byte came well within the per-read timeout: only a total deadline stops this.
        assert elapsed < 1.0 + 2.0, elapsed
        wait_until(lambda: server.hung_up[0], what="the client hanging up")


def test_a_huge_body_is_read_only_up_to_the_cap() -> None:
    with hostile_server("huge-body", size=300 * 1024 * 1024) as server:
        tracemalloc.start()
        try:
            reply = within(GUARD_S, lambda: request("GET", server.url, timeout_s=20.0))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert reply.error is None and reply.status == 200
        assert reply.cut and len(reply.body) == MAX_BODY_BYTES
        assert peak < 8 * MAX_BODY_BYTES, peak  # not the 300 MB the server offered
        wait_until(lambda: server.hung_up[0], what="the client hanging up")
        assert server.sent[0] < 50 * 1024 * 1024  # it hung up long before the end
        with pytest.raises(ValueError, match="body is larger than 1 MiB"):
            reply.json()


def test_an_ordinary_answer_and_a_json_post() -> None:
    with serve() as server:
        server.script("/deploy", Reply(201, {"accepted": True}))
        reply = request("POST", f"{server.url}/deploy", timeout_s=5, json_body={"a": 1})
        assert reply.success and reply.status == 201 and not reply.cut
        assert reply.json() == {"accepted": True}
        seen = server.wait_for(1)[0]
        assert seen.json() == {"a": 1}
        assert seen.headers["content-type"] == "application/json"
        assert seen.headers["accept-encoding"] == "identity"


def test_refused_and_invalid_urls_are_errors_not_exceptions() -> None:
    reply = request("GET", f"http://127.0.0.1:{closed_port()}/", timeout_s=5)
    assert reply.error == "connection refused"
    assert "invalid URL" in (request("GET", "ftp://example.com/", timeout_s=5).error or "")
    assert "invalid URL" in (request("GET", "http://[::1/", timeout_s=5).error or "")


def test_a_stalled_name_lookup_is_bounded_by_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # The resolver has no timeout to pass: a lookup that never answers (a dead DNS server)
    # must still end the request at its deadline.
    release = threading.Event()
    real = socket.getaddrinfo

    def stalled(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "stalled.example":
            release.wait(GUARD_S)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", stalled)
    try:
        reply = within(GUARD_S, lambda: request("GET", "http://stalled.example/", timeout_s=1))
    finally:
        release.set()
    assert reply.error == "timed out after 1 s"


def test_a_header_value_that_breaks_the_request_is_an_error_that_does_not_quote_it() -> None:
    with serve() as server:
        headers = {"Authorization": "Bearer s3cr3t\r\nX-Injected: 1"}
        reply = request("GET", server.url, timeout_s=5, headers=headers)
        assert reply.error == "cannot send the request: a header name or value is not valid"
        assert server.requests == []  # nothing was sent


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_is_verified_and_bounded_by_the_same_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    with hostile_server("dribble-body", tls=(cert, key)) as server:
        url = server.url.replace("http://", "https://")
        refused = request("GET", url, timeout_s=5)
        assert refused.error is not None and "CERTIFICATE_VERIFY_FAILED" in refused.error
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust it, as a site CA would be
        reply = within(GUARD_S, lambda: request("GET", url, timeout_s=1.0))
        assert reply.error == "timed out after 1 s"


def test_an_endless_head_sent_fast_is_refused_at_its_cap() -> None:
    with hostile_server("flood-headers") as server:
        reply = within(GUARD_S, lambda: request("GET", server.url, timeout_s=20.0))
        assert reply.error is not None and reply.error.startswith("not a valid HTTP answer")
        wait_until(lambda: server.hung_up[0], what="the client hanging up")
