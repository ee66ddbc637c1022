"""Trains defined through the API, on a real `release-trains serve`: created, read, changed
and deleted over HTTP, with every problem of a bad definition listed; and then planned,
executed and reported by the CLI like a train of catalog/release-trains.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from e2e_support import TRAIN, chain, make_project
from test_api_server import API, Server, make_tokens, serve

pytestmark = pytest.mark.slow

NEW = {
    "name": "api-train",
    "description": "made over HTTP",
    "target_version": "2.0.0",
    "participants": ["a", "b"],
    "dependencies": [{"spec": "curves-api", "version": ">=2.0.0"}],
}


@pytest.fixture
def server(tmp_path: Path, state: str | None) -> Iterator[Server]:
    """On SQLite and on PostgreSQL (the `state` fixture): the definitions live in the store."""
    project = make_project(tmp_path, services=chain(["a", "b"]), state=state)
    specs = {"specs": {"curves-api": {"versions": ["2.1.0"]}}}
    (project.root / "catalog" / "specs-index.yaml").write_text(yaml.safe_dump(specs))
    tokens = make_tokens(project)
    s = serve(project)
    s.tokens = tokens
    yield s
    assert s.stop() == 0


def _api_rows(server: Server) -> list[tuple[object, ...]]:
    if not server.project.has_table("api_trains"):
        return []
    return server.project.query("SELECT name, created_by FROM api_trains ORDER BY name")


def test_create_read_change_delete(server: Server) -> None:
    with server.client("admin") as c:
        made = c.post(f"{API}/release-trains", json=NEW)
        assert made.status_code == 201, made.text
        assert made.json()["train"] == "api-train" and made.json()["source"] == "api"
        assert _api_rows(server) == [("api-train", "token:admin-bot")]
        again = c.post(f"{API}/release-trains", json=NEW)
        assert again.status_code == 409 and "exists" in again.json()["detail"]
    with server.client("viewer") as c:
        got = c.get(f"{API}/release-trains/api-train").json()
        assert got["source"] == "api" and got["definition"] == NEW
        listed = [t["train"] for t in c.get(f"{API}/release-trains").json()["trains"]]
        assert "api-train" in listed and TRAIN in listed
        assert c.get(f"{API}/release-trains/{TRAIN}").json()["source"] == "catalog"
        plan = c.get(f"{API}/release-trains/api-train/plan").json()
        assert plan["train"] == "api-train" and plan["ready"] is True, plan
        denied = c.put(f"{API}/release-trains/api-train", json={**NEW, "description": "x"})
        assert denied.status_code == 403
    with server.client("admin") as c:
        changed = {**NEW, "participants": ["a"], "description": "one service"}
        r = c.put(f"{API}/release-trains/api-train", json=changed)
        assert r.status_code == 200, r.text
        assert r.json()["definition"]["participants"] == ["a"]
        no_name = {k: v for k, v in changed.items() if k != "name"}
        assert c.put(f"{API}/release-trains/api-train", json=no_name).status_code == 200
        renamed = c.put(f"{API}/release-trains/api-train", json={**changed, "name": "other"})
        assert renamed.status_code == 422 and renamed.json()["errors"][0]["path"] == "$.name"
        bad = c.put(f"{API}/release-trains/api-train", json={**changed, "participants": []})
        assert bad.status_code == 422
        assert c.get(f"{API}/release-trains/api-train").json()["definition"] == changed
        catalog = c.put(f"{API}/release-trains/{TRAIN}", json={**NEW, "name": TRAIN})
        assert catalog.status_code == 409
        assert "edit catalog/release-trains.yaml" in catalog.json()["detail"]
        assert c.delete(f"{API}/release-trains/{TRAIN}").status_code == 409
        assert c.put(f"{API}/release-trains/nope", json=NEW | {"name": "nope"}).status_code == 404
        assert c.delete(f"{API}/release-trains/api-train").status_code == 204
        assert c.get(f"{API}/release-trains/api-train").status_code == 404
        assert c.delete(f"{API}/release-trains/api-train").status_code == 404
    assert _api_rows(server) == []


def test_every_problem_of_a_definition_is_listed_and_nothing_is_written(server: Server) -> None:
    bad = {
        "name": "broken",
        "target_version": "not a version",
        "participants": ["a", "ghost"],
        "dependencies": [{"spec": "curves-api", "version": ">>2"}],
        "gates": ["all_participants_quality >= lots"],
        "progress": 50,
    }
    with server.client("admin") as c:
        r = c.post(f"{API}/release-trains", json=bad)
        assert r.status_code == 422, r.text
        doc = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        paths = {e["path"] for e in doc["errors"]}
        assert {"$.progress", "$.target_version", "$.dependencies[0].version"} <= paths, doc
        assert any("computed" in e["message"] for e in doc["errors"])
        schema = c.post(f"{API}/release-trains", json={"name": "x", "participants": [], "oops": 1})
        assert schema.status_code == 422
        assert {e["path"] for e in schema.json()["errors"]} == {"$", "$.participants"}
        ghost = c.post(f"{API}/release-trains", json={"name": "g", "participants": ["ghost"]})
        assert ghost.status_code == 422
        assert ghost.json()["errors"][0]["path"] == "$.participants[0]"
        assert "ghost" in ghost.json()["errors"][0]["message"]
        for name in ("../../etc/passwd", "..", "a/b", "x" * 300):
            r = c.post(f"{API}/release-trains", json={"name": name, "participants": ["a"]})
            assert r.status_code == 422 and r.json()["errors"][0]["path"] == "$.name", name
        for path in ("..%2F..%2Fetc", "%2E%2E"):
            r = c.put(f"{API}/release-trains/{path}", json={"participants": ["a"]})
            assert r.status_code in (404, 422), (path, r.status_code)
            assert c.delete(f"{API}/release-trains/{path}").status_code in (404, 405), path
        assert (
            c.post(
                f"{API}/release-trains",
                content=b"[1]",
                headers={"Content-Type": "application/json"},
            ).status_code
            == 422
        )
    assert _api_rows(server) == []


def test_an_api_train_is_planned_executed_and_reported_by_the_cli(server: Server) -> None:
    project = server.project
    with server.client("admin") as c:
        assert c.post(f"{API}/release-trains", json=NEW).status_code == 201
    plan = project.run("plan", "api-train", "--json")
    assert plan.code == 0, plan
    assert [p["service"] for p in plan.json()["participants"]] == ["a", "b"]
    assert plan.json()["dependencies"][0]["outcome"] == "satisfied"
    done = project.run("execute", "api-train")
    assert done.code == 0, done
    status = project.run("status", "api-train", "--json").json()
    assert status["status"] == "completed"
    with server.client("viewer") as c:
        assert c.get(f"{API}/release-trains/api-train/status").json()["status"] == "completed"
        report = c.get(f"{API}/reports/trains/api-train", params={"format": "json"})
        assert report.status_code == 200 and report.json()["train"] == "api-train"
    report_cli = project.run("report", "--train", "api-train", "--format", "json", "--output", "-")
    assert report_cli.code == 0, report_cli
    with server.client("admin") as c:
        assert c.delete(f"{API}/release-trains/api-train").status_code == 204
    # its history stays: the run is still there
    assert project.query("SELECT status FROM runs WHERE train = 'api-train'") == [("completed",)]


def test_a_name_in_yaml_and_through_the_api_is_an_error(server: Server) -> None:
    project = server.project
    with server.client("admin") as c:
        assert c.post(f"{API}/release-trains", json=NEW).status_code == 201
    trains = yaml.safe_load((project.root / "catalog" / "release-trains.yaml").read_text())
    trains["trains"].append({"name": "api-train", "participants": ["a"]})
    (project.root / "catalog" / "release-trains.yaml").write_text(yaml.safe_dump(trains))
    r = project.run("plan", TRAIN)
    assert r.code == 2
    assert "API train api-train" in r.err and "both" in r.err, r.err
