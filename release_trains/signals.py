"""Where gate and trigger values come from: config `release_trains.signals` (and a service's
own `release.signals`).

Sources: `value` (static), `file` (+ `path` into a JSON/YAML document). A read never raises:
a value that cannot be had is a Reading with `value=None` and the reason in `error`, which
gates turn into `unknown`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CatalogError

SignalValue = float | bool


@dataclass(frozen=True)
class Reading:
    name: str
    value: SignalValue | None
    source: str  # where it came from, for evidence: "static", "file analysis/signals/uat.json"
    error: str | None = None


def read_signal(name: str, spec: Mapping[str, Any], *, root: Path) -> Reading:
    """Read one configured signal now."""
    if "value" in spec:
        return _reading(name, spec["value"], "static value")
    if "file" in spec:
        return _from_file(name, spec, root=root)
    kinds = ", ".join(sorted(spec))
    return Reading(name, None, kinds, f"signal source {kinds!r} is not supported")


def _from_file(name: str, spec: Mapping[str, Any], *, root: Path) -> Reading:
    from .yaml_io import load_file

    path = Path(spec["file"])
    path = path if path.is_absolute() else root / path
    source = f"file {spec['file']}"
    try:
        doc = load_file(path)
    except CatalogError as e:
        return Reading(name, None, source, str(e))
    try:
        value = dig(doc, spec.get("path", ""))
    except LookupError as e:
        return Reading(name, None, source, f"{spec.get('path')!r} not found in {spec['file']}: {e}")
    return _reading(name, value, source)


def dig(doc: Any, path: str) -> Any:
    """Follow a dotted path ("a.b.0.c"; a leading "$." is allowed) into JSON-like data."""
    for part in [p for p in path.removeprefix("$").split(".") if p]:
        if isinstance(doc, list):
            doc = doc[int(part)] if part.lstrip("-").isdigit() else doc[len(doc)]  # IndexError
        elif isinstance(doc, dict):
            doc = doc[part]
        else:
            raise KeyError(part)
    return doc


def _reading(name: str, raw: Any, source: str) -> Reading:
    value, error = coerce(raw)
    return Reading(name, value, source, error)


def coerce(raw: Any) -> tuple[SignalValue | None, str | None]:
    """A signal's raw value as a number or boolean; text like "4.2", "4.2%", "true" is accepted."""
    if isinstance(raw, bool):
        return raw, None
    if isinstance(raw, (int, float)):
        return float(raw), None
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in ("true", "pass", "passed", "success", "ok"):
            return True, None
        if text in ("false", "fail", "failed", "failure"):
            return False, None
        try:
            return float(text.removesuffix("%")), None
        except ValueError:
            pass
    return None, f"value {raw!r} is neither a number nor a boolean"
