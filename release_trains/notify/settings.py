"""The `release_trains.notifications` settings: their problems (found by `validate` and `plan`,
naming the key) and, for one train, what is sent where (the train may override `channels` and
`events`).

The settings keep `${NAME}` references as written: they are resolved from the environment only
when a message is sent (channels.py), so a secret never reaches the store, a log or a report.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..models import parse_duration
from ..release_settings import duration_problem

EVENTS = (
    "started",
    "gate_failed",
    "service_failed",
    "paused",
    "resumed",
    "approval_requested",
    "rollback_started",
    "rolled_back",
    "completed",
    "failed",
    "frozen",
    "unfrozen",
)
CHANNELS = ("slack", "email", "webhook")
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_RETRIES = 3
MAX_RETRIES = 20  # more is a mistake: a dead channel would be tried for hours
_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")
_KEYS = {
    "enabled",
    "channels",
    "stakeholders",
    "slack",
    "email",
    "webhook",
    "recipients",
    "events",
    "timeout",
    "retries",
    "public_url",
}
_CHANNEL_KEYS = {
    "slack": {"webhook_url"},
    "email": {"smtp_host", "smtp_port", "starttls", "tls", "username", "password", "from"},
    "webhook": {"url", "headers"},
}

Found = tuple[list[str | int], str]  # (path under release_trains.notifications, message)


@dataclass(frozen=True)
class Notifications:
    """What one train sends: its channels (with their settings, `${NAME}` unresolved), the
    events it announces, and how hard delivery tries."""

    channels: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    events: frozenset[str] = frozenset()
    recipients: tuple[str, ...] = ()  # the stakeholders' e-mail addresses
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    public_url: str | None = None

    def wants(self, event: str) -> list[str]:
        """The channels `event` goes to (none when it is not announced)."""
        return list(self.channels) if event in self.events else []


NONE = Notifications()


def config_problems(raw: Any) -> Iterator[Found]:
    """Every problem of the config's `notifications` block (paths relative to it)."""
    if raw is None:
        return
    if not isinstance(raw, Mapping):
        yield [], f"must be a mapping, not {_kind(raw)}"
        return
    for key in raw:
        if key not in _KEYS:
            yield [key], f"unknown key; expected one of {', '.join(sorted(_KEYS))}"
    if "enabled" in raw and not isinstance(raw["enabled"], bool):
        yield ["enabled"], "must be true or false"
    yield from _channel_list(raw.get("channels"), ["channels"], known=CHANNELS)
    for name in CHANNELS:
        if name in raw:
            yield from _channel_settings(name, raw[name])
    channels: list[Any] = _list(raw.get("channels"))
    for i, name in enumerate(channels):
        if name in CHANNELS and not isinstance(raw.get(name), Mapping):
            yield (
                ["channels", i],
                f"channel {name!r} is used but has no settings: add `{name}:` "
                f"({', '.join(sorted(_required(name)))}) under notifications",
            )
    yield from _events(raw.get("events"), ["events"])
    yield from _people(raw, uses_email="email" in channels)
    timeout = raw.get("timeout")
    if timeout is not None:
        why = duration_problem(timeout)
        if why is None and parse_duration(timeout) <= 0:
            why = "must be more than 0 seconds"
        if why is not None:
            yield ["timeout"], why
    retries = raw.get("retries")
    if retries is not None and (
        isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES
    ):
        yield ["retries"], f"must be a whole number from 0 to {MAX_RETRIES}"
    url = raw.get("public_url")
    if url is not None and not (
        isinstance(url, str) and re.match(r"^https?://[^/\s]+", url) and url.isprintable()
    ):
        yield ["public_url"], "must be an http:// or https:// address"


def train_problems(raw: Any, config: Any) -> Iterator[Found]:
    """Every problem of a train's own `notifications: {channels, events}` (paths relative to
    it); a channel it names must be set up in the config."""
    if raw is None:
        return
    if not isinstance(raw, Mapping):
        yield [], f"must be a mapping, not {_kind(raw)}"
        return
    for key in raw:
        if key not in ("channels", "events"):
            yield [key], "unknown key; a train may set only channels and events"
    configured = config if isinstance(config, Mapping) else {}
    yield from _channel_list(raw.get("channels"), ["channels"], known=CHANNELS)
    for i, name in enumerate(_list(raw.get("channels"))):
        if name in CHANNELS and not isinstance(configured.get(name), Mapping):
            yield (
                ["channels", i],
                f"channel {name!r} has no settings under release_trains.notifications "
                "in config/upgrade-policies.yaml",
            )
        if name == "email" and not _recipients(configured):
            yield ["channels", i], "the email channel has no recipients (see notifications)"
    yield from _events(raw.get("events"), ["events"])


def for_train(config: Mapping[str, Any], train_override: Any) -> Notifications:
    """What a train sends (settings already validated; NONE when notifications are off)."""
    if not config or config.get("enabled", True) is False:
        return NONE
    override = train_override if isinstance(train_override, Mapping) else {}
    names = override.get("channels", config.get("channels"))
    if names is None:  # every channel that has settings
        names = [n for n in CHANNELS if isinstance(config.get(n), Mapping)]
    events = override.get("events", config.get("events"))
    return Notifications(
        channels={n: config[n] for n in dict.fromkeys(names) if isinstance(config.get(n), Mapping)},
        events=frozenset(EVENTS if events is None else events),
        recipients=tuple(_recipients(config)),
        timeout_s=parse_duration(config.get("timeout", DEFAULT_TIMEOUT_S)),
        retries=int(config.get("retries", DEFAULT_RETRIES)),
        public_url=config.get("public_url"),
    )


