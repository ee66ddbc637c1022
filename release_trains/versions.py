"""Version parsing and constraint checks (PEP 440, via `packaging`).

A train's target version is either a PEP 440 version (optionally written with a leading
"v") or a free-form "label version" such as "2025-Q1". Labels are valid targets but carry
no ordering, so they compare only for equality and never satisfy a constraint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from release_trains.errors import InputError

__all__ = [
    "is_valid_version",
    "parse_constraint",
    "parse_version",
    "same_version",
    "satisfies",
    "split_pinned",
    "split_requirement",
]

# Targets end up in deployer calls, URLs and file names: a label is one short token with
# no whitespace or shell metacharacters.
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# A requirement's name runs up to the first space or the first character that can start
# a specifier operator, so "curves-api>=2" splits like "curves-api >=2".
_REQUIREMENT = re.compile(r"(?P<name>[^\s<>=!~]*)\s*(?P<constraint>.*)", re.DOTALL)


def parse_version(text: str) -> Version | None:
    """The PEP 440 version in `text` ("v3.0.0" -> 3.0.0), or None if it is not one."""
    # packaging silently strips surrounding whitespace; we do not, so that " 1.0" is
    # rejected here exactly as is_valid_version rejects it.
    if text != text.strip():
        return None
    try:
        return Version(text)  # packaging itself accepts the optional leading "v"/"V"
    except InvalidVersion:
        return None


def is_valid_version(text: str) -> bool:
    """True for anything accepted as a target: PEP 440 (optional "v") or a label version."""
    if type(text) is str:  # anything else (unchecked input) fails as it always did
        return _valid_text(text)
    return parse_version(text) is not None or _LABEL.fullmatch(text) is not None


@lru_cache(maxsize=4096)
def _valid_text(text: str) -> bool:
    # Cached: a catalog pins the same few versions thousands of times (6,000 pinned
    # dependencies at 10,000 services, 22 distinct versions); the answer depends on the text.
    return parse_version(text) is not None or _LABEL.fullmatch(text) is not None


def same_version(a: str, b: str) -> bool:
    """PEP 440 equality when both parse (1.0 == 1.0.0 == v1.0), else exact string equality."""
    va, vb = parse_version(a), parse_version(b)
    if va is not None and vb is not None:
        return va == vb
    return a == b


def parse_constraint(text: str) -> SpecifierSet:
    """A PEP 440 specifier set; "" and "*" mean any version. Raises InputError."""
    stripped = text.strip()
    if stripped in ("", "*"):
        return SpecifierSet("")
    if any(not clause.strip() for clause in stripped.split(",")):
        # packaging silently drops empty clauses; ">=1.2,,<2" is more likely a lost clause
        raise InputError(f"invalid version constraint {text!r}: an empty clause between commas")
    try:
        return SpecifierSet(stripped)
    except InvalidSpecifier:
        raise InputError(f"invalid version constraint {text!r}: {_why(stripped)}") from None


def _why(text: str) -> str:
    # packaging only says "Invalid specifier: <whole text>"; name the clause at fault and
    # what a clause should look like, so the user knows what to fix.
    for clause in (c.strip() for c in text.split(",")):
        if not clause:
            continue
        try:
            Specifier(clause)
        except InvalidSpecifier:
            return (
                f"clause {clause!r} is not an operator (~=, ==, !=, <=, >=, <, >, ===) "
                "followed by a PEP 440 version; wildcards only go with == and !="
            )
    return "not a comma-separated list of PEP 440 specifiers"


def satisfies(version: str, constraint: SpecifierSet) -> bool:
    """True if `version` is a PEP 440 version inside `constraint`; labels never satisfy."""
    parsed = parse_version(version)
    if parsed is None:
        return False
    # Pre-releases satisfy: we check one concrete version that a train is actually
    # shipping, not choosing among candidates (the case pip's exclusion is for), so
    # 2.1.0rc1 meets ">=2.0.0" as people read it. PEP 440 still keeps "<2" from matching
    # 2.0.0rc1. Passing True explicitly also pins the behaviour across packaging
    # releases, whose default for prereleases=None has changed over time.
    return constraint.contains(parsed, prereleases=True)


def split_requirement(text: str) -> tuple[str, str]:
    """Split "curves-api >=2.0.0" into ("curves-api", ">=2.0.0"); a bare name gets "".

    The constraint is returned as written (stripped); parse it with parse_constraint.
    """
    match = _REQUIREMENT.fullmatch(text.strip())
    name, constraint = (match["name"], match["constraint"]) if match else ("", "")
    if not name:
        raise InputError(f"invalid requirement {text!r}: it has no service name")
    if not _NAME.fullmatch(name):
        raise InputError(
            f"invalid requirement {text!r}: service name {name!r} must start with a letter "
            "or digit and contain only letters, digits, '.', '_' and '-'"
        )
    return name, constraint.strip()


def pinned_names(texts: Iterable[str]) -> list[str]:
    """The names of `texts` (split_pinned's first part, same checks), a bare name taken at
    once: a catalog's dependency lists are tens of thousands of them."""
    fullmatch = _NAME.fullmatch
    return [
        t if type(t) is str and "@" not in t and fullmatch(t) else split_pinned(t)[0] for t in texts
    ]


def split_pinned(text: str) -> tuple[str, str | None]:
    """Split "name@1.2.0" into ("name", "1.2.0"); a bare "name" gives ("name", None)."""
    if "@" not in text and _NAME.fullmatch(text):  # the common case, with nothing to strip
        return text, None
    name, at, version = (part.strip() for part in text.strip().partition("@"))
    if not _NAME.fullmatch(name):
        raise InputError(
            f"invalid entry {text!r}: expected a name (letters, digits, '.', '_', '-') "
            "optionally followed by @version"
        )
    if not at:
        return name, None
    if not is_valid_version(version):
        raise InputError(f"invalid entry {text!r}: {version!r} after '@' is not a version")
    return name, version
