"""Health checks: http (status and an optional JSON field) or command (exit 0), or none.

Settings (config `release_trains.health`, overridden key by key by a service's own
`release.health`): `type`, `url` / `command` (templates, see deployers/templates.py),
`expect_status` (200), `json_field` (dotted path) and `json_value`, `timeout` (5 s per probe),
`samples` (1) taken `interval` (1 s) apart, each retried up to `retries` (3) times, again
`interval` apart. `timeout` bounds each probe as a whole: an http probe's connect, headers and
body together (deployers/http_transport.py; a body is read up to 1 MiB, and a `json_field`
check refuses a larger one), a command probe's run (deployers/process.py, which keeps only the
last 64 KiB of its output). A service is healthy when ok samples / samples * 100 >= threshold.
No check configured is "not verified" (healthy None): never reported as healthy.
`time_limit_s` bounds the whole verification (every sample, retry and interval): no retry or
sample starts once it is spent, and what was not taken counts as failed. (A probe already
running ends at its own `timeout`.) The executor passes `validation.health_check_timeout`.
A misconfigured check (no url, unknown type, bad template) raises InputError.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .deployers.base import seconds
from .deployers.process import run
from .deployers.templates import Values, render_argv, render_url
from .errors import InputError
from .executables import resolve_argv
from .gates import Health
from .models import Train
from .signals import dig

if TYPE_CHECKING:
    from .deployers.http_transport import HttpReply

NOT_CONFIGURED = "not verified: no health check configured"
KINDS = ("http", "command", "none")

Probe = Callable[[], "tuple[bool, str]"]  # one try: passed, and the evidence


def health_settings(
    config_health: Mapping[str, Any], service_release: Mapping[str, Any]
) -> Mapping[str, Any]:
    """Config `health:` with the keys of the service's own `release.health` laid over it."""
    own = service_release.get("health") or {}
    return {**config_health, **own}


def health_threshold(train: Train, settings: Mapping[str, Any]) -> float:
    """Percent of probes that must pass: the train's rollback.health_check_threshold, else the
    health settings' `threshold`, else 100."""
    if train.rollback.health_check_threshold is not None:
        return float(train.rollback.health_check_threshold)
    return float(settings.get("threshold", 100.0))


