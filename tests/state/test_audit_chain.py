"""The audit chain lives in the state store, one chain for every machine: two machines (two
processes with their own RELEASE_TRAINS_HOST and --root, hence their own audit.log) appending
to one store build one chain, `audit --verify` passes on each, and an edited or cut line of
either file, or a record edited in the store, is named; on SQLite and on PostgreSQL. A store
of release 0.1.0 migrated with its audit.log imports the log's records."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import OLD_STORE_SQL

from release_trains import audit
from release_trains.state import AuditRecord, open_store

pytestmark = pytest.mark.slow  # real processes: two appenders, an execute, a verify per machine

REPO = Path(__file__).resolve().parents[2]
TRAIN = "Q4-curve-upgrade"
PER_MACHINE = 25

# One "machine": appends PER_MACHINE records through the library, as the CLI and the journal do.
APPENDER = """
import sys
from pathlib import Path
from release_trains import audit
from release_trains.identity import actor, host
from release_trains.state import open_store

url, root, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
store = open_store(url, root, create=True)
for i in range(n):
    audit.append(audit.path_for(root), store=store, host=host(),
                 ts=f"2026-12-01T09:{i:02d}:00+00:00", actor=actor(), action="note", train="T",
                 service=None,
                 detail={"machine": host(), "i": i, "text": "ü \\u2028 100%"})
store.close()
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "shared.db")
    url: str = request.getfixturevalue("postgres_db_url")
    return url


def env_of(host: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(RELEASE_TRAINS_HOST=host, RELEASE_TRAINS_ACTOR=f"ops@{host}")
    return env


def cli(root: Path, url: str, host: str, *args: str) -> tuple[int, Any, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "release_trains", "--root", str(root), "--state", url, *args],
        capture_output=True,
        text=True,
        env=env_of(host),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    out: Any = proc.stdout
    if "--json" in args and proc.stdout.strip():
        out = json.loads(proc.stdout)
    return proc.returncode, out, proc.stderr


def verify(root: Path, url: str, host: str) -> tuple[int, dict[str, Any]]:
    code, doc, err = cli(root, url, host, "audit", "--verify", "--json")
    assert isinstance(doc, dict), err
    return code, doc


def chain_of(url: str, root: Path) -> list[AuditRecord]:
    store = open_store(url, root, create=False)
    assert store is not None
    try:
        return store.audit_chain()
    finally:
        store.close()


def execute_sql(url: str, root: Path, sql: str) -> None:
    """Tampering, as someone with write access to the database would (either backend)."""
    store = open_store(url, root, create=False)
    assert store is not None
    try:
        with store.db.tx() as tx:
            tx.execute(sql)
    finally:
        store.close()


@pytest.fixture
def two_machines(store_url: str, tmp_path: Path, sample_root: Path) -> Iterator[tuple[Path, Path]]:
    """Machine A (the sample project) and machine B (a copy of it elsewhere) append at the
    same time to one store; then A executes the sample train (the journal's records)."""
    root_a = sample_root
    root_b = tmp_path / "machine-b"
    shutil.copytree(sample_root, root_b)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, store_url, str(root), str(PER_MACHINE)],
            env=env_of(host),
            stdin=subprocess.DEVNULL,
        )
        for root, host in ((root_a, "host-a"), (root_b, "host-b"))
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    code, out, err = cli(root_a, store_url, "host-a", "execute", TRAIN)
    assert code == 0, (out, err)
    yield root_a, root_b


def test_two_machines_build_one_chain_and_each_verifies(
    two_machines: tuple[Path, Path], store_url: str
) -> None:
    root_a, root_b = two_machines
    chain = chain_of(store_url, root_a)
    assert [r.prev for r in chain] == ["", *(r.hash for r in chain[:-1])]  # one chain
    assert all(audit.digest(r.line()) == r.hash for r in chain)
    for root, host in ((root_a, "host-a"), (root_b, "host-b")):
        origin = audit.origin_for(root, host=host)
        # this machine's file is exactly its records of the one chain, in chain order
        mine = [r.line() + b"\n" for r in chain if r.origin == origin]
        assert audit.path_for(root).read_bytes().splitlines(keepends=True) == mine
        code, doc = verify(root, store_url, host)
        assert code == 0 and doc["ok"] and doc["anchored"], doc
        assert doc["records"] == len(chain) and doc["lines"] == len(mine), doc
    origins = {r.origin for r in chain}
    assert origins == {audit.origin_for(r, host=h) for r, h in ((root_a, "host-a"),
                                                                 (root_b, "host-b"))}  # fmt: skip
    assert len([r for r in chain if "host-b" in (r.origin or "")]) == PER_MACHINE
    # `audit` lists every machine's records from the store, on either machine
    code, listed, _ = cli(root_b, store_url, "host-b", "audit", "--json")
    assert code == 0 and len(listed) == len(chain), listed
    assert {r["action"] for r in listed} >= {"note", "deploy", "released"}


