"""The audit trail: one hash chain in the state store, and this machine's audit.log checked
against it, so an edit or removal anywhere (the last line included) and a cut-off end are
detected and named; a tampered log is bad input (exit 2 naming file and line) for the commands
that read it, not a crash; `audit --train` of a train nobody knows is exit 2."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from release_trains import audit
from release_trains.errors import StateBusyError
from release_trains.state import Store, open_store

TRAIN = "Q4-curve-upgrade"
RunCli = Callable[..., Any]  # conftest.run_cli: (*args) -> CliResult(code, out, err)


def _store(root: Path) -> Store:
    store = open_store(None, root, create=True)
    assert store is not None
    return store


HOST = "machine-a"


def _append(
    root: Path, store: Any, n: int, *, train: str = TRAIN, start: int = 0, host: str = HOST
) -> None:
    for i in range(start, start + n):
        audit.append(
            audit.path_for(root),
            store=store,
            host=host,
            ts=f"2026-12-01T09:00:{i:02d}.000+00:00",
            actor="tester@ci",
            action="deploy",
            train=train,
            service=f"svc-{i}",
            detail=f"record {i}",
        )


def _verify(root: Path, store: Store, *, host: str = HOST) -> audit.Verification:
    return audit.verify(
        audit.path_for(root),
        chain=store.audit_chain(),
        origin=audit.origin_for(root, host=host),
        where=store.where,
    )


def _lines(root: Path) -> list[bytes]:
    return audit.path_for(root).read_bytes().splitlines(keepends=True)


def _write(root: Path, lines: list[bytes]) -> None:
    audit.path_for(root).write_bytes(b"".join(lines))


def _edit(line: bytes) -> bytes:
    record = json.loads(line)
    record["detail"] = "nothing to see here"
    return json.dumps(record, ensure_ascii=False).encode() + b"\n"


# --- the chain in the store ------------------------------------------------------------------


def test_each_append_extends_the_store_chain_and_an_untouched_log_verifies(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _append(tmp_path, store, 5)
    lines = _lines(tmp_path)
    chain = store.audit_chain()
    # the file's lines are the store's records, byte for byte, chained line to line
    assert [r.line() + b"\n" for r in chain] == lines
    assert chain[-1].hash == audit.digest(lines[-1].rstrip(b"\n"))
    assert [r.prev for r in chain] == ["", *(r.hash for r in chain[:-1])]
    result = _verify(tmp_path, store)
    assert result.ok and result.anchored and result.lines == 5 and result.records == 5, result


def test_an_edited_last_line_is_detected_and_named(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _append(tmp_path, store, 4)
    lines = _lines(tmp_path)
    _write(tmp_path, [*lines[:-1], _edit(lines[-1])])
    result = _verify(tmp_path, store)
    assert not result.ok and result.bad_line == 4, result
    assert "audit.log:4: edited" in result.message


def test_the_next_append_does_not_bless_an_edited_last_line(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _append(tmp_path, store, 4)
    lines = _lines(tmp_path)
    _write(tmp_path, [*lines[:-1], _edit(lines[-1])])
    _append(tmp_path, store, 1, start=4)  # the record is still written: audit is never lost
    assert len(_lines(tmp_path)) == 5
    result = _verify(tmp_path, store)
    # the edited line itself is named: it is not a record of the store's chain
    assert not result.ok and result.bad_line == 4, result
    assert "audit.log:4: edited" in result.message, result.message
    assert store.audit_chain()[-1].prev == store.audit_chain()[-2].hash  # not the edited line


@pytest.mark.parametrize("cut", [1, 3])
def test_lines_cut_off_the_end_are_detected(tmp_path: Path, cut: int) -> None:
    store = _store(tmp_path)
    _append(tmp_path, store, 6)
    _write(tmp_path, _lines(tmp_path)[:-cut])
    result = _verify(tmp_path, store)
    assert not result.ok and result.bad_line == 7 - cut, result
    cut_off = "line 6 was" if cut == 1 else f"lines {7 - cut} to 6 were"
    assert f"audit.log:{7 - cut}: {cut_off} cut off the end" in result.message, result


def test_an_emptied_or_deleted_log_is_detected(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _append(tmp_path, store, 2)
    audit.path_for(tmp_path).write_bytes(b"")
    assert _verify(tmp_path, store).bad_line == 1
    audit.path_for(tmp_path).unlink()
    result = _verify(tmp_path, store)
    assert not result.ok and "missing" in result.message, result


def test_a_line_added_by_hand_with_a_correct_prev_is_detected(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _append(tmp_path, store, 3)
    lines = _lines(tmp_path)
    forged = json.loads(lines[-1])
    forged.update(prev=audit.digest(lines[-1].rstrip(b"\n")), detail="approved by nobody")
    _write(tmp_path, [*lines, json.dumps(forged).encode() + b"\n"])
    result = _verify(tmp_path, store)
    assert not result.ok and result.bad_line == 4, result


def test_a_removed_middle_line_is_still_named_by_the_chain(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _append(tmp_path, store, 5)
    lines = _lines(tmp_path)
    _write(tmp_path, [*lines[:2], *lines[3:]])
    result = _verify(tmp_path, store)
    assert not result.ok and result.bad_line == 3, result


def test_a_log_without_store_records_is_adopted_by_the_next_append(tmp_path: Path) -> None:
    """A log written by an older release (or kept beside a new state store) verifies as a
    chain, says it is not in the store yet, and is in the store's chain from the next append
    on, prev and hash as found."""
    old_store = _store(tmp_path / "old")
    _append(tmp_path, old_store, 3)
    before = _lines(tmp_path)
    store = _store(tmp_path / "new")
    result = _verify(tmp_path, store)
    assert result.ok and not result.anchored and "not in the state store" in result.message
    _append(tmp_path, store, 1, start=3)
    chain = store.audit_chain()
    assert len(chain) == 4 and [r.line() + b"\n" for r in chain[:3]] == before
    assert _verify(tmp_path, store).ok
    _write(tmp_path, _lines(tmp_path)[:-1])
    assert _verify(tmp_path, store).bad_line == 4


def test_a_half_written_last_line_stays_its_own_broken_line(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _append(tmp_path, store, 2)
    with open(audit.path_for(tmp_path), "ab") as f:
        f.write(b'{"ts": "2026-')  # a process killed mid-write, by hand
    _append(tmp_path, store, 1, start=2)
    lines = _lines(tmp_path)
    assert len(lines) == 4 and lines[2] == b'{"ts": "2026-\n', lines
    result = _verify(tmp_path, store)
    assert not result.ok and result.bad_line == 3, result


class BusyStore:
    """The real store, except that appending to the chain fails as a locked database does."""

    def append_audit(self, entry: Any, *, origin: Any, adopt: Any = None) -> Any:
        raise StateBusyError("the state store stayed locked")


def test_an_append_the_store_refuses_writes_no_line(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _append(tmp_path, store, 2)
    before = audit.path_for(tmp_path).read_bytes()
    with pytest.raises(StateBusyError):
        audit.append(
            audit.path_for(tmp_path),
            store=BusyStore(),
            host=HOST,
            ts="2026-12-01T10:00:00+00:00",
            actor="a@h",
            action="deploy",
            train=TRAIN,
            service=None,
            detail="x",
        )
    assert audit.path_for(tmp_path).read_bytes() == before
    assert _verify(tmp_path, store).ok


def test_concurrent_appenders_keep_one_chain(tmp_path: Path) -> None:
    """Four writers with their own store connections and file handles (as four processes
    would have): every record is written once, the store's chain holds, and the file is it."""
    stores = [_store(tmp_path) for _ in range(4)]
    threads = [
        threading.Thread(target=_append, args=(tmp_path, s, 25), kwargs={"train": f"t{i}"})
        for i, s in enumerate(stores)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = _verify(tmp_path, stores[0])
    assert result.ok and result.anchored and result.lines == 100, result
    assert [r.line() + b"\n" for r in stores[0].audit_chain()] == _lines(tmp_path)


# --- through the CLI -----------------------------------------------------------------------


def _sample_log(sample_root: Path, run_cli: RunCli) -> Path:
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 0
    return audit.path_for(sample_root)


def test_audit_verify_names_an_edited_last_line_and_a_cut_end(
    sample_root: Path, run_cli: RunCli
) -> None:
    log = _sample_log(sample_root, run_cli)
    lines = log.read_bytes().splitlines(keepends=True)
    n = len(lines)
    log.write_bytes(b"".join([*lines[:-1], _edit(lines[-1])]))
    result = run_cli("--root", sample_root, "audit", "--verify")
    assert result.code == 1 and f"audit.log:{n}:" in result.err, result
    log.write_bytes(b"".join(lines[:-2]))
    doc = json.loads(run_cli("--root", sample_root, "audit", "--verify", "--json").out)
    assert doc["ok"] is False and doc["bad_line"] == n - 1 and doc["anchored"] is True, doc
    log.write_bytes(b"".join(lines))
    assert run_cli("--root", sample_root, "audit", "--verify").code == 0


TAMPERED = {
    "a \\xff byte": b'{"ts": "2026-12-01T09:00:00+00:00", "detail": "\xff"}',
    "a number as ts": json.dumps(
        {
            "ts": 123,
            "actor": "a",
            "action": "b",
            "train": TRAIN,
            "service": None,
            "detail": "x",
            "prev": "",
        }
    ).encode(),
    "JSON that is not an object": b'["ts", "actor"]',
    "a missing key": json.dumps(
        {
            "ts": "2026-12-01T09:00:00+00:00",
            "actor": "a",
            "action": "b",
            "train": TRAIN,
            "detail": "x",
            "prev": "",
        }
    ).encode(),
    "not JSON": b"{not json",
}


@pytest.mark.parametrize("what", sorted(TAMPERED))
def test_a_tampered_line_is_bad_input_naming_file_and_line(
    sample_root: Path, run_cli: RunCli, what: str
) -> None:
    """With the store, the records are read from its chain and the tampered line of this
    machine's copy is named by --verify; with the file alone (no store), every command that
    reads it is exit 2 naming file and line."""
    log = _sample_log(sample_root, run_cli)
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join([*lines[:2], TAMPERED[what] + b"\n", *lines[2:]]))

    listed = run_cli("--root", sample_root, "audit", "--json")
    assert listed.code == 0 and len(json.loads(listed.out)) == len(lines), listed
    verified = run_cli("--root", sample_root, "audit", "--verify", "--json")
    assert verified.code == 1 and json.loads(verified.out)["bad_line"] == 3, verified

    state = sample_root / "analysis" / "state"
    state.rename(sample_root / "state-moved-away")  # the file alone, as before any store
    result = run_cli("--root", sample_root, "audit")
    assert result.code == 2, result
    assert f"{log}:3: not an audit record" in result.err, result
    assert "Traceback" not in result.err
    as_json = run_cli("--root", sample_root, "audit", "--json")
    assert as_json.code == 2
    doc = json.loads(as_json.out)  # exactly one JSON document
    assert doc["exit_code"] == 2 and f"{log}:3:" in doc["error"], doc
    for fmt in ("markdown", "json", "html"):
        report = run_cli("--root", sample_root, "report", "--train", TRAIN, "--format", fmt,
                         "--output", "-")  # fmt: skip
        assert report.code == 2 and f"{log}:3:" in report.err, report
    verified = run_cli("--root", sample_root, "audit", "--verify", "--json")
    assert verified.code == 1 and json.loads(verified.out)["bad_line"] == 3, verified


