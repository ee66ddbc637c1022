"""`--state` / RELEASE_TRAINS_STATE: which store to open, and how to name it without its password.

Accepted forms (CONTRACT.md, "State stores"):
- a path, or `sqlite:///path` (`sqlite://relative/path` also works): the embedded SQLite store;
- `postgresql://user[:password]@host[:port]/dbname[?param=value&...]` (also `postgres://`): a
  shared PostgreSQL database. Query parameters (sslmode, connect_timeout, ...) go to libpq as
  written. Several `host:port` pairs separated by commas and `[v6]` hosts are libpq's and pass.

A password may be written in the URL, but PGPASSWORD or ~/.pgpass (PGPASSFILE) are better: libpq
reads those itself, so this module never sees them. A password that is in the URL is kept only in
`StateURL.conninfo`, which goes to the driver and nowhere else; everything shown to a person
(messages, `where`, the audit log) uses `StateURL.shown`, where it is replaced by `***`.

The authority part is split the way libpq splits it (it ends at the first `/`; the credentials
end at the last `@` before it), so what we redact is exactly what libpq takes for the password
even when it holds `?`, `#` or `:`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

POSTGRES_SCHEMES = ("postgresql", "postgres")
REDACTED = "***"

# the query parameter libpq also takes a password from (redacted like the URL's own)
_PASSWORD_PARAM = re.compile(r"(?i)(^|[?&])(password=)([^&]*)")
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HOST_PORT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[^:\[\]]*)(?::(\d*))?$")


@dataclass(frozen=True)
class StateURL:
    """A parsed `--state` value."""

    kind: str  # "sqlite" | "postgresql"
    path: Path | None  # the SQLite file (kind "sqlite")
    conninfo: str | None  # the URL handed to libpq, password and all (kind "postgresql")
    shown: str  # the store's name for messages: the path, or the URL with any password as ***
    password: str | None = None  # the URL's own password, only to scrub it out of driver texts

    def __repr__(self) -> str:  # a StateURL in a traceback or log shows no password
        return f"StateURL(kind={self.kind!r}, shown={self.shown!r})"

    def scrub(self, text: str) -> str:
        """`text` (a driver's message, say) with the URL's password, raw or percent-decoded,
        replaced: libpq quotes parts of a URL it cannot use in its errors."""
        if not self.password:
            return text
        from urllib.parse import unquote

        for secret in {self.password, unquote(self.password)}:
            if secret:
                text = text.replace(secret, REDACTED)
        return text


def default_path(root: Path) -> Path:
    return root / "analysis" / "state" / "release-trains.db"


def scheme_of(url: str) -> str | None:
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", url)
    return match.group(1).lower() if match else None


def redact(url: str) -> str:
    """`url` with the password of a `scheme://user:password@...` URL (and a `password=` query
    parameter) replaced by `***`; anything else is returned as it is."""
    scheme = scheme_of(url)
    if scheme is None:
        return url
    head, rest = url.split("://", 1)
    slash = rest.find("/")
    authority, tail = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    at = authority.rfind("@")
    if at >= 0:
        userinfo, hosts = authority[:at], authority[at + 1 :]
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + REDACTED
        authority = f"{userinfo}@{hosts}"
    tail = _PASSWORD_PARAM.sub(lambda m: m.group(1) + m.group(2) + REDACTED, tail)
    return f"{head}://{authority}{tail}"


def parse(url: str | None, root: Path, *, origin: str = "--state") -> StateURL:
    """The store `url` names (None or "": the default SQLite file under `root`).

    `origin` names where the value came from (`--state` or `RELEASE_TRAINS_STATE`) for the
    message of a bad value (InputError, exit 2), which never holds the password.
    """
    if not url:
        path = default_path(root)
        return StateURL(kind="sqlite", path=path, conninfo=None, shown=str(path))
    scheme = scheme_of(url)
    if scheme is None:
        return StateURL(kind="sqlite", path=Path(url), conninfo=None, shown=url)
    if scheme == "sqlite":
        rest = url.split("://", 1)[1]
        if not rest:
            raise _bad(url, origin, "it names no file; write sqlite:///PATH")
        # sqlite:///abs/path -> /abs/path; sqlite://rel/path -> rel/path
        path = Path(rest)
        return StateURL(kind="sqlite", path=path, conninfo=None, shown=str(path))
    if scheme in POSTGRES_SCHEMES:
        return _parse_postgres(url, origin)
    raise _bad(
        url,
        origin,
        f"unknown scheme {scheme}://; use a path, sqlite:///PATH or "
        "postgresql://USER@HOST[:PORT]/DBNAME",
    )


def _parse_postgres(url: str, origin: str) -> StateURL:
    rest = url.split("://", 1)[1]
    slash = rest.find("/")
    if slash < 0:
        raise _bad(url, origin, "it names no database; write postgresql://USER@HOST[:PORT]/DBNAME")
    authority, tail = rest[:slash], rest[slash + 1 :]
    password: str | None = None
    at = authority.rfind("@")
    hosts = authority[at + 1 :] if at >= 0 else authority
    if at >= 0:
        userinfo = authority[:at]
        user, sep, secret = userinfo.partition(":")
        if not user:
            raise _bad(url, origin, "the user name before @ is empty")
        if sep:
            password = secret
    dbname, _, query = tail.partition("?")
    if not dbname:
        raise _bad(url, origin, "it names no database; write postgresql://USER@HOST[:PORT]/DBNAME")
    for host in hosts.split(",") if hosts else []:
        match = _HOST_PORT.match(host)
        port = match.group(1) if match else None
        if match is None or (port is not None and not (port.isdigit() and 1 <= int(port) <= 65535)):
            # the host is not echoed: with a / or @ in an unencoded password it holds a piece
            raise _bad(url, origin, "the part after @ is not HOST[:PORT] (a port 1..65535)")
    # libpq quotes a bad percent sequence in its error, password included: refuse it here
    if _PERCENT.search(rest):
        raise _bad(url, origin, "it holds a % not followed by two hex digits (write %25)")
    for pair in query.split("&") if query else []:
        key, eq, _value = pair.partition("=")
        if not key or not eq:
            raise _bad(url, origin, f"query parameter {pair.split('=')[0]!r} is not NAME=VALUE")
        if key.lower() == "password":
            password = _value
    # libpq knows both schemes; one spelling keeps conninfo and shown alike for either
    conninfo = "postgresql://" + rest
    return StateURL(
        kind="postgresql",
        path=None,
        conninfo=conninfo,
        shown=redact(conninfo),
        password=password or None,
    )


def _bad(url: str, origin: str, why: str) -> InputError:
    return InputError(f"{origin}={redact_all(url)!r} is not a state store URL: {why}")


def redact_all(url: str) -> str:
    """`redact` for a URL that may be malformed: everything from the first `:` after the
    scheme up to the last `@` is hidden, so a password holding an unencoded `/`, `?` or `@`
    is hidden whole (a valid URL may lose a little more than its password: only errors use it)."""
    url = redact(url)
    scheme = scheme_of(url)
    if scheme is None:
        return url
    head, rest = url.split("://", 1)
    at = rest.rfind("@")
    colon = rest.find(":")
    if 0 <= colon < at:
        rest = rest[:colon] + ":" + REDACTED + rest[at:]
    return f"{head}://{rest}"


def path_from_url(url: str | None, root: Path) -> Path:
    """The SQLite file `url` names (for callers that only handle SQLite)."""
    parsed = parse(url, root)
    if parsed.path is None:
        raise InputError(f"{parsed.shown} is a PostgreSQL store; this needs a SQLite file")
    return parsed.path
