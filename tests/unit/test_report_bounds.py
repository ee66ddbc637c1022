"""Bounded train and service reports (--runs, --since; only the shown audit records, events
and runs are read), durations that are never negative, and the HTML report's structure
(badges, a time axis with ticks, the current run first, timestamps kept whole)."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from typing import Any

import html5lib
import pytest

from release_trains.audit import AuditLogError
from release_trains.catalog import load_catalog
from release_trains.durations import format_duration
from release_trains.errors import InputError
from release_trains.gates import Health
from release_trains.lifecycle import RunStatus
from release_trains.models import Service
from release_trains.monitoring import seconds_between
from release_trains.reports import (
    TrainReport,
    Window,
    html,
    markdown,
    service_report,
    train_data,
    train_report,
)
from release_trains.state import AuditEntry, Step, open_store

TRAIN = "Q4-curve-upgrade"
SERVICES = ["curve-service", "backtesting-service", "scenario-service"]
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
WHO = "seeder@ci"
RunCli = Callable[..., Any]  # conftest.run_cli: (*args) -> CliResult(code, out, err)
SVG = "{http://www.w3.org/2000/svg}"
XHTML = "{http://www.w3.org/1999/xhtml}"


def iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds")


def db_path(root: Path) -> Path:
    return root / "analysis" / "state" / "release-trains.db"


def seed_runs(root: Path, count: int, *, every: timedelta = timedelta(hours=1)) -> list[int]:
    """`count` runs of TRAIN an `every` apart, each: its steps released, one deploy-failed
    event and two audit records naming the run (so a test can tell which run a row is of);
    the last run ends failed, the others completed."""
    store = open_store(None, root, create=True)
    assert store is not None
    ids = []
    try:
        for k in range(count):
            start = T0 + k * every
            run = store.create_run(
                train=TRAIN, status="planning", actor=WHO, plan="{}", max_parallel=1,
                now=iso(start),
            )  # fmt: skip
            store.add_steps(
                [Step(run.id, s, i, "released", "1.0.0", "2.0.0") for i, s in enumerate(SERVICES)]
            )
            for i, s in enumerate(SERVICES):
                store.update_step(
                    run.id,
                    s,
                    attempts=1,
                    started_at=iso(start + timedelta(seconds=10 * i + 1)),
                    finished_at=iso(start + timedelta(seconds=10 * i + 5)),
                )
            last = "failed" if k == count - 1 else "completed"
            path = ["planning", "validating", "staging", "executing", "verifying", last]
            if last == "failed":
                path = ["planning", "validating", "staging", "executing", "failed"]
            end = start + timedelta(minutes=1)
            for was, becomes in pairwise(path):
                store.transition(
                    run.id, expected=RunStatus(was), new=RunStatus(becomes), now=iso(end)
                )
            store.add_event(
                run.id,
                ts=iso(start + timedelta(seconds=30)),
                kind="deploy-failed",
                service=SERVICES[0],
                message=f"run {run.id}: deploy failed once",
            )
            for n in (1, 2):
                store.append_audit(
                    AuditEntry(
                        iso(start + timedelta(seconds=n)), WHO, "deploy", TRAIN, SERVICES[0],
                        f"run {run.id} record {n}",
                    ),
                    origin=None,
                )  # fmt: skip
            ids.append(run.id)
    finally:
        store.close()
    return ids


def report(root: Path, *, now: datetime, runs: int = 10, since: str | None = None) -> TrainReport:
    store = open_store(None, root, create=False)
    try:
        return train_report(
            load_catalog(root), store, TRAIN, now=now, window=Window.of(since, now=now), runs=runs
        )
    finally:
        if store:
            store.close()


def after(ids: list[int]) -> datetime:
    return T0 + len(ids) * timedelta(hours=1)


# --- bounds -----------------------------------------------------------------------------------


def test_runs_n_covers_the_latest_n_runs_newest_first(sample_root: Path) -> None:
    ids = seed_runs(sample_root, 12)
    r = report(sample_root, now=after(ids), runs=3)
    assert [x.run_id for x in r.runs] == ids[-1:-4:-1]  # newest first
    assert r.snapshot.run_id == ids[-1] and r.runs[0].run_id == r.snapshot.run_id
    assert r.coverage.runs_total == 12 and r.coverage.runs_asked == 3
    assert {i.run_id for i in r.incidents} == set(ids[-3:])
    # the current run's incidents come first
    assert r.incidents[0].run_id == ids[-1]
    runs_named = {int(m) for a in r.audit for m in re.findall(r"run (\d+) ", a.detail)}
    assert runs_named == set(ids[-3:]) and len(r.audit) == 6
    assert r.audit[0].ts > r.audit[-1].ts  # newest first
    assert r.coverage.audit_cut  # older records exist and were left unread
    text = markdown(r)
    assert "The 3 latest of 12 runs" in text and "release-trains audit --train" in text


def test_since_keeps_only_runs_that_started_inside_the_window(sample_root: Path) -> None:
    ids = seed_runs(sample_root, 6)
    now = after(ids)  # the last run started 1 h before now, the first 6 h before
    r = report(sample_root, now=now, runs=10, since="3h30m")
    assert [x.run_id for x in r.runs] == [ids[-1], ids[-2], ids[-3]]
    assert {i.run_id for i in r.incidents} == set(ids[-3:])
    assert all(datetime.fromisoformat(a.ts) >= now - timedelta(hours=3.5) for a in r.audit)
    assert len(r.audit) == 6


def test_every_run_covered_keeps_audit_records_from_before_the_first_run(
    sample_root: Path,
) -> None:
    store = open_store(None, sample_root, create=True)
    assert store is not None
    store.append_audit(
        AuditEntry(iso(T0 - timedelta(days=1)), "token:admin", "train-create", TRAIN, None, {}),
        origin=None,
    )
    store.close()
    ids = seed_runs(sample_root, 2)
    r = report(sample_root, now=after(ids), runs=10)
    assert r.audit[-1].action == "train-create" and not r.coverage.audit_cut


def test_a_bad_record_outside_what_is_shown_is_never_read(sample_root: Path) -> None:
    """The audit records and run plans of runs the report does not cover are not read: an old
    record whose detail is not JSON, and an old run whose plan is not JSON, change nothing.
    The same bad record inside the covered runs is reported as bad input: the check is real."""
    ids = seed_runs(sample_root, 8)
    con = sqlite3.connect(db_path(sample_root))
    with con:
        (oldest,) = con.execute("SELECT MIN(id) FROM audit_records").fetchone()
        con.execute("UPDATE audit_records SET detail = '{not json' WHERE id = ?", (oldest,))
        con.execute("UPDATE runs SET plan = '{not json' WHERE id = ?", (ids[0],))
    con.close()
    r = report(sample_root, now=after(ids), runs=3)
    assert len(r.audit) == 6 and r.coverage.audit_cut
    with pytest.raises(AuditLogError, match=f"audit record {oldest}: its detail is not JSON"):
        report(sample_root, now=after(ids), runs=8)


def test_the_audit_section_stops_at_its_cap_and_says_so(
    sample_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed_runs(sample_root, 4)
    monkeypatch.setattr(train_data, "AUDIT_SHOWN", 5)
    r = report(sample_root, now=after(ids), runs=4)
    assert len(r.audit) == 5 and r.coverage.audit_cut
    assert "more than 5" in markdown(r)


def test_the_store_reads_the_audit_tail_page_by_page_and_stops(sample_root: Path) -> None:
    ids = seed_runs(sample_root, 30)  # 60 records
    store = open_store(None, sample_root, create=False)
    assert store is not None
    seen: list[str] = []

    def keep(ts: str) -> bool:
        seen.append(ts)
        return ts >= iso(T0 + timedelta(hours=27))

    try:
        shown, more = store.audit_tail(TRAIN, keep=keep, limit=100, page=4)
    finally:
        store.close()
    assert len(shown) == 6 and more  # runs 28, 29, 30
    assert len(seen) == 7  # the six shown and the one that stopped it; nothing older
    assert ids


@pytest.mark.parametrize("runs", [0, -1, 100_000])
def test_runs_out_of_range_is_bad_input(sample_root: Path, runs: int) -> None:
    with pytest.raises(InputError, match="--runs"):
        report(sample_root, now=T0, runs=runs)


def test_report_cli_takes_runs_and_refuses_a_bad_count(sample_root: Path, run_cli: RunCli) -> None:
    ids = seed_runs(sample_root, 5)
    ok = run_cli(
        "--root", sample_root, "report", "--train", TRAIN, "--runs", "2", "--json", "--output", "-"
    )
    assert ok.code == 1, ok  # the latest run failed
    doc = json.loads(ok.out)
    assert [r["run_id"] for r in doc["runs"]] == [ids[-1], ids[-2]]
    assert doc["coverage"]["runs_total"] == 5
    bad = run_cli("--root", sample_root, "report", "--train", TRAIN, "--runs", "0")
    assert bad.code == 2 and "--runs" in bad.err and "Traceback" not in bad.err


def test_the_report_file_is_written_whole_in_every_format(
    sample_root: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    seed_runs(sample_root, 3)
    for fmt in ("markdown", "json", "html"):
        out = tmp_path / f"r.{fmt}"
        result = run_cli(
            "--root", sample_root, "report", "--train", TRAIN, "--format", fmt, "--output", out
        )
        assert result.code == 1 and out.is_file(), result
        text = out.read_text(encoding="utf-8")
        assert text.endswith("\n") and not list(tmp_path.glob(".*.tmp"))
        if fmt == "json":
            assert json.loads(result.out) == json.loads(text)  # printed and written alike
        if fmt == "html":
            html5lib.HTMLParser(strict=True).parse(text)


def test_service_report_covers_its_releases_in_the_latest_runs(sample_root: Path) -> None:
    ids = seed_runs(sample_root, 6)
    store = open_store(None, sample_root, create=False)

    def healthy(service: Service) -> Health:
        return Health(service.name, True, "ok")

    try:
        now = after(ids)
        s = service_report(
            load_catalog(sample_root), store, "curve", now=now, window=Window.of(None, now=now),
            runs=2, probe=healthy,
        )  # fmt: skip
    finally:
        if store:
            store.close()
    assert [r.run_id for r in s.releases] == [ids[-1], ids[-2]]
    assert [r.failures for r in s.releases] == [1, 1]  # each run's deploy-failed event
    assert s.failure_rate == 100.0  # 2 failures of 2 deploy attempts in the runs covered


# --- negative durations -----------------------------------------------------------------------


def test_a_new_attempt_clears_the_old_finish_time_in_the_step_writer(sample_root: Path) -> None:
    ids = seed_runs(sample_root, 1)
    store = open_store(None, sample_root, create=False)
    assert store is not None
    try:
        retry = iso(T0 + timedelta(minutes=5))
        store.update_step(ids[0], SERVICES[0], status="deploying", started_at=retry)
        store.update_step(
            ids[0], SERVICES[1], status="rolling_back", rollback_finished_at=retry
        )  # a finished rollback...
        store.update_step(ids[0], SERVICES[1], rollback_started_at=iso(T0 + timedelta(hours=1)))
        steps = {s.service: s for s in store.steps(ids[0])}
    finally:
        store.close()
    assert (steps[SERVICES[0]].started_at, steps[SERVICES[0]].finished_at) == (retry, None)
    assert steps[SERVICES[1]].rollback_finished_at is None  # ...cleared by the new attempt
    assert steps[SERVICES[2]].finished_at is not None  # other steps keep theirs


def test_a_finish_before_its_start_is_an_unknown_duration_everywhere(sample_root: Path) -> None:
    assert seconds_between("2026-01-01T10:00:05+00:00", "2026-01-01T10:00:02+00:00") is None
    assert format_duration(-3.0) == "-"
    ids = seed_runs(sample_root, 1)
    con = sqlite3.connect(db_path(sample_root))
    with con:  # a finish from a skewed clock, 3 s before the start
        con.execute(
            "UPDATE steps SET finished_at = ? WHERE run_id = ? AND service = ?",
            (iso(T0 - timedelta(seconds=2)), ids[0], SERVICES[0]),
        )
        con.execute(
            "UPDATE runs SET finished_at = ? WHERE id = ?", (iso(T0 - timedelta(hours=1)), ids[0])
        )
    con.close()
    r = report(sample_root, now=after(ids))
    doc = r.to_json()
    assert doc["services"][0]["duration_s"] is None and doc["runs"][0]["duration_s"] is None
    text = markdown(r)
    assert not re.search(r"\| -\d", text), "no negative length in any cell"
    tree = html5lib.parse(html(r))
    svg = tree.find(f".//{SVG}svg")
    assert svg is not None
    widths = [float(b.get("width", 0)) for b in svg.iter(f"{SVG}rect")]
    assert widths and all(w > 0 for w in widths)


# --- html structure ---------------------------------------------------------------------------


def test_the_html_report_has_badges_a_real_axis_and_the_current_run_first(
    sample_root: Path,
) -> None:
    ids = seed_runs(sample_root, 4)
    text = html(report(sample_root, now=after(ids), runs=4))
    tree = html5lib.HTMLParser(strict=True).parse(text)
    badges = [
        (el.get("class"), el.text)
        for el in tree.iter(f"{XHTML}span")
        if "badge" in (el.get("class") or "")
    ]
    assert ("badge tone-bad", "failed") in badges  # the train, and a word beside the colour
    assert ("badge tone-good", "released") in badges
    assert all(word for _, word in badges)  # never a colour alone
    svgs = tree.findall(f".//{SVG}svg")
    assert len(svgs) == 2  # the run's services, and the runs covered
    ticks = [el for el in svgs[0].iter(f"{SVG}line") if el.get("class") == "tick"]
    labels = [el.text for el in svgs[0].iter(f"{SVG}text") if el.get("class") == "tick-label"]
    assert len(ticks) >= 3 and len(labels) == len(ticks)
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d", x or "") for x in labels)
    xs = [float(t.get("x1", 0)) for t in ticks]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    history = [r.get("data-run") for r in svgs[1].iter(f"{SVG}rect")]
    assert history == [f"run {i}" for i in ids]  # every covered run drawn, oldest at the top
    # "Failures and rollbacks": the current run's row first
    section = text.split("<h2>Failures and rollbacks</h2>", 1)[1].split("<h2>", 1)[0]
    first_row = re.search(r"<tbody>\s*<tr><td>(\d+)</td>", section)
    assert first_row and int(first_row.group(1)) == ids[-1]
    # timestamps: one unbreakable cell, the stored time in full in the tooltip
    cells = [td for td in tree.iter(f"{XHTML}td") if td.get("class") == "ts"]
    assert cells and all(td.find(f"{XHTML}time") is not None for td in cells if td.text != "-")
    stamp = cells[0].find(f"{XHTML}time")
    assert stamp is not None
    parts = [p.text or "" for p in stamp.iter(f"{XHTML}span")]  # date and time, each unbroken
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", parts[0]) and re.fullmatch(r"\d\d:\d\d:\d\d", parts[1])
    assert "T" in (stamp.get("datetime") or "")
    assert not re.search(r"\b(src|href)\s*=|@import|url\(|<script", text)


def test_ticks_start_at_the_first_whole_step_inside_the_axis() -> None:
    from release_trains.reports.timeline import Axis

    t0 = datetime(2026, 12, 2, 13, 23, 47, 895000, tzinfo=timezone.utc)
    ticks = list(Axis(t0, 2.0).ticks())
    assert [label for _, label in ticks] == ["13:23:48", "13:23:49"]
    assert ticks[0][0] > Axis(t0, 2.0).x(t0)  # not clamped onto the axis start
    hours = [label for _, label in Axis(t0, 5 * 3600).ticks()]
    assert hours == ["14:00:00", "15:00:00", "16:00:00", "17:00:00", "18:00:00"]


def test_approval_votes_have_their_own_section_only_where_a_train_has_approval_gates(
    sample_root: Path,
) -> None:
    from dataclasses import replace

    ids = seed_runs(sample_root, 1)
    plain = report(sample_root, now=after(ids))
    assert "## Approvals" not in markdown(plain)
    vote = {"actor": "token:carol", "decision": "reject", "comment": "not tonight", "ts": iso(T0)}
    gates = (
        {"gate": "cab", "outcome": "rejected", "approved": 0, "min_approvals": 2, "votes": [vote]},
        {"gate": "qa", "outcome": "not_asked", "approved": 0, "min_approvals": 1, "votes": []},
    )
    voted = replace(plain, snapshot=replace(plain.snapshot, approvals=gates))
    text = markdown(voted)
    assert "| cab | rejected | 0/2 | " + iso(T0) + " | token:carol | reject | not tonight |" in text
    assert "| qa | not_asked | 0/1 | - | - | - | - |" in text
    page = html(voted)
    assert '<span class="badge tone-bad">rejected</span>' in page
    assert '<span class="badge tone-bad">reject</span>' in page


def test_the_report_shows_the_runs_notifications_and_its_time_paused_and_why(
    sample_root: Path,
) -> None:
    from dataclasses import replace

    ids = seed_runs(sample_root, 1)
    plain = report(sample_root, now=after(ids))
    assert "_none sent for this run_" in markdown(plain)
    sent = {
        "ts": iso(T0),
        "event": "rolled_back",
        "channel": "webhook",
        "outcome": "failed",
        "attempts": 4,
        "detail": "HTTP 500 from hooks.example.com",
    }
    paused = {
        "reason_kind": "approval",
        "reason": "awaiting approval: cab (0/2)",
        "from": iso(T0),
        "to": iso(T0 + timedelta(minutes=5)),
        "duration_s": 300.0,
    }
    line = dict(plain.snapshot.timeline or {}, paused=[paused], paused_s=300.0)
    shown = replace(plain, snapshot=replace(plain.snapshot, notifications=(sent,), timeline=line))
    text = markdown(shown)
    assert f"| {iso(T0)} | rolled_back | webhook | failed | 4 | HTTP 500 from hooks." in text
    assert "| paused (approval) | " in text and "| 5m00s | awaiting approval: cab (0/2) |" in text
    assert "5m00s paused" in text
