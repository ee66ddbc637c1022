"""The dashboard's server side, in process (the browser tests are tests/e2e/test_dashboard.py):
the pages and assets need no token and carry a same-origin-only policy, only the named assets
are served, whoami names the token, the service history is the `report --service` document,
and the status documents carry what the page groups and times by (waves, phase start)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from release_trains import tokens
from release_trains.server.app import create_app
from release_trains.state import default_path, open_store


def now() -> datetime:
    return datetime.now(timezone.utc)


def _client(tmp_path: Path) -> tuple[TestClient, dict[str, str]]:
    root = tmp_path / "root"
    files: dict[str, Any] = {
        "catalog/service-index.yaml": {
            "services": [
                {"name": "a", "version": "1.0.0", "quality": {"score": 90}},
                {
                    "name": "b",
                    "version": "1.0.0",
                    "quality": {"score": 90},
                    "dependencies": {"internal": ["a"]},
                },
            ]
        },
        "catalog/release-trains.yaml": {
            "trains": [{"name": "T", "target_version": "2.0.0", "participants": ["a", "b"]}]
        },
        "config/upgrade-policies.yaml": {
            "release_trains": {"environment": "test", "deployer": {"type": "local"}}
        },
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    store = open_store(str(default_path(root)), root, create=True)
    assert store is not None
    secrets = {
        role: tokens.create(store, name=f"{role}-bot", role=role, now=now().isoformat())
        for role in ("viewer", "operator")
    }
    store.close()
    app = create_app(root=root, state_url=None, clock=now)
    return TestClient(app), secrets


def test_pages_and_assets_need_no_token_and_allow_only_this_origin(tmp_path: Path) -> None:
    client, _ = _client(tmp_path)
    for path in ("/", "/trains/T", "/services/a", "/trains/anything%20at%20all"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "connect-src 'self'" in csp
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers["referrer-policy"] == "no-referrer"
    js = client.get("/static/dashboard.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in js.text and "eval(" not in js.text
    assert client.get("/static/dashboard.css").headers["content-type"].startswith("text/css")
    for bad in ("/static/index.html", "/static/..%2F..%2Fapp.py", "/static/nope.js"):
        r = client.get(bad)
        assert r.status_code == 404, bad
        assert r.headers["content-type"] == "application/problem+json"


def test_whoami_names_the_token_and_needs_one(tmp_path: Path) -> None:
    client, secrets = _client(tmp_path)
    assert client.get("/api/v1/whoami").status_code == 401
    r = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {secrets['operator']}"})
    assert r.json() == {"name": "operator-bot", "role": "operator", "actor": "token:operator-bot"}


def test_history_is_the_service_report_and_status_has_waves(tmp_path: Path) -> None:
    client, secrets = _client(tmp_path)
    auth = {"Authorization": f"Bearer {secrets['viewer']}"}
    doc = client.get("/api/v1/services/a/history", headers=auth).json()
    assert doc["report"] == "service" and doc["service"] == "a"
    assert doc["releases"] == [] and doc["health"]["status"] == "not verified"
    assert client.get("/api/v1/services/zzz/history", headers=auth).status_code == 404
    assert client.get("/api/v1/services/a/history?since=x", headers=auth).status_code == 400

    status = client.get("/api/v1/release-trains/T/status", headers=auth).json()
    assert status["waves"] == [["a"], ["b"]]  # never ran: the plan made now
    every = client.get("/api/v1/release-trains", headers=auth).json()
    assert every["trains"][0]["phase_started_at"] is None  # never ran
    assert every["freeze"] is None  # as `status --json` without a train has it


def test_the_access_log_never_holds_a_token_from_an_address() -> None:
    import logging

    from release_trains.server.logs import RedactTokens, redact

    assert redact("/trains/T?token=rtk_abc&x=1") == "/trains/T?token=***&x=1"
    assert redact("/?a=1&TOKEN=rtk_abc") == "/?a=1&TOKEN=***"
    assert redact("/trains/token=x") == "/trains/token=x"  # a path, not a query
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/?token=rtk_secret", "1.1", 200), None,
    )  # fmt: skip
    assert RedactTokens().filter(record)
    assert "rtk_secret" not in record.getMessage()
