"""Notifications end to end: the real console script, a Slack-like receiver and a generic
webhook receiver (HTTP on 127.0.0.1), and a real SMTP server (aiosmtpd) on 127.0.0.1.

The secrets (the Slack URL's token path, the SMTP password, the webhook's bearer token) are
given only through the environment as `${NAME}`; each test ends by looking for them in every
file under analysis/, the outputs and the state store."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import TARGET, TRAIN, Background, Project, chain, child_env, make_project
from helpers import closed_port, wait_until
from notify_receivers import HttpReceiver, SmtpReceiver, http_receiver, smtp_receiver

SLACK_TOKEN = "T000-slack-secret-B0C0FFEE"
SMTP_PASSWORD = "smtp-pass-8c1d3f"
HOOK_TOKEN = "hook-token-5e7a91"
SECRETS = (SLACK_TOKEN, SMTP_PASSWORD, HOOK_TOKEN)
ENV = {
    "SLACK_WEBHOOK_URL": "",  # filled per test: the receiver's URL with the token path
    "SMTP_PASSWORD": SMTP_PASSWORD,
    "HOOK_TOKEN": HOOK_TOKEN,
}
FAILURE_EVENTS = ["started", "service_failed", "rollback_started", "rolled_back"]


def notifications(
    slack: str, webhook: str, smtp_port: int, *, timeout: float = 5, retries: int = 2
) -> dict[str, Any]:
    return {
        "enabled": True,
        "channels": ["slack", "email", "webhook"],
        "stakeholders": ["platform-team", "release-managers"],
        "slack": {"webhook_url": "${SLACK_WEBHOOK_URL}"},
        "email": {
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "starttls": False,
            "username": "release-bot",
            "password": "${SMTP_PASSWORD}",
            "from": "release-trains@example.com",
        },
        "webhook": {
            "url": f"{webhook}/release",
            "headers": {"Authorization": "Bearer ${HOOK_TOKEN}", "X-Team": "platform"},
        },
        "recipients": {
            "platform-team": ["platform@example.com"],
            "release-managers": ["rm@example.com"],
        },
        "events": [*FAILURE_EVENTS, "completed", "failed", "paused", "resumed"],
        "timeout": timeout,
        "retries": retries,
        "public_url": "https://release.example.com",
    }


def env_for(slack: HttpReceiver | str) -> dict[str, str]:
    base = slack.url if isinstance(slack, HttpReceiver) else slack
    return {**ENV, "SLACK_WEBHOOK_URL": f"{base}/services/{SLACK_TOKEN}"}


def run(project: Project, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        project.argv(*args), capture_output=True, text=True, timeout=120, env=child_env(env)
    )


@pytest.fixture
def receivers() -> Iterator[tuple[HttpReceiver, HttpReceiver, SmtpReceiver]]:
    with (
        http_receiver() as slack,
        http_receiver() as hook,
        smtp_receiver(username="release-bot", password=SMTP_PASSWORD) as smtp,
    ):
        yield slack, hook, smtp


def outbox(project: Project) -> list[dict[str, Any]]:
    with sqlite3.connect(project.db) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM outbox ORDER BY id")]


def assert_no_secret(project: Project, *outputs: str) -> None:
    for path in (project.root / "analysis").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in SECRETS:
                assert secret.encode() not in data, f"{secret} in {path}"
    with sqlite3.connect(project.db) as db:
        dump = "\n".join(db.iterdump())
    for secret in SECRETS:
        assert secret not in dump, f"{secret} in the state store"
        for text in outputs:
            assert secret not in text, f"{secret} in an output"


def test_a_train_that_fails_and_rolls_back_tells_every_channel_in_order(
    tmp_path: Path, receivers: tuple[HttpReceiver, HttpReceiver, SmtpReceiver]
) -> None:
    slack, hook, smtp = receivers
    project = make_project(
        tmp_path,
        services=chain(["a", "b", "c"]),
        release_trains={
            "rollback": {"enabled": True},
            "notifications": notifications(slack.url, hook.url, smtp.port),
        },
    )
    project.fail("b", TARGET)
    result = run(project, "execute", TRAIN, env=env_for(slack))
    assert result.returncode == 1, result.stderr
    status = run(project, "status", TRAIN, "--json", env=env_for(slack))
    assert json.loads(status.stdout)["status"] == "rolled_back"

    # Delivered before `execute` exited (it flushes what it queued), in order, once each.
    assert slack.events() == [f"[release-trains] {TRAIN}: {e}" for e in FAILURE_EVENTS]
    assert hook.events() == FAILURE_EVENTS
    mails = smtp.wait_for(len(FAILURE_EVENTS), timeout_s=1)
    assert [m["Subject"] for m in mails] == [
        f"[release-trains] {TRAIN}: {e}" for e in FAILURE_EVENTS
    ]
    assert smtp.logins and smtp.logins[0][0] == "release-bot"

    # The webhook's documented body, its custom headers and the idempotency key.
    failed = hook.processed[1]
    body = failed.json()
    assert set(body) >= {
        "event",
        "train",
        "run_id",
        "status",
        "progress",
        "reason",
        "services",
        "ts",
    }
    assert body["event"] == "service_failed" and body["train"] == TRAIN
    assert body["services"] == ["b"]
    assert body["progress"] == "1/3 released"
    assert "b" in body["reason"] and body["url"] == f"https://release.example.com/trains/{TRAIN}"
    assert failed.headers["authorization"] == f"Bearer {HOOK_TOKEN}"
    assert failed.headers["x-team"] == "platform"
    keys = [r.headers["idempotency-key"] for r in hook.processed]
    assert len(set(keys)) == len(keys)
    rolled = hook.processed[3].json()
    assert rolled["status"] == "rolled_back" and rolled["reason"]

    # Slack: text and blocks naming train, event, status, progress, reason, services, link.
    message = slack.processed[1].json()
    assert slack.processed[1].path == f"/services/{SLACK_TOKEN}"
    assert "service_failed" in message["text"] and "Failing services: b" in message["text"]
    section = message["blocks"][1]["text"]["text"]
    assert f"Train: {TRAIN}" in section and "Status:" in section and "1/3 released" in section
    assert message["blocks"][2]["elements"][0]["url"].endswith(f"/trains/{TRAIN}")

    # E-mail: both parts, to the stakeholders' recipients.
    mail = mails[1]
    recipients, _ = smtp.messages[1]
    assert sorted(recipients) == ["platform@example.com", "rm@example.com"]
    plain = mail.get_body(preferencelist=("plain",))
    rich = mail.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    assert "Failing services: b" in plain.get_content()
    assert "<li>Failing services: b</li>" in rich.get_content()
    assert mail["From"] == "release-trains@example.com"

    # Each outcome is recorded: the rows, the run's events and `status --json`.
    rows = outbox(project)
    assert {r["status"] for r in rows} == {"sent"}
    assert len(rows) == 3 * len(FAILURE_EVENTS)
    shown = json.loads(status.stdout)["notifications"]
    assert [(n["event"], n["channel"], n["outcome"]) for n in shown[:3]] == [
        ("started", "slack", "sent"),
        ("started", "email", "sent"),
        ("started", "webhook", "sent"),
    ]
    assert_no_secret(project, result.stdout, result.stderr, status.stdout, status.stderr)


def test_dead_channels_never_hold_the_train_back_and_their_failures_are_recorded(
    tmp_path: Path,
) -> None:
    """Slack: connection refused; e-mail: an SMTP server that accepts and never greets (hangs
    past the timeout); webhook: HTTP 500. The train completes; every failure has its reason."""
    import socket

    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)  # accepts connections (the kernel does) and never says a word
    try:
        with http_receiver(status=500) as hook:
            refused = f"http://127.0.0.1:{closed_port()}"
            settings = notifications(refused, hook.url, hung.getsockname()[1], timeout=1, retries=1)
            settings["events"] = ["started", "completed"]
            project = make_project(
                tmp_path,
                services=chain(["a", "b"]),
                release_trains={"notifications": settings},
            )
            result = run(project, "execute", TRAIN, env=env_for(refused))
            assert result.returncode == 0, result.stderr
            status = run(project, "status", TRAIN, "--json", env=env_for(refused))
    finally:
        hung.close()
    doc = json.loads(status.stdout)
    assert doc["status"] == "completed"
    rows = {(r["event"], r["channel"]): r for r in outbox(project)}
    assert {r["status"] for r in rows.values()} == {"failed"}
    assert all(r["attempts"] == 2 for r in rows.values())  # one try and one retry each
    assert "connection refused" in rows["started", "slack"]["last_error"]
    assert "timed out after 1 s" in rows["started", "email"]["last_error"]
    assert "HTTP 500" in rows["started", "webhook"]["last_error"]
    shown = {(n["event"], n["channel"]): n for n in doc["notifications"]}
    assert shown["completed", "webhook"]["outcome"] == "failed"
    assert "HTTP 500" in shown["completed", "webhook"]["detail"]
    assert_no_secret(project, result.stdout, result.stderr, status.stdout)


def webhook_only(url: str, *, timeout: float, events: list[str]) -> dict[str, Any]:
    return {
        "channels": ["webhook"],
        "webhook": {"url": f"{url}/hook", "headers": {"Authorization": "Bearer ${HOOK_TOKEN}"}},
        "events": events,
        "timeout": timeout,
        "retries": 3,
    }


def test_the_release_goes_on_while_a_delivery_is_held(
    tmp_path: Path, start: Callable[..., Background]
) -> None:
    """The receiver holds every request until the test lets go; the train reaches completed
    meanwhile, so no notification is on the release path."""
    with http_receiver() as hook:
        hook.hold()
        project = make_project(
            tmp_path,
            services=chain(["a", "b"]),
            release_trains={
                "notifications": webhook_only(hook.url, timeout=30, events=["started", "completed"])
            },
        )
        bg = start(project, "execute", TRAIN, env=ENV)
        hook.wait_for(1)  # `started` is in flight and held
        wait_until(lambda: project.run_status() == ("completed", None), timeout_s=30, what="done")
        assert len(hook.requests) == 1  # still the one held request: nothing waited for it
        hook.let_go()
        result = bg.wait()
    assert result.code == 0, result
    assert hook.events() == ["started", "completed"]  # delivered before `execute` exited
    assert {r["status"] for r in outbox(project)} == {"sent"}


def test_a_notification_written_before_a_sigkill_is_delivered_once_after_resuming(
    tmp_path: Path, start: Callable[..., Background]
) -> None:
    """Deterministic: the receiver holds the `started` request (it has arrived: the row is
    claimed, the attempt in flight) and service a's deploy is held; the test SIGKILLs the
    executor there. `execute` resumes the run; its sender takes over the dead process's claim
    and sends the row again with the same idempotency key; the receiver, which honours the
    key, processes it once."""
    with http_receiver() as hook:
        hook.hold()
        project = make_project(
            tmp_path,
            services=chain(["a", "b"]),
            release_trains={
                "notifications": webhook_only(
                    hook.url, timeout=30, events=["started", "resumed", "completed"]
                )
            },
        )
        flag = project.hold("a")
        first = start(project, "execute", TRAIN, env=ENV, name="first")
        hook.wait_for(1)
        wait_until(lambda: len(project.calls()) >= 1, timeout_s=30, what="deploy of a started")
        first.kill()
        (row,) = outbox(project)
        assert (row["event"], row["status"], row["attempts"]) == ("started", "pending", 0)
        flag.unlink()
        hook.let_go()
        again = project.run("execute", TRAIN, env=ENV)
        assert again.code == 0, again
    started = [r for r in hook.requests if r.json()["event"] == "started"]
    assert len(started) == 2  # the attempt the kill cut off, and the one after resuming
    assert len({r.headers["idempotency-key"] for r in started}) == 1
    assert hook.events() == ["started", "resumed", "completed"]  # each processed once
    rows = outbox(project)
    assert [(r["event"], r["status"]) for r in rows] == [
        ("started", "sent"),
        ("resumed", "sent"),
        ("completed", "sent"),
    ]
    assert_no_secret(project, again.out, again.err, first.err())


def test_notify_test_reports_each_channel_and_fails_when_one_does(
    tmp_path: Path, receivers: tuple[HttpReceiver, HttpReceiver, SmtpReceiver]
) -> None:
    slack, hook, smtp = receivers
    settings = notifications(slack.url, hook.url, smtp.port, timeout=2, retries=0)
    project = make_project(
        tmp_path, services=chain(["a"]), release_trains={"notifications": settings}
    )
    ok = run(project, "notify", "test", "--json", env=env_for(slack))
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert [(c["channel"], c["outcome"]) for c in doc["channels"]] == [
        ("slack", "sent"),
        ("email", "sent"),
        ("webhook", "sent"),
    ]
    assert hook.events() == ["test"] and smtp.wait_for(1)[0]["Subject"].endswith(": test")
    dead = f"http://127.0.0.1:{closed_port()}"
    one = run(project, "notify", "test", "--channel", "slack", env=env_for(dead))
    assert one.returncode == 1
    assert "slack: failed: connection refused" in one.stdout
    assert SLACK_TOKEN not in one.stdout + one.stderr
    unknown = run(project, "notify", "test", "--channel", "pager", env=env_for(slack))
    assert unknown.returncode == 2 and "pager" in unknown.stderr


def test_a_manual_rollback_is_announced_too(tmp_path: Path) -> None:
    with http_receiver() as hook:
        events = ["completed", "rollback_started", "rolled_back"]
        project = make_project(
            tmp_path,
            services=chain(["a", "b"]),
            release_trains={"notifications": webhook_only(hook.url, timeout=5, events=events)},
        )
        assert project.run("execute", TRAIN, env=ENV).code == 0
        back = project.run("rollback", TRAIN, "--reason", "INC-7 error rate", env=ENV)
        assert back.code == 0, back
        shown = project.run("status", TRAIN, env=ENV)
    assert "Notifications:" in shown.out
    assert "rolled_back -> webhook: sent: HTTP 200 (attempt 1)" in shown.out
    assert hook.events() == events
    assert hook.processed[1].json()["reason"] == "INC-7 error rate"
    assert hook.processed[2].json()["status"] == "rolled_back"


def test_pausing_a_run_nobody_drives_is_announced(
    tmp_path: Path, start: Callable[..., Background]
) -> None:
    with http_receiver() as hook:
        project = make_project(
            tmp_path,
            services=chain(["a", "b"]),
            release_trains={
                "notifications": webhook_only(hook.url, timeout=5, events=["paused"]),
            },
        )
        flag = project.hold("a")
        first = start(project, "execute", TRAIN, env=ENV, name="first")
        wait_until(lambda: len(project.calls()) >= 1, timeout_s=30, what="deploy of a started")
        first.kill()  # the run is left executing, with nobody driving it
        flag.unlink()
        paused = project.run("pause", TRAIN, "--reason", "INC-9 investigating", env=ENV)
        assert paused.code == 0, paused
    assert hook.events() == ["paused"]  # delivered before `pause` exited
    body = hook.processed[0].json()
    assert body["status"] == "paused" and "INC-9 investigating" in body["reason"]
