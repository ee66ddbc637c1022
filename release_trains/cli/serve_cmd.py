"""release-trains serve: the REST API (and OpenAPI document) over this project's catalog and
state store, on uvicorn."""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Callable
from types import FrameType

import click

from ..errors import InputError, NotNowError
from .context import Options, examples, pass_options, utcnow
from .state import busy_timeout_s, read_store


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


@click.command(
    "serve",
    epilog=examples(
        "release-trains serve",
        "release-trains serve --host 0.0.0.0 --port 9000   # once a token exists",
        "release-trains --state postgresql://rt@db/rt serve --workers 4",
        'curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v1/release-trains',
    ),
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; any but a loopback address needs a token to exist first.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(0, 64),
    default=1,
    show_default=True,
    help="In-process workers that carry out the runs, resumes and rollbacks queued through the "
    "API (0: none here; standalone `release-trains worker` processes on a shared PostgreSQL "
    "store take them). On SIGTERM their runs stop before the next service, left paused.",
)
@pass_options
def command(opts: Options, host: str, port: int, workers: int) -> int:
    """Serve the REST API on 127.0.0.1 (any other address needs a token)."""
    from .. import tokens

    busy = busy_timeout_s()
    store = read_store(opts)  # a state file that is not a store: exit 2 before serving
    try:
        have_token = tokens.any_active(store)
    finally:
        if store is not None:
            store.close()
    if not is_loopback(host) and not have_token:
        raise InputError(
            f"refusing to serve on {host} (not a loopback address) while no API token exists: "
            "create one first with `release-trains token create NAME --role admin`, or serve "
            "on 127.0.0.1"
        )
    sock = listen(host, port)  # before anything is loaded: a busy port is exit 3 at once
    import uvicorn  # here: no other command loads the server stack

    from ..server.app import create_app
    from ..server.workers import start

    app = create_app(root=opts.root, state_url=opts.state, clock=utcnow, busy_timeout_s=busy)
    from ..identity import actor
    from ..identity import host as this_host

    pool = start(
        app.state.context,
        workers,
        name=actor(),
        host=this_host(),
        echo=lambda line: click.echo(line, err=True),
    )
    _Server = _server_class(on_exit=pool.pause)
    # uvicorn handles SIGTERM and SIGINT: it stops accepting, lets in-flight requests finish
    # (up to the grace below), then returns; the workers' runs stop before their next service
    # at once (pool.pause), and serve exits once the workers have stopped (pool.stop).
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        timeout_graceful_shutdown=30,
        server_header=False,
    )
    from ..server import logs

    logs.install()  # a dashboard address's ?token= never reaches the access log
    click.echo(f"serving the API on http://{_url_host(host)}:{port}/ (Ctrl-C stops)", err=True)
    try:
        _Server(config).run(sockets=[sock])
    finally:
        pool.stop()
        sock.close()
    return 0


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that an address in use or not ours is one clear
    message (exit 3 / exit 2) instead of uvicorn's log line and exit 1."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise InputError(f"--host {host}: not an address of this machine ({e.strerror})") from e
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart right after a stop
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise NotNowError(
                f"cannot listen on {host}:{port}: the port is in use (another serve?); "
                "choose another with --port"
            ) from e
        raise InputError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    sock.set_inheritable(True)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _server_class(*, on_exit: Callable[[], None]) -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn, except that the signal which stopped it is not raised again once it has
        shut down (uvicorn does, so the process would die of SIGTERM): a graceful stop is the
        normal end of `serve`, exit 0."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            on_exit()  # the workers pause their runs while uvicorn finishes the requests
            super().handle_exit(sig, frame)
            self._captured_signals.clear()

    return Server
