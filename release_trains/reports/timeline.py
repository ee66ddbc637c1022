"""SVG timelines on a real time axis: one row per service of the run shown in full (a deploy
bar, and a rollback bar), and one row per covered run. Every text is escaped; status is a
word beside each bar, never the bar's colour alone."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..durations import format_duration as duration
from ..monitoring import IN_FLIGHT, Snapshot, parse_ts
from .escape import e
from .train_data import RunSummary

_NAME_W, _STATUS_W, _CHART_W, _ROW_H, _TOP = 220, 100, 640, 24, 44
_LABEL_W = _NAME_W + _STATUS_W
_NAME_CHARS = 30  # longer names are cut with an ellipsis; the full name is in the tooltip
# Tick steps a person reads easily, in seconds: the first giving at most 8 ticks is used.
_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
          43200, 86400, 172800, 604800, 2592000)  # fmt: skip

LEGEND = (
    "Bars run from deploy start to release (to now while in flight); the status is written "
    "beside each. Colours: green released, red failed, blue in flight, orange rollback, grey "
    "otherwise. The axis is UTC."
)


@dataclass(frozen=True)
class Axis:
    t0: datetime
    span_s: float  # > 0

    def x(self, when: datetime) -> float:
        offset = (when - self.t0).total_seconds() / self.span_s
        return _LABEL_W + min(max(offset, 0.0), 1.0) * _CHART_W

    def ticks(self) -> Iterator[tuple[float, str]]:
        step = next((s for s in _STEPS if self.span_s / s <= 8), _STEPS[-1])
        first = self.t0.replace(microsecond=0)
        whole = int(first.timestamp())
        start = first + timedelta(seconds=(-whole) % step)
        if start < self.t0:  # the first whole step at or after the start, never clamped onto it
            start += timedelta(seconds=step)
        fmt = "%H:%M:%S" if self.span_s < 86400 else "%m-%d %H:%M"
        when = start
        while (when - self.t0).total_seconds() <= self.span_s:
            yield self.x(when), when.strftime(fmt)
            when += timedelta(seconds=step)


def axis_of(times: Sequence[datetime], *, now: datetime) -> Axis:
    if not times:
        return Axis(now, 1.0)
    t0, t1 = min(times), max(times)
    return Axis(t0, max((t1 - t0).total_seconds(), 1.0))


def _frame(height: int, axis: Axis | None, label: str) -> list[str]:
    width = _LABEL_W + _CHART_W + 16
    out = [
        f'<svg class="timeline" role="img" aria-label="{e(label)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
    ]
    if axis is not None:
        out.append(
            f'<text x="{_LABEL_W}" y="12" class="axis-title">{e(axis.t0.date().isoformat())} '
            f"UTC, {e(duration(axis.span_s))} in all</text>"
        )
        for x, text in axis.ticks():
            out.append(
                f'<line class="tick" x1="{x:.1f}" y1="{_TOP - 6}" x2="{x:.1f}" y2="{height - 4}"/>'
                f'<text class="tick-label" x="{x:.1f}" y="{_TOP - 10}" text-anchor="middle">'
                f"{e(text)}</text>"
            )
    return out


def _now_marker(axis: Axis, now: datetime, height: int) -> str:
    x = axis.x(now)
    return (
        f'<line class="now" x1="{x:.1f}" y1="{_TOP - 6}" x2="{x:.1f}" y2="{height - 4}"/>'
        f'<text class="now-label" x="{x + 3:.1f}" y="{height - 6}">now</text>'
    )


def _label(y: int, name: str, status: str) -> str:
    shown = name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 1] + "\u2026"
    return (
        f'<text x="4" y="{y + 16}">{e(shown)}<title>{e(name)}</title></text>'
        f'<text class="status-word" x="{_NAME_W}" y="{y + 16}">{e(status)}</text>'
    )


def _bar(name: str, kind: str, left: float, right: float, y: int, tip: str) -> str:
    width = max(right - left, 2.0)  # an instant still shows
    return (
        f'<rect class="bar {kind}" data-service="{e(name)}" x="{left:.1f}" y="{y + 4}" '
        f'width="{width:.1f}" height="16"><title>{e(tip)}</title></rect>'
    )


def _deploy_kind(status: str) -> str:
    """The deploy bar's colour says how the deploy went, not what happened after it."""
    if status == "failed":
        return "failed"
    if status in ("deploying", "verifying"):
        return "deploying"
    if status == "skipped":
        return "other"
    return "released"  # released, and also rolled back / rolling back: it had been released


