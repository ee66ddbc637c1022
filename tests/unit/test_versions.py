from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from release_trains.errors import InputError
from release_trains.versions import (
    is_valid_version,
    parse_constraint,
    parse_version,
    same_version,
    satisfies,
    split_pinned,
    split_requirement,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3", Version("1.2.3")),
        ("v3.0.0", Version("3.0.0")),
        ("V3.0.0", Version("3.0.0")),
        ("2.1.0rc1", Version("2.1.0rc1")),
        ("1.0+build.7", Version("1.0+build.7")),
        ("2025-Q1", None),
        ("", None),
        (" 1.0", None),
        ("1.0 ", None),
        ("latest", None),
    ],
)
def test_parse_version(text: str, expected: Version | None) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize(
    "text", ["1.2.3", "v3.0.0", "2.1.0rc1", "1!2.0", "2025-Q1", "release_7", "a+b.c-d", "x" * 64]
)
def test_valid_versions(text: str) -> None:
    assert is_valid_version(text)


@pytest.mark.parametrize(
    "text",
    ["", " 1.0", "1.0 ", "a b", "1.0; touch /tmp/x", "$(id)", "-1.0", ".hidden", "x" * 65, "a/b"],
)
def test_invalid_versions(text: str) -> None:
    assert not is_valid_version(text)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1.0.0", True),
        ("v1.0", "1.0.0", True),
        ("1.0", "1.0.1", False),
        ("2025-Q1", "2025-Q1", True),
        ("2025-Q1", "2025-q1", False),
        ("2025-Q1", "1.0", False),
    ],
)
def test_same_version(a: str, b: str, expected: bool) -> None:
    assert same_version(a, b) is expected
    assert same_version(b, a) is expected


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        (">=2.0.0", "2.0.0", "1.9.9"),
        (">= 2.0.0", "2.5", "1.0"),
        (">=1.2,<2", "1.9", "2.0"),
        (" >=1.2 , <2 ", "1.2", "1.1"),
        ("==1.4.*", "1.4.7", "1.5.0"),
        ("~=1.2", "1.9", "2.0"),
        ("", "0.0.1", None),
        ("*", "99", None),
    ],
)
def test_parse_constraint(text: str, inside: str, outside: str | None) -> None:
    constraint = parse_constraint(text)
    assert satisfies(inside, constraint)
    if outside is not None:
        assert not satisfies(outside, constraint)


@pytest.mark.parametrize("text", ["1.2.0", ">=1.4.*", "~=1", "=>1", ">=1,<<2", "latest"])
def test_parse_constraint_rejects(text: str) -> None:
    with pytest.raises(InputError, match=r"invalid version constraint .*: clause"):
        parse_constraint(text)


def test_parse_constraint_names_the_bad_clause() -> None:
    with pytest.raises(InputError) as info:
        parse_constraint(">=1.0, 2.0")
    assert str(info.value).startswith("invalid version constraint '>=1.0, 2.0': clause '2.0'")


def test_satisfies_labels_never_match() -> None:
    assert not satisfies("2025-Q1", parse_constraint(""))
    assert not satisfies("2025-Q1", parse_constraint(">=1"))


def test_satisfies_prereleases() -> None:
    assert satisfies("2.1.0rc1", parse_constraint(">=2.0.0"))
    assert satisfies("v2.1.0", parse_constraint(">=2.0.0"))
    # PEP 440: an exclusive upper bound does not admit pre-releases of that bound.
    assert not satisfies("2.0.0rc1", parse_constraint("<2"))
    assert satisfies("2.0.0rc2", parse_constraint(">=2.0.0rc1"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("curves-api >=2.0.0", ("curves-api", ">=2.0.0")),
        ("pricing-lib >=1.2,<2", ("pricing-lib", ">=1.2,<2")),
        ("curves-api", ("curves-api", "")),
        ("curves-api>=2", ("curves-api", ">=2")),
        ("  curves_api.v2   ~=1.2  ", ("curves_api.v2", "~=1.2")),
        ("svc==1.4.*", ("svc", "==1.4.*")),
        ("svc!=1.0", ("svc", "!=1.0")),
    ],
)
def test_split_requirement(text: str, expected: tuple[str, str]) -> None:
    assert split_requirement(text) == expected


@pytest.mark.parametrize("text", ["", "   ", ">=2.0", "-svc >=1", "svc@1 >=1", "sv/c"])
def test_split_requirement_rejects(text: str) -> None:
    with pytest.raises(InputError, match="invalid requirement"):
        split_requirement(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name@1.2.0", ("name", "1.2.0")),
        ("name", ("name", None)),
        ("curves-api@v2", ("curves-api", "v2")),
        ("svc@2025-Q1", ("svc", "2025-Q1")),
    ],
)
def test_split_pinned(text: str, expected: tuple[str, str | None]) -> None:
    assert split_pinned(text) == expected


@pytest.mark.parametrize("text", ["", "@1.0", "name@", "name@1.0@2", "na me@1", "name@a b"])
def test_split_pinned_rejects(text: str) -> None:
    with pytest.raises(InputError, match="invalid entry"):
        split_pinned(text)


_numbers = st.integers(min_value=0, max_value=12)
_versions = st.builds(
    lambda major, minor, patch, pre: Version(f"{major}.{minor}.{patch}{pre}"),
    _numbers,
    _numbers,
    _numbers,
    # Mostly finals, sometimes a pre-release, so the prereleases choice is exercised.
    st.sampled_from(["", "", "", "rc1", "a2"]),
)
_clauses = st.builds(
    lambda op, version: f"{op}{version}",
    st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
    _versions,
)
_specs = st.lists(_clauses, min_size=1, max_size=2).map(",".join)


@given(version=_versions, spec=_specs, prefix=st.sampled_from(["", "v"]))
def test_satisfies_agrees_with_packaging(version: Version, spec: str, prefix: str) -> None:
    constraint = SpecifierSet(spec)
    expected = constraint.contains(version, prereleases=True)
    assert satisfies(prefix + str(version), constraint) is expected
    assert satisfies(str(version), parse_constraint(spec)) is expected
