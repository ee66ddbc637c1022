"""Gate evaluation: pass, fail, unknown (no data: say what is missing) or error.

The language itself (tokenizer and parser, never eval) is in gates_parser.py. A gate over
participants checks every participant on its own: one service below the bar fails the gate
and is named, however good the average is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .models import Gate, GateCheck, Outcome, Service

if TYPE_CHECKING:  # signals.py costs ~10 ms to import; plans that read no signal never need it
    from .signals import Reading

MAX_NAMES_IN_DETAIL = 8  # details stay readable on a 10,000-service train; `failing` has all


@dataclass(frozen=True)
class Health:
    """One service's health verdict: healthy True/False, or None when it could not be told."""

    service: str
    healthy: bool | None
    detail: str

    @property
    def verdict(self) -> str:
        """How health is shown everywhere: never "healthy" without a check that said so."""
        return {True: "healthy", False: "unhealthy", None: "not verified"}[self.healthy]


@dataclass(frozen=True)
class GateResult:
    gate: str
    required: bool
    outcome: Outcome
    detail: str
    failing: tuple[str, ...] = ()
    when: str = "before"
    approval: bool = False  # an approval gate: decided by people during the run

    @property
    def blocks(self) -> bool:
        """A required gate blocks on anything but pass: unknown is not a pass. The one
        exception is an approval gate, whose `unknown` in a plan means "asked for during the
        run" (the run pauses for it: executor/approval_gates.py)."""
        return self.required and self.outcome is not Outcome.PASS and not self.approval

    def to_json(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "required": self.required,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "failing": list(self.failing),
            "when": self.when,
        }


@dataclass(frozen=True)
class GateContext:
    services: Sequence[Service]  # the train's participants, resolved
    read_signal: Callable[[str], Reading | None]  # None: no such signal is configured
    check_health: Callable[[Service], Health] | None = None  # None: health cannot be probed here


def evaluate(gate: Gate, ctx: GateContext) -> GateResult:
    try:
        outcome, detail, failing = _CHECKS[gate.check](gate, ctx)
    except Exception as e:  # a broken source must not hide the other gates' results
        outcome, detail, failing = Outcome.ERROR, f"{type(e).__name__}: {e}", ()
    return GateResult(
        gate.label,
        gate.required,
        outcome,
        detail,
        tuple(failing),
        gate.when,
        approval=gate.check is GateCheck.APPROVAL,
    )


_Verdict = tuple[Outcome, str, Sequence[str]]


def names(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_NAMES_IN_DETAIL])
    more = len(items) - MAX_NAMES_IN_DETAIL
    return f"{shown} and {more} more" if more > 0 else shown


def _per_service(
    ctx: GateContext,
    value_of: Callable[[Service], float | None],
    ok: Callable[[float], bool],
    *,
    what: str,
    bar: str,
) -> _Verdict:
    failing: list[tuple[str, float]] = []
    missing: list[str] = []
    for s in ctx.services:
        value = value_of(s)
        if value is None:
            missing.append(s.name)
        elif not ok(value):
            failing.append((s.name, value))
    if failing:
        shown = [f"{n} ({v:g})" for n, v in failing]
        return Outcome.FAIL, f"{what} {bar} not met by {names(shown)}", [n for n, _ in failing]
    if missing:
        return Outcome.UNKNOWN, f"no {what} known for {names(missing)}", ()
    return Outcome.PASS, f"every participant meets {what} {bar}", ()


def _quality(gate: Gate, ctx: GateContext) -> _Verdict:
    cmp = gate.comparison.comparison if gate.comparison else None
    assert cmp is not None  # the catalog refuses a quality gate without a comparison
    return _per_service(
        ctx, lambda s: s.quality_score, cmp.holds, what="quality score", bar=f"{cmp}"
    )