def _edit(line: bytes) -> bytes:
    record = json.loads(line)
    record["detail"] = "nothing to see here"
    return json.dumps(record, ensure_ascii=False).encode() + b"\n"


@pytest.mark.parametrize(("machine", "where"), [("a", "last"), ("b", "first"), ("b", "middle")])
def test_an_edited_line_in_either_file_is_named(
    two_machines: tuple[Path, Path], store_url: str, machine: str, where: str
) -> None:
    root_a, root_b = two_machines
    root, other = (root_a, root_b) if machine == "a" else (root_b, root_a)
    host, other_host = (f"host-{machine}", "host-b" if machine == "a" else "host-a")
    log = audit.path_for(root)
    lines = log.read_bytes().splitlines(keepends=True)
    n = {"first": 1, "middle": len(lines) // 2, "last": len(lines)}[where]
    lines[n - 1] = _edit(lines[n - 1])
    log.write_bytes(b"".join(lines))
    code, doc = verify(root, store_url, host)
    assert code == 1 and doc["bad_line"] == n, doc
    assert f"audit.log:{n}: edited" in doc["message"], doc
    assert verify(other, store_url, other_host)[0] == 0  # the other machine's copy is intact


@pytest.mark.parametrize("cut", [1, 2])
def test_lines_cut_off_the_end_of_a_file_are_named(
    two_machines: tuple[Path, Path], store_url: str, cut: int
) -> None:
    _, root_b = two_machines  # B wrote its records first, then A went on: B's end is mid-chain
    log = audit.path_for(root_b)
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-cut]))
    code, doc = verify(root_b, store_url, "host-b")
    first = len(lines) - cut + 1
    assert code == 1 and doc["bad_line"] == first, doc
    assert "cut off the end" in doc["message"] and f"audit.log:{first}:" in doc["message"], doc


def test_a_removed_middle_line_is_named(two_machines: tuple[Path, Path], store_url: str) -> None:
    root_a, _ = two_machines
    log = audit.path_for(root_a)
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join([*lines[:4], *lines[5:]]))
    code, doc = verify(root_a, store_url, "host-a")
    assert code == 1 and doc["bad_line"] == 5 and "was removed or moved" in doc["message"], doc


@pytest.mark.parametrize("row", ["first", "last"])
def test_a_record_tampered_in_the_store_is_named(
    two_machines: tuple[Path, Path], store_url: str, row: str
) -> None:
    root_a, root_b = two_machines
    chain = chain_of(store_url, root_a)
    target = chain[0] if row == "first" else chain[-1]
    execute_sql(
        store_url,
        root_a,
        f"UPDATE audit_records SET detail = '\"approved by nobody\"' WHERE id = {target.id}",
    )
    for root, host in ((root_a, "host-a"), (root_b, "host-b")):
        code, doc = verify(root, store_url, host)
        assert code == 1 and doc["bad_record"] == target.id, doc
        assert f"audit record {target.id}: edited in the store" in doc["message"], doc


def test_a_chain_rewritten_in_the_store_is_named_by_the_machine_that_wrote_it(
    two_machines: tuple[Path, Path], store_url: str
) -> None:
    """Someone with write access who edits the last record and recomputes its hash leaves a
    consistent chain; the machine that wrote the record still holds the original line."""
    root_a, root_b = two_machines
    last = chain_of(store_url, root_a)[-1]
    forged = AuditRecord(**{**last.__dict__, "detail": '"approved by nobody"'})
    execute_sql(
        store_url,
        root_a,
        f"UPDATE audit_records SET detail = '\"approved by nobody\"',"
        f" hash = '{audit.digest(forged.line())}' WHERE id = {last.id}",
    )
    code, doc = verify(root_a, store_url, "host-a")
    n = len(audit.path_for(root_a).read_bytes().splitlines())
    assert code == 1 and doc["bad_line"] == n, doc  # A's last line is no record of the chain
    assert verify(root_b, store_url, "host-b")[0] == 0  # B cannot tell: SECURITY.md says so


# --- old logs: state migrate imports this machine's audit.log ----------------------------------