def test_a_store_record_whose_detail_is_not_json_is_bad_input_naming_it(
    sample_root: Path, run_cli: RunCli
) -> None:
    _sample_log(sample_root, run_cli)
    db = sample_root / "analysis" / "state" / "release-trains.db"
    with sqlite3.connect(db) as con:
        con.execute("UPDATE audit_records SET detail = '{not json' WHERE id = 2")
    result = run_cli("--root", sample_root, "audit")
    assert result.code == 2 and f"{db}: audit record 2: its detail is not JSON" in result.err
    report = run_cli("--root", sample_root, "report", "--train", TRAIN, "--output", "-")
    assert report.code == 2 and "audit record 2" in report.err, report
    verified = run_cli("--root", sample_root, "audit", "--verify", "--json")
    doc = json.loads(verified.out)
    assert verified.code == 1 and doc["bad_record"] == 2 and doc["bad_line"] is None, doc
    assert "audit record 2: edited in the store" in doc["message"]


def test_audit_of_an_unknown_train_is_bad_input_with_a_hint(
    sample_root: Path, run_cli: RunCli
) -> None:
    run_cli("--root", sample_root, "execute", TRAIN)
    result = run_cli("--root", sample_root, "audit", "--train", "Q4-curve-upgrad")
    assert result.code == 2, result
    assert "'Q4-curve-upgrad'" in result.err and "did you mean Q4-curve-upgrade" in result.err
    # A catalog train that never ran is known: no records, exit 0.
    assert run_cli("--root", sample_root, "audit", "--train", "reporting-overhaul").code == 0
    # So is a train that is no longer in the catalog but has records.
    log = audit.path_for(sample_root)
    store = _store(sample_root)
    _append(sample_root, store, 1, train="retired-train")
    store.close()
    listed = run_cli("--root", sample_root, "audit", "--json", "--train", "retired-train")
    assert listed.code == 0 and len(json.loads(listed.out)) == 1, listed
    assert log.exists()