def _span(
    start: datetime | None, end: datetime | None, *, going: bool, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """A bar's ends: to now while it goes on; an end before its start (a stale finish time,
    or clocks that disagree) is unknown, never drawn backwards."""
    if start is not None and end is None and going:
        end = now
    if start is not None and end is not None and end < start:
        end = None
    return start, end


def service_timeline(snap: Snapshot, *, now: datetime) -> Iterator[str]:
    """One row per service of the run: its deploy bar and its rollback bar."""
    spans = []
    for s in snap.services:
        deploy = _span(
            parse_ts(s.started_at), parse_ts(s.finished_at), going=s.status in IN_FLIGHT, now=now
        )
        rollback = _span(
            parse_ts(s.rollback_started_at),
            parse_ts(s.rollback_finished_at),
            going=s.status == "rolling_back",
            now=now,
        )
        spans.append((deploy, rollback))
    times = [t for pair in spans for span in pair for t in span if t is not None]
    axis = axis_of(times, now=now) if times else None
    height = _TOP + _ROW_H * len(snap.services) + 12
    yield "\n".join(_frame(height, axis, f"timeline of run {snap.run_id or '-'}")) + "\n"
    rows = []
    for i, (s, ((start, end), (rb_start, rb_end))) in enumerate(
        zip(snap.services, spans, strict=True)
    ):
        y = _TOP + i * _ROW_H
        rows.append(_label(y, s.service, s.status))
        if start is None or axis is None:
            note = f"not started ({s.status})"
            rows.append(f'<text class="none" x="{_LABEL_W + 4}" y="{y + 16}">{e(note)}</text>')
            continue
        until = (
            s.finished_at if end is not None and s.finished_at else ("now" if end else "unknown")
        )
        tip = f"{s.service}: {s.status}, {s.started_at} to {until} ({duration(s.duration_s)})"
        rows.append(
            _bar(s.service, _deploy_kind(s.status), axis.x(start), axis.x(end or start), y, tip)
        )
        if rb_start is not None:
            rb_until = (
                s.rollback_finished_at
                if rb_end and s.rollback_finished_at
                else ("now" if rb_end else "unknown")
            )
            rb_tip = f"{s.service}: rollback {s.rollback_started_at} to {rb_until}"
            rows.append(
                _bar(s.service, "rollback", axis.x(rb_start), axis.x(rb_end or rb_start), y, rb_tip)
            )
        if len(rows) >= 200:  # written in pieces: a 1,000-service run is a long drawing
            yield "\n".join(rows) + "\n"
            rows = []
    if axis is not None and any(s.status in IN_FLIGHT for s in snap.services):
        rows.append(_now_marker(axis, now, height))
    rows.append("</svg>")
    yield "\n".join(rows) + "\n"


def run_history(runs: Sequence[RunSummary], *, now: datetime) -> Iterator[str]:
    """One row per covered run, oldest at the top, on one time axis: how the runs went."""
    ordered = list(reversed(runs))  # runs come newest first
    spans = [
        _span(parse_ts(r.started_at), parse_ts(r.finished_at), going=r.finished_at is None, now=now)
        for r in ordered
    ]
    times = [t for span in spans for t in span if t is not None]
    axis = axis_of(times, now=now) if times else None
    height = _TOP + _ROW_H * len(ordered) + 12
    out = _frame(height, axis, "the runs covered, on one time axis")
    for i, (r, (start, end)) in enumerate(zip(ordered, spans, strict=True)):
        y = _TOP + i * _ROW_H
        out.append(_label(y, f"run {r.run_id}", r.status))
        if start is None or axis is None:
            continue
        kind = {"completed": "released", "failed": "failed", "rolled_back": "rollback"}.get(
            r.status, "deploying" if r.finished_at is None else "other"
        )
        tip = (
            f"run {r.run_id}: {r.status}, {r.started_at} to {r.finished_at or 'now'} "
            f"({duration(r.duration_s)}), {r.released}/{r.participants} released"
        )
        out.append(
            _bar(f"run {r.run_id}", kind, axis.x(start), axis.x(end or start), y, tip).replace(
                "data-service", "data-run", 1
            )
        )
    out.append("</svg>")
    yield "\n".join(out) + "\n"