def _coverage(gate: Gate, ctx: GateContext) -> _Verdict:
    cmp = gate.comparison.comparison if gate.comparison else None
    assert cmp is not None
    bar = f"{cmp}" if cmp.percent else f"{cmp}%"
    return _per_service(ctx, lambda s: s.coverage, cmp.holds, what="coverage", bar=bar)


def _critical_vulns(gate: Gate, ctx: GateContext) -> _Verdict:
    limit = gate.max_vulns or 0
    return _per_service(
        ctx,
        lambda s: None if s.critical_vulns is None else float(s.critical_vulns),
        lambda v: v <= limit,
        what="open critical vulnerabilities",
        bar=f"<= {limit}",
    )


def _failure_rate(gate: Gate, ctx: GateContext) -> _Verdict:
    cmp = gate.comparison.comparison if gate.comparison else None
    assert cmp is not None  # the catalog refuses a failure-rate gate without a comparison
    bar = f"{cmp}" if cmp.percent else f"{cmp}%"
    return _per_service(ctx, lambda s: s.failure_rate, cmp.holds, what="failure rate", bar=bar)


def _healthy(gate: Gate, ctx: GateContext) -> _Verdict:
    """Unhealthy fails. A service with no health check configured is "not verified": shown as
    such and, as CONTRACT.md says, not a failure. A configured check that could not be read
    is reported unhealthy by the probe itself, so no missing data passes here."""
    if ctx.check_health is None:
        return Outcome.UNKNOWN, "health is probed only after release", ()
    results = [ctx.check_health(s) for s in ctx.services]
    bad = [r.service for r in results if r.healthy is False]
    unverified = [r.service for r in results if r.healthy is None]
    if bad:
        return Outcome.FAIL, f"unhealthy: {names(bad)}", bad
    healthy = len(results) - len(unverified)
    detail = f"{healthy}/{len(results)} participants healthy"
    if unverified:
        detail += f"; not verified (no health check configured): {names(unverified)}"
    return Outcome.PASS, detail, ()


def _signal(gate: Gate, ctx: GateContext) -> _Verdict:
    reading = next((r for r in map(ctx.read_signal, gate.signals) if r is not None), None)
    if reading is None:
        wanted = " or ".join(repr(n) for n in gate.signals)
        return (
            Outcome.UNKNOWN,
            f"no signal {wanted} is configured (add it under release_trains.signals)",
            (),
        )
    if reading.value is None:
        return (
            Outcome.UNKNOWN,
            f"signal {reading.name!r} from {reading.source}: {reading.error}",
            (),
        )
    cmp = gate.comparison.comparison if gate.comparison else None
    value = reading.value
    evidence = f"{reading.name} = {_show(value)} ({reading.source})"
    if cmp is None:
        if not isinstance(value, bool):
            return Outcome.ERROR, f"{evidence} is a number: the gate needs a comparison", ()
        return (Outcome.PASS if value else Outcome.FAIL), evidence, ()
    if isinstance(value, bool) != isinstance(cmp.value, bool):
        return Outcome.ERROR, f"{evidence} cannot be compared with {cmp}", ()
    return (Outcome.PASS if cmp.holds(value) else Outcome.FAIL), f"{evidence}, need {cmp}", ()


def _approval(gate: Gate, ctx: GateContext) -> _Verdict:
    """People decide it while the train runs; a plan cannot know their answer."""
    return Outcome.UNKNOWN, ASKED_DURING_RUN, ()


ASKED_DURING_RUN = "asked for during the run"


def _show(value: float | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else f"{value:g}"


_CHECKS: dict[GateCheck, Callable[[Gate, GateContext], _Verdict]] = {
    GateCheck.QUALITY: _quality,
    GateCheck.COVERAGE: _coverage,
    GateCheck.CRITICAL_VULNS: _critical_vulns,
    GateCheck.HEALTHY: _healthy,
    GateCheck.FAILURE_RATE: _failure_rate,
    GateCheck.SIGNAL: _signal,
    GateCheck.APPROVAL: _approval,
}
