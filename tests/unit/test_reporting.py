"""Reports: golden markdown and JSON with time pinned by an injected clock, a strictly valid
self-contained HTML report with an SVG timeline, escaping of hostile free text, --since
windows, and a service's failure and rollback rates. States come from the real executor."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import html5lib
import pytest
import yaml
from helpers import write_script

from release_trains.catalog import load_catalog
from release_trains.errors import InputError, ResolutionError, UnknownTrainError
from release_trains.executor import Executor, RunOutcome, Settings
from release_trains.gates import Health
from release_trains.models import Service
from release_trains.reports import (
    ServiceReport,
    TrainReport,
    Window,
    default_output,
    html,
    json_text,
    markdown,
    parse_since,
    render,
    service_report,
    train_report,
)
from release_trains.rollback import rollback_train
from release_trains.state import open_store

TRAIN = "Q4-curve-upgrade"
SERVICES = ["curve-service", "backtesting-service", "scenario-service"]
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)
WHO = "tester@ci"
GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
HOSTILE = "<script>alert(1)</script>"
SVG = "{http://www.w3.org/2000/svg}"
XHTML = "{http://www.w3.org/1999/xhtml}"


class Clock:
    """Each call is one second after the one before."""

    def __init__(self) -> None:
        self.now = T0
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.now += timedelta(seconds=1)
            return self.now


def edit_yaml(path: Path, change: Callable[[Any], None]) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def edit_train(root: Path, **changes: Any) -> None:
    def change(doc: Any) -> None:
        next(t for t in doc["trains"] if t["name"] == TRAIN).update(changes)

    edit_yaml(root / "catalog" / "release-trains.yaml", change)


def execute(root: Path, clock: Clock, *, echo: Callable[[str], None] | None = None) -> RunOutcome:
    store = open_store(None, root, create=True)
    assert store is not None
    try:
        settings = Settings(clock=clock, who=WHO, echo=echo)
        return Executor(
            catalog=load_catalog(root), store=store, train=TRAIN, settings=settings
        ).execute()
    finally:
        store.close()


def roll_back(root: Path, clock: Clock, reason: str) -> None:
    store = open_store(None, root, create=True)
    assert store is not None
    try:
        _, result = rollback_train(
            load_catalog(root), store, TRAIN, settings=Settings(clock=clock, who=WHO), reason=reason
        )
    finally:
        store.close()
    assert result is not None and result.status == "rolled_back"


def healthy(service: Service) -> Health:
    return Health(service.name, True, f"GET http://{service.name}.local/health -> 200")


def reports(root: Path, *, since: str | None = None) -> tuple[TrainReport, ServiceReport]:
    catalog = load_catalog(root)
    store = open_store(None, root, create=False)
    try:
        window = Window.of(since, now=NOW)
        train = train_report(catalog, store, TRAIN, now=NOW, window=window)
        service = service_report(
            catalog, store, "curve", now=NOW, window=Window.of(None, now=NOW), probe=healthy
        )
    finally:
        if store:
            store.close()
    return train, service


@pytest.fixture
def released_then_rolled_back(sample_root: Path) -> Path:
    """Q4 released by the local deployer, then rolled back by hand; curve-service has a
    configured error-rate and latency signal (static and file)."""
    signals = sample_root / "config" / "signals"
    signals.mkdir(exist_ok=True)
    (signals / "latency.json").write_text(json.dumps({"p99": {"ms": 182.5}}), encoding="utf-8")
    edit_yaml(
        sample_root / "config" / "upgrade-policies.yaml",
        lambda d: d["release_trains"]["signals"].update(
            error_rate={"value": 0.4},
            latency_p99_ms={"file": "config/signals/latency.json", "path": "p99.ms"},
        ),
    )
    clock = Clock()
    assert execute(sample_root, clock).status == "completed"
    roll_back(sample_root, clock, "latency doubled after the release")
    return sample_root


def check_golden(name: str, text: str) -> None:
    """Compare with tests/data/golden/<name>; UPDATE_GOLDEN=1 rewrites it (review the diff)."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}: run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