# --- a record the store committed and the file never got (a process killed in between) -------


def _committed_not_appended(root: Path, store: Store, i: int, *, host: str = HOST) -> None:
    """What audit.write leaves when its process is killed after the store's commit."""
    entry = audit.AuditEntry(
        f"2026-12-01T09:00:{i:02d}.000+00:00", "tester@ci", "status", TRAIN, None, f"record {i}"
    )
    store.append_audit(entry, origin=audit.origin_for(root, host=host))


def test_catch_up_appends_what_a_killed_process_committed_and_the_log_verifies(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path)
    _append(tmp_path, store, 3)
    _committed_not_appended(tmp_path, store, 3)
    # another machine's record after it, in its own file: not this file's to catch up
    _append(tmp_path / "machine-b", store, 1, start=4, host="machine-b")
    before = _verify(tmp_path, store)
    assert not before.ok and "cut off the end" in before.message, before
    assert audit.catch_up(audit.path_for(tmp_path), store, host=HOST) == 1
    lines = _lines(tmp_path)
    mine = [r for r in store.audit_chain() if r.origin == audit.origin_for(tmp_path, host=HOST)]
    assert lines == [r.line() + b"\n" for r in mine]  # the record's own bytes, in chain order
    assert _verify(tmp_path, store).ok
    assert audit.catch_up(audit.path_for(tmp_path), store, host=HOST) == 0  # nothing twice


