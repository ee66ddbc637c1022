"""What a notification says: its facts (`Notice`, what the outbox keeps) and how each channel
shows them: Slack (`text` + `blocks`), e-mail (subject, plain-text and HTML parts) and the
webhook's JSON body `{event, train, run_id, status, progress, reason, services, ts}`.

Facts only, never a secret: the notice is stored as it is. Text that came from elsewhere (a
reason, a service name) is escaped for the place it goes: Slack's mrkdwn control characters,
HTML in the e-mail's HTML part.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

MAX_REASON_CHARS = 2000  # a reason quoting a whole command output stays a message, not a log


@dataclass(frozen=True)
class Notice:
    event: str
    train: str | None
    run_id: int | None
    status: str | None
    progress: str | None  # "2/5 released"
    reason: str | None
    services: tuple[str, ...] = ()  # the failing services
    ts: str = ""
    link: str | None = field(default=None)  # PUBLIC_URL/trains/TRAIN, when public_url is set

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Notice:
        doc = json.loads(text)
        doc["services"] = tuple(doc.get("services") or ())
        return cls(**{k: doc.get(k) for k in cls.__dataclass_fields__})


def link_for(public_url: str | None, train: str | None) -> str | None:
    if not public_url or not train:
        return None
    return f"{public_url.rstrip('/')}/trains/{quote(train, safe='')}"


def cut(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_REASON_CHARS:
        return text
    return text[:MAX_REASON_CHARS] + f"... [{len(text) - MAX_REASON_CHARS} chars cut]"


def title(n: Notice) -> str:
    """`[release-trains] TRAIN: EVENT`: the e-mail subject, and the first line elsewhere."""
    return f"[release-trains] {n.train or 'platform'}: {n.event}"


def lines(n: Notice) -> list[str]:
    """The message as plain lines: train, event, status and progress, reason, services, link."""
    out = [f"Train: {n.train or '(whole platform)'}", f"Event: {n.event}"]
    if n.status or n.progress:
        out.append(f"Status: {n.status or 'unknown'} ({n.progress or 'progress unknown'})")
    if n.run_id is not None:
        out.append(f"Run: {n.run_id}")
    if n.reason:
        out.append(f"Reason: {n.reason}")
    if n.services:
        out.append(f"Failing services: {', '.join(n.services)}")
    if n.link:
        out.append(f"Dashboard: {n.link}")
    out.append(f"At: {n.ts}")
    return out


def plain_text(n: Notice) -> str:
    return title(n) + "\n\n" + "\n".join(lines(n)) + "\n"


def webhook_body(n: Notice) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event": n.event,
        "train": n.train,
        "run_id": n.run_id,
        "status": n.status,
        "progress": n.progress,
        "reason": n.reason,
        "services": list(n.services),
        "ts": n.ts,
    }
    if n.link:
        body["url"] = n.link
    return body


def _mrkdwn(text: str) -> str:
    # Slack's only control characters: a reason cannot mention @channel or forge a link.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(n: Notice) -> dict[str, Any]:
    text = f"{title(n)}: " + "; ".join(lines(n)[2:])
    fields = "\n".join(_mrkdwn(line) for line in lines(n))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(n)[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": fields[:2900]}},
    ]
    if n.link:
        button = {"type": "button", "text": {"type": "plain_text", "text": "Open the train"}}
        blocks.append({"type": "actions", "elements": [{**button, "url": n.link}]})
    return {"text": _mrkdwn(text)[:3000], "blocks": blocks}


def email_message(n: Notice, *, sender: str, to: list[str], key: str) -> EmailMessage:
    """A multipart/alternative message: the plain text and the same lines as escaped HTML."""
    msg = EmailMessage()
    msg["Subject"] = title(n)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    # Receivers that keep a Message-ID see a retry after a crash as the same message.
    msg["Message-ID"] = f"<{quote(key, safe='')}@release-trains>"
    msg["X-Idempotency-Key"] = key
    msg.set_content(plain_text(n))
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines(n))
    link = (
        f'<p><a href="{html.escape(n.link, quote=True)}">Open the train</a></p>' if n.link else ""
    )
    msg.add_alternative(
        f"<html><body><h2>{html.escape(title(n))}</h2><ul>{items}</ul>{link}</body></html>",
        subtype="html",
    )
    return msg
