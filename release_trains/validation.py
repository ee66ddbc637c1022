"""Schema checks: every problem of a document at once, as `file:line: $.json.path: message`.

jsonschema is imported here only, and only when a document is checked, so commands that
never validate stay fast to start.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .yaml_io import JsonPath, line_of

SCHEMA_FILES = {
    "trains": "release-trains.schema.json",
    "services": "service-index.schema.json",
    "quality": "quality-snapshot.schema.json",
    "specs": "specs-index.schema.json",
    "config": "upgrade-policies.schema.json",
}


def json_path(parts: Iterable[str | int]) -> str:
    """$.trains[0].gates[2] style, the form people paste into jq."""
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def problem(source: Path, path: JsonPath, message: str, *, line: int | None = None) -> str:
    """The one format every problem is reported in."""
    if line is None:
        line = line_of(source, path)
    where = f"{source}:{line}" if line else str(source)
    return f"{where}: {json_path(path)}: {message}"


@cache
def _validator(kind: str) -> Any:
    import jsonschema
    from referencing import Registry, Resource

    schemas = {
        name: json.loads(resources.files("release_trains.schemas").joinpath(name).read_text())
        for name in SCHEMA_FILES.values()
    }
    registry: Registry[Any] = Registry().with_resources(
        (name, Resource.from_contents(s)) for name, s in schemas.items()
    )
    return jsonschema.Draft202012Validator(schemas[SCHEMA_FILES[kind]], registry=registry)


def schema_errors(kind: str, data: Any) -> list[tuple[list[str | int], str]]:
    """Every schema violation in `data` (a document of the given kind): (JSON path, message)."""
    try:
        errors = list(_validator(kind).iter_errors(data))
    except RecursionError:
        return [([], "document is nested too deeply")]
    out = []
    for err in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        err = _most_relevant(err)
        out.append((list(err.absolute_path), _message(err)))
    return out


def schema_problems(kind: str, data: Any, source: Path) -> list[str]:
    """schema_errors, formatted as `file:line: $.path: message`."""
    return [problem(source, path, message) for path, message in schema_errors(kind, data)]


def _most_relevant(err: Any) -> Any:
    """For oneOf/anyOf failures, the sub-error that best explains it (as check-jsonschema does)."""
    from jsonschema.exceptions import best_match

    while err.context:
        # Prefer the branch that matched the instance's type: that is what the author meant.
        # A branch whose very first check is the instance's type is a branch the author did
        # not mean; errors deeper inside the other branch (a nested type error) are kept.
        typed = [e for e in err.context if not (e.validator == "type" and not e.relative_path)]
        err = best_match(typed or err.context)
    return err


def _message(err: Any) -> str:
    inst = err.instance
    if err.validator in ("type", "pattern", "oneOf") and isinstance(inst, bool):
        return (
            f"{inst!r} is not a string: YAML read an unquoted yes/no/on/off/true/false "
            "as a boolean; quote it"
        )
    if err.validator in ("type", "oneOf") and isinstance(inst, (int, float)):
        schema_type = err.schema.get("type") if isinstance(err.schema, dict) else None
        if schema_type == "string" or "pattern" in (err.schema or {}):
            return f"{inst!r} is a number, expected a string: quote it (e.g. \"{inst}\")"
    if err.validator == "additionalProperties":
        return f"{err.message} (check the spelling)"
    if err.validator == "pattern":
        return f"{inst!r} is not allowed here (expected {err.schema['pattern']})"
    if err.validator == "enum":
        return f"{inst!r} is not one of {', '.join(map(str, err.validator_value))}"
    return str(err.message)
