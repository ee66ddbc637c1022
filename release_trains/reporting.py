"""Reports: a train's timeline, or a service's health and release history.

One data function per report (`train_report`, `service_report`) reads everything once; the
renderers (`markdown`, `json_text`, `html`) only format that data, so tests pin time by
passing `now`. Markdown and HTML are laid out from the same sections; the HTML is one
self-contained file (inline CSS, inline SVG, no fetches) and every value in it goes through
html.escape, because reasons and descriptions are free text that people type.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from . import audit
from .catalog import resolve
from .durations import format_duration as _duration  # the one format, shared with the CLI
from .errors import EXIT_NO, EXIT_OK, InputError
from .models import Catalog
from .monitoring import (
    IN_FLIGHT,
    HealthProbe,
    Snapshot,
    health_probe,
    parse_ts,
    percent,
    seconds_between,
    snapshot,
)
from .signals import SIGNAL_EVENT, Reading, read_signal, service_signal_specs
from .state import Store
from .text import printable

FORMATS = {"markdown": "md", "json": "json", "html": "html"}
# Kinds of run events that belong under "Failures and rollbacks" (see executor/rollback.py).
INCIDENT_KINDS = frozenset(
    {
        "deploy-failed",
        "health-failed",
        "skipped",
        "auto-rollback",
        "rollback-start",
        "rollback",
        "rolled-back",
        "rollback-failed",
        "rollback-manual",
        "trigger",
    }
)
FAILURE_KINDS = frozenset({"deploy-failed", "health-failed"})
_SINCE_PART = re.compile(r"(\d+)([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


# --- time windows ---------------------------------------------------------------------------


def parse_since(text: str) -> timedelta:
    """`30m`, `12h`, `7d`, `2w`, `1d12h` -> a duration; InputError (exit 2) otherwise."""
    compact = text.strip().lower().replace(" ", "")
    parts = _SINCE_PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise InputError(
            f"--since {text!r}: expected a count and a unit such as 30m, 12h, 7d or 2w "
            "(units: s, m, h, d, w)"
        )
    total = sum(int(n) * _UNIT_S[u] for n, u in parts)
    if total <= 0:
        raise InputError(f"--since {text!r}: the window must be longer than 0")
    return timedelta(seconds=total)


@dataclass(frozen=True)
class Window:
    since: str | None  # as given ("7d"); None: all history
    start: datetime | None

    @classmethod
    def of(cls, since: str | None, *, now: datetime) -> Window:
        return cls(since, now - parse_since(since) if since else None)

    def holds(self, ts: str | None) -> bool:
        """A record without a readable time is kept: it is not provably outside the window."""
        when = parse_ts(ts)
        return self.start is None or when is None or when >= self.start

    def describe(self) -> str:
        if self.start is None:
            return "all history"
        return f"last {self.since} (since {self.start.isoformat(timespec='seconds')})"

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "from": self.start.isoformat(timespec="seconds") if self.start else None,
        }


# --- train report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    status: str
    started_at: str
    finished_at: str | None
    duration_s: float | None
    actor: str
    released: int
    participants: int
    reason: str | None


@dataclass(frozen=True)
class Incident:
    run_id: int
    ts: str
    kind: str
    service: str | None
    message: str


@dataclass(frozen=True)
class AuditEntry:
    ts: str
    actor: str
    action: str
    service: str | None
    detail: str


@dataclass(frozen=True)
class TrainReport:
    snapshot: Snapshot
    runs: tuple[RunSummary, ...]
    incidents: tuple[Incident, ...]
    audit: tuple[AuditEntry, ...]
    window: Window
    now: datetime

    @property
    def exit_code(self) -> int:
        return self.snapshot.exit_code

    def to_json(self) -> dict[str, Any]:
        return {
            "report": "train",
            **self.snapshot.to_json(),
            "window": self.window.to_json(),
            "runs": [asdict(r) for r in self.runs],
            "incidents": [asdict(i) for i in self.incidents],
            "audit": [asdict(a) for a in self.audit],
        }


def train_report(
    catalog: Catalog, store: Store | None, train: str, *, now: datetime, window: Window
) -> TrainReport:
    """Everything a train report shows, read once (unknown train: UnknownTrainError, exit 2).
    The summary and timeline are the latest run; runs, incidents and audit are in `window`."""
    snap = snapshot(catalog, store, train, now=now)
    runs = [r for r in (store.runs(train) if store else []) if window.holds(r.started_at)]
    # Aggregates and filtered events come from SQL: a train with 100 runs of 1,000 services
    # has 100,000 steps and 200,000 events, which a report must not load one by one.
    counts = store.step_counts(train) if store else {}
    kept = {r.id for r in runs}
    summaries = [
        RunSummary(
            run.id,
            run.status,
            run.started_at,
            run.finished_at,
            seconds_between(run.started_at, run.finished_at),
            run.actor,
            *counts.get(run.id, (0, 0)),
            run.reason,
        )
        for run in runs
    ]
    events = store.train_events(train, [*INCIDENT_KINDS, "status"]) if store else []
    incidents = [
        Incident(e.run_id, e.ts, e.kind, e.service, e.message)
        for e in events
        if e.run_id in kept and (e.kind != "status" or _ends_badly(e.message))
    ]
    return TrainReport(
        snapshot=snap,
        runs=tuple(summaries),
        incidents=tuple(incidents),
        audit=tuple(_audit(catalog.root, store, train, window)),
        window=window,
        now=now,
    )


def _ends_badly(message: str) -> bool:
    # status events read "<from> -> <to>[: reason]"; only the moves into failed or rolled_back
    target = message.split(" -> ", 1)[-1]
    return target.startswith(("failed", "rolled_back"))


def audit_records(
    root: Path, store: Store | None, *, train: str | None, window: Window
) -> list[dict[str, Any]]:
    """The audit records for `train` (None: every train) inside `window`: the store's chain
    when it holds one (every machine's records), else this machine's audit.log. A record that
    is not an audit record is bad input (exit 2) naming the file and line, or the store and
    record."""
    if store is not None and store.has_audit_chain():
        found = audit.from_store(store.audit_chain(train=train), where=store.where)
    else:
        found = audit.read(audit.path_for(root))
    return [r for r in found if (train is None or r["train"] == train) and window.holds(r["ts"])]


def train_audit(
    root: Path, store: Store | None, *, train: str | None, window: Window
) -> list[dict[str, Any]]:
    """`audit --json [--train T]` and `GET /api/v1/audit?train=T`: the records, and for a
    train with none, a check that it exists (an empty answer would hide a typo: exit 2)."""
    records = audit_records(root, store, train=train, window=window)
    if train is not None and not records:
        check_known_train(root, store, train)
    return records


def check_known_train(root: Path, store: Store | None, train: str) -> None:
    """A train with no record at all is fine when the catalog defines it (it never ran);
    otherwise it is a typo, and an empty answer with exit 0 would hide it."""
    from .catalog import load_catalog
    from .errors import ReleaseTrainError, UnknownTrainError

    everything = audit_records(root, store, train=None, window=Window(None, None))
    known = {str(r["train"]) for r in everything}
    if train in known:
        return
    note = ""
    try:
        catalog_trains = set(load_catalog(root, services=False).trains)
    except ReleaseTrainError as e:
        catalog_trains = set()
        note = f" (the catalog could not be read: {str(e).splitlines()[0]})"
    if train in catalog_trains:
        return
    import difflib  # only for this message

    close = difflib.get_close_matches(train, sorted(known | catalog_trains), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UnknownTrainError(
        f"unknown train {train!r}: not in the catalog and no audit record names it{note}{hint}"
    )


def _audit(root: Path, store: Store | None, train: str, window: Window) -> list[AuditEntry]:
    return [
        AuditEntry(
            r["ts"],
            r["actor"],
            r["action"],
            r["service"],
            detail_text(r["detail"]),
        )
        for r in audit_records(root, store, train=train, window=window)
    ]


def detail_text(value: Any) -> str:
    if value is None:
        return ""
    return (
        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    )


# --- service report -------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    train: str
    run_id: int
    run_status: str
    status: str
    from_version: str | None
    to_version: str | None
    started_at: str | None
    finished_at: str | None
    duration_s: float | None
    attempts: int  # deploy attempts in this run (a retried or resumed step has several)
    health: str
    failures: int  # failed deploy attempts (deploy or health verification failed)
    rolled_back: bool
    detail: str | None

    @property
    def attempted(self) -> bool:
        return self.started_at is not None


@dataclass(frozen=True)
class Metric:
    name: str
    value: float | bool | None  # None: unknown, `error` says why
    source: str
    error: str | None


@dataclass(frozen=True)
class ServiceReport:
    service: str
    catalog_version: str | None
    quality_score: float | None
    critical_vulns: int | None
    environment: str  # the configured one
    deployed: tuple[tuple[str, str | None], ...]  # environment -> version recorded there
    health: str  # healthy | unhealthy | not verified
    health_detail: str
    metrics: tuple[Metric, ...]
    releases: tuple[Release, ...]
    window: Window
    now: datetime

    # Failure rate is per deploy attempt (a release retried after a failure counts both
    # tries); rollback rate is per release (a run that deployed the service).
    @property
    def attempted(self) -> int:
        return sum(r.attempted for r in self.releases)

    @property
    def deploy_attempts(self) -> int:
        return sum(max(r.attempts, r.failures) for r in self.releases if r.attempted)

    @property
    def failures(self) -> int:
        return sum(r.failures for r in self.releases if r.attempted)

    @property
    def rollbacks(self) -> int:
        return sum(r.rolled_back for r in self.releases if r.attempted)

    @property
    def failure_rate(self) -> float | None:
        return percent(self.failures, self.deploy_attempts) if self.deploy_attempts else None

    @property
    def rollback_rate(self) -> float | None:
        return percent(self.rollbacks, self.attempted) if self.attempted else None

    @property
    def exit_code(self) -> int:
        return EXIT_NO if self.health == "unhealthy" else EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "report": "service",
            "service": self.service,
            "catalog_version": self.catalog_version,
            "quality_score": self.quality_score,
            "critical_vulns": self.critical_vulns,
            "environment": self.environment,
            "deployed": dict(self.deployed),
            "health": {"status": self.health, "detail": self.health_detail},
            "metrics": [asdict(m) for m in self.metrics],
            "releases": [asdict(r) for r in self.releases],
            "attempted": self.attempted,
            "deploy_attempts": self.deploy_attempts,
            "failures": self.failures,
            "rollbacks": self.rollbacks,
            "failure_rate": self.failure_rate,
            "rollback_rate": self.rollback_rate,
            "window": self.window.to_json(),
            "generated_at": self.now.isoformat(timespec="milliseconds"),
        }


def metric_specs(catalog: Catalog, service: str) -> dict[str, Mapping[str, Any]]:
    """Configured signals that measure a service (signals.service_signal_specs)."""
    return service_signal_specs(
        catalog.config.signals, catalog.services[service].release.get("signals")
    )


def service_report(
    catalog: Catalog,
    store: Store | None,
    service: str,
    *,
    now: datetime,
    window: Window,
    probe: HealthProbe | None = None,
    read: Callable[[str, Mapping[str, Any]], Reading] | None = None,
) -> ServiceReport:
    """Everything a service report shows. Health and metrics are read now (each bounded by its
    own timeout); an unknown service raises ResolutionError (exit 2)."""
    name = resolve(catalog, service)
    definition = catalog.services[name]
    env = catalog.config.environment
    fields = {"service": name, "environment": env}

    def read_now(metric: str, spec: Mapping[str, Any]) -> Reading:
        return read_signal(metric, spec, root=catalog.root, fields=fields)

    reader = read or read_now
    metrics = []
    for metric, spec in sorted(metric_specs(catalog, name).items()):
        r = reader(metric, spec)
        metrics.append(Metric(metric, r.value, r.source, r.error))
    health = (probe or health_probe(catalog))(definition)
    verdict = health.verdict
    return ServiceReport(
        service=name,
        catalog_version=definition.version,
        quality_score=definition.quality_score,
        critical_vulns=definition.critical_vulns,
        environment=env,
        deployed=tuple(sorted((store.deployed_everywhere(name) if store else {}).items())),
        health=verdict,
        health_detail=health.detail,
        metrics=tuple(metrics),
        releases=tuple(_releases(store, name, window)) if store else (),
        window=window,
        now=now,
    )


def _releases(store: Store, service: str, window: Window) -> list[Release]:
    runs = {r.id: r for r in store.runs()}
    failures: dict[int, list[str]] = {}
    for e in store.service_events(service):
        if e.kind in FAILURE_KINDS:  # the step's own error is cleared by a later rollback
            failures.setdefault(e.run_id, []).append(e.message)
    out = []
    for s in store.service_steps(service):
        run = runs.get(s.run_id)
        if run is None or not window.holds(run.started_at):
            continue
        failed_events = failures.get(s.run_id, [])
        out.append(
            Release(
                train=run.train,
                run_id=run.id,
                run_status=run.status,
                status=s.status,
                from_version=s.from_version,
                to_version=s.to_version,
                started_at=s.started_at,
                finished_at=s.finished_at,
                duration_s=seconds_between(s.started_at, s.finished_at),
                attempts=s.attempts,
                health=s.health,
                failures=len(failed_events),
                rolled_back=s.rollback_started_at is not None,
                detail=s.error or (failed_events[-1] if failed_events else None),
            )
        )
    return out


# --- where reports go -----------------------------------------------------------------------


def default_output(root: Path, report: TrainReport | ServiceReport, *, fmt: str) -> Path:
    """analysis/reports/release-trains/<train>/ or analysis/reports/services/<service>/."""
    stamp = report.now.strftime("%Y%m%dT%H%M%SZ")
    if isinstance(report, TrainReport):
        folder = root / "analysis" / "reports" / "release-trains" / report.snapshot.train
    else:
        folder = root / "analysis" / "reports" / "services" / report.service
    return folder / f"report-{stamp}.{FORMATS[fmt]}"


def render(report: TrainReport | ServiceReport, fmt: str) -> str:
    if fmt not in FORMATS:
        raise InputError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return {"markdown": markdown, "json": json_text, "html": html}[fmt](report)


def json_text(report: TrainReport | ServiceReport) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"


# --- the layout both text renderers share ---------------------------------------------------


@dataclass(frozen=True)
class Section:
    title: str
    head: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    empty: str = ""  # said instead of an empty table
    timeline: bool = False  # the HTML renderer draws the SVG timeline here


def _t(value: object, missing: str = "-") -> str:
    return missing if value is None else str(value)


def _rate(value: float | None) -> str:
    return "unknown (no release attempted)" if value is None else f"{value:.1f} %"


def _title(report: TrainReport | ServiceReport) -> tuple[str, str]:
    kind, name = (
        ("train", report.snapshot.train)
        if isinstance(report, TrainReport)
        else ("service", report.service)
    )
    stamp = report.now.isoformat(timespec="seconds")
    return (
        f"Release report: {kind} {name}",
        f"Generated {stamp}; history: {report.window.describe()}.",
    )


def _train_sections(report: TrainReport) -> list[Section]:
    snap = report.snapshot
    phase = snap.phase
    run = (
        "never ran (status from the train's YAML)"
        if snap.run_id is None
        else (
            f"{snap.run_id}, started {snap.started_at} by {snap.actor}"
            + (f", finished {snap.finished_at}" if snap.finished_at else "")
        )
    )
    elapsed = _duration(phase.run_elapsed_s) + (
        " (over the estimate)" if phase.over_estimate else ""
    )
    summary = [
        ("Train", snap.train),
        ("Description", snap.description or "-"),
        ("Status", snap.status),
        (
            "Progress",
            f"{snap.progress:.1f} % ({snap.released}/{len(snap.services)} services released)",
        ),
        ("Run", run),
        (
            "Phase",
            f"{phase.name} since {_t(phase.started_at)}"
            + (f" ({_duration(phase.elapsed_s)})" if phase.elapsed_s is not None else ""),
        ),
        ("Duration", f"{elapsed}; estimate {_duration(phase.estimated_s)}"),
        ("Gates", f"{snap.gates_passed}/{len(snap.gates)} passed"),
        ("Dependencies", f"{snap.dependencies_satisfied}/{len(snap.dependencies)} satisfied"),
        ("Reason", _t(snap.reason)),
    ]
    timeline = tuple(
        (
            str(i),
            s.service,
            s.status,
            _t(s.from_version, "(first install)"),
            _t(s.to_version, "unknown"),
            _t(s.started_at),
            _t(s.finished_at),
            _duration(s.duration_s),
            str(s.attempts),
            s.health,
            _t(s.rollback_finished_at or s.rollback_started_at),
            _t(s.error),
        )
        for i, s in enumerate(snap.services, start=1)
    )
    return [
        Section("Summary", ("field", "value"), tuple(summary)),
        Section(
            "Timeline",
            (
                "#",
                "service",
                "status",
                "from",
                "to",
                "deploy started",
                "finished",
                "duration",
                "attempts",
                "health",
                "rolled back",
                "error",
            ),
            timeline,
            "no participants",
            timeline=True,
        ),
        Section(
            "Gates",
            ("gate", "required", "when", "outcome", "evidence"),
            tuple(
                (g.gate, "yes" if g.required else "no", g.when, g.outcome, g.detail)
                for g in snap.gates
            ),
            "no gates",
        ),
        Section(
            "Dependencies",
            ("dependency", "constraint", "outcome", "found", "detail"),
            tuple(
                (
                    f"{d.kind} {d.name}",
                    d.constraint or "any",
                    d.outcome,
                    ", ".join(d.found) or "-",
                    d.detail,
                )
                for d in snap.dependencies
            ),
            "no dependencies",
        ),
        Section(
            "Failures and rollbacks",
            ("run", "time", "event", "service", "what happened"),
            tuple(
                (str(i.run_id), i.ts, i.kind, _t(i.service), i.message) for i in report.incidents
            ),
            "none in this period",
        ),
        Section(
            "Runs",
            ("run", "status", "started", "finished", "duration", "by", "released", "reason"),
            tuple(
                (
                    str(r.run_id),
                    r.status,
                    r.started_at,
                    _t(r.finished_at),
                    _duration(r.duration_s),
                    r.actor,
                    f"{r.released}/{r.participants}",
                    _t(r.reason),
                )
                for r in report.runs
            ),
            "no run in this period",
        ),
        Section(
            "Who did what",
            ("time", "actor", "action", "service", "detail"),
            tuple((a.ts, a.actor, a.action, _t(a.service), a.detail) for a in report.audit),
            "no audit record in this period",
        ),
    ]


def _service_sections(report: ServiceReport) -> list[Section]:
    summary = [
        ("Service", report.service),
        ("Catalog version", _t(report.catalog_version, "unknown")),
        (
            "Quality score",
            _t(None if report.quality_score is None else f"{report.quality_score:g}", "unknown"),
        ),
        ("Open critical vulnerabilities", _t(report.critical_vulns, "unknown")),
        ("Health (checked now)", _verdict(report.health, report.health_detail)),
        ("Releases", f"{report.attempted} ({report.deploy_attempts} deploy attempts)"),
        (
            "Failure rate",
            _rate(report.failure_rate)
            + (
                f" ({report.failures} of {report.deploy_attempts} deploy attempts)"
                if report.attempted
                else ""
            ),
        ),
        (
            "Rollback rate",
            _rate(report.rollback_rate)
            + (f" ({report.rollbacks} of {report.attempted} releases)" if report.attempted else ""),
        ),
    ]
    versions = tuple(
        (env + (" (configured)" if env == report.environment else ""), _t(v, "undeployed"))
        for env, v in report.deployed
    )
    metrics = tuple(
        (m.name, "unknown" if m.value is None else _value(m.value), m.source, _t(m.error))
        for m in report.metrics
    )
    releases = tuple(
        (
            r.train,
            str(r.run_id),
            r.run_status,
            r.status,
            _t(r.from_version, "(first install)"),
            _t(r.to_version, "unknown"),
            _t(r.started_at),
            _t(r.finished_at),
            _duration(r.duration_s),
            str(r.attempts),
            r.health,
            str(r.failures),
            "yes" if r.rolled_back else "no",
            _t(r.detail),
        )
        for r in report.releases
    )
    return [
        Section("Summary", ("field", "value"), tuple(summary)),
        Section(
            "Deployed versions",
            ("environment", "version"),
            versions,
            "the state store records no version in any environment "
            f"(configured: {report.environment})",
        ),
        Section(
            "Metrics (read now)",
            ("signal", "value", "source", "error"),
            metrics,
            "no error_rate or latency signal is configured "
            "(config release_trains.signals or the service's release.signals)",
        ),
        Section(
            "Release history",
            (
                "train",
                "run",
                "run status",
                "status",
                "from",
                "to",
                "started",
                "finished",
                "duration",
                "attempts",
                "health",
                "failed attempts",
                "rolled back",
                "detail",
            ),
            releases,
            "no release of this service in this period",
        ),
    ]


def _verdict(verdict: str, detail: str) -> str:
    return detail if detail.startswith(verdict) else f"{verdict}: {detail}"


def _value(value: float | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else f"{value:g}"


def _sections(report: TrainReport | ServiceReport) -> list[Section]:
    return _train_sections(report) if isinstance(report, TrainReport) else _service_sections(report)


# --- markdown -------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*\[\]<|])")


def _md(text: str) -> str:
    """One table cell: markdown punctuation escaped, so text shows as text (and `<script>`
    stays text in renderers that pass HTML through); line breaks become spaces, and other
    control characters their escapes (a report is also read with `cat` in a terminal)."""
    return _MD_SPECIAL.sub(r"\\\1", printable(" ".join(text.split())))


def markdown(report: TrainReport | ServiceReport) -> str:
    title, subtitle = _title(report)
    lines = [f"# {_md(title)}", "", _md(subtitle), ""]
    for section in _sections(report):
        lines += [f"## {section.title}", ""]
        if not section.rows:
            lines += [f"_{section.empty}_", ""]
            continue
        lines.append("| " + " | ".join(section.head) + " |")
        lines.append("|" + "---|" * len(section.head))
        lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in section.rows]
        lines.append("")
    return "\n".join(lines)


# --- html -----------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.empty { color: #777; font-style: italic; }
svg text { font-size: 12px; font-family: system-ui, sans-serif; }
.bar { fill: #7a7a7a; }
.bar.released { fill: #2e9e44; }
.bar.failed { fill: #d2302c; }
.bar.deploying, .bar.verifying { fill: #2f6fd0; }
.legend { color: #555; font-size: 0.9em; }
.bar.rollback { fill: #e69a1c; }
.none { fill: #999; font-style: italic; }
"""

_LABEL_W, _CHART_W, _ROW_H, _TOP = 220, 600, 24, 24


def _e(value: object) -> str:
    """Escaped for HTML text and attributes; control characters, which HTML cannot hold
    (and a terminal showing the file would obey), as their escapes."""
    return html_lib.escape(printable(value), quote=True)


def html(report: TrainReport | ServiceReport) -> str:
    title, subtitle = _title(report)
    body = [f"<h1>{_e(title)}</h1>", f"<p>{_e(subtitle)}</p>"]
    for section in _sections(report):
        body.append(f"<h2>{_e(section.title)}</h2>")
        if section.timeline and isinstance(report, TrainReport):
            body.append(timeline_svg(report.snapshot, now=report.now))
            body.append(f'<p class="legend">{_e(_LEGEND)}</p>')
        if not section.rows:
            body.append(f'<p class="empty">{_e(section.empty)}</p>')
            continue
        body.append(_html_table(section.head, section.rows))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _html_table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = ["<table>"]
    if any(head):
        out.append("<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr></thead>")
    out.append("<tbody>")
    out += ["<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows]
    out.append("</tbody></table>")
    return "\n".join(out)


def timeline_svg(snap: Snapshot, *, now: datetime) -> str:
    """One row per service: a bar from deploy start to finish (to now while in flight), and a
    second bar for its rollback. The time axis spans the earliest start to the latest end."""
    spans: list[tuple[datetime | None, datetime | None, datetime | None, datetime | None]] = []
    for s in snap.services:
        start, end = parse_ts(s.started_at), parse_ts(s.finished_at)
        if start and end is None and s.status in IN_FLIGHT:
            end = now
        rb_start, rb_end = parse_ts(s.rollback_started_at), parse_ts(s.rollback_finished_at)
        if rb_start and rb_end is None and s.status == "rolling_back":
            rb_end = now
        spans.append((start, end, rb_start, rb_end))
    times = [t for span in spans for t in span if t is not None]
    t0 = min(times) if times else now
    width_s = max((max(times) - t0).total_seconds(), 0.001) if times else 1.0

    def x(t: datetime) -> float:
        return _LABEL_W + (t - t0).total_seconds() / width_s * _CHART_W

    height = _TOP + _ROW_H * len(snap.services) + 8
    width = _LABEL_W + _CHART_W + 10
    out = [
        f'<svg class="timeline" role="img" aria-label="release timeline" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
    ]
    if times:
        out.append(f'<text x="{_LABEL_W}" y="14">{_e(t0.isoformat(timespec="seconds"))}</text>')
        last = (t0 + timedelta(seconds=width_s)).isoformat(timespec="seconds")
        end_label = f"{last} (+{_duration(width_s)})"
        out.append(
            f'<text x="{_LABEL_W + _CHART_W}" y="14" text-anchor="end">{_e(end_label)}</text>'
        )
    for i, (s, (start, end, rb_start, rb_end)) in enumerate(zip(snap.services, spans, strict=True)):
        y = _TOP + i * _ROW_H
        out.append(f'<text x="4" y="{y + 16}">{_e(s.service)}</text>')
        if start is None:
            note = f"not started ({s.status})"
            out.append(f'<text class="none" x="{_LABEL_W + 4}" y="{y + 16}">{_e(note)}</text>')
            continue
        stop = end or start
        until = s.finished_at or ("now" if end else "unknown")
        tip = f"{s.service}: {s.status}, {s.started_at} to {until} ({_duration(s.duration_s)})"
        out.append(_bar(s.service, _deploy_kind(s.status), x(start), x(stop), y, tip))
        if rb_start is not None:
            rb_until = s.rollback_finished_at or ("now" if rb_end else "unknown")
            rb_tip = f"{s.service}: rollback {s.rollback_started_at} to {rb_until}"
            out.append(_bar(s.service, "rollback", x(rb_start), x(rb_end or rb_start), y, rb_tip))
    out.append("</svg>")
    return "\n".join(out)


_LEGEND = (
    "Bars run from deploy start to release. Green: deployed; red: failed; blue: in flight; "
    "orange: rollback."
)


def _deploy_kind(status: str) -> str:
    """The deploy bar's colour says how the deploy went, not what happened after it."""
    if status == "failed":
        return "failed"
    if status in ("deploying", "verifying"):
        return "deploying"
    return "released"  # released, and also rolled back / rolling back: it had been released


def _bar(service: str, kind: str, left: float, right: float, y: int, tip: str) -> str:
    width = max(right - left, 2.0)  # an instant still shows
    return (
        f'<rect class="bar {_e(kind)}" data-service="{_e(service)}" x="{left:.1f}" y="{y + 4}" '
        f'width="{width:.1f}" height="16"><title>{_e(tip)}</title></rect>'
    )


# --- signal readings of one service (GET /api/v1/monitoring/performance/{service}) ----------


def performance(
    catalog: Catalog,
    store: Store | None,
    service: str,
    *,
    now: datetime,
    read: Callable[[str, Mapping[str, Any]], Reading] | None = None,
) -> dict[str, Any]:
    """The service's signal readings, newest first: one reading now of each signal that
    measures it (metric_specs; each bounded by its own timeout), then those recorded as
    `signal` events during runs. A reading that failed has value None and its error."""
    name = resolve(catalog, service)
    fields = {"service": name, "environment": catalog.config.environment}
    reader = read or (lambda n, spec: read_signal(n, spec, root=catalog.root, fields=fields))
    taken = now.isoformat(timespec="milliseconds")
    out: list[dict[str, Any]] = []
    for metric, spec in sorted(metric_specs(catalog, name).items()):
        r = reader(metric, spec)
        out.append(
            {"name": metric, "value": r.value, "read_at": taken, "source": r.source}
            | ({"error": r.error} if r.error else {})
        )
    recorded = store.service_events(name) if store else []
    for e in reversed(recorded):
        if e.kind != SIGNAL_EVENT:
            continue
        try:
            doc = json.loads(e.message)
        except ValueError:
            continue
        if isinstance(doc, dict) and "name" in doc:
            out.append(
                {
                    "name": str(doc["name"]),
                    "value": doc.get("value"),
                    "read_at": e.ts,
                    "source": str(doc.get("source", "")),
                    "run_id": e.run_id,
                }
            )
    return {"service": name, "signals": out}
