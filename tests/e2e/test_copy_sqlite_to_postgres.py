"""Moving a team to a shared store: a SQLite store copied to PostgreSQL with `state copy`
reports the same `status --json` as the original, and `audit --verify` passes on both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e_support import TARGET, TRAIN, Project, chain, make_project

# what `status --json` computes at the moment it is asked, not what the store holds
VOLATILE = frozenset({"generated_at"})


def _stable(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _stable(v) for k, v in doc.items() if k not in VOLATILE}
    if isinstance(doc, list):
        return [_stable(v) for v in doc]
    return doc


def test_sqlite_store_copied_to_postgresql_reports_the_same(
    tmp_path: Path, postgres_db_url: str
) -> None:
    sqlite = make_project(tmp_path, services=chain(["a", "b", "c"]))
    flag = sqlite.fail("b", TARGET)
    assert sqlite.run("execute", TRAIN).code == 1  # a first run that fails ...
    flag.unlink()
    assert sqlite.run("execute", TRAIN).code == 0  # ... and a second that completes
    pg = Project(
        root=sqlite.root, work=sqlite.work, services=sqlite.services, state=postgres_db_url
    )

    copied = sqlite.run("state", "copy", str(sqlite.db), postgres_db_url)
    assert copied.code == 0, copied
    assert "password" not in copied.out + copied.err

    for args in (("status", "--json"), ("status", TRAIN, "--json")):
        before, after = sqlite.run(*args), pg.run(*args)
        assert before.code == after.code == 0, f"{before}\n{after}"
        assert _stable(after.json()) == _stable(before.json()), args

    for project in (sqlite, pg):
        verified = project.run("audit", "--verify")
        assert verified.code == 0, verified
    assert pg.run_status() == ("completed", None)
    assert pg.query("SELECT id, status FROM runs ORDER BY id") == sqlite.query(
        "SELECT id, status FROM runs ORDER BY id"
    )

    again = sqlite.run("state", "copy", str(sqlite.db), postgres_db_url)
    assert again.code == 3, again  # into a store that is no longer empty