# --- golden files -----------------------------------------------------------------------------


def test_train_report_markdown_and_json_match_their_golden_files(
    released_then_rolled_back: Path,
) -> None:
    train, _ = reports(released_then_rolled_back, since="7d")
    check_golden("train-report.md", markdown(train))
    check_golden("train-report.json", json_text(train))


def test_service_report_markdown_and_json_match_their_golden_files(
    released_then_rolled_back: Path,
) -> None:
    _, service = reports(released_then_rolled_back)
    check_golden("service-report.md", markdown(service))
    check_golden("service-report.json", json_text(service))


def test_the_golden_reports_say_what_the_issue_asks_for(released_then_rolled_back: Path) -> None:
    train, service = reports(released_then_rolled_back, since="7d")
    doc = train.to_json()
    assert {
        "train",
        "status",
        "progress",
        "services",
        "gates",
        "dependencies",
        "phase",
        "events",
        "reason",
    } <= set(doc)
    assert (doc["status"], doc["progress"]) == ("rolled_back", 0.0)
    assert [s["service"] for s in doc["services"]] == SERVICES
    durations = [s["duration_s"] for s in doc["services"]]  # deploy start to release, in ticks
    assert durations[0] > 0 and durations == [durations[0]] * 3
    assert doc["reason"].startswith("latency doubled after the release")
    assert {i["kind"] for i in doc["incidents"]} >= {"rollback-start", "rolled-back"}
    assert {a["action"] for a in doc["audit"]} >= {"deploy", "released", "rollback-start"}
    assert all(a["actor"] == WHO for a in doc["audit"])

    sdoc = service.to_json()
    assert sdoc["deployed"] == {"local": "1.8.0"}  # back on the previous version
    assert sdoc["health"] == {
        "status": "healthy",
        "detail": "GET http://curve-service.local/health -> 200",
    }
    assert [(m["name"], m["value"]) for m in sdoc["metrics"]] == [
        ("error_rate", 0.4),
        ("latency_p99_ms", 182.5),
    ]
    assert (sdoc["failure_rate"], sdoc["rollback_rate"]) == (0.0, 100.0)
    assert [r["run_id"] for r in sdoc["releases"]] == [1]


# --- html -------------------------------------------------------------------------------------


def test_the_html_report_is_strictly_valid_self_contained_and_has_a_bar_per_service(
    released_then_rolled_back: Path,
) -> None:
    train, service = reports(released_then_rolled_back)
    for report in (train, service):
        text = html(report)
        html5lib.HTMLParser(strict=True).parse(text)  # raises on any parse error
        assert not re.search(r"\b(src|href)\s*=|@import|url\(", text), (
            "the report must fetch nothing"
        )
    tree = html5lib.parse(html(train))
    svg = tree.find(f".//{SVG}svg")
    assert svg is not None
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    bars = [r for r in svg.iter(f"{SVG}rect") if "rollback" not in r.get("class", "")]
    assert [b.get("data-service") for b in bars] == SERVICES  # one deploy bar per service
    assert all(float(b.get("width", 0)) > 0 for b in bars)
    assert set(SERVICES) <= set(labels)
    # each bar runs from deploy start to release: the later service starts further right
    xs = [float(b.get("x", 0)) for b in bars]
    assert xs == sorted(xs) and xs[0] < xs[-1]


def test_a_train_that_never_ran_still_lists_every_service_in_the_timeline(
    sample_root: Path,
) -> None:
    catalog = load_catalog(sample_root)
    report = train_report(catalog, None, TRAIN, now=NOW, window=Window.of(None, now=NOW))
    tree = html5lib.HTMLParser(strict=True).parse(html(report))
    svg = tree.find(f".//{SVG}svg")
    assert svg is not None
    texts = [t.text or "" for t in svg.iter(f"{SVG}text")]
    assert set(SERVICES) <= set(texts) and "not started (pending)" in texts
    assert not list(svg.iter(f"{SVG}rect"))
    assert report.snapshot.status == "planning" and report.exit_code == 0


