"""Schema checks: every problem of a document at once, as `file:line: $.json.path: message`.

jsonschema is imported here only, and only when a document is checked, so commands that
never validate stay fast to start.
"""

from __future__ import annotations

import json
import numbers
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .yaml_io import JsonPath, json_path, line_of

SCHEMA_FILES = {
    "trains": "release-trains.schema.json",
    "services": "service-index.schema.json",
    "quality": "quality-snapshot.schema.json",
    "specs": "specs-index.schema.json",
    "config": "upgrade-policies.schema.json",
}


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

    schemas = _schema_documents()
    registry: Registry[Any] = Registry().with_resources(
        (name, Resource.from_contents(s)) for name, s in schemas.items()
    )
    return jsonschema.Draft202012Validator(schemas[SCHEMA_FILES[kind]], registry=registry)


def schema_errors(kind: str, data: Any) -> list[tuple[list[str | int], str]]:
    """Every schema violation in `data` (a document of the given kind): (JSON path, message)."""
    if _quick_valid(kind, data):  # exact for valid documents; see "the fast path" below
        return []
    try:
        errors = list(_validator(kind).iter_errors(data))
    except RecursionError:
        return [([], "document is nested too deeply")]
    except TypeError:  # jsonschema compares keys as text; YAML allows `2: oops`
        return [_non_string_key(data)]
    out = []
    for err in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        err = _most_relevant(err)
        out.append((list(err.absolute_path), _message(err)))
    return out


def passes_exactly(kind: str, data: Any) -> bool:
    """True only when `data` is valid and that was decided by the fast path alone, whose answer
    depends on nothing but the document, the schema files and this module (check_key): the
    one kind of "valid" worth recording in the parsed-catalog cache. False: call
    schema_errors (which may still find nothing)."""
    return _quick_valid(kind, data)


@cache
def check_key(kind: str) -> str:
    """Names the schema check of a `kind` of document in the parsed-catalog cache: the kind,
    and a digest of every schema file (they refer to each other) and of this module's source
    (the fast path is the judge). Any byte changed in either is another key, so an entry
    checked under other schemas or another checker is checked again."""
    import hashlib

    h = hashlib.sha256(b"schema check 1\0" + kind.encode() + b"\0")
    folder = resources.files("release_trains.schemas")
    for name in sorted(SCHEMA_FILES.values()):
        h.update(name.encode() + b"\0" + folder.joinpath(name).read_bytes() + b"\0")
    h.update(Path(__file__).read_bytes())
    return f"schema:{kind}:{h.hexdigest()}"


