"""Notifications in-process: the settings' problems (naming the key), what a message says,
secrets kept out of error texts, the outbox's claims (two senders never send one row; a dead
sender's claim is taken over), the mapping of journal events, and a worker's sender
delivering what another process queued (a freeze's `frozen`)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import closed_port, wait_until
from notify_receivers import http_receiver

from release_trains.catalog import load_catalog
from release_trains.errors import ValidationFailed
from release_trains.notify.announce import notice_event, queue_platform_event
from release_trains.notify.channels import DeliveryError, Secrets, send
from release_trains.notify.messages import Notice, email_message, slack_body, webhook_body
from release_trains.notify.sender import Sender, abandoned
from release_trains.notify.settings import config_problems, for_train, train_problems
from release_trains.state import Store, default_path, open_store
from release_trains.state.outbox import OutboxRow
from release_trains.worker import JobWorker

GOOD: dict[str, Any] = {
    "enabled": True,
    "channels": ["slack", "email", "webhook"],
    "stakeholders": ["platform-team"],
    "slack": {"webhook_url": "${SLACK_WEBHOOK_URL}"},
    "email": {"smtp_host": "smtp.example.com", "from": "rt@example.com"},
    "webhook": {"url": "https://hooks.example.com/x", "headers": {"X-A": "b"}},
    "recipients": {"platform-team": ["p@example.com"]},
}


def problems(raw: Any) -> list[str]:
    return [".".join(str(p) for p in path) + ": " + msg for path, msg in config_problems(raw)]


def test_good_settings_have_no_problem() -> None:
    assert problems(GOOD) == []
    assert problems(None) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"channels": ["slack", "pager"]}, "channels.1: unknown channel 'pager'"),
        ({"events": ["started", "exploded"]}, "events.1: unknown event 'exploded'"),
        ({"slack": None}, "channels.0: channel 'slack' is used but has no settings"),
        ({"recipients": {}, "stakeholders": []}, "channels: the email channel has no recipients"),
        ({"stakeholders": ["nobody"]}, "stakeholders.0: stakeholder 'nobody' has no addresses"),
        ({"timeout": "soon"}, "timeout:"),
        ({"timeout": 0}, "timeout: must be more than 0 seconds"),
        ({"retries": -1}, "retries: must be a whole number"),
        ({"retries": True}, "retries: must be a whole number"),
        ({"enabled": "yes"}, "enabled: must be true or false"),
        ({"email": {"smtp_host": "h", "from": "not-an-address"}}, "email.from:"),
        ({"email": {"smtp_host": "h", "from": "a@b.c", "smtp_port": "25"}}, "email.smtp_port"),
        ({"email": {"smtp_host": "h", "from": "a@b.c", "username": "u"}}, "email: username and"),
        ({"webhook": {"url": "ftp://x"}}, "webhook.url: must be an http://"),
        ({"webhook": {"url": "https://x", "headers": {"A": "b\r\nC: d"}}}, "webhook.headers.A"),
        ({"colour": "red"}, "colour: unknown key"),
        ({"public_url": "release.example.com"}, "public_url: must be an http://"),
    ],
)
def test_each_bad_setting_is_named(change: dict[str, Any], expected: str) -> None:
    found = problems({**GOOD, **change})
    assert any(p.startswith(expected) for p in found), found


def test_a_train_may_choose_only_configured_channels_and_known_events() -> None:
    only_slack = {**GOOD, "channels": ["slack"]}
    del only_slack["webhook"]
    found = [
        (p, m) for p, m in train_problems({"channels": ["webhook"], "events": ["x"]}, only_slack)
    ]
    assert (["channels", 0], found[0][1]) == found[0] and "webhook" in found[0][1]
    assert found[1][0] == ["events", 0]
    assert list(train_problems({"channels": ["slack"]}, only_slack)) == []
    chosen = for_train(GOOD, {"channels": ["webhook"], "events": ["failed"]})
    assert list(chosen.channels) == ["webhook"] and chosen.wants("failed") == ["webhook"]
    assert chosen.wants("started") == []
    assert for_train({**GOOD, "enabled": False}, None).wants("failed") == []


def _root(tmp_path: Path, notifications: Any, train_extra: dict[str, Any] | None = None) -> Path:
    root = tmp_path / "root"
    files: dict[str, Any] = {
        "catalog/service-index.yaml": {
            "services": [
                {
                    "name": "a",
                    "version": "1.0.0",
                    "quality": {"score": 90, "open_critical_vulns": 0},
                }
            ]
        },
        "catalog/release-trains.yaml": {
            "trains": [
                {
                    "name": "T",
                    "target_version": "2.0.0",
                    "participants": ["a"],
                    **(train_extra or {}),
                }
            ]
        },
        "config/upgrade-policies.yaml": {
            "release_trains": {
                "environment": "test",
                "deployer": {"type": "local"},
                "notifications": notifications,
            }
        },
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return root


def test_validation_names_the_file_line_and_key(tmp_path: Path) -> None:
    root = _root(
        tmp_path,
        {**GOOD, "events": ["started", "nope"]},
        {"notifications": {"channels": ["pager"]}},
    )
    with pytest.raises(ValidationFailed) as caught:
        load_catalog(root)
    text = str(caught.value)
    assert "upgrade-policies.yaml:" in text
    assert "release_trains.notifications.events[1]: unknown event 'nope'" in text
    assert "release-trains.yaml:" in text and "notifications.channels[0]: unknown channel" in text


def notice(**kw: Any) -> Notice:
    base: dict[str, Any] = {
        "event": "service_failed",
        "train": "T",
        "run_id": 3,
        "status": "executing",
        "progress": "1/3 released",
        "reason": "b: deploy failed <@channel> & more",
        "services": ("b",),
        "ts": "2026-01-01T00:00:00.000+00:00",
        "link": "https://release.example.com/trains/T",
    }
    return Notice(**{**base, **kw})


def test_messages_name_every_fact_and_escape_foreign_text() -> None:
    n = notice()
    assert Notice.from_json(n.to_json()) == n
    hook = webhook_body(n)
    assert hook["services"] == ["b"] and hook["progress"] == "1/3 released"
    slack = slack_body(n)
    assert "<@channel>" not in slack["text"] and "&lt;@channel&gt;" in slack["text"]
    mail = email_message(n, sender="rt@example.com", to=["p@example.com"], key="T/3/9/email")
    assert mail["Subject"] == "[release-trains] T: service_failed"
    html = mail.get_body(preferencelist=("html",))
    assert html is not None and "&lt;@channel&gt; &amp; more" in html.get_content()
    plain = mail.get_body(preferencelist=("plain",))
    assert (
        plain is not None
        and "Dashboard: https://release.example.com/trains/T" in plain.get_content()
    )


def test_journal_events_that_are_news() -> None:
    assert notice_event("status", "planning -> validating") == ("started", None, "validating")
    assert notice_event("status", "paused -> validating")[0] == "resumed"  # type: ignore[index]
    assert notice_event("status", "executing -> paused") is None  # an interrupted run
    assert notice_event("status", "executing -> paused: ops: hold")[:2] == ("paused", "ops: hold")  # type: ignore[index]
    assert notice_event("status", "verifying -> completed")[0] == "completed"  # type: ignore[index]
    assert notice_event("status", "executing -> staging") is None
    assert notice_event("rollback-start", "reason: bad; order: b, a")[:2] == (
        "rollback_started",
        "bad",
    )  # type: ignore[index]
    assert notice_event("deploy-failed", "exit 1")[0] == "service_failed"  # type: ignore[index]
    assert notice_event("gate", "g (before): fail: x")[0] == "gate_failed"  # type: ignore[index]
    assert notice_event("gate", "g (before): pass: x") is None
    assert notice_event("approval_requested", "uat-signoff")[0] == "approval_requested"  # type: ignore[index]
    assert notice_event("approval-requested", "uat")[0] == "approval_requested"  # type: ignore[index]
    assert notice_event("deploy", "1 -> 2") is None


def test_error_texts_never_show_a_secret() -> None:
    secrets = Secrets(env={"TOKEN": "s3cr3t-value"})
    url = secrets.expand("https://hooks.example.com/services/${TOKEN}", where="x", secret=True)
    text = secrets.redact(f"invalid URL {url!r}: bad; also s3cr3t-value")
    assert "s3cr3t-value" not in text and text.count("[redacted]") == 2
    literal = Secrets(env={}).redact("cannot connect to https://h.example/T0/B1/xyzzy")
    assert "xyzzy" not in literal
    with pytest.raises(DeliveryError, match="environment variable MISSING is not set"):
        Secrets(env={}).expand("${MISSING}", where="slack.webhook_url")


def test_a_refused_connection_is_a_redacted_failure() -> None:
    url = f"http://127.0.0.1:{closed_port()}/services/TOKEN-abc123"
    with pytest.raises(DeliveryError) as caught:
        send("slack", {"webhook_url": url}, notice(), key="k", recipients=(), timeout_s=2, env={})
    assert "connection refused" in str(caught.value) and "TOKEN-abc123" not in str(caught.value)


def _store(root: Path) -> Store:
    store = open_store(str(default_path(root)), root, create=True, busy_timeout_s=5)
    assert store is not None
    return store


def _ts(delta_s: float = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=delta_s)).isoformat(
        timespec="milliseconds"
    )


def test_two_senders_never_claim_the_same_row_and_a_dead_senders_claim_is_taken_over(
    tmp_path: Path,
) -> None:
    root = _root(tmp_path, GOOD)
    store = _store(root)
    try:
        row = OutboxRow("k1", None, None, "frozen", "webhook", notice().to_json(), _ts())
        store.queue_notifications([row, row])  # the same key twice: queued once
        never = lambda _: False  # noqa: E731
        first = store.claim_notifications(
            claimer="h/1/1", now=_ts(), until=_ts(60), abandoned=never
        )
        second = store.claim_notifications(
            claimer="h/2/1", now=_ts(), until=_ts(60), abandoned=never
        )
        assert [i.key for i in first] == ["k1"] and second == []
        taken = store.claim_notifications(
            claimer="h/2/1", now=_ts(), until=_ts(60), abandoned=lambda who: who == "h/1/1"
        )
        assert [i.key for i in taken] == ["k1"]
        # the first sender's late outcome is refused: it no longer holds the row
        assert not store.settle_notification(
            first[0], claimer="h/1/1", status="sent", now=_ts(), next_attempt_at=_ts(),
            error=None, detail="HTTP 200", message=None,
        )  # fmt: skip
        assert store.pending_notifications() == 1
    finally:
        store.close()
    assert abandoned("no-such-host/1/1") is False


def test_a_worker_delivers_what_another_process_queued(tmp_path: Path) -> None:
    with http_receiver() as hook:
        settings = {
            "channels": ["webhook"],
            "webhook": {"url": f"{hook.url}/h"},
            "events": ["frozen"],
        }
        root = _root(tmp_path, settings)
        catalog = load_catalog(root)
        store = _store(root)
        try:
            keys = queue_platform_event(
                store, catalog.config, event="frozen", reason="incident 42", ts=_ts()
            )
            assert len(keys) == 1
            stopping = threading.Event()
            worker = JobWorker(
                root=root, state_url=None, clock=lambda: datetime.now(timezone.utc),
                name="w@h", host="h", pid=1, poll_s=0.05, stopping=stopping,
            )  # fmt: skip
            thread = threading.Thread(target=worker.run, daemon=True)
            thread.start()
            try:
                hook.wait_for(1, timeout_s=10)
                wait_until(lambda: store.pending_notifications() == 0, timeout_s=10, what="settled")
            finally:
                stopping.set()
                thread.join(10)
        finally:
            store.close()
    body = hook.processed[0].json()
    assert body["event"] == "frozen" and body["reason"] == "incident 42" and body["train"] is None
    assert hook.processed[0].headers["idempotency-key"] == keys[0]


def test_a_sender_retries_with_backoff_then_gives_up_with_the_reason(tmp_path: Path) -> None:
    with http_receiver(status=503) as hook:
        hook_settings = {"url": f"{hook.url}/h"}
        settings = {"channels": ["webhook"], "webhook": hook_settings, "retries": 1, "timeout": 2}
        root = _root(tmp_path, settings)
        catalog = load_catalog(root)
        store = _store(root)
        sender = Sender(store=store, catalog=catalog).start()
        try:
            queue_platform_event(store, catalog.config, event="unfrozen", reason=None, ts=_ts())
            sender.wake.set()
            wait_until(lambda: store.pending_notifications() == 0, timeout_s=15, what="given up")
        finally:
            sender.stop(timeout_s=5)
            store.close()
    assert len(hook.requests) == 2
    assert len({r.headers["idempotency-key"] for r in hook.requests}) == 1


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_validate_and_plan_exit_2_naming_the_key(tmp_path: Path, command: str) -> None:
    from helpers import run_main

    bad = {**GOOD, "recipients": {}, "stakeholders": []}
    root = _root(tmp_path, bad)
    args = ["--root", str(root), command] + (["T"] if command == "plan" else [])
    code, out, err = run_main(*args)
    assert code == 2, (out, err)
    assert "release_trains.notifications.channels: the email channel has no recipients" in out + err


def test_a_platform_event_is_delivered_before_the_command_returns(tmp_path: Path) -> None:
    from release_trains.notify.sender import announce_platform_event

    with http_receiver() as hook:
        settings = {"channels": ["webhook"], "webhook": {"url": f"{hook.url}/h"}}
        root = _root(tmp_path, settings)
        catalog = load_catalog(root)
        store = _store(root)
        try:
            keys = announce_platform_event(
                catalog, store, event="unfrozen", reason="lifted by alice", ts=_ts()
            )
            assert store.pending_notifications(keys=keys) == 0
        finally:
            store.close()
    assert hook.events() == ["unfrozen"]


def test_a_run_carried_out_by_a_worker_is_announced_by_the_workers_sender(tmp_path: Path) -> None:
    from release_trains.submit import submit

    with http_receiver() as hook:
        settings = {
            "channels": ["webhook"],
            "webhook": {"url": f"{hook.url}/h"},
            "events": ["started", "completed"],
        }
        root = _root(tmp_path, settings)
        catalog = load_catalog(root)
        store = _store(root)
        clock = lambda: datetime.now(timezone.utc)  # noqa: E731
        try:
            submit(catalog, store, "T", kind="execute", params={}, who="token:ci", clock=clock)
            stopping = threading.Event()
            worker = JobWorker(
                root=root, state_url=None, clock=clock, name="w@h", host="h", pid=1,
                poll_s=0.05, stopping=stopping,
            )  # fmt: skip
            thread = threading.Thread(target=worker.run, daemon=True)
            thread.start()
            try:
                hook.wait_for(2, timeout_s=20)
                wait_until(lambda: store.pending_notifications() == 0, timeout_s=10, what="sent")
            finally:
                stopping.set()
                thread.join(10)
        finally:
            store.close()
    assert hook.events() == ["started", "completed"]
