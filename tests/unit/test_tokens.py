"""API tokens: made once, only a hash stored, roles ordered, revocation, the v2 -> v3 step."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from release_trains import tokens
from release_trains.errors import (
    AuthenticationError,
    InputError,
    PermissionDeniedError,
    UnknownTokenError,
)
from release_trains.state import SCHEMA_VERSION, Store, migrate_store, open_store

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(None, tmp_path, create=True)
    assert s is not None
    return s


def test_a_token_is_shown_once_and_only_its_hash_is_stored(store: Store, tmp_path: Path) -> None:
    secret = tokens.create(store, name="ci", role="operator", now=NOW.isoformat())
    assert secret.startswith("rtk_") and len(secret) > 40
    db = next((tmp_path / "analysis" / "state").glob("*.db"))
    dump = "\n".join(sqlite3.connect(db).iterdump())
    assert secret not in dump and tokens.digest(secret) in dump
    who = tokens.authenticate(store, f"Bearer {secret}", now=NOW)
    assert (who.name, who.role, who.actor) == ("ci", "operator", "token:ci")
    assert secret not in str(tokens.listing(store))
    assert all("hash" not in row for row in tokens.listing(store))


def test_unknown_missing_and_revoked_tokens_are_refused(store: Store) -> None:
    secret = tokens.create(store, name="ci", role="viewer", now=NOW.isoformat())
    for header in (None, "", "Basic abc", "Bearer ", f"Bearer {secret}x"):
        with pytest.raises(AuthenticationError):
            tokens.authenticate(store, header, now=NOW)
    tokens.revoke(store, "ci", now=NOW.isoformat())
    with pytest.raises(AuthenticationError):
        tokens.authenticate(store, f"Bearer {secret}", now=NOW)
    with pytest.raises(UnknownTokenError):
        tokens.revoke(store, "nobody", now=NOW.isoformat())
    with pytest.raises(InputError, match="already exists"):  # names are never reused
        tokens.create(store, name="ci", role="viewer", now=NOW.isoformat())


def test_roles_are_ordered() -> None:
    for i, have in enumerate(tokens.ROLES):
        for j, need in enumerate(tokens.ROLES):
            who = tokens.Principal("x", have)
            if i >= j:
                tokens.authorize(who, need)
            else:
                with pytest.raises(PermissionDeniedError):
                    tokens.authorize(who, need)
    with pytest.raises(InputError):
        tokens.check_role("root")
    with pytest.raises(InputError):
        tokens.check_name("../x")


def test_last_use_is_kept_to_the_minute(store: Store) -> None:
    secret = tokens.create(store, name="ci", role="viewer", now=NOW.isoformat())
    tokens.authenticate(store, f"Bearer {secret}", now=NOW)
    first = store.tokens()[0].last_used_at
    tokens.authenticate(store, f"Bearer {secret}", now=NOW + timedelta(seconds=5))
    assert store.tokens()[0].last_used_at == first  # no write per request
    tokens.authenticate(store, f"Bearer {secret}", now=NOW + timedelta(minutes=2))
    assert store.tokens()[0].last_used_at != first


def test_a_version_2_store_gets_the_tokens_table_by_migration(tmp_path: Path) -> None:
    s = open_store(None, tmp_path, create=True)
    assert s is not None
    s.close()
    db = next((tmp_path / "analysis" / "state").glob("*.db"))
    con = sqlite3.connect(db)
    con.execute("DROP TABLE tokens")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    old = open_store(None, tmp_path, create=False)
    assert old is not None and old.tokens() == []  # readable, no token
    old.close()
    done = migrate_store(None, tmp_path)
    assert (done.from_version, done.to_version) == (2, SCHEMA_VERSION)
    s = open_store(None, tmp_path, create=True)
    assert s is not None
    tokens.create(s, name="ci", role="admin", now=NOW.isoformat())
    assert [t.name for t in s.tokens()] == ["ci"]
    s.close()
