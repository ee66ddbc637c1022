"""The dashboard in a real headless Chromium (tests/browser_fixtures.py), against a real
`release-trains serve` with its in-process worker and a command deployer (the recording
script of e2e_support, about a second per service).

Every wait is Playwright's expect()/wait_for with a deadline, or wait_until on the store;
nothing sleeps. Screenshots of the train page (running, failed, rolled back) go to the folder
named by RELEASE_TRAINS_SCREENSHOTS, else to the test's tmp_path; the path is printed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from e2e_support import TRAIN, Project, chain, child_env, make_project
from helpers import closed_port, wait_until
from notify_receivers import http_receiver
from playwright.sync_api import expect
from test_api_server import make_tokens

UI_TIMEOUT_MS = 30_000  # a deadline for each thing the page must show, not a wait for luck
FAILING = "F"  # a train whose only deploy fails
# markup and quotes through every kind of text the page shows: must stay text
MARKUP = "\"'><img src=x onerror=alert(1)><script>alert(2)</script>"


class Dashboard:
    """A project, its tokens, and `serve` on a port that a restart can reuse."""

    def __init__(self, project: Project, tokens: dict[str, str]) -> None:
        self.project = project
        self.tokens = tokens
        self.port = closed_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.project.work / f"serve-{self.port}.log", "ab")  # noqa: SIM115 (the child's)
        self.proc = subprocess.Popen(
            self.project.argv("serve", "--port", str(self.port), "--workers", "1"),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=child_env(),
        )
        proc = self.proc

        def up() -> bool:
            assert proc.poll() is None, self.log()
            try:
                return httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, timeout_s=30, what="serve answering /healthz")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log(self) -> str:
        return (self.project.work / f"serve-{self.port}.log").read_text(errors="replace")

    def status(self, train: str = TRAIN) -> str | None:
        got = self.project.run_status(train)
        return got[0] if got else None


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[Dashboard]:
    """Train T releases a <- b <- c (c depends on b, b on a) to 2.0.0; train F releases a to
    3.0.0, which the deploy script refuses."""
    trains = [
        {
            "name": TRAIN,
            "description": MARKUP,
            "target_version": "2.0.0",
            "participants": ["a", "b", "c"],
        },
        {"name": FAILING, "target_version": "3.0.0", "participants": ["a"]},
    ]
    signals = {"signals": {"error_rate": {"value": 0.5}}}  # read once per released service
    project = make_project(
        tmp_path,
        services=chain(["a", "b", "c"]),
        trains=trains,
        sleep_s=1.0,
        release_trains=signals,
    )
    project.fail("a", "3.0.0")
    d = Dashboard(project, make_tokens(project))
    d.start()
    yield d
    d.stop()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("RELEASE_TRAINS_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"dashboard screenshots: {folder}")
    return folder


def sign_in(page: Any, d: Dashboard, path: str, token: str) -> None:
    """Through the login form: the page asks for a token once per browser session."""
    page.goto(d.base + path)
    expect(page.locator("#login")).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.fill("#token", token)
    page.click("#login button[type=submit]")
    expect(page.locator("#who")).not_to_be_empty(timeout=UI_TIMEOUT_MS)


def only_the_server(page: Any, d: Dashboard) -> None:
    hosts = set(page.requested_hosts)
    assert hosts == {urlsplit(d.base).netloc}, hosts  # no CDN, no fonts, nothing else


def audit_records(project: Project) -> list[dict[str, Any]]:
    r = project.run("audit", "--json")
    assert r.code == 0, r
    doc = r.json()
    return list(doc["records"] if isinstance(doc, dict) else doc)


def test_operator_executes_pauses_resumes_and_rolls_back_from_the_page(
    dashboard: Dashboard, page: Any, shots: Path
) -> None:
    d = dashboard
    sign_in(page, d, f"/trains/{TRAIN}", d.tokens["operator"])
    expect(page.locator("#who")).to_have_text("operator-bot · operator")
    execute = page.locator("#btn-execute")
    expect(execute).to_be_enabled(timeout=UI_TIMEOUT_MS)
    page.evaluate("window.__sameDocument = true")  # gone if anything reloaded the page

    hold = d.project.hold("b")  # b stays deploying until the flag goes: a stable "running"
    execute.click()
    a_status = page.locator('tr[data-service="a"] td.c-status')
    b_status = page.locator('tr[data-service="b"] td.c-status')
    expect(a_status).to_have_text("✓ released", timeout=UI_TIMEOUT_MS)
    expect(b_status).to_have_text("▶ deploying", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#train-progress")).to_contain_text("33% · 1/3 released")
    expect(page.locator("#train-status")).to_have_text("▶ executing")
    expect(page.locator("#timeline-box svg > rect.bar-run")).to_have_count(1)
    page.screenshot(path=str(shots / "train-running.png"))

    # pause from the page, with a reason: b finishes, then the run stops before c
    page.click("#btn-pause")
    page.fill("#pause-reason", "INC-42 from the dashboard")
    page.click("#pause-confirm")
    expect(page.locator("#action-msg")).to_contain_text("pause", timeout=UI_TIMEOUT_MS)
    hold.unlink()
    wait_until(lambda: d.status() == "paused", timeout_s=60, what="the store showing paused")
    expect(page.locator("#train-status")).to_have_text("‖ paused", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#train-reason")).to_contain_text("INC-42 from the dashboard")
    assert d.project.step_status("c") == "pending"
    expect(page.locator("#timeline-box svg > rect.paused-band")).to_have_count(1)
    expect(page.locator("#timeline-totals")).to_contain_text("(1 pause)")

    resume = page.locator("#btn-resume")
    expect(resume).to_be_enabled(timeout=UI_TIMEOUT_MS)
    resume.click()
    wait_until(lambda: d.status() == "completed", timeout_s=60, what="the store: completed")
    expect(page.locator("#train-status")).to_have_text("✓ completed", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#train-progress")).to_contain_text("100% · 3/3 released")
    assert page.evaluate("window.__sameDocument") is True  # updated live, never reloaded

    # rollback: the dry-run preview first, dependents first; then a reason and a confirmation
    page.click("#btn-rollback")
    order = page.locator("#rollback-order li[data-service]")
    expect(order).to_have_count(3, timeout=UI_TIMEOUT_MS)
    assert order.evaluate_all("items => items.map(i => i.dataset.service)") == ["c", "b", "a"]
    assert d.status() == "completed"  # the preview changed nothing
    page.click("#rollback-next")  # no reason yet: refused on the page
    expect(page.locator("#rollback-confirm")).to_be_hidden()
    page.fill("#rollback-reason", "error rate up after 2.0.0")
    page.click("#rollback-next")
    expect(page.locator("#rollback-confirm-text")).to_contain_text("Roll back 3 services")
    assert d.status() == "completed"  # nothing before the confirmation
    page.click("#rollback-confirm")
    wait_until(lambda: d.status() == "rolled_back", timeout_s=60, what="the store: rolled_back")
    expect(page.locator("#train-status")).to_have_text("↺ rolled back", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#timeline-box svg > rect.bar-back")).to_have_count(3)
    page.screenshot(path=str(shots / "train-rolled-back.png"))
    rollbacks = [r for r in audit_records(d.project) if "rollback" in r["action"]]
    assert rollbacks, audit_records(d.project)
    assert {r["actor"] for r in rollbacks} == {"token:operator-bot"}
    assert any("error rate up after 2.0.0" in json.dumps(r["detail"]) for r in rollbacks)

    # the failing train, in the same browser session: no second sign-in
    page.goto(f"{d.base}/trains/{FAILING}")
    expect(page.locator("#login")).to_have_count(0)
    expect(page.locator("#btn-execute")).to_be_enabled(timeout=UI_TIMEOUT_MS)
    page.click("#btn-execute")
    wait_until(lambda: d.status(FAILING) == "failed", timeout_s=60, what="train F failed")
    expect(page.locator("#train-status")).to_have_text("✗ failed", timeout=UI_TIMEOUT_MS)
    error = page.locator('tr[data-service="a"] td.c-err')
    expect(error).to_contain_text("refused", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#timeline-box svg > rect.bar-bad")).to_have_count(1)
    page.screenshot(path=str(shots / "train-failed.png"))

    assert page.console_errors == []
    assert page.dialogs == []
    only_the_server(page, d)
    for name in ("train-running.png", "train-rolled-back.png", "train-failed.png"):
        assert (shots / name).stat().st_size > 10_000, name


def test_a_viewer_sees_no_actions_and_the_api_refuses_them(dashboard: Dashboard, page: Any) -> None:
    d = dashboard
    assert d.project.run("execute", TRAIN).code == 0
    # ?token= in the first address: kept for the session, removed from the address bar
    page.goto(f"{d.base}/?token={d.tokens['viewer']}")
    row = page.locator('tr[data-train="T"]')
    expect(row.locator("td.c-status")).to_have_text("✓ completed", timeout=UI_TIMEOUT_MS)
    expect(row.locator("td.c-progress")).to_contain_text("100% · 3/3")
    assert "token" not in page.url
    stored = page.evaluate("sessionStorage.getItem('release-trains.token')")
    assert stored == d.tokens["viewer"]

    row.locator("a").click()
    page.wait_for_url(f"{d.base}/trains/{TRAIN}", timeout=UI_TIMEOUT_MS)
    expect(page.locator('tr[data-service="c"] td.c-status')).to_have_text("✓ released")
    expect(page.locator("#read-only")).to_be_visible()
    assert page.locator("#actions button, button.action").count() == 0

    # the page hides what the API refuses anyway
    with httpx.Client(base_url=d.base, timeout=30) as c:
        auth = {"Authorization": f"Bearer {d.tokens['viewer']}"}
        for path, body in (
            ("execute", {}),
            ("pause", {"reason": "viewer"}),
            ("resume", {}),
            ("rollback", {"reason": "viewer"}),
        ):
            r = c.post(f"/api/v1/release-trains/{TRAIN}/{path}", json=body, headers=auth)
            assert r.status_code == 403, (path, r.text)
        assert c.get("/api/v1/whoami", headers=auth).json() == {
            "name": "viewer-bot",
            "role": "viewer",
            "actor": "token:viewer-bot",
        }
    assert d.status() == "completed"

    # markup in the description and in a reason is shown as text, never run or parsed
    expect(page.locator("main .desc")).to_have_text(MARKUP)

    # the service page: versions per environment, release history, signal readings
    page.locator('tr[data-service="a"] td.c-name a').click()
    page.wait_for_url(f"{d.base}/services/a", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#versions")).to_contain_text("2.0.0", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#history tbody tr")).to_have_count(1, timeout=UI_TIMEOUT_MS)
    expect(page.locator("#history")).to_contain_text("1.0.0 → 2.0.0")
    chart = page.locator("#charts figure")
    expect(chart).to_have_count(1, timeout=UI_TIMEOUT_MS)
    expect(chart.locator("figcaption")).to_contain_text("error_rate · last 0.5")
    expect(chart.locator("svg circle")).to_have_count(1)

    assert d.project.run("rollback", TRAIN, "--reason", MARKUP).code == 0
    page.goto(f"{d.base}/trains/{TRAIN}")
    expect(page.locator("#train-reason")).to_contain_text(MARKUP, timeout=UI_TIMEOUT_MS)
    expect(page.locator("#events")).to_contain_text("onerror=alert(1)")
    assert page.locator("main img, main script").count() == 0

    assert page.console_errors == []
    assert page.dialogs == []
    only_the_server(page, d)

    # an unknown train: the server's message on the page, not "reconnecting"
    page.goto(f"{d.base}/trains/no-such-train")
    expect(page.locator("#page-error")).to_contain_text("no-such-train", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#conn")).to_contain_text("live")


def test_an_awaited_approval_is_decided_from_the_page(
    tmp_path: Path, page: Any, shots: Path
) -> None:
    gate = "uat-signoff"
    train = {
        "name": TRAIN,
        "target_version": "2.0.0",
        "participants": ["a", "b"],
        "gates": [{"name": gate, "type": "approval", "when": "after", "min_approvals": 1}],
    }
    project = make_project(tmp_path, services=chain(["a", "b"]), trains=[train])
    d = Dashboard(project, make_tokens(project))
    d.start()
    try:
        # started on the command line by alice: the token may approve (not its own run)
        run = project.run("execute", TRAIN, env={"RELEASE_TRAINS_ACTOR": "alice@host-1"})
        assert run.code == 1, run  # paused, awaiting the approval
        sign_in(page, d, f"/trains/{TRAIN}", d.tokens["operator"])
        row = page.locator(f'#approvals tr[data-gate="{gate}"]')
        expect(row.locator("td.c-status")).to_have_text("… awaiting", timeout=UI_TIMEOUT_MS)
        expect(row.locator("td.c-req")).to_have_text("0/1")
        expect(page.locator("#train-reason")).to_contain_text(f"awaiting approval: {gate}")
        page.locator("#approvals").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "train-awaiting-approval.png"), full_page=True)
        # a rejection asks for its reason first; an empty one is not sent
        row.locator("button.reject").click()
        expect(page.locator("#reject-form")).to_be_visible()
        page.locator("#reject-form button[type=submit]").click()
        assert d.status() == "paused"
        page.locator("#reject-form button.quiet").click()

        row.locator("button.approve").click()
        wait_until(lambda: d.status() == "completed", timeout_s=60, what="resumed at quorum")
        expect(row.locator("td.c-status")).to_have_text("✓ approved", timeout=UI_TIMEOUT_MS)
        expect(row.locator("td.c-req")).to_contain_text("1/1 · token:operator-bot approve")
        expect(row.locator("button.approve")).to_be_disabled()
        expect(page.locator("#train-status")).to_have_text("✓ completed", timeout=UI_TIMEOUT_MS)
        assert page.console_errors == []
        only_the_server(page, d)
    finally:
        d.stop()


def test_the_page_reconnects_after_a_server_restart(dashboard: Dashboard, page: Any) -> None:
    d = dashboard
    sign_in(page, d, f"/trains/{TRAIN}", d.tokens["viewer"])
    conn = page.locator("#conn")
    expect(conn).to_contain_text("live", timeout=UI_TIMEOUT_MS)
    expect(page.locator('tr[data-service="a"] td.c-status')).to_have_text("○ pending")
    page.evaluate("window.__sameDocument = true")

    d.stop()
    expect(conn).to_contain_text("reconnecting", timeout=UI_TIMEOUT_MS)
    assert d.project.run("execute", TRAIN).code == 0  # the store moves on while it is down
    d.start()
    expect(conn).to_contain_text("live", timeout=UI_TIMEOUT_MS)
    expect(page.locator('tr[data-service="a"] td.c-status')).to_have_text(
        "✓ released", timeout=UI_TIMEOUT_MS
    )
    assert page.evaluate("window.__sameDocument") is True
    # the only errors are the refused connections while the server was down
    refused = re.compile(r"ERR_CONNECTION_REFUSED|Failed to fetch")
    others = [e for e in page.console_errors if not refused.search(e)]
    assert others == []
    only_the_server(page, d)


def test_at_phone_width_by_keyboard_alone_without_layout_jumps(
    dashboard: Dashboard, page: Any
) -> None:
    d = dashboard
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{d.base}/trains/{TRAIN}")
    token = page.locator("#token")
    expect(token).to_be_focused(timeout=UI_TIMEOUT_MS)  # the form takes the focus itself
    page.keyboard.type(d.tokens["operator"])
    page.keyboard.press("Enter")
    execute = page.locator("#btn-execute")
    expect(execute).to_be_enabled(timeout=UI_TIMEOUT_MS)
    last = page.locator('tr[data-service="c"]')
    before = last.bounding_box()
    tops = (
        "() => [...document.querySelectorAll('main > *')]"
        ".map(e => [e.id || e.className, e.offsetTop])"
    )
    tops_before = page.evaluate(tops)
    # Tab from the top of the page to the Execute button: a real, focusable button
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "btn-execute":
            break
    else:
        raise AssertionError("Tab never reached the Execute button")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    wait_until(lambda: d.status() == "completed", timeout_s=60, what="the store: completed")
    expect(last.locator("td.c-status")).to_have_text("✓ released", timeout=UI_TIMEOUT_MS)
    # the rows did not move while everything above them changed
    assert last.bounding_box() == before, (tops_before, page.evaluate(tops))
    # readable at phone width: nothing wider than the screen but the tables' own scrollers
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.console_errors == []
    only_the_server(page, d)


def test_pages_and_assets_need_no_token_and_allow_only_this_server(dashboard: Dashboard) -> None:
    with httpx.Client(base_url=dashboard.base, timeout=30) as c:
        secret = dashboard.tokens["viewer"]
        assert c.get(f"/trains/{TRAIN}?token={secret}").status_code == 200
        wait_until(lambda: "token=***" in dashboard.log(), timeout_s=10, what="the request logged")
        assert secret not in dashboard.log()  # a first address's token is never logged
        for path in ("/", f"/trains/{TRAIN}", "/services/a"):
            r = c.get(path)
            assert r.status_code == 200, path
            assert r.headers["content-type"].startswith("text/html")
            assert "default-src 'none'" in r.headers["content-security-policy"]
            assert "/static/dashboard.js" in r.text
            assert "http" not in r.text.replace("http-equiv", "")  # nothing from elsewhere
        js = c.get("/static/dashboard.js")
        assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
        assert "innerHTML" not in js.text  # data goes in as text only
        assert c.get("/static/dashboard.css").status_code == 200
        assert c.get("/static/..%2Fapp.py").status_code == 404
        assert c.get("/static/index.htm").status_code == 404
        assert c.get("/api/v1/whoami").status_code == 401
        doc = c.get("/openapi.json").json()
        assert "/api/v1/whoami" in doc["paths"]
        assert "/api/v1/services/{service}/history" in doc["paths"]
        assert "/" not in doc["paths"]  # the pages are not API routes


def test_a_platform_freeze_shows_live_and_execute_from_the_page_is_refused(
    dashboard: Dashboard, page: Any
) -> None:
    """The freeze banner against the real freeze route: declared by the console script and by
    the API, shown (reason, until or none) on both pages without a reload, gone after the
    unfreeze; Execute is refused with the 409 problem's detail on the page."""
    d = dashboard
    banner = page.locator("#freeze")
    sign_in(page, d, "/", d.tokens["operator"])
    row = page.locator(f'tr[data-train="{TRAIN}"]')
    expect(row.locator("td.c-sched")).to_have_text("no schedule", timeout=UI_TIMEOUT_MS)
    expect(banner).to_be_hidden()
    page.evaluate("window.__sameDocument = true")

    frozen = d.project.run("freeze", "--reason", "quarter close")
    assert frozen.code == 0, frozen
    expect(banner).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(banner).to_contain_text("platform freeze")
    expect(banner).to_contain_text("quarter close")
    expect(banner).to_contain_text("until: none")  # no --until: until someone unfreezes
    expect(row.locator("td.c-sched")).to_have_text("frozen · until: none (until unfrozen)")
    assert page.evaluate("window.__sameDocument") is True

    row.locator("a").click()
    page.wait_for_url(f"{d.base}/trains/{TRAIN}", timeout=UI_TIMEOUT_MS)
    expect(banner).to_contain_text("quarter close", timeout=UI_TIMEOUT_MS)
    execute = page.locator("#btn-execute")
    expect(execute).to_be_enabled(timeout=UI_TIMEOUT_MS)
    page.evaluate("window.__sameDocument = true")

    assert d.project.run("unfreeze").code == 0
    expect(banner).to_be_hidden(timeout=UI_TIMEOUT_MS)

    # declared again through the API, with an end: the page shows when it ends
    until = (datetime.now(timezone.utc) + timedelta(hours=2)).replace(microsecond=0)
    admin = {"Authorization": f"Bearer {d.tokens['admin']}"}
    with httpx.Client(base_url=d.base, timeout=30) as c:
        r = c.post(
            "/api/v1/freeze",
            json={"reason": "INC-9 " + MARKUP, "until": until.isoformat()},
            headers=admin,
        )
        assert r.status_code == 201, r.text
    shown_until = until.strftime("%Y-%m-%d %H:%M:%SZ")
    expect(banner).to_contain_text("until " + shown_until, timeout=UI_TIMEOUT_MS)
    expect(banner).to_contain_text("INC-9 " + MARKUP)  # the reason as text, never markup

    execute.click()
    message = page.locator("#action-msg")
    expect(message).to_contain_text("execute refused", timeout=UI_TIMEOUT_MS)
    expect(message).to_contain_text("frozen by platform freeze")
    expect(message).to_contain_text("INC-9")
    expect(message).to_contain_text(until.strftime("%Y-%m-%dT%H:%M"))  # when it ends
    assert d.status() is None  # nothing started
    with httpx.Client(base_url=d.base, timeout=30) as c:
        assert c.delete("/api/v1/freeze", headers=admin).status_code == 200
    expect(banner).to_be_hidden(timeout=UI_TIMEOUT_MS)
    assert page.evaluate("window.__sameDocument") is True

    assert page.locator("body img, body script:not([src])").count() == 0
    # the refusal is on the page; the console has only the browser's own line for the 409
    refused = "Failed to load resource: the server responded with a status of 409"
    assert [e for e in page.console_errors if not e.startswith(refused)] == []
    assert page.dialogs == []
    only_the_server(page, d)


