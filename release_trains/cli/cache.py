"""Whether the CLI uses the parsed-catalog cache (RELEASE_TRAINS_CACHE), and where it lives."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    from ..parse_cache import ParseCache

CACHE_VARIABLE = "RELEASE_TRAINS_CACHE"
_ON = {"1", "on", "yes", "true"}
_OFF = {"", "0", "off", "no", "false"}


def catalog_load_options(root: Path) -> dict[str, Any]:
    """load_catalog's `cache` and `freeze` for a CLI process.

    A CLI process is short-lived, so what it parses is frozen out of the garbage collector's
    view (yaml_io._gc_paused). The cache is opt-in: RELEASE_TRAINS_CACHE=1 (or on/yes/true)
    uses $XDG_CACHE_HOME/release-trains, else ~/.cache/release-trains; unset, empty or 0 (off,
    no, false) does not; anything else is exit 2. The cache is not used (and nothing written)
    where that folder lies inside the project root (so `plan --dry-run` still writes nothing in
    the project) or is not a private folder of this user's (parse_cache.usable)."""
    return {"cache": parse_cache(root, os.environ), "freeze": True}


def parse_cache(root: Path, environ: dict[str, str] | os._Environ[str]) -> ParseCache | None:
    raw = environ.get(CACHE_VARIABLE, "")
    value = raw.strip().lower()
    if value in _OFF:
        return None
    if value not in _ON:
        raise InputError(
            f"{CACHE_VARIABLE}={raw!r}: expected 1 (use the parsed-catalog cache) or 0 (do not)"
        )
    from ..parse_cache import ParseCache, default_folder, usable

    folder = default_folder(environ)
    if folder is None or not usable(folder):
        return None
    project = root.resolve()
    place = folder.resolve()
    if place == project or project in place.parents:
        return None
    try:
        return ParseCache(place)
    except OSError:  # the loader's source cannot be read to fingerprint it (a zipped install)
        return None
