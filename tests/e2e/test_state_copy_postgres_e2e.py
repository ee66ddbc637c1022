"""End to end on a real PostgreSQL server: a SQLite store made by a real `execute` of the sample
train, moved with `state copy`, reports the same `status --json` and `audit --verify` passes on
both; a copy into a store that is not empty is exit 3; a password written in the --state URL
appears in no output, no file under analysis/ and no row of the store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from e2e_support import Project

SAMPLE_TRAIN = "Q4-curve-upgrade"


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


def without_clock(doc: Any) -> Any:
    """`doc` without the moment it was made (`generated_at`): the rest must be equal."""
    if isinstance(doc, dict):
        return {k: without_clock(v) for k, v in doc.items() if k != "generated_at"}
    if isinstance(doc, list):
        return [without_clock(v) for v in doc]
    return doc


def statuses(project: Project, *state: str) -> list[Any]:
    docs = []
    for args in (("status", "--json"), ("status", SAMPLE_TRAIN, "--json")):
        result = project.run(*args, *state)
        assert result.code == 0, result
        docs.append(without_clock(result.json()))
    return docs


def test_sqlite_store_copied_to_postgres_reports_the_same(
    sample_root: Path, tmp_path: Path, postgres_db_url: str
) -> None:
    sample = Project(root=sample_root, work=tmp_path)
    assert sample.run("execute", SAMPLE_TRAIN).code == 0
    before = statuses(sample)

    copied = sample.run("state", "copy", str(sample.db), postgres_db_url, "--json")
    assert copied.code == 0, copied
    doc = copied.json()
    assert doc["copied"]["runs"] >= 1 and doc["copied"]["audit_records"] >= 1
    assert doc["destination"] == postgres_db_url

    assert statuses(sample, "--state", postgres_db_url) == before
    for state in ((), ("--state", postgres_db_url)):
        verified = sample.run("audit", "--verify", *state)
        assert verified.code == 0, (state, verified)
        assert "chain intact" in verified.out and "each in the store's chain" in verified.out

    # the copy is a working store: the train, completed there too, is refused again
    again = sample.run("execute", SAMPLE_TRAIN, "--state", postgres_db_url)
    assert again.code == 3 and "completed" in again.err, again

    twice = sample.run("state", "copy", str(sample.db), postgres_db_url)
    assert twice.code == 3, twice
    assert "is not empty" in twice.err and "Traceback" not in twice.err
    assert statuses(sample, "--state", postgres_db_url) == before


def test_password_in_the_url_is_shown_nowhere(
    sample_root: Path, tmp_path: Path, postgres_server: Any, postgres_db_url: str
) -> None:
    password = getattr(postgres_server, "password", None) or os.environ.get("PGPASSWORD")
    env: dict[str, str] = {}
    if password is None:  # an external server that needs none: any password is accepted
        password = "Made-up-Pw-31"
    else:
        env = {"PGPASSFILE": os.devnull, "PGPASSWORD": ""}  # the URL's password, or nothing
    url = with_password(postgres_db_url, password)
    sample = Project(root=sample_root, work=tmp_path)
    outputs, codes = [], []
    for args in (
        ("execute", SAMPLE_TRAIN),
        ("status", "--json"),
        ("status", SAMPLE_TRAIN),
        ("monitor", SAMPLE_TRAIN),
        ("audit",),
        ("audit", "--verify"),
        ("report", "--train", SAMPLE_TRAIN),
        ("unlock", SAMPLE_TRAIN, "no-such-lock"),  # an error message
        ("state", "migrate"),
        ("state", "copy", url, str(tmp_path / "copy.db")),
        ("state", "copy", str(tmp_path / "copy.db"), url),  # refused: not empty
        ("-v", "execute", SAMPLE_TRAIN),  # refused, verbose
    ):
        result = sample.run(*args, "--state", url, env=env)
        assert result.code in (0, 1, 2, 3), (args, result)
        outputs.append(result.out + result.err)
        codes.append(result.code)
    # the URL's password is the one used (the passfile is out of reach), and it works
    assert codes[:7] == [0] * 7, list(zip(codes, outputs, strict=False))
    assert codes[-3:] == [0, 3, 3]
    assert "completed" in outputs[1]
    assert "***" in outputs[-2]  # the store is named, its password hidden
    for text in outputs:
        assert password not in text
    for path in sample_root.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    assert password.encode() not in (tmp_path / "copy.db").read_bytes()
    import psycopg

    with psycopg.connect(postgres_db_url) as conn:
        tables = [
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        assert "runs" in tables
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):
                assert password not in repr(row), table