def _non_string_key(data: Any) -> tuple[list[str | int], str]:
    """Where the first mapping key that is not a string sits, and what to do about it."""
    stack: list[tuple[Any, list[str | int]]] = [(data, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    return path, f"key {key!r} is not a string: quote it"
                stack.append((value, [*path, key]))
        elif isinstance(node, list):
            stack.extend((v, [*path, i]) for i, v in enumerate(node))
    return [], "the document holds a value the schema cannot check"


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
            return f'{inst!r} is a number, expected a string: quote it (e.g. "{inst}")'
    if err.validator == "additionalProperties":
        return f"{err.message} (check the spelling)"
    if err.validator == "pattern":
        written = _WRITTEN_AS.get(err.schema["pattern"], err.schema["pattern"])
        return f"{inst!r} is not allowed here (expected {written})"
    if err.validator == "enum":
        return f"{inst!r} is not one of {', '.join(map(str, err.validator_value))}"
    return str(err.message)


# --- the fast path -------------------------------------------------------------------------
#
# jsonschema takes seconds on a catalog of 10,000 services (every keyword of every node goes
# through its generic descend/evolve/$ref machinery) and 0.1 s just to import. Nearly every
# document a command reads is valid, so `schema_errors` first asks `_quick_valid`, an exact
# re-implementation of the few keywords our schemas use, compiled once into closures. It
# answers only "valid": when it finds a problem, meets a keyword or value it does not judge
# exactly (_Unsure), or cannot compile a schema (_Unsupported), jsonschema runs as before and
# produces every message. So a bad document gets exactly the messages it always got, and a
# good one gets the same empty list without jsonschema being imported at all.
# Each keyword below mirrors jsonschema's own implementation (jsonschema/_keywords.py and
# the draft 2020-12 type checker), which is what "exact" is measured against.

_Check = Any  # Callable[[Any], bool]; Any keeps the closures cheap to annotate


class _Unsupported(Exception):
    """A schema uses something the fast path does not implement: always use jsonschema."""


class _Unsure(Exception):
    """An instance the fast path will not judge (e.g. a non-string enum value)."""


# Keywords that validate nothing (annotations, containers) and are safe to skip.
_IGNORED = frozenset(
    {
        "$schema", "$comment", "$defs", "definitions", "title", "description", "default",
        "examples", "deprecated", "readOnly", "writeOnly", "contentMediaType",
        "contentEncoding", "contentSchema", "format",  # format: not asserted (no format_checker)
    }
)  # fmt: skip


def _quick_valid(kind: str, data: Any) -> bool:
    """True only if jsonschema would find no error in `data`; False means "ask jsonschema"."""
    check = _quick_checker(kind)
    if check is None:
        return False
    try:
        return bool(check(data))
    except Exception:  # _Unsure, RecursionError, anything odd: jsonschema decides
        return False


@cache
def _quick_checker(kind: str) -> _Check | None:
    try:
        return _QuickCompiler().compile_resource(SCHEMA_FILES[kind])
    except _Unsupported:
        return None


@cache
def _schema_documents() -> dict[str, Any]:
    """The schema files as both validators use them: with `$` meaning the end of the text."""
    return {
        name: _end_anchored(
            json.loads(resources.files("release_trains.schemas").joinpath(name).read_text())
        )
        for name in SCHEMA_FILES.values()
    }


# JSON Schema patterns are ECMA 262 regexes, where `$` (no multiline flag) is the end of the
# text. Python's `$` also matches before a final newline, so `^[a-z]+$` would let "x\n" through
# (a train named "x\n" becomes a folder, a version "1.0\n" breaks a deploy). The schema files
# stay portable; what the validators compile has every `$` anchor turned into `\Z`.
_WRITTEN_AS: dict[str, str] = {}  # compiled pattern -> the pattern as the schema file writes it


def end_anchored(pattern: str) -> str:
    """`pattern` with each `$` anchor (not escaped, not in a [class]) written `\\Z`."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":  # "[]...]": a leading ] is a member
                out.append("[]")
                i += 2
                continue
        elif c == "$":
            c = "\\Z"
        out.append(c)
        i += 1
    translated = "".join(out)
    _WRITTEN_AS[translated] = pattern
    return translated


def _end_anchored(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_end_anchored(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "pattern" and isinstance(value, str):
            out[key] = end_anchored(value)
        elif key == "patternProperties" and isinstance(value, dict):
            out[key] = {end_anchored(k): _end_anchored(v) for k, v in value.items()}
        elif key in ("enum", "const", "examples", "default"):
            out[key] = value  # values, not schemas
        else:
            out[key] = _end_anchored(value)
    return out


def _is_number(x: Any) -> bool:
    if type(x) in (int, float):  # the usual answer, without the slow ABC check below
        return True
    return isinstance(x, numbers.Number) and not isinstance(x, bool)


def _is_integer(x: Any) -> bool:  # draft 6+: 1.0 is an integer
    if isinstance(x, bool):
        return False
    return isinstance(x, int) or (isinstance(x, float) and x.is_integer())


_TYPES: dict[str, _Check] = {
    "string": lambda x: isinstance(x, str),
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "number": _is_number,
    "integer": _is_integer,
}


def _always(x: Any) -> bool:
    return True


def _never(x: Any) -> bool:
    return False


class _QuickCompiler:
    """Compiles our schema files (and the $refs between them) into one closure per node."""

    def __init__(self) -> None:
        self.documents = _schema_documents()
        self.refs: dict[tuple[str, str], list[_Check]] = {}
        for name, doc in self.documents.items():
            if isinstance(doc, dict) and doc.get("$id", name) != name:
                raise _Unsupported(f"{name}: $id differs from the file name")

    def compile_resource(self, name: str) -> _Check:
        return self._ref_target(name, "")

    def _ref_target(self, resource: str, pointer: str) -> _Check:
        key = (resource, pointer)
        if key not in self.refs:
            box: list[_Check] = []
            self.refs[key] = box  # registered first: recursive schemas resolve through it
            box.append(self.compile(self._resolve(resource, pointer), resource, root=not pointer))
        box = self.refs[key]
        return box[0] if box else (lambda x: box[0](x))

    def _resolve(self, resource: str, pointer: str) -> Any:
        if resource not in self.documents or "%" in pointer:
            raise _Unsupported(f"$ref into {resource}#{pointer}")
        node = self.documents[resource]
        for part in pointer.split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise _Unsupported(f"$ref to a missing {resource}#{pointer}")
            node = node[part]
        return node

    def compile(self, schema: Any, resource: str, *, root: bool = False) -> _Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise _Unsupported("a schema that is neither an object nor a boolean")
        checks: list[_Check] = []
        for key, value in schema.items():
            if key in _IGNORED or key in ("then", "else") or key.startswith("x-"):
                continue
            if key == "$id" and root:
                continue
            make = getattr(self, f"_kw_{key.lstrip('$')}", None)
            if make is None:
                raise _Unsupported(f"keyword {key!r}")
            check = make(value, schema, resource)
            if check is not None:
                checks.append(check)
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]
        all_checks = tuple(checks)

        def all_of(x: Any) -> bool:
            for c in all_checks:  # noqa: SIM110 - a plain loop: all() over a generator is slower
                if not c(x):
                    return False
            return True

        return all_of

    # One method per keyword: each returns a check, or None when the keyword checks nothing.

    def _kw_ref(self, ref: Any, schema: Any, resource: str) -> _Check:
        if not isinstance(ref, str) or "#" not in ref:
            raise _Unsupported(f"$ref {ref!r}")
        target, _, pointer = ref.partition("#")
        if (target and ("/" in target or ":" in target)) or (
            pointer and not pointer.startswith("/")
        ):
            raise _Unsupported(f"$ref {ref!r}")
        return self._ref_target(target or resource, pointer)

    def _kw_type(self, types: Any, schema: Any, resource: str) -> _Check:
        names = [types] if isinstance(types, str) else list(types)
        if not names or any(t not in _TYPES for t in names):
            raise _Unsupported(f"type {types!r}")
        preds = [_TYPES[t] for t in names]
        if len(preds) == 1:
            return preds[0]
        return lambda x: any(p(x) for p in preds)

    def _kw_properties(self, props: Any, schema: Any, resource: str) -> _Check:
        pairs = tuple((k, self.compile(v, resource)) for k, v in props.items())

        def check(x: Any) -> bool:
            if isinstance(x, dict):
                for k, c in pairs:
                    if k in x and not c(x[k]):
                        return False
            return True

        return check

    def _kw_required(self, required: Any, schema: Any, resource: str) -> _Check:
        names = tuple(required)
        return lambda x: not isinstance(x, dict) or all(k in x for k in names)

    def _kw_additionalProperties(self, ap: Any, schema: Any, resource: str) -> _Check | None:
        if ap is True:
            return None
        known = frozenset(schema.get("properties", {}))
        joined = "|".join(schema.get("patternProperties", {}))
        pattern = re.compile(joined) if joined else None
        extra_ok = _never if ap is False else self.compile(ap, resource)
        if not isinstance(ap, (bool, dict)):
            raise _Unsupported("additionalProperties of an odd type")

        def check(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for k, v in x.items():
                if k in known:
                    continue
                if pattern is not None:
                    if not isinstance(k, str):
                        raise _Unsure  # jsonschema would call re.search on it
                    if pattern.search(k):
                        continue
                if not extra_ok(v):
                    return False
            return True

        return check

    def _kw_patternProperties(self, pp: Any, schema: Any, resource: str) -> _Check:
        pairs = tuple((re.compile(p), self.compile(s, resource)) for p, s in pp.items())

        def check(x: Any) -> bool:
            if isinstance(x, dict):
                for k, v in x.items():
                    if not isinstance(k, str):
                        raise _Unsure
                    for p, c in pairs:
                        if p.search(k) and not c(v):
                            return False
            return True

        return check

    def _kw_propertyNames(self, names: Any, schema: Any, resource: str) -> _Check:
        c = self.compile(names, resource)
        return lambda x: not isinstance(x, dict) or all(c(k) for k in x)

    def _kw_items(self, items: Any, schema: Any, resource: str) -> _Check:
        if "prefixItems" in schema or not isinstance(items, (bool, dict)):
            raise _Unsupported("items with prefixItems, or an array of schemas")
        c = self.compile(items, resource)
        return lambda x: not isinstance(x, list) or all(c(i) for i in x)

    def _kw_pattern(self, pattern: Any, schema: Any, resource: str) -> _Check:
        search = re.compile(pattern).search
        return lambda x: not isinstance(x, str) or search(x) is not None

    def _kw_enum(self, values: Any, schema: Any, resource: str) -> _Check:
        allowed = tuple(values)

        def check(x: Any) -> bool:
            if not isinstance(x, str):
                raise _Unsure  # jsonschema's equal() has bool/number rules: let it decide
            return any(v == x for v in allowed)

        return check

    def _kw_minimum(self, bound: Any, schema: Any, resource: str) -> _Check:
        return lambda x: not _is_number(x) or not x < bound

    def _kw_maximum(self, bound: Any, schema: Any, resource: str) -> _Check:
        return lambda x: not _is_number(x) or not x > bound

    def _kw_exclusiveMinimum(self, bound: Any, schema: Any, resource: str) -> _Check:
        return lambda x: not _is_number(x) or not x <= bound

    def _kw_exclusiveMaximum(self, bound: Any, schema: Any, resource: str) -> _Check:
        return lambda x: not _is_number(x) or not x >= bound

    def _kw_minLength(self, n: Any, schema: Any, resource: str) -> _Check:
        return lambda x: not isinstance(x, str) or not len(x) < n

    def _kw_maxLength(self, n: Any, schema: Any, resource: str) -> _Check:
        return lambda x: not isinstance(x, str) or not len(x) > n

    def _kw_minItems(self, n: Any, schema: Any, resource: str) -> _Check:
        return lambda x: not isinstance(x, list) or not len(x) < n

    def _kw_maxItems(self, n: Any, schema: Any, resource: str) -> _Check:
        return lambda x: not isinstance(x, list) or not len(x) > n

    def _kw_minProperties(self, n: Any, schema: Any, resource: str) -> _Check:
        return lambda x: not isinstance(x, dict) or not len(x) < n

    def _kw_maxProperties(self, n: Any, schema: Any, resource: str) -> _Check:
        return lambda x: not isinstance(x, dict) or not len(x) > n

    def _kw_allOf(self, subs: Any, schema: Any, resource: str) -> _Check:
        cs = tuple(self.compile(s, resource) for s in subs)
        return lambda x: all(c(x) for c in cs)

    def _kw_anyOf(self, subs: Any, schema: Any, resource: str) -> _Check:
        cs = tuple(self.compile(s, resource) for s in subs)
        return lambda x: any(c(x) for c in cs)

    def _kw_oneOf(self, subs: Any, schema: Any, resource: str) -> _Check:
        cs = tuple(self.compile(s, resource) for s in subs)
        return lambda x: sum(1 for c in cs if c(x)) == 1

    def _kw_not(self, sub: Any, schema: Any, resource: str) -> _Check:
        c = self.compile(sub, resource)
        return lambda x: not c(x)

    def _kw_if(self, sub: Any, schema: Any, resource: str) -> _Check:
        cond = self.compile(sub, resource)
        then = self.compile(schema["then"], resource) if "then" in schema else _always
        else_ = self.compile(schema["else"], resource) if "else" in schema else _always
        return lambda x: then(x) if cond(x) else else_(x)
