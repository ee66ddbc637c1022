"""The HTML report in a real headless Chromium (fixture `page`), loaded from its file.

- `<script>` and quote injection through every text field never executes: no dialog, no
  injected element or event-handler attribute, the hostile text shown as text. Fields the
  schema keeps plain (train and service names, gate, dependency and approval texts) are exercised
  through a report built from its data classes; the free-text ones (description, error
  texts, reasons, event messages, actors, audit details) through a store and the real
  `report` command.
- At 1400 px nothing overflows: the page does not scroll sideways, a long error text wraps
  inside its cell (and not one word per line), timestamps stay on one line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from release_trains.catalog import load_catalog
from release_trains.lifecycle import RunStatus
from release_trains.monitoring import DependencyItem, GateItem, Phase, ServiceProgress, Snapshot
from release_trains.reports import (
    AuditEntry,
    Coverage,
    Incident,
    RunSummary,
    TrainReport,
    Window,
    html,
    train_report,
)
from release_trains.state import AuditEntry as StoreAuditEntry
from release_trains.state import Event, Step, open_store

TRAIN = "Q4-curve-upgrade"
SERVICES = ["curve-service", "backtesting-service", "scenario-service"]
T0 = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)
RunCli = Callable[..., Any]

# Each would run script if it reached the page as markup: a script element, an element with
# an event handler (quotes closing an attribute first), and breakouts from title, style, svg.
PAYLOADS = (
    "<script>alert('script')</script>",
    '"><img src=x onerror=alert("img")>',
    "'><svg onload=alert('svg')>",
    "</title><script>alert('title')</script>",
    "</style><script>alert('style')</script>",
    "</text></svg><iframe srcdoc=\"<script>alert('frame')</script>\"></iframe>",
)
HOSTILE = " ".join(PAYLOADS)

COUNT_INJECTED = """() => ({
  scripts: document.querySelectorAll('script').length,
  imgs: document.querySelectorAll('img').length,
  iframes: document.querySelectorAll('iframe').length,
  svgs: document.querySelectorAll('svg').length,
  handlers: [...document.querySelectorAll('*')].filter(
    el => [...el.attributes].some(a => a.name.startsWith('on'))).length,
})"""


def iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds")


def open_report(page: Any, path: Path, *, width: int = 1400) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(path.as_uri())
    page.wait_for_load_state("load")


def assert_inert(page: Any, *, svgs: int) -> None:
    found = page.evaluate(COUNT_INJECTED)
    assert found == {"scripts": 0, "imgs": 0, "iframes": 0, "svgs": svgs, "handlers": 0}, found
    assert page.dialogs == [], page.dialogs
    assert page.console_errors == [], page.console_errors
    assert {h for h in page.requested_hosts if h} == set(), page.requested_hosts


def hostile_report() -> TrainReport:
    """Every text of a train report hostile, names included (the catalog schema would refuse
    such names; the renderer must not rely on that)."""
    ts, end = iso(T0), iso(T0 + timedelta(seconds=5))
    service = ServiceProgress(
        service=f"svc {PAYLOADS[1]}", status="failed", from_version=HOSTILE, to_version=HOSTILE,
        health="unhealthy", health_detail=HOSTILE, attempts=2, started_at=ts, finished_at=end,
        duration_s=5.0, error=HOSTILE, rollback_started_at=end, rollback_finished_at=None,
    )  # fmt: skip
    odd = replace(service, service=PAYLOADS[0], status=PAYLOADS[2], health=PAYLOADS[3])
    snap = Snapshot(
        train=f"train {PAYLOADS[3]}",
        description=HOSTILE,
        status="failed",
        run_id=7,
        services=(service, odd),
        gates=(GateItem(HOSTILE, True, "fail", HOSTILE, (HOSTILE,), HOSTILE),),
        dependencies=(DependencyItem(HOSTILE, HOSTILE, HOSTILE, PAYLOADS[1], (HOSTILE,), HOSTILE),),
        phase=Phase(HOSTILE, ts, None, 5.0, 4.0),
        events=(Event(1, 7, ts, HOSTILE, HOSTILE, HOSTILE),),
        reason=HOSTILE,
        actor=HOSTILE,
        started_at=ts,
        finished_at=end,
        taken_at=end,
        approvals=(
            {
                "gate": HOSTILE,
                "when": HOSTILE,
                "min_approvals": 1,
                "approvers": [HOSTILE],
                "approved": 0,
                "outcome": PAYLOADS[1],
                "votes": [
                    {"actor": HOSTILE, "decision": PAYLOADS[2], "comment": HOSTILE, "ts": ts}
                ],
            },
        ),
    )
    return TrainReport(
        snapshot=snap,
        runs=(RunSummary(7, PAYLOADS[4], ts, end, 5.0, HOSTILE, 0, 2, HOSTILE),),
        incidents=(Incident(7, ts, PAYLOADS[5], HOSTILE, HOSTILE),),
        audit=(AuditEntry(ts, HOSTILE, HOSTILE, HOSTILE, HOSTILE),),
        window=Window(HOSTILE, T0 - timedelta(days=1)),
        now=T0 + timedelta(minutes=1),
        coverage=Coverage(10, 1, HOSTILE, True, True),
    )


def test_injection_through_every_field_of_the_report_never_executes(
    page: Any, tmp_path: Path
) -> None:
    path = tmp_path / "hostile.html"
    path.write_text(html(hostile_report()), encoding="utf-8")
    open_report(page, path)
    assert_inert(page, svgs=2)  # the report's own two timelines, nothing injected
    shown = page.inner_text("body")
    for payload in PAYLOADS:
        assert payload in shown, payload  # shown as text
    assert page.title().startswith("Release report: train train </title>")


def seed_hostile_run(root: Path) -> None:
    """A failed run with hostile free text wherever people and pipelines type it, and an error
    text long enough to need wrapping."""
    path = root / "catalog" / "release-trains.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    next(t for t in doc["trains"] if t["name"] == TRAIN)["description"] = HOSTILE
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    long_error = (
        "deploy failed: the command exited 1 after printing "
        + " ".join(["connection-refused-by-upstream-gateway"] * 12)
        + " "
        + "x" * 300
        + f" {HOSTILE}"
    )
    store = open_store(None, root, create=True)
    assert store is not None
    try:
        run = store.create_run(
            train=TRAIN, status="planning", actor=f"ops {PAYLOADS[1]}", plan="{}",
            max_parallel=1, now=iso(T0),
        )  # fmt: skip
        store.add_steps(
            [Step(run.id, s, i, "pending", "1.0.0", "2.0.0") for i, s in enumerate(SERVICES)]
        )
        for i, s in enumerate(SERVICES):
            store.update_step(
                run.id, s, status="released" if i else "failed", attempts=1,
                started_at=iso(T0 + timedelta(seconds=10 * i)),
                finished_at=iso(T0 + timedelta(seconds=10 * i + 7)),
                error=None if i else long_error, health_detail=HOSTILE,
            )  # fmt: skip
        for was, new in (
            ("planning", "validating"),
            ("validating", "staging"),
            ("staging", "executing"),
            ("executing", "failed"),
        ):
            store.transition(
                run.id, expected=RunStatus(was), new=RunStatus(new),
                now=iso(T0 + timedelta(seconds=40)), reason=f"reason {HOSTILE}",
            )  # fmt: skip
        store.add_event(
            run.id, ts=iso(T0 + timedelta(seconds=7)), kind="deploy-failed",
            service=SERVICES[0], message=f"event {HOSTILE}",
        )  # fmt: skip
        store.append_audit(
            StoreAuditEntry(
                iso(T0 + timedelta(seconds=8)), f"token:{PAYLOADS[2]}", "pause", TRAIN, None,
                {"reason": HOSTILE},
            ),
            origin=None,
        )  # fmt: skip
    finally:
        store.close()


def test_a_real_report_with_hostile_text_is_inert_and_fits_1400_px(
    page: Any, sample_root: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    seed_hostile_run(sample_root)
    out = tmp_path / "report.html"
    result = run_cli(
        "--root", sample_root, "report", "--train", TRAIN, "--format", "html", "--output", out
    )
    assert result.code == 1 and out.is_file(), result  # written; the train failed
    open_report(page, out)
    assert_inert(page, svgs=2)
    shown = page.inner_text("body")
    for text in (f"reason {HOSTILE}", f"event {HOSTILE}", f"ops {PAYLOADS[1]}", PAYLOADS[2]):
        assert text in shown

    layout = page.evaluate(
        """() => {
      const cells = [...document.querySelectorAll('td')];
      const error = cells.find(td => td.textContent.startsWith('deploy failed: the command'));
      const start = document.createRange();  // the error's first eight words
      start.setStart(error.firstChild, 0);
      start.setEnd(error.firstChild, 'deploy failed: the command exited 1 after printing'.length);
      return {
        pageWidth: document.documentElement.scrollWidth,
        viewport: window.innerWidth,
        overflowing: cells.filter(td => td.scrollWidth > td.clientWidth + 1).length,
        tables: [...document.querySelectorAll('table')].map(t => t.getBoundingClientRect().right),
        errorWidth: error.getBoundingClientRect().width,
        firstWordsLines: new Set([...start.getClientRects()].map(r => Math.round(r.top))).size,
        scrolling: [...document.querySelectorAll('.scroll')].filter(
          d => d.scrollWidth > d.clientWidth + 1).length,
        // the date and the time of a timestamp: each on one line (never `2026-12-` / `02`)
        stamps: [...document.querySelectorAll('td.ts time span')].map(
          s => s.getClientRects().length),
        inText: [...document.querySelectorAll('td.wide .nb')].map(s => s.getClientRects().length),
      };
    }"""
    )
    assert layout["pageWidth"] <= layout["viewport"], layout  # no sideways scroll at 1400 px
    assert layout["overflowing"] == 0, layout  # long text stays inside its cell
    assert max(layout["tables"]) <= layout["viewport"], layout
    assert layout["errorWidth"] >= 250, layout  # a real column, not one word per line
    assert layout["firstWordsLines"] <= 2, layout
    assert layout["scrolling"] == 0, layout  # at 1400 px no table needs its scroll box
    assert layout["stamps"] and set(layout["stamps"]) == {1}, layout  # never broken inside
    assert layout["inText"] and set(layout["inText"]) == {1}, layout  # nor inside free text
    page.screenshot(path=str(tmp_path / "report-1400.png"), full_page=True)


@pytest.mark.parametrize("width", [390])
def test_the_report_stays_readable_on_a_phone_width_screen(
    page: Any, sample_root: Path, width: int, tmp_path: Path
) -> None:
    seed_hostile_run(sample_root)
    store = open_store(None, sample_root, create=False)
    try:
        now = T0 + timedelta(minutes=5)
        text = html(
            train_report(
                load_catalog(sample_root), store, TRAIN, now=now, window=Window.of(None, now=now)
            )
        )
    finally:
        if store:
            store.close()
    path = tmp_path / "phone.html"
    path.write_text(text, encoding="utf-8")
    open_report(page, path, width=width)
    assert_inert(page, svgs=2)
    # wide tables scroll inside their own box; the page itself never scrolls sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= width