def test_the_notifications_sent_by_a_run_show_in_the_train_page(tmp_path: Path, page: Any) -> None:
    """A train with its own channels (a webhook receiver on 127.0.0.1, and a Slack URL where
    nothing listens): run from the page by serve's worker, whose sender delivers; the pane
    shows each notification's event, channel and outcome (the dead channel failed, with why),
    newest first, without a reload, a pending row turning `sent` in place."""
    with http_receiver() as hook:
        dead = f"http://127.0.0.1:{closed_port()}/services/nobody-listens"
        train = {
            "name": TRAIN,
            "target_version": "2.0.0",
            "participants": ["a", "b"],
            "notifications": {"channels": ["webhook", "slack"], "events": ["started", "completed"]},
        }
        settings = {
            "channels": ["webhook"],  # the platform default; the train asks for slack too
            "webhook": {"url": f"{hook.url}/release", "headers": {"X-Team": "platform"}},
            "slack": {"webhook_url": dead},
            "events": ["started", "completed", "failed"],
            "timeout": 30,  # the held `started` outlasts no attempt: it is let go first
            "retries": 0,  # the dead channel fails at its first attempt: no backoff to wait out
        }
        project = make_project(
            tmp_path,
            services=chain(["a", "b"]),
            trains=[train],
            release_trains={"notifications": settings},
        )
        d = Dashboard(project, make_tokens(project))
        d.start()
        try:
            sign_in(page, d, f"/trains/{TRAIN}", d.tokens["operator"])
            pane = page.locator("#notifications")
            expect(pane.locator("p.empty")).to_have_text("none", timeout=UI_TIMEOUT_MS)
            page.evaluate("window.__sameDocument = true")
            hook.hold()  # `started` to the webhook stays in flight: its row shows pending
            page.locator("#btn-execute").click()
            # the run may be done by now (its `completed` rows queued behind the held one)
            first = pane.locator("tbody tr", has_text="webhook").filter(has_text="started")
            expect(first.locator("td.c-status")).to_have_text("○ pending", timeout=UI_TIMEOUT_MS)
            first.evaluate("row => { row.__seen = true; }")  # the same node once it is sent?
            hook.let_go()
            wait_until(lambda: d.status() == "completed", timeout_s=60, what="the run completed")
            assert hook.wait_for(2) and hook.events() == ["started", "completed"]

            rows = pane.locator("tbody tr")
            expect(rows).to_have_count(4, timeout=UI_TIMEOUT_MS)
            expect(pane.locator("td.c-status", has_text="✓ sent")).to_have_count(
                2, timeout=UI_TIMEOUT_MS
            )
            expect(pane.locator("td.c-status", has_text="✗ failed")).to_have_count(
                2, timeout=UI_TIMEOUT_MS
            )
            cells = rows.evaluate_all(
                "rows => rows.map(r => [...r.cells].slice(0, 3).map(c => c.textContent))"
            )
            assert sorted(map(tuple, cells)) == [
                ("completed", "slack", "✗ failed"),
                ("completed", "webhook", "✓ sent"),
                ("started", "slack", "✗ failed"),
                ("started", "webhook", "✓ sent"),
            ], cells
            assert [c[0] for c in cells] == ["completed", "completed", "started", "started"]
            webhook_sent = rows.filter(has_text="webhook").filter(has_text="sent").first
            expect(webhook_sent.locator("td.c-detail")).to_contain_text("HTTP 200")
            slack_failed = rows.filter(has_text="slack").first.locator("td.c-detail")
            expect(slack_failed).to_contain_text("giving up")
            expect(slack_failed).not_to_contain_text("nobody-listens")  # a URL is redacted
            # the pending row was updated in place, not replaced (no layout jump)
            started = rows.filter(has_text="started").filter(has_text="webhook")
            assert started.evaluate("row => row.__seen === true")
            expect(pane.locator("p.empty")).to_be_hidden()
            assert page.evaluate("window.__sameDocument") is True
            assert page.console_errors == []
            only_the_server(page, d)
        finally:
            d.stop()