def old_store(path: Path, *, locks: bool = True) -> Path:
    con = sqlite3.connect(path)
    con.executescript(OLD_STORE_SQL.read_text())
    if not locks:
        con.execute("DELETE FROM locks")
        con.commit()
    con.close()
    return path


def old_log(root: Path, tmp_path: Path, n: int) -> list[bytes]:
    """An audit.log as the releases before the store chain wrote it (the same line format,
    chained line to line), written with a throwaway store that is then gone."""
    scratch = tmp_path / "scratch.db"
    store = open_store(str(scratch), root, create=True)
    assert store is not None
    for i in range(n):
        audit.append(
            audit.path_for(root),
            store=store,
            host="old-host",
            ts=f"2026-11-01T09:{i:02d}:00+00:00",
            actor="ops@old-host",
            action="deploy",
            train="T",
            service=f"svc-{i}",
            detail=f"record {i}",
        )
    store.close()
    scratch.unlink()
    return audit.path_for(root).read_bytes().splitlines(keepends=True)


def test_migrating_a_0_1_0_store_imports_its_audit_log(sample_root: Path, tmp_path: Path) -> None:
    db = old_store(tmp_path / "old.db")
    lines = old_log(sample_root, tmp_path, 4)
    code, doc, err = cli(sample_root, str(db), "host-a", "state", "migrate", "--force", "--json")
    assert code == 0 and doc["changed"], (doc, err)
    chain = chain_of(str(db), sample_root)
    assert [r.line() + b"\n" for r in chain] == lines  # prev and hash as found
    code, verified = verify(sample_root, str(db), "host-a")
    assert code == 0 and verified["anchored"] and verified["records"] == 4, verified
    # the file is this machine's copy from now on: a cut end is named
    audit.path_for(sample_root).write_bytes(b"".join(lines[:-1]))
    assert verify(sample_root, str(db), "host-a")[1]["bad_line"] == 4


def test_migrating_with_a_broken_audit_log_is_refused_unless_forced(
    sample_root: Path, tmp_path: Path
) -> None:
    db = old_store(tmp_path / "old.db", locks=False)
    lines = old_log(sample_root, tmp_path, 5)
    audit.path_for(sample_root).write_bytes(b"".join([*lines[:2], *lines[3:]]))  # one removed
    before = db.read_bytes()
    code, doc, err = cli(sample_root, str(db), "host-a", "state", "migrate", "--json")
    assert code == 2 and f"{audit.path_for(sample_root)}:line 3: chain broken" in doc["error"]
    assert "--force" in doc["error"] and db.read_bytes() == before, doc
    code, doc, err = cli(sample_root, str(db), "host-a", "state", "migrate", "--force", "--json")
    assert code == 0, (doc, err)
    assert len(chain_of(str(db), sample_root)) == 2  # the records before the break
    code, verified = verify(sample_root, str(db), "host-a")
    assert code == 1 and verified["bad_line"] == 3, verified


def test_migrating_an_issue_10_anchored_log_checks_its_end(
    sample_root: Path, tmp_path: Path
) -> None:
    """A store of the releases before the store chain kept an anchor (last hash, count): a
    log cut after it was written is refused, as verify would have named it."""
    db = old_store(tmp_path / "old.db", locks=False)
    lines = old_log(sample_root, tmp_path, 3)
    con = sqlite3.connect(db)
    con.execute(
        "CREATE TABLE audit_anchor (id INTEGER PRIMARY KEY CHECK (id = 1), last_hash TEXT NOT"
        " NULL, count INTEGER NOT NULL, updated_at TEXT NOT NULL)"
    )
    con.execute(
        "INSERT INTO audit_anchor VALUES (1, ?, 3, 'x')", (audit.digest(lines[-1].rstrip()),)
    )
    con.commit()
    con.close()
    # before the migration, verify still reads the file against the old anchor
    code, verified = verify(sample_root, str(db), "host-a")
    assert code == 0 and verified["anchored"], verified
    audit.path_for(sample_root).write_bytes(b"".join(lines[:-1]))
    code, doc, _ = cli(sample_root, str(db), "host-a", "state", "migrate", "--json")
    assert code == 2 and "line 3: cut off the end" in doc["error"], doc
    audit.path_for(sample_root).write_bytes(b"".join(lines))
    code, doc, _ = cli(sample_root, str(db), "host-a", "state", "migrate", "--json")
    assert code == 0, doc
    con = sqlite3.connect(db)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    con.close()
    assert "audit_anchor" not in tables and "audit_records" in tables
    assert verify(sample_root, str(db), "host-a")[0] == 0
