"""Requests to the API read through a store kept open per server thread, and the next
request of that thread reuses it. Each open is a connection and a check
of the store's tables. A kept store is opened again once it is too old, or when its file was
replaced, and a store replaced while a request uses it is closed when that request ends."""

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


def _counting(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
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
    return opened, closed


def _token(root: Path) -> str:
    store = open_store(str(default_path(root)), root, create=True)
    assert store is not None
    secret = tokens.create(store, name="viewer-bot", role="viewer", now=now().isoformat())
    store.close()
    return secret


def test_status_requests_share_one_kept_store_and_see_every_new_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _root(tmp_path)
    secret = _token(root)
    opened, closed = _counting(monkeypatch)
    app = create_app(root=root, state_url=None, clock=now)
    headers = {"Authorization": f"Bearer {secret}"}
    with TestClient(app) as client:
        for _ in range(5):
            r = client.get("/api/v1/release-trains/T/status", headers=headers)
            assert r.status_code == 200, r.text
        bad = client.get("/api/v1/release-trains/T/status", headers={"Authorization": "Bearer x"})
        assert bad.status_code == 401
        missing = client.get("/api/v1/release-trains/nope/status", headers=headers)
        assert missing.status_code == 404  # an error in the route leaves the store usable
        # at most one per thread of the server's pool, never one per request; the one store
        # closed is the write of the token's first use (its last-used time)
        assert 1 <= len(opened) < 8 and len(closed) == 1
        # another process revokes the token: the kept store sees the commit at once
        other = open_store(str(default_path(root)), root, create=False)
        assert other is not None
        tokens.revoke(other, "viewer-bot", now=now().isoformat())
        other.close()
        assert client.get("/api/v1/release-trains/T/status", headers=headers).status_code == 401


def test_a_kept_store_is_opened_again_when_too_old_or_its_file_was_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _root(tmp_path)
    secret = _token(root)
    opened, closed = _counting(monkeypatch)
    ctx = context.ServerContext(root=root, state_url=None, clock=now)
    with ctx.reading() as first:
        assert first is not None
    with ctx.reading() as again:
        assert again is first and len(opened) == 1
    clock = [0.0]
    monkeypatch.setattr(context.time, "monotonic", lambda: clock[0])
    ctx2 = context.ServerContext(root=root, state_url=None, clock=now)
    with ctx2.reading() as young:
        pass
    clock[0] = context.READ_STORE_MAX_AGE_S + 1
    with ctx2.reading() as renewed:
        assert renewed is not young and young in closed  # too old: opened again, old closed
    # the store's file replaced (restored from a backup, say): the new file is read
    path = default_path(root)
    copy = path.with_name("copy.db")
    copy.write_bytes(path.read_bytes())
    copy.replace(path)
    with ctx2.reading() as replaced:
        assert replaced is not renewed and renewed in closed
        assert replaced is not None and tokens.authenticate(replaced, f"Bearer {secret}", now=now())


def test_a_kept_store_replaced_while_in_use_is_closed_by_its_last_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _root(tmp_path)
    _token(root)
    _opened, closed = _counting(monkeypatch)
    clock = [0.0]
    monkeypatch.setattr(context.time, "monotonic", lambda: clock[0])
    ctx = context.ServerContext(root=root, state_url=None, clock=now)
    with ctx.reading() as in_use:  # a request still using it (on another thread, say)
        clock[0] = context.READ_STORE_MAX_AGE_S + 1
        with ctx.reading() as newer:
            assert newer is not in_use
        assert closed == []  # not closed under the request using it
        assert in_use is not None and in_use.latest_run("T") is None  # still usable
    assert closed == [in_use]