def test_catch_up_finds_a_last_line_longer_than_its_first_read(tmp_path: Path) -> None:
    """The last line is read from the end in growing windows (64 KiB first)."""
    store = _store(tmp_path)
    _append(tmp_path, store, 2)
    audit.append(
        audit.path_for(tmp_path), store=store, host=HOST, ts="2026-12-01T09:01:00.000+00:00",
        actor="tester@ci", action="deploy", train=TRAIN, service="big", detail="x" * 200_000,
    )  # fmt: skip
    _committed_not_appended(tmp_path, store, 3)
    assert audit.catch_up(audit.path_for(tmp_path), store, host=HOST) == 1
    assert _verify(tmp_path, store).ok


def test_catch_up_leaves_an_edited_last_line_for_verify_to_name(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _append(tmp_path, store, 3)
    _committed_not_appended(tmp_path, store, 3)
    lines = _lines(tmp_path)
    _write(tmp_path, [*lines[:-1], _edit(lines[-1])])
    assert audit.catch_up(audit.path_for(tmp_path), store, host=HOST) == 0
    assert len(_lines(tmp_path)) == 3
    result = _verify(tmp_path, store)
    assert not result.ok and result.bad_line == 3, result


def test_a_command_that_writes_first_catches_up_this_machines_log(
    sample_root: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill -9 between the store's commit and the file's append (the last record of a run,
    say) shows in `audit --verify` until the next command that writes on this machine."""
    monkeypatch.setenv("RELEASE_TRAINS_HOST", HOST)
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 0
    store = _store(sample_root)
    _committed_not_appended(sample_root, store, 59)
    store.close()
    assert run_cli("--root", sample_root, "audit", "--verify").code == 1
    # a train that is completed: execute refuses (exit 3), having caught up the log first
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 3
    assert run_cli("--root", sample_root, "audit", "--verify").code == 0