def test_hostile_text_is_escaped_in_html_and_markdown(sample_root: Path) -> None:
    edit_train(sample_root, description=f"desc {HOSTILE}")
    clock = Clock()
    store = open_store(None, sample_root, create=True)
    assert store is not None

    def pause_after_first(line: str) -> None:  # as `release-trains pause --reason ...` would
        run = store.latest_run(TRAIN)
        if " released: " in line and run and not store.pause_request(run.id):
            store.request_pause(run.id, f"{WHO}: {HOSTILE}")

    assert execute(sample_root, clock, echo=pause_after_first).status == "paused"
    store.close()
    roll_back(sample_root, clock, f"rollback {HOSTILE}")
    train, _ = reports(sample_root)
    assert HOSTILE in train.snapshot.description and HOSTILE in (train.snapshot.reason or "")

    text = html(train)
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    tree = html5lib.HTMLParser(strict=True).parse(text)
    assert not list(tree.iter(f"{XHTML}script"))
    shown = "".join(tree.itertext())
    assert f"desc {HOSTILE}" in shown and f"rollback {HOSTILE}" in shown  # text, not markup

    md = markdown(train)
    assert r"\<script>alert(1)\</script>" in md
    assert not re.search(r"(?<!\\)<", md), (
        "every < is backslash-escaped: markdown renderers show it as text"
    )
    assert json.loads(json_text(train))["description"] == f"desc {HOSTILE}"


CONTROLS = "wipe\x1b[2J bell\x07 back\x08 csi\x9b1m line\u2028sep | pipe"
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028]")


def test_control_characters_are_escaped_in_html_and_markdown(sample_root: Path) -> None:
    """A description and a rollback reason with escape sequences, a bell and a Unicode line
    separator: shown as their escapes in both formats (a report is also read with `cat`), a
    pipe never splits a markdown cell, and JSON keeps the exact text."""
    edit_train(sample_root, description=f"desc {CONTROLS}")
    clock = Clock()
    assert execute(sample_root, clock).status == "completed"
    roll_back(sample_root, clock, f"rollback {CONTROLS}")
    train, _ = reports(sample_root)
    for name, text in (("html", html(train)), ("markdown", markdown(train))):
        assert RAW_CONTROL.findall(text) == [], name
    shown = "".join(html5lib.HTMLParser(strict=True).parse(html(train)).itertext())
    assert "wipe\\x1b[2J bell\\x07 back\\x08 csi\\x9b1m line\\u2028sep | pipe" in shown
    md = markdown(train)
    assert "wipe\\\\x1b\\[2J" in md and "\\| pipe" in md
    assert json.loads(json_text(train))["description"] == f"desc {CONTROLS}"


# --- windows, rates, paths, bad input -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("12h", 43200),
        ("7d", 604800),
        ("2w", 1209600),
        ("1d12h", 129600),
        (" 7D ", 604800),
    ],
)
def test_since_accepts_counts_with_units(text: str, seconds: int) -> None:
    assert parse_since(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "7", "d", "7x", "-1d", "1.5h", "7d garbage", "0d"])
def test_since_rejects_anything_else_as_bad_input(text: str) -> None:
    with pytest.raises(InputError):
        parse_since(text)


def test_since_keeps_only_recent_history(released_then_rolled_back: Path) -> None:
    catalog = load_catalog(released_then_rolled_back)
    store = open_store(None, released_then_rolled_back, create=False)
    assert store is not None
    later = NOW + timedelta(days=10)
    try:
        recent = train_report(catalog, store, TRAIN, now=later, window=Window.of("7d", now=later))
        everything = train_report(
            catalog, store, TRAIN, now=later, window=Window.of(None, now=later)
        )
    finally:
        store.close()
    assert (recent.runs, recent.incidents, recent.audit) == ((), (), ())
    assert len(everything.runs) == 1 and everything.audit
    assert recent.snapshot.status == "rolled_back"  # the current state is shown whatever the window
    assert "no run in this period" in markdown(recent)


