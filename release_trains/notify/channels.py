"""Sending one notice through one channel, within a total deadline: Slack's incoming webhook and
the generic webhook through the project's HTTP transport (deadline, body cap), e-mail through
smtplib (TLS or STARTTLS, login).

`${NAME}` in a channel's settings is read from the environment here, at send time, and only
kept in memory for the one attempt. Every error text that leaves this module goes through
`Secrets.redact`: the resolved values and the whole addresses are cut out of it, since an HTTP
or SMTP error may quote a URL whose path is the token.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from .messages import Notice, email_message, slack_body, webhook_body

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
REDACTED = "[redacted]"
MAX_ERROR_CHARS = 300


class DeliveryError(Exception):
    """Why one attempt failed, already redacted."""


@dataclass
class Secrets:
    """The values resolved for one attempt, to be cut out of anything shown."""

    values: list[str] = field(default_factory=list)
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def expand(self, text: str, *, where: str, secret: bool = False) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            value = self.env.get(name)
            if value is None or value == "":
                raise DeliveryError(f"{where}: environment variable {name} is not set")
            self.values.append(value)
            return value

        out = _REF.sub(one, text)
        if secret:
            self.values.append(out)
        return out

    def redact(self, text: str) -> str:
        # longest first: a value that contains another is cut whole
        for value in sorted({v for v in self.values if len(v) >= 4}, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        text = re.sub(r"https?://\S+", lambda m: _scrub_url(m.group(0)), text)
        return text[:MAX_ERROR_CHARS]


def _scrub_url(url: str) -> str:
    """Only the scheme and host of an address that an error quotes: the path may be a token."""
    m = re.match(r"(https?://)(?:[^@/\s]*@)?([^/\s?#]*)", url)
    return f"{m.group(1)}{m.group(2)}/{REDACTED}" if m else REDACTED


def send(
    channel: str,
    settings: Mapping[str, Any],
    notice: Notice,
    *,
    key: str,
    recipients: tuple[str, ...],
    timeout_s: float,
    env: Mapping[str, str] | None = None,
) -> str:
    """Deliver `notice`; returns what the receiver said ("HTTP 200"), raises DeliveryError."""
    secrets = Secrets(env=env if env is not None else os.environ)
    try:
        if channel == "slack":
            url = secrets.expand(
                str(settings["webhook_url"]), where="slack.webhook_url", secret=True
            )
            return _post(url, slack_body(notice), headers={}, key=key, timeout_s=timeout_s)
        if channel == "webhook":
            url = secrets.expand(str(settings["url"]), where="webhook.url", secret=True)
            headers = {
                str(k): secrets.expand(str(v), where=f"webhook.headers.{k}", secret=True)
                for k, v in (settings.get("headers") or {}).items()
            }
            return _post(url, webhook_body(notice), headers=headers, key=key, timeout_s=timeout_s)
        if channel == "email":
            return _mail(settings, notice, secrets, key=key, to=recipients, timeout_s=timeout_s)
        raise DeliveryError(f"unknown channel {channel!r}")
    except DeliveryError as e:
        raise DeliveryError(secrets.redact(str(e))) from None
    except Exception as e:  # any failure of a channel is that channel's outcome
        raise DeliveryError(secrets.redact(f"{type(e).__name__}: {e}")) from None


def _post(
    url: str, body: dict[str, Any], *, headers: dict[str, str], key: str, timeout_s: float
) -> str:
    # Imported here, not at the top: the sender's module is imported by every command that
    # can queue a notification (status and approve among them, through approvals and
    # rollback), and httpcore with what it pulls in costs ~0.1 s of start-up they never use.
    from ..deployers import http_transport

    reply = http_transport.request(
        "POST",
        url,
        timeout_s=timeout_s,
        headers={**headers, "Idempotency-Key": key},
        json_body=body,
        max_body=64 * 1024,  # only the status matters: a large answer is cut, not held
    )
    if reply.error is not None:
        raise DeliveryError(reply.error)
    if not reply.success:
        raise DeliveryError(f"HTTP {reply.status}{reply.snippet}")
    return f"HTTP {reply.status}"


def _mail(
    settings: Mapping[str, Any],
    notice: Notice,
    secrets: Secrets,
    *,
    key: str,
    to: tuple[str, ...],
    timeout_s: float,
) -> str:
    if not to:
        raise DeliveryError("the email channel has no recipients")
    deadline = time.monotonic() + timeout_s
    host = str(settings["smtp_host"])
    use_tls = settings.get("tls") is True
    port = int(settings.get("smtp_port") or (465 if use_tls else 587))
    sender = str(settings["from"])
    message = email_message(notice, sender=sender, to=list(to), key=key)
    context = ssl.create_default_context()
    try:
        refused = _exchange(
            settings, message, secrets, host=host, port=port, tls=use_tls, context=context,
            deadline=deadline, timeout_s=timeout_s,
        )  # fmt: skip
    except TimeoutError:
        raise DeliveryError(f"timed out after {timeout_s:g} s") from None
    except ConnectionRefusedError:
        raise DeliveryError("connection refused") from None
    except smtplib.SMTPServerDisconnected as e:
        # smtplib reports a read that timed out as a disconnection
        if "timed out" in str(e) or time.monotonic() >= deadline:
            raise DeliveryError(f"timed out after {timeout_s:g} s") from None
        raise DeliveryError(f"SMTP: {e}") from None
    except smtplib.SMTPException as e:
        raise DeliveryError(f"SMTP: {e}") from None
    if refused:
        raise DeliveryError(f"SMTP refused {', '.join(sorted(refused))}")
    return f"SMTP accepted for {len(to)} recipient(s)"


def _exchange(
    settings: Mapping[str, Any],
    message: EmailMessage,
    secrets: Secrets,
    *,
    host: str,
    port: int,
    tls: bool,
    context: ssl.SSLContext,
    deadline: float,
    timeout_s: float,
) -> dict[str, Any]:
    smtp: smtplib.SMTP = (
        smtplib.SMTP_SSL(host, port, timeout=timeout_s, context=context)
        if tls
        else smtplib.SMTP(host, port, timeout=timeout_s)
    )
    with smtp:
        _left(smtp, deadline, timeout_s)
        smtp.ehlo()
        if settings.get("starttls") is True:
            _left(smtp, deadline, timeout_s)
            smtp.starttls(context=context)
            smtp.ehlo()
        if "username" in settings:
            user = secrets.expand(str(settings["username"]), where="email.username")
            password = secrets.expand(
                str(settings["password"]), where="email.password", secret=True
            )
            _left(smtp, deadline, timeout_s)
            smtp.login(user, password)
        _left(smtp, deadline, timeout_s)
        return dict(smtp.send_message(message))


def _left(smtp: smtplib.SMTP, deadline: float, timeout_s: float) -> None:
    """Every SMTP step gets only what is left of the attempt's total time."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    if smtp.sock is not None:
        smtp.sock.settimeout(left)
