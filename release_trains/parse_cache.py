"""The warm plan: parsed catalog files kept as JSON in a user cache folder, keyed by their bytes.

Opt-in (the CLI turns it on with RELEASE_TRAINS_CACHE=1; see README "Parsed-catalog cache").
An entry is the document a YAML or JSON file parsed to, stored under the SHA-256 of the file's
exact bytes, in a folder named after a fingerprint of the loader (the tool's version, this module's
and yaml_io's source, PyYAML's and libyaml's versions, the entry format). So:

- any byte changed in a file is a different key (the old entry is simply never asked for);
- another release or another loader never reads this one's entries (another folder, and the
  fingerprint is checked again inside the entry);
- an entry is only stored after the file passed every check of yaml_io (size, depth, aliases,
  duplicate keys, numbers), and only when JSON gives the document back exactly (`1:` next to
  `'1':`, or a `!!binary` value, do not survive JSON: such a file is simply not cached);
- an entry holds a header line (format, fingerprint, the source's digest, the payload's length
  and digest) and the payload; one that does not match in every field, is cut short, is over
  MAX_ENTRY_BYTES or is not JSON is ignored and the file parsed again (and the entry rewritten);
- entries are written to a temporary file in the same folder, then renamed: concurrent writers
  each rename a whole entry (the same bytes, for the same key), a reader never sees half of one;
  no fsync: a file cut short by a power loss fails its digest and is ignored;
- deleting the folder at any time is safe: a missing entry is a miss;
- an entry's header may also list the checks its document is known to pass (`checked`: the
  schema check, keyed by the kind and a digest of the schemas and of the checker's source,
  validation.check_key); the caller skips a check listed there and re-runs any other. The
  list is only added by rewriting the whole entry (same payload, same digests) after the
  check passed in this process, and it is covered by the same header test: an entry whose
  header holds anything else is not believed.

Why JSON and not pickle or marshal: reading an entry can never run code or build anything but
dicts, lists, strings, numbers, booleans and None, whoever wrote the file; json's C decoder
reads a 10,000-service catalog in ~20 ms (the C YAML parser takes ~1 s); and the format does not
change with the Python version. The cache folder is created private (0700), and a folder that
another user owns or may write to is not used.

The library never reads the environment: the CLI chooses the folder (`default_folder`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import __version__
from .yaml_io import MAX_FILE_BYTES, read_at_most

ENTRY_FORMAT = "release-trains parsed-file cache 1"
# The payload is the document with aliases expanded: it may be larger than its source.
MAX_ENTRY_BYTES = 4 * MAX_FILE_BYTES
_HEADER_MAX = 4096
_ABSENT = object()  # an entry without a `checked` list (`"checked": null` is not one)


@dataclass
class CacheStats:
    """What the cache did in this process (for tests and benchmarks)."""

    hits: int = 0
    misses: int = 0
    ignored: int = 0  # entries found but not believed (damaged, stale, foreign)
    stored: int = 0
    not_cacheable: int = 0  # documents JSON cannot hold exactly
    write_errors: int = 0


def loader_fingerprint() -> str:
    """Everything a parsed document depends on besides the file's bytes, as one digest."""
    h = hashlib.sha256()
    yaml_version = getattr(yaml, "__version__", "?")
    libyaml = "none"
    if getattr(yaml, "__with_libyaml__", False):
        from yaml import _yaml

        libyaml = _yaml.get_version_string()
    for part in (ENTRY_FORMAT, __version__, yaml_version, libyaml):
        h.update(part.encode() + b"\0")
    here = Path(__file__).resolve().parent
    for module in ("yaml_io.py", "parse_cache.py"):
        h.update((here / module).read_bytes())
    return h.hexdigest()


