"""Release settings as a run will use them: config `release_trains:` with a service's own
`release:` keys laid over it, and what makes them unusable, found when the files are read.

A run must never get halfway and then find that a health check has no url or a deploy has
no command: `validate` and `plan` check here every setting the files give (what comes from
the environment, `${VAR}` in headers, is checked by the run's validating phase). The merge
rules are the ones the executor and the probes use (deployers.select.deployer_settings,
probes.health_settings); tests hold them equal.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from .errors import InputError
from .models import parse_duration

# Longer than this is not a timeout or an interval anyone means (and a year of seconds still
# fits every wait the standard library offers, where 1e300 does not).
MAX_DURATION_S = 366 * 86400

# Duration keys of deployer, health and signal settings.
DURATION_KEYS = ("timeout", "interval", "poll_interval", "backoff")

Found = tuple[list[str | int], str]  # (path below the settings, message)


def deployer_settings(config: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """Config `deployer:` with the service's `release.deployer` keys on top; a service that
    names another deployer type takes only its own settings."""
    if "type" in own and own["type"] != config.get("type", "local"):
        return dict(own)
    return {**config, **own}


def health_settings(config: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """Config `health:` with the keys of the service's own `release.health` laid over it."""
    return {**config, **own}


def duration_problem(value: Any) -> str | None:
    """Why a duration setting (300, "5m") cannot be used, or None."""
    try:
        seconds = parse_duration(value)
    except (TypeError, ValueError, KeyError):
        return f"{value!r} is not a duration"
    if not math.isfinite(seconds):
        return f"{value!r} is not a finite duration"
    if seconds > MAX_DURATION_S:
        return f"{value!r} is {seconds:g} s, longer than the {MAX_DURATION_S // 86400} days allowed"
    return None


def durations(settings: Mapping[str, Any], keys: tuple[str, ...]) -> Iterator[Found]:
    for key in keys:
        if settings.get(key) is not None:
            why = duration_problem(settings[key])
            if why is not None:
                yield [key], why


def health_problems(settings: Mapping[str, Any]) -> Iterator[Found]:
    """What stops a health check from running (the rules of probes.check_health)."""
    kind = settings.get("type")
    if kind is None:  # an untyped check says what it is by what it has
        kind = "http" if "url" in settings else "command" if "command" in settings else "none"
    if kind == "http" and not settings.get("url"):
        yield [], "http health check needs a url"
    if kind == "command" and not settings.get("command"):
        yield [], "command health check needs a command (an argv list)"
    if kind != "none":
        yield from durations(settings, DURATION_KEYS)


def deployer_problems(settings: Mapping[str, Any], *, environment: str) -> Iterator[Found]:
    """What stops the deployer from being built: the deployers' own checks, run now."""
    if settings.get("type", "local") != "local":
        # Imported here: only catalogs that configure a command or http deployer pay for it.
        from .deployers import build_deployer

        try:
            build_deployer(settings, store=_NoEnvironment(), environment=environment, log=_quiet)
        except InputError as e:
            yield [], str(e)
    yield from durations(settings, DURATION_KEYS)


def signal_problems(spec: Mapping[str, Any]) -> Iterator[Found]:
    """What stops a signal from being read (the rules of signals.read_signal)."""
    if not any(k in spec for k in ("value", "file", "command", "http_json", "prometheus")):
        yield [], "signal has no source"
    prom = spec.get("prometheus")
    if isinstance(prom, Mapping) and not (
        (prom.get("url") and prom.get("query")) or (prom.get("metrics_url") and prom.get("metric"))
    ):
        yield (
            ["prometheus"],
            "prometheus needs either url and query (a Prometheus server) or metrics_url "
            "and metric (a service's /metrics page)",
        )
    yield from durations(spec, ("timeout",))
    timeout = spec.get("timeout")
    if timeout is not None and duration_problem(timeout) is None and parse_duration(timeout) <= 0:
        yield ["timeout"], f"signal timeout must be more than 0 s, not {timeout!r}"  # as read


class _NoEnvironment:
    """The local deployer's store, never used here: building a deployer touches nothing."""

    def deployed_version(self, environment: str, service: str) -> str | None:
        return None

    def set_deployed_version(
        self, environment: str, service: str, version: str | None
    ) -> str | None:
        raise RuntimeError("checking settings never deploys")


def _quiet(line: str) -> None:
    return None