def _recipients(config: Mapping[str, Any]) -> list[str]:
    """The stakeholders' addresses: a stakeholder is a name in `recipients` or an address."""
    given = config.get("recipients")
    table: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    found: list[str] = []
    for who in config.get("stakeholders") or []:
        if isinstance(who, str) and _ADDRESS.match(who):
            found.append(who)
        elif isinstance(who, str) and isinstance(table.get(who), list):
            found.extend(a for a in table[who] if isinstance(a, str))
    return list(dict.fromkeys(found))


def _required(channel: str) -> set[str]:
    return {"slack": {"webhook_url"}, "email": {"smtp_host", "from"}, "webhook": {"url"}}[channel]


def _channel_list(value: Any, path: list[str | int], *, known: tuple[str, ...]) -> Iterator[Found]:
    if value is None:
        return
    if not isinstance(value, list):
        yield path, f"must be a list of channel names ({', '.join(known)})"
        return
    for i, name in enumerate(value):
        if name not in known:
            yield [*path, i], f"unknown channel {name!r}; expected one of {', '.join(known)}"


def _events(value: Any, path: list[str | int]) -> Iterator[Found]:
    if value is None:
        return
    if not isinstance(value, list):
        yield path, "must be a list of event names"
        return
    for i, name in enumerate(value):
        if name not in EVENTS:
            yield [*path, i], f"unknown event {name!r}; expected one of {', '.join(EVENTS)}"


def _channel_settings(name: str, raw: Any) -> Iterator[Found]:
    if not isinstance(raw, Mapping):
        yield [name], f"must be a mapping, not {_kind(raw)}"
        return
    for key in raw:
        if key not in _CHANNEL_KEYS[name]:
            known = ", ".join(sorted(_CHANNEL_KEYS[name]))
            yield [name, key], f"unknown key; expected one of {known}"
    for key in sorted(_required(name)):
        if key not in raw:
            yield [name], f"{key} is required"
    for key in ("webhook_url", "url", "smtp_host", "from", "username", "password"):
        if key in raw and not (isinstance(raw[key], str) and raw[key].strip()):
            yield [name, key], "must be a non-empty text"
    for key in ("webhook_url", "url"):
        value = raw.get(key)
        if isinstance(value, str) and not re.match(r"^(https?://|\$\{)", value):
            yield [name, key], "must be an http:// or https:// address (or ${NAME})"
    if name == "email":
        port = raw.get("smtp_port")
        if port is not None and (
            isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
        ):
            yield [name, "smtp_port"], "must be a port number from 1 to 65535"
        for key in ("starttls", "tls"):
            if key in raw and not isinstance(raw[key], bool):
                yield [name, key], "must be true or false"
        if raw.get("starttls") is True and raw.get("tls") is True:
            yield [name, "tls"], "choose one of tls (SMTPS, port 465) and starttls"
        if ("username" in raw) != ("password" in raw):
            yield [name], "username and password go together (SMTP login)"
        sender = raw.get("from")
        if isinstance(sender, str) and not _ADDRESS.match(sender):
            yield [name, "from"], f"{sender!r} is not an e-mail address"
    if name == "webhook" and "headers" in raw:
        headers = raw["headers"]
        if not isinstance(headers, Mapping):
            yield [name, "headers"], "must be a mapping of header names to texts"
        else:
            for key, value in headers.items():
                if not (isinstance(key, str) and re.match(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", key)):
                    yield [name, "headers", str(key)], "is not a valid header name"
                elif not isinstance(value, str) or any(c in value for c in "\r\n"):
                    yield [name, "headers", key], "must be a one-line text"


def _people(raw: Mapping[str, Any], *, uses_email: bool) -> Iterator[Found]:
    stakeholders = raw.get("stakeholders")
    if stakeholders is not None and not (
        isinstance(stakeholders, list) and all(isinstance(s, str) for s in stakeholders)
    ):
        yield ["stakeholders"], "must be a list of names (keys of recipients) or addresses"
        return
    table = raw.get("recipients")
    if table is not None:
        if not isinstance(table, Mapping):
            yield ["recipients"], "must map each stakeholder to a list of e-mail addresses"
            return
        for who, addresses in table.items():
            if not isinstance(addresses, list):
                yield ["recipients", str(who)], "must be a list of e-mail addresses"
                continue
            for i, address in enumerate(addresses):
                if not (isinstance(address, str) and _ADDRESS.match(address)):
                    yield ["recipients", str(who), i], f"{address!r} is not an e-mail address"
    if not uses_email:
        return
    known = table if isinstance(table, Mapping) else {}
    for i, who in enumerate(stakeholders or []):
        if not _ADDRESS.match(who) and who not in known:
            yield ["stakeholders", i], f"stakeholder {who!r} has no addresses under recipients"
    if not _recipients(raw):
        yield (
            ["channels"],
            "the email channel has no recipients: list stakeholders and their addresses under "
            "recipients",
        )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, list) else type(value).__name__