def check_health(
    service: str,
    settings: Mapping[str, Any],
    *,
    threshold: float = 100.0,
    sleep: Callable[[float], None] = time.sleep,
    fields: Mapping[str, str] | None = None,
    root: Path | None = None,
    time_limit_s: float | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> Health:
    """Probe `service` now; `fields` fill the url/command templates ({service} by default);
    a relative command executable resolves against `root` (executables.py)."""
    kind = _kind(settings)
    if kind == "none":
        return Health(service, None, NOT_CONFIGURED)
    values: Values = {"service": service, **(fields or {})}
    timeout_s = seconds(settings, "timeout", 5.0)
    probe = (
        _http_probe(settings, values, timeout_s=timeout_s)
        if kind == "http"
        else _command_probe(settings, values, timeout_s=timeout_s, root=root)
    )
    samples = int(settings.get("samples", 1))
    if samples < 1:
        raise InputError(f"health check samples must be at least 1, not {samples}")
    return _verdict(
        service,
        probe,
        samples=samples,
        retries=max(0, int(settings.get("retries", 3))),
        interval_s=seconds(settings, "interval", 1.0),
        threshold=threshold,
        sleep=sleep,
        limit=_Limit(time_limit_s, monotonic),
    )


class _Limit:
    """The whole verification's time limit (None: none)."""

    def __init__(self, seconds_: float | None, monotonic: Callable[[], float]) -> None:
        self.seconds = seconds_
        self.monotonic = monotonic
        self.deadline = None if seconds_ is None else monotonic() + seconds_
        self.hit = False

    def allows(self, wait_s: float) -> bool:
        """False (and remembered) when waiting `wait_s` and probing again would pass it."""
        if self.deadline is not None and self.monotonic() + wait_s >= self.deadline:
            self.hit = True
        return not self.hit


def probes_anything(settings: Mapping[str, Any]) -> bool:
    """Whether `check_health` with these settings probes anything (else it answers "not
    verified" at once, without waiting)."""
    return _kind(settings) != "none"


def _kind(settings: Mapping[str, Any]) -> str:
    kind = settings.get("type")
    if kind is None:  # an untyped check says what it is by what it has
        kind = "http" if "url" in settings else "command" if "command" in settings else "none"
    if kind not in KINDS:
        raise InputError(f"unknown health check type {kind!r}; expected one of {', '.join(KINDS)}")
    return str(kind)


def _verdict(
    service: str,
    probe: Probe,
    *,
    samples: int,
    retries: int,
    interval_s: float,
    threshold: float,
    sleep: Callable[[float], None],
    limit: _Limit,
) -> Health:
    passed, taken = 0, 0
    last_ok = last_bad = ""
    for n in range(samples):
        if n:
            if not limit.allows(interval_s):
                break
            sleep(interval_s)  # samples are spread over time on purpose: that is their point
        ok, evidence = _sample(
            probe, retries=retries, interval_s=interval_s, sleep=sleep, limit=limit
        )
        taken += 1
        passed += ok
        last_ok, last_bad = (evidence, last_bad) if ok else (last_ok, evidence)
        if (passed + samples - taken) / samples * 100 < threshold:
            break  # even if every remaining sample passed, the threshold could not be met
    healthy = passed / samples * 100 >= threshold
    count = f"{passed}/{taken} probes ok"
    if taken < samples:
        count += f" of {samples} planned"
    if threshold < 100 or not healthy:
        count += f" (threshold {threshold:g}%)"
    if healthy:
        detail = f"{count}: {last_ok}" if last_ok else count
        if last_bad:
            detail += f"; last failure: {last_bad}"
    else:
        detail = f"{count}: {last_bad}"
    if limit.hit and not healthy:
        detail += f"; gave up at the {limit.seconds:g} s limit of the whole health verification"
    return Health(service, healthy, detail)


def _sample(
    probe: Probe,
    *,
    retries: int,
    interval_s: float,
    sleep: Callable[[float], None],
    limit: _Limit,
) -> tuple[bool, str]:
    """One sample: the probe, retried up to `retries` times until it passes."""
    evidence = "not probed: no time left"
    for attempt in range(retries + 1):
        if attempt:
            if not limit.allows(interval_s):
                break
            sleep(interval_s)  # a service that is still starting gets time to come up
        ok, evidence = probe()
        if ok:
            return True, evidence
    return False, evidence


def _http_probe(settings: Mapping[str, Any], values: Values, *, timeout_s: float) -> Probe:
    # Imported here: httpx loads only where an http check is configured (start-up time).
    from .deployers.http_transport import request

    if not settings.get("url"):
        raise InputError("health check type http needs a `url`")
    url = render_url(settings["url"], values)
    expect = int(settings.get("expect_status", 200))
    field = settings.get("json_field")

    def probe() -> tuple[bool, str]:
        reply = request("GET", url, timeout_s=timeout_s)
        if reply.error is not None:
            return False, f"GET {url}: {reply.error}"
        if reply.status != expect:
            return False, f"GET {url}: status {reply.status}, expected {expect}"
        evidence = f"GET {url} -> {reply.status}"
        if field is None:
            # Only the status counts; a body over the cap was not read to its end, and need
            # not be.
            return True, evidence
        ok, why = _field_check(reply, field=field, settings=settings)
        return ok, f"{evidence}, {why}" if ok else f"GET {url}: {why}"

    return probe


def _field_check(reply: HttpReply, *, field: str, settings: Mapping[str, Any]) -> tuple[bool, str]:
    from .deployers.http_transport import quoted

    try:
        doc = reply.json()
    except ValueError as e:
        return False, str(e)
    try:
        actual = dig(doc, field)
    except (LookupError, ValueError):
        return False, f"field {field} missing"
    # The field's value comes from the service: quoted short, so a huge one cannot swell the
    # detail that the step, the events and `status --json` keep.
    if "json_value" not in settings:  # no value to compare with: the field must be truthy
        return bool(actual), f"field {field}={quoted(actual)}" + ("" if actual else " is not true")
    expected = settings["json_value"]
    # True == 1 in Python; a health field that says 1 where true is expected is a mismatch.
    same = actual == expected and isinstance(actual, bool) == isinstance(expected, bool)
    text = f"field {field}={quoted(actual)}"
    return same, text if same else f"{text} expected {expected!r}"


def _command_probe(
    settings: Mapping[str, Any], values: Values, *, timeout_s: float, root: Path | None = None
) -> Probe:
    if not settings.get("command"):
        raise InputError("health check type command needs a `command` argv template")
    argv = resolve_argv(render_argv(settings["command"], values), root)
    shown = shlex.join(argv)

    def probe() -> tuple[bool, str]:
        result = run(argv, timeout_s=timeout_s)
        if result.ok:
            return True, f"{shown} -> exit 0"
        return False, f"{shown}: {result.reason(timeout_s)}"

    return probe
