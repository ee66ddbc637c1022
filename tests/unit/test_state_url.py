"""--state / RELEASE_TRAINS_STATE parsing (state/url.py): the forms accepted, the password never
shown, and a bad value refused naming where it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from release_trains.errors import InputError
from release_trains.state.url import parse, redact

SECRET = "s3cr3t-Pa55"


def test_default_and_sqlite_forms(tmp_path: Path) -> None:
    assert parse(None, tmp_path).path == tmp_path / "analysis" / "state" / "release-trains.db"
    assert parse("", tmp_path).kind == "sqlite"
    assert parse("some/file.db", tmp_path).path == Path("some/file.db")
    assert parse("sqlite:///abs/file.db", tmp_path).path == Path("/abs/file.db")
    assert parse("sqlite://rel/file.db", tmp_path).path == Path("rel/file.db")


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "POSTGRESQL"])
def test_postgres_forms_keep_query_and_hide_password(scheme: str, tmp_path: Path) -> None:
    url = parse(f"{scheme}://alice:{SECRET}@db.example:6543/trains?sslmode=require", tmp_path)
    assert url.kind == "postgresql"
    assert url.conninfo == f"postgresql://alice:{SECRET}@db.example:6543/trains?sslmode=require"
    assert url.shown == "postgresql://alice:***@db.example:6543/trains?sslmode=require"
    assert SECRET not in repr(url) and SECRET not in url.shown


def test_no_password_no_port_several_hosts(tmp_path: Path) -> None:
    assert parse("postgresql://bob@h1/db", tmp_path).shown == "postgresql://bob@h1/db"
    assert parse("postgresql://h1:5432,h2:5433/db", tmp_path).kind == "postgresql"
    assert parse("postgresql://[::1]:5432/db", tmp_path).kind == "postgresql"


def test_password_query_parameter_is_hidden(tmp_path: Path) -> None:
    url = parse(f"postgresql://bob@h/db?password={SECRET}&sslmode=disable", tmp_path)
    assert SECRET not in url.shown
    assert url.shown == "postgresql://bob@h/db?password=***&sslmode=disable"
    assert url.scrub(f"libpq said {SECRET}") == "libpq said ***"


def test_password_with_libpq_delimiters_is_hidden_whole() -> None:
    # libpq ends the authority at the first "/", the credentials at the last "@" before it
    assert redact("postgresql://u:a?b#c:d@h/db") == "postgresql://u:***@h/db"
    assert redact("postgresql://u:a@b@h/db") == "postgresql://u:***@h/db"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (f"postgresql://u:{SECRET}@h:99999/db", "port"),
        (f"postgresql://u:{SECRET}@h:port/db", "port"),
        (f"postgresql://u:{SECRET}@h", "names no database"),
        (f"postgresql://u:{SECRET}@h/", "names no database"),
        (f"postgresql://:{SECRET}@h/db", "user name"),
        (f"postgresql://u:{SECRET}%zz@h/db", "%"),
        (f"postgresql://u:{SECRET}@h/db?sslmode", "NAME=VALUE"),
        (f"postgres://u:{SECRET[:4]}/{SECRET[4:]}@h/db", "HOST"),  # an unencoded / in it
        (f"mysql://u:{SECRET}@h/db", "unknown scheme"),
        ("sqlite://", "names no file"),
    ],
)
def test_bad_urls_exit_2_naming_origin_without_password(value: str, why: str) -> None:
    with pytest.raises(InputError) as caught:
        parse(value, Path("."), origin="RELEASE_TRAINS_STATE")
    text = str(caught.value)
    assert caught.value.exit_code == 2
    assert text.startswith("RELEASE_TRAINS_STATE=")
    assert why in text
    for piece in (SECRET, SECRET[:4], SECRET[4:]):
        assert piece not in text