def test_a_service_that_failed_once_then_released_has_a_50_percent_failure_rate(
    sample_root: Path,
) -> None:
    edit_train(sample_root, rollback={"enabled": False})
    marker = sample_root / "fail-once"
    marker.write_text("", encoding="utf-8")
    script = write_script(
        sample_root / "bin" / "deploy",
        f'if [ "$1" = "scenario-service" ] && [ -e "{marker}" ]; then\n'
        f'  rm "{marker}"; exit 1\nfi\nexit 0\n',
    )
    edit_yaml(
        sample_root / "config" / "upgrade-policies.yaml",
        lambda d: d["release_trains"].update(
            deployer={"type": "command", "deploy": [str(script), "{service}", "{version}"]}
        ),
    )
    clock = Clock()
    assert execute(sample_root, clock).status == "failed"
    assert execute(sample_root, clock).status == "completed"  # the same run, carried on
    catalog = load_catalog(sample_root)
    store = open_store(None, sample_root, create=False)
    assert store is not None
    try:
        report = service_report(
            catalog,
            store,
            "scenario-service",
            now=NOW,
            window=Window.of(None, now=NOW),
            probe=healthy,
        )
    finally:
        store.close()
    assert (report.attempted, report.deploy_attempts, report.failures) == (1, 2, 1)
    assert (report.failure_rate, report.rollback_rate) == (50.0, 0.0)
    assert report.releases[0].status == "released" and "exit" in (report.releases[0].detail or "")


def test_a_service_never_released_has_unknown_rates_not_zero(sample_root: Path) -> None:
    catalog = load_catalog(sample_root)
    report = service_report(
        catalog, None, "gateway", now=NOW, window=Window.of(None, now=NOW), probe=healthy
    )
    assert (report.failure_rate, report.rollback_rate, report.deployed) == (None, None, ())
    text = markdown(report)
    assert "unknown (no release attempted)" in text
    assert "records no version in any environment" in text
    assert "no error_rate or latency signal is configured" in text


def test_an_unhealthy_service_report_needs_attention(sample_root: Path) -> None:
    def sick(service: Service) -> Health:
        return Health(service.name, False, "GET /health: status 503, expected 200")

    report = service_report(
        load_catalog(sample_root),
        None,
        "auth",
        now=NOW,
        window=Window.of(None, now=NOW),
        probe=sick,
    )
    assert (report.health, report.exit_code) == ("unhealthy", 1)


def test_unknown_train_or_service_is_bad_input(sample_root: Path) -> None:
    catalog = load_catalog(sample_root)
    window = Window.of(None, now=NOW)
    with pytest.raises(UnknownTrainError):
        train_report(catalog, None, "nope", now=NOW, window=window)
    with pytest.raises(ResolutionError):
        service_report(catalog, None, "nope", now=NOW, window=window, probe=healthy)


def test_default_paths_and_formats(sample_root: Path) -> None:
    train, service = reports(sample_root)
    assert default_output(sample_root, train, fmt="html") == (
        sample_root
        / "analysis"
        / "reports"
        / "release-trains"
        / TRAIN
        / "report-20260105T100000Z.html"
    )
    assert default_output(sample_root, service, fmt="markdown") == (
        sample_root
        / "analysis"
        / "reports"
        / "services"
        / "curve-service"
        / "report-20260105T100000Z.md"
    )
    assert render(train, "json") == json_text(train)
    with pytest.raises(InputError):
        render(train, "pdf")
    assert not (sample_root / "analysis").exists()  # reading never writes
