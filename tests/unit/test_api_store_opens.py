"""A request to the API opens the state store once: the route reads through the store its
token was checked against (server/auth.py keeps it open until the request ends), and it is
closed afterwards. Each open is a connection and a check of the store's tables."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from release_trains import tokens
from release_trains.server import context
from release_trains.server.app import create_app
from release_trains.state import default_path, open_store


def now() -> datetime:
    return datetime.now(timezone.utc)


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    files: dict[str, Any] = {
        "catalog/service-index.yaml": {
            "services": [
                {"name": n, "version": "1.0.0", "quality": {"score": 90, "open_critical_vulns": 0}}
                for n in ("a", "b")
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
    return root


def test_a_status_request_opens_the_store_once_and_closes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _root(tmp_path)
    store = open_store(str(default_path(root)), root, create=True)
    assert store is not None
    secret = tokens.create(store, name="viewer-bot", role="viewer", now=now().isoformat())
    store.close()
    opened: list[Any] = []
    closed: list[Any] = []
    real = context.open_store

    def counting(*args: Any, **kwargs: Any) -> Any:
        s = real(*args, **kwargs)
        if s is not None:
            opened.append(s)
            close = s.close
            s.close = lambda: (closed.append(s), close())[1]  # type: ignore[method-assign]
        return s

    monkeypatch.setattr(context, "open_store", counting)
    app = create_app(root=root, state_url=None, clock=now)
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        client.get("/api/v1/release-trains/T/status", headers=headers)  # loads the catalog
        opened.clear()
        closed.clear()
        r = client.get("/api/v1/release-trains/T/status", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["train"] == "T"
        assert len(opened) == 1  # the token check and the route share it
        assert closed == opened  # and it is closed once the request is done
        bad = client.get("/api/v1/release-trains/T/status", headers={"Authorization": "Bearer x"})
        assert bad.status_code == 401
        missing = client.get("/api/v1/release-trains/nope/status", headers=headers)
        assert missing.status_code == 404  # an error in the route still closes it
        assert len(closed) == len(opened) == 3
