"""The layout the markdown and HTML renderers share: a title and a list of sections (tables),
each column with a kind that tells the HTML renderer how to show it (a status badge, a
timestamp that must not break, long text that wraps)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..durations import format_duration as duration  # the one format, shared with the CLI
from .service_data import ServiceReport
from .train_data import AUDIT_SHOWN, INCIDENTS_SHOWN, TrainReport

# Column kinds: "" plain, "badge" a status word, "ts" a timestamp, "wide" free text.
Kind = str


@dataclass(frozen=True)
class Section:
    title: str
    head: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    empty: str = ""  # said instead of an empty table
    timeline: bool = False  # the HTML renderer draws the run's SVG timeline here
    run_history: bool = False  # ... and the covered runs on a time axis here
    kinds: tuple[Kind, ...] = ()  # per column; missing: plain
    note: str = ""  # what the section leaves out and how to see it

    def kind(self, column: int) -> Kind:
        return self.kinds[column] if column < len(self.kinds) else ""


def t(value: object, missing: str = "-") -> str:
    return missing if value is None else str(value)


def rate(value: float | None) -> str:
    return "unknown (no release attempted)" if value is None else f"{value:.1f} %"


def title(report: TrainReport | ServiceReport) -> tuple[str, str]:
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


def sections(report: TrainReport | ServiceReport) -> Iterator[Section]:
    return train_sections(report) if isinstance(report, TrainReport) else service_sections(report)


def train_sections(report: TrainReport) -> Iterator[Section]:
    """Built one at a time: a renderer writes each before the next is laid out."""
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
    elapsed = duration(phase.run_elapsed_s) + (
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
            f"{phase.name} since {t(phase.started_at)}"
            + (f" ({duration(phase.elapsed_s)})" if phase.elapsed_s is not None else ""),
        ),
        ("Duration", f"{elapsed}; estimate {duration(phase.estimated_s)}"),
        ("Gates", f"{snap.gates_passed}/{len(snap.gates)} passed"),
        ("Dependencies", f"{snap.dependencies_satisfied}/{len(snap.dependencies)} satisfied"),
        ("Reason", t(snap.reason)),
    ]
    yield Section("Summary", ("field", "value"), tuple(summary), kinds=("", "wide"))
    yield Section(
        "Timeline" if snap.run_id is None else f"Timeline (run {snap.run_id})",
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
        tuple(
            (
                str(i),
                s.service,
                s.status,
                t(s.from_version, "(first install)"),
                t(s.to_version, "unknown"),
                t(s.started_at),
                t(s.finished_at),
                duration(s.duration_s),
                str(s.attempts),
                s.health,
                t(s.rollback_finished_at or s.rollback_started_at),
                t(s.error),
            )
            for i, s in enumerate(snap.services, start=1)
        ),
        "no participants",
        timeline=True,
        kinds=("", "", "badge", "", "", "ts", "ts", "", "", "badge", "ts", "wide"),
    )
    yield Section(
        "Gates",
        ("gate", "required", "when", "outcome", "evidence"),
        tuple(
            (g.gate, "yes" if g.required else "no", g.when, g.outcome, g.detail) for g in snap.gates
        ),
        "no gates",
        kinds=("wide", "", "", "badge", "wide"),
    )
    yield Section(
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
        kinds=("", "", "badge", "wide", "wide"),
    )
    if snap.approvals:  # only a train with approval gates has this section
        yield Section(
            "Approvals",
            ("gate", "outcome", "approved", "time", "by", "decision", "comment"),
            tuple(_approval_rows(snap.approvals)),
            kinds=("wide", "badge", "", "ts", "", "badge", "wide"),
            note="The latest run's votes on each approval gate.",
        )
    if snap.timeline is not None:
        yield _time_section(snap.timeline)
    yield Section(
        "Notifications",
        ("time", "event", "channel", "outcome", "attempts", "detail"),
        tuple(
            (
                t(n.get("ts")),
                t(n.get("event")),
                t(n.get("channel")),
                t(n.get("outcome")),
                t(n.get("attempts")),
                t(n.get("detail")),
            )
            for n in snap.notifications
        ),
        "none sent for this run",
        kinds=("ts", "", "", "badge", "", "wide"),
        note="The latest run's notifications and what became of each.",
    )
    cover = report.coverage
    yield Section(
        "Failures and rollbacks",
        ("run", "time", "event", "service", "what happened"),
        tuple((str(i.run_id), i.ts, i.kind, t(i.service), i.message) for i in report.incidents),
        "none in this period",
        kinds=("", "ts", "badge", "", "wide"),
        note=(
            "Newest first, the current run's first."
            + (
                f" Only the {INCIDENTS_SHOWN} newest are shown: ask for fewer runs (--runs) "
                "or a shorter --since."
                if cover.incidents_cut
                else ""
            )
        ),
    )
    shown = len(report.runs)
    yield Section(
        "Runs",
        ("run", "status", "started", "finished", "duration", "by", "released", "reason"),
        tuple(
            (
                str(r.run_id),
                r.status,
                r.started_at,
                t(r.finished_at),
                duration(r.duration_s),
                r.actor,
                f"{r.released}/{r.participants}",
                t(r.reason),
            )
            for r in report.runs
        ),
        "no run in this period",
        run_history=True,
        kinds=("", "badge", "ts", "ts", "", "", "", "wide"),
        note=(
            f"The {shown} latest of {cover.runs_total} runs, newest first "
            f"(--runs {cover.runs_asked}"
            + (f", --since {report.window.since}" if report.window.since else "")
            + "); the first is the run shown in full above."
        ),
    )
    yield Section(
        "Recent events",
        ("time", "event", "service", "message"),
        tuple((e.ts, e.kind, t(e.service), e.message) for e in reversed(snap.events)),
        "no event recorded",
        kinds=("ts", "", "", "wide"),
        note="The latest run's newest events, newest first.",
    )
    yield Section(
        "Who did what",
        ("time", "actor", "action", "service", "detail"),
        tuple((a.ts, a.actor, a.action, t(a.service), a.detail) for a in report.audit),
        "no audit record in this period",
        kinds=("ts", "", "", "", "wide"),
        note=(
            "Newest first"
            + (f", back to {cover.audit_since}" if cover.audit_since else "")
            + (
                f"; older records (or more than {AUDIT_SHOWN}) are not shown: "
                "release-trains audit --train NAME lists them all."
                if cover.audit_cut
                else "."
            )
        ),
    )


def _time_section(timeline: Mapping[str, Any]) -> Section:
    """Issue 15's timeline accounting: time per phase, time paused and why, against the
    estimate (which counts working time only: waiting for people or a freeze is not over it)."""
    rows: list[tuple[str, ...]] = [
        (
            f"phase {p.get('phase')}",
            t(p.get("started_at")),
            t(p.get("finished_at")),
            duration(p.get("duration_s")),
            "",
        )
        for p in timeline.get("phases") or ()
    ]
    rows += [
        (
            f"paused ({p.get('reason_kind', 'pause')})",
            t(p.get("from")),
            t(p.get("to")),
            duration(p.get("duration_s")),
            t(p.get("reason")),
        )
        for p in timeline.get("paused") or ()
    ]
    estimate = timeline.get("estimated_duration_s")
    over = " (over the estimate)" if timeline.get("over_estimate") else ""
    rows.append(
        (
            "in all",
            "-",
            "-",
            f"{duration(timeline.get('active_s'))} working, "
            f"{duration(timeline.get('paused_s'))} paused{over}",
            f"estimate {duration(estimate)}" if estimate is not None else "no estimate",
        )
    )
    return Section(
        "Time per phase",
        ("part", "from", "to", "duration", "reason"),
        tuple(rows),
        "no phase recorded",
        kinds=("", "ts", "ts", "", "wide"),
        note="The latest run: each phase, each pause and why, against the estimate.",
    )


def _approval_rows(gates: Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, ...]]:
    for g in gates:
        head = (str(g.get("gate", "?")), str(g.get("outcome", "unknown")))
        count = f"{g.get('approved', 0)}/{g.get('min_approvals', '?')}"
        votes = g.get("votes") or ()
        if not votes:
            yield (*head, count, "-", "-", "-", "-")
        for v in votes:
            yield (
                *head,
                count,
                t(v.get("ts")),
                t(v.get("actor")),
                t(v.get("decision")),
                t(v.get("comment")),
            )


def service_sections(report: ServiceReport) -> Iterator[Section]:
    summary = [
        ("Service", report.service),
        ("Catalog version", t(report.catalog_version, "unknown")),
        (
            "Quality score",
            t(None if report.quality_score is None else f"{report.quality_score:g}", "unknown"),
        ),
        ("Open critical vulnerabilities", t(report.critical_vulns, "unknown")),
        ("Health (checked now)", _verdict(report.health, report.health_detail)),
        ("Releases", f"{report.attempted} ({report.deploy_attempts} deploy attempts)"),
        (
            "Failure rate",
            rate(report.failure_rate)
            + (
                f" ({report.failures} of {report.deploy_attempts} deploy attempts)"
                if report.attempted
                else ""
            ),
        ),
        (
            "Rollback rate",
            rate(report.rollback_rate)
            + (f" ({report.rollbacks} of {report.attempted} releases)" if report.attempted else ""),
        ),
    ]
    yield Section("Summary", ("field", "value"), tuple(summary), kinds=("", "wide"))
    yield Section(
        "Deployed versions",
        ("environment", "version"),
        tuple(
            (env + (" (configured)" if env == report.environment else ""), t(v, "undeployed"))
            for env, v in report.deployed
        ),
        f"the state store records no version in any environment (configured: {report.environment})",
    )
    yield Section(
        "Metrics (read now)",
        ("signal", "value", "source", "error"),
        tuple(
            (m.name, "unknown" if m.value is None else _value(m.value), m.source, t(m.error))
            for m in report.metrics
        ),
        "no error_rate or latency signal is configured "
        "(config release_trains.signals or the service's release.signals)",
        kinds=("", "", "wide", "wide"),
    )
    yield Section(
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
        tuple(
            (
                r.train,
                str(r.run_id),
                r.run_status,
                r.status,
                t(r.from_version, "(first install)"),
                t(r.to_version, "unknown"),
                t(r.started_at),
                t(r.finished_at),
                duration(r.duration_s),
                str(r.attempts),
                r.health,
                str(r.failures),
                "yes" if r.rolled_back else "no",
                t(r.detail),
            )
            for r in report.releases
        ),
        "no release of this service in this period",
        kinds=("", "", "badge", "badge", "", "", "ts", "ts", "", "", "badge", "", "", "wide"),
        note=(
            f"The releases in the {report.runs_asked} latest runs that had this service "
            "(--runs), newest first; the rates above are over these."
        ),
    )


def _verdict(verdict: str, detail: str) -> str:
    return detail if detail.startswith(verdict) else f"{verdict}: {detail}"


def _value(value: float | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else f"{value:g}"