class ParseCache:
    """Parsed YAML documents under `folder`, keyed by the source's bytes (see module doc)."""

    def __init__(self, folder: Path, *, fingerprint: str | None = None) -> None:
        self.folder = folder
        self.fingerprint = fingerprint if fingerprint is not None else loader_fingerprint()
        self.entries = folder / "parsed" / self.fingerprint[:32]
        self.stats = CacheStats()
        # digest -> (payload, checks) of the entries this process believed or stored: what
        # `checked` answers from, and what `mark_checked` rewrites (no second read or dump).
        self._known: dict[str, tuple[bytes, tuple[str, ...]]] = {}

    def entry_path(self, content: bytes) -> Path:
        return self.entries / f"{hashlib.sha256(content).hexdigest()}.json"

    def get(self, content: bytes) -> tuple[bool, Any]:
        """(True, document) for a believed entry of exactly these bytes, else (False, None)."""
        payload = self.payload(content)
        if payload is None:
            return False, None
        return self.decode(payload)

    def payload(self, content: bytes) -> bytes | None:
        """The JSON text of the believed entry of exactly these bytes, or None (a miss, or an
        entry that is not believed: counted as ignored). Decode it with `decode`."""
        digest = hashlib.sha256(content).hexdigest()
        path = self.entries / f"{digest}.json"
        try:
            raw = _read_entry(path)
        except FileNotFoundError:
            self.stats.misses += 1
            return None
        except OSError:  # not a regular file, unreadable, over the limit: not ours to trust
            self.stats.ignored += 1
            return None
        believed = self._believe(raw, digest)
        if believed is None:
            self.stats.ignored += 1
            return None
        payload, checks = believed
        self._known[digest] = (payload, checks)
        return payload

    def decode(self, payload: bytes) -> tuple[bool, Any]:
        """(True, document) from a believed payload; (False, None) if it is not JSON after all
        (its digest matched, so only a bug could get here: then it is not believed either)."""
        try:
            data = json.loads(payload)
        except (ValueError, RecursionError):  # pragma: no cover - the digest matched
            self.stats.ignored += 1
            return False, None
        self.stats.hits += 1
        return True, data

    def checked(self, content: bytes, key: str) -> bool:
        """Whether the believed entry of exactly these bytes (read or stored by this process)
        records that its document passed the check `key`."""
        known = self._known.get(hashlib.sha256(content).hexdigest())
        return known is not None and key in known[1]

    def mark_checked(self, content: bytes, key: str) -> None:
        """Record in the entry of these bytes that its document passed the check `key`: the
        entry is rewritten whole (temp file + rename), with the payload this process read or
        stored for it; nothing happens for bytes it has no entry for. Never raises for a
        folder that cannot be written."""
        digest = hashlib.sha256(content).hexdigest()
        known = self._known.get(digest)
        if known is None or key in known[1]:
            return
        payload, checks = known
        checks = tuple(sorted({*checks, key}))
        try:
            self._write(self.entries / f"{digest}.json", self._header(digest, payload, checks))
        except OSError:
            self.stats.write_errors += 1
            return
        self._known[digest] = (payload, checks)

    def _header(self, digest: str, payload: bytes, checks: tuple[str, ...]) -> bytes:
        """The entry's bytes: its header line, then the payload."""
        header: dict[str, Any] = {
            "format": ENTRY_FORMAT,
            "fingerprint": self.fingerprint,
            "source_sha256": digest,
            "payload_bytes": len(payload),
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        }
        if checks:
            header["checked"] = list(checks)
        return json.dumps(header).encode("ascii") + b"\n" + payload

    def _believe(self, raw: bytes, digest: str) -> tuple[bytes, tuple[str, ...]] | None:
        newline = raw.find(b"\n", 0, _HEADER_MAX)
        if newline < 0:
            return None
        try:
            header = json.loads(raw[:newline])
        except ValueError:
            return None
        if not isinstance(header, dict):
            return None
        payload = raw[newline + 1 :]
        checks = header.pop("checked", _ABSENT)
        if checks is _ABSENT:
            checks = []
        elif not (  # only ever written as a non-empty sorted list of distinct strings
            isinstance(checks, list)
            and checks
            and all(isinstance(c, str) for c in checks)
            and checks == sorted(set(checks))
        ):
            return None
        expected = {
            "format": ENTRY_FORMAT,
            "fingerprint": self.fingerprint,
            "source_sha256": digest,
            "payload_bytes": len(payload),
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        }
        return (payload, tuple(checks)) if header == expected else None

    def put(self, content: bytes, data: Any) -> None:
        """Store `data` as the document of `content`, if JSON holds it exactly; never raises
        for a folder that cannot be written (the cache is an optimisation, not state)."""
        try:
            payload = json.dumps(data, ensure_ascii=False, allow_nan=False, check_circular=True)
            exact = json.loads(payload) == data
            # a lone surrogate has no UTF-8 form (libyaml refuses "\ud800"; not worth trusting)
            body = payload.encode("utf-8") if exact else b""
        except (TypeError, ValueError, RecursionError):  # bytes, NaN, a cycle, deep nesting
            exact, body = False, b""
        if not exact or len(body) > MAX_ENTRY_BYTES - _HEADER_MAX:
            self.stats.not_cacheable += 1
            return
        digest = hashlib.sha256(content).hexdigest()
        try:
            self._write(self.entries / f"{digest}.json", self._header(digest, body, ()))
        except OSError:
            self.stats.write_errors += 1
            return
        self._known[digest] = (body, ())
        self.stats.stored += 1

    def _write(self, path: Path, blob: bytes) -> None:
        _private_folder(self.folder)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _read_entry(path: Path) -> bytes:
    """An entry's bytes: a regular file (not followed through a symlink), within the limit."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ENTRY_BYTES:
            raise OSError(f"{path}: not a regular file within {MAX_ENTRY_BYTES} bytes")
        data = read_at_most(fd, MAX_ENTRY_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_ENTRY_BYTES:
        raise OSError(f"{path}: over {MAX_ENTRY_BYTES} bytes")
    return data


def _private_folder(folder: Path) -> None:
    """Create `folder` private (0700), or check that it is ours and not writable by others:
    whoever may write entries decides what the catalog says (OSError otherwise: not used)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(f"{folder}: not a directory")
    if info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise PermissionError(f"{folder}: owned by another user or writable by others")


def usable(folder: Path) -> bool:
    """Whether `folder` may hold the cache: it does not exist yet, or it is a directory of
    ours that nobody else may write to."""
    try:
        info = folder.lstat()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return bool(
        stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022
    )


def default_folder(environ: dict[str, str] | os._Environ[str]) -> Path | None:
    """$XDG_CACHE_HOME/release-trains, else ~/.cache/release-trains (the XDG base directory
    rule: a relative XDG_CACHE_HOME is ignored); None without a home folder."""
    xdg = environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "release-trains"
    home = environ.get("HOME", "")
    if not home or not os.path.isabs(home):
        return None
    return Path(home) / ".cache" / "release-trains"
