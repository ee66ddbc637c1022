"""Where the state store is: `--state` / RELEASE_TRAINS_STATE, a path or `sqlite:///path`."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError


def default_path(root: Path) -> Path:
    return root / "analysis" / "state" / "release-trains.db"


def path_from_url(url: str | None, root: Path) -> Path:
    """`--state` accepts a path or `sqlite:///path`; other schemes are not built yet."""
    if not url:
        return default_path(root)
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite://"))
    if url.startswith("sqlite://"):
        return Path(url.removeprefix("sqlite://"))
    if "://" in url:
        raise InputError(f"state URL {url!r}: only sqlite:///PATH (or a plain path) is supported")
    return Path(url)
