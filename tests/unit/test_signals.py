"""Signal sources, read for real: files on disk, processes run through deployers/process.py,
and HTTP servers on 127.0.0.1 (tests/helpers.py) answering as a JSON service, as the
Prometheus HTTP API, and as a service's /metrics page written by prometheus_client itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import (
    Reply,
    ScriptedServer,
    closed_port,
    process_gone,
    serve,
    wait_until,
    write_script,
)
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from release_trains.signals import Reading, coerce, read_all, read_signal

SECRET = "s3cr3t-token-value"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serve() as s:
        yield s


def unknown(reading: Reading) -> str:
    """The reason of a failed read (and proof that it failed)."""
    assert reading.value is None, reading
    assert reading.error, reading
    return reading.error


# --- static and file -----------------------------------------------------------------------


def test_static_value(tmp_path: Path) -> None:
    assert read_signal("rate", {"value": "4.2%"}, root=tmp_path) == Reading(
        "rate", 4.2, "static value"
    )
    assert read_signal("ok", {"value": True}, root=tmp_path).value is True


def test_static_value_that_is_not_a_number_is_unknown(tmp_path: Path) -> None:
    assert "neither a number nor a boolean" in unknown(
        read_signal("x", {"value": "soon"}, root=tmp_path)
    )


def test_file_source_digs_the_path(tmp_path: Path) -> None:
    (tmp_path / "signals").mkdir()
    (tmp_path / "signals" / "uat.json").write_text(json.dumps({"uat": {"passed": True}}))
    (tmp_path / "signals" / "perf.yaml").write_text("runs:\n  - p99: 180\n")
    uat = read_signal("uat", {"file": "signals/uat.json", "path": "uat.passed"}, root=tmp_path)
    assert uat == Reading("uat", True, "file signals/uat.json")
    perf = read_signal("p99", {"file": "signals/perf.yaml", "path": "runs.0.p99"}, root=tmp_path)
    assert perf.value == 180.0


def test_file_source_missing_path_or_file_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text("{}")
    assert "not found" in unknown(read_signal("x", {"file": "s.json", "path": "a"}, root=tmp_path))
    assert unknown(read_signal("x", {"file": "nope.json"}, root=tmp_path))


def test_a_spec_without_a_source_is_unknown(tmp_path: Path) -> None:
    assert "not supported" in unknown(read_signal("x", {"description": "?"}, root=tmp_path))


# --- command -------------------------------------------------------------------------------


def test_command_number_on_stdout(tmp_path: Path) -> None:
    script = write_script(tmp_path / "rate", "echo 'computing...' >&2\necho 0.75\n")
    reading = read_signal("rate", {"command": [str(script)]}, root=tmp_path)
    assert reading.value == 0.75, reading
    assert reading.source == f"command {script}"


def test_command_argv_takes_the_service_field(tmp_path: Path) -> None:
    script = write_script(
        tmp_path / "rate", 'case "$1" in pricing) echo 1.5 ;; *) echo 99 ;; esac\n'
    )
    spec = {"command": [str(script), "{service}"]}
    reading = read_signal("rate", spec, root=tmp_path, fields={"service": "pricing"})
    assert reading.value == 1.5, reading
    assert reading.source == f"command {script} pricing"
    # No service to fill the template: unknown, and nothing ran with a literal "{service}".
    assert "no service known" in unknown(read_signal("rate", spec, root=tmp_path))
    # A value that is not one token never reaches the argv.
    bad = read_signal("rate", spec, root=tmp_path, fields={"service": "a b; rm -rf /"})
    assert "refusing service" in unknown(bad)


def test_command_json_stdout_with_path(tmp_path: Path) -> None:
    doc = {"suite": "smoke", "results": [{"passed": False}, {"passed": True, "rate": 0.02}]}
    script = write_script(tmp_path / "smoke", f"cat <<'EOF'\n{json.dumps(doc, indent=2)}\nEOF\n")
    spec: dict[str, Any] = {"command": [str(script)], "path": "results.1.rate"}
    assert read_signal("smoke", spec, root=tmp_path).value == 0.02
    spec["path"] = "$.results.0.passed"
    assert read_signal("smoke", spec, root=tmp_path).value is False
    spec["path"] = "results.7.rate"
    assert "not found in the output" in unknown(read_signal("smoke", spec, root=tmp_path))


def test_command_output_that_is_not_json_is_unknown_when_a_path_is_given(tmp_path: Path) -> None:
    script = write_script(tmp_path / "s", "echo 0.5\necho trailing noise\n")
    spec = {"command": [str(script)], "path": "a"}
    assert "not JSON" in unknown(read_signal("s", spec, root=tmp_path))


def test_command_non_zero_exit_is_unknown(tmp_path: Path) -> None:
    script = write_script(tmp_path / "s", "echo 0.5\necho 'metrics backend down'\nexit 3\n")
    error = unknown(read_signal("s", {"command": [str(script)]}, root=tmp_path))
    assert error == "exit 3: metrics backend down"


def test_command_not_found_is_unknown(tmp_path: Path) -> None:
    error = unknown(read_signal("s", {"command": [str(tmp_path / "missing")]}, root=tmp_path))
    assert "executable not found" in error


def test_command_timeout_is_unknown_within_bound_and_kills_the_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    # The script's child `sleep` is what would hang: the whole group must go.
    script = write_script(tmp_path / "slow", f"sleep 30 &\necho $! > {pid_file}\nwait\n")
    started = time.monotonic()
    reading = read_signal("s", {"command": [str(script)], "timeout": 0.5}, root=tmp_path)
    elapsed = time.monotonic() - started
    assert "timed out after 0.5 s" in unknown(reading)
    assert elapsed < 0.5 + 1.0 + 2.0  # the timeout, the 1 s grace, and slack for a slow machine
    child = int(pid_file.read_text())
    wait_until(lambda: process_gone(child), what=f"sleep child {child} gone")


def test_command_silent_success_is_unknown(tmp_path: Path) -> None:
    script = write_script(tmp_path / "s", "exit 0\n")
    assert "no output" in unknown(read_signal("s", {"command": [str(script)]}, root=tmp_path))


def test_command_that_is_not_an_argv_is_unknown(tmp_path: Path) -> None:
    error = unknown(read_signal("s", {"command": "echo 1 | cat"}, root=tmp_path))
    assert "non-empty list of strings" in error


# --- http_json -----------------------------------------------------------------------------


def test_http_json_value(server: ScriptedServer, tmp_path: Path) -> None:
    server.script("/signals/pricing", Reply(200, {"errors": {"rate": "0.4%"}}))
    spec = {"http_json": f"{server.url}/signals/{{service}}", "path": "errors.rate"}
    reading = read_signal("err", spec, root=tmp_path, fields={"service": "pricing"})
    assert reading == Reading("err", 0.4, f"http_json {server.url}/signals/pricing")
    assert [r.method for r in server.requests] == ["GET"]


def test_http_json_missing_path_is_unknown(server: ScriptedServer, tmp_path: Path) -> None:
    server.script("/s", Reply(200, {"errors": {}}))
    spec = {"http_json": f"{server.url}/s", "path": "errors.rate"}
    error = unknown(read_signal("err", spec, root=tmp_path))
    assert "'errors.rate' not found in the response" in error


def test_http_json_server_error_is_unknown(server: ScriptedServer, tmp_path: Path) -> None:
    server.script("/s", Reply(500, "database unavailable"))
    error = unknown(read_signal("err", {"http_json": f"{server.url}/s"}, root=tmp_path))
    assert error == f"GET {server.url}/s -> 500: database unavailable"


def test_http_json_body_that_is_not_json_is_unknown(server: ScriptedServer, tmp_path: Path) -> None:
    server.script("/s", Reply(200, "<html>login</html>"))
    spec = {"http_json": f"{server.url}/s", "path": "a"}
    assert "body is not JSON" in unknown(read_signal("err", spec, root=tmp_path))


def test_http_json_connection_refused_is_unknown(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/s"
    error = unknown(read_signal("err", {"http_json": url, "path": "a"}, root=tmp_path))
    assert error == f"GET {url}: connection refused"


def test_http_json_hanging_server_is_unknown_within_the_timeout(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.script("/s", Reply(hang=True))
    started = time.monotonic()
    spec = {"http_json": f"{server.url}/s", "path": "a", "timeout": 0.5}
    error = unknown(read_signal("err", spec, root=tmp_path))
    assert "timed out after 0.5 s" in error
    assert time.monotonic() - started < 0.5 + 2.0


def test_http_json_header_secret_is_sent_but_never_shown(
    server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", SECRET)
    # A server that echoes the credential back in its error body: the reason must not.
    server.script("/s", Reply(500, f"bad token Bearer {SECRET} for this route"))
    spec = {
        "http_json": f"{server.url}/s",
        "path": "a",
        "headers": {"Authorization": "Bearer ${TOKEN}"},
    }
    reading = read_signal("err", spec, root=tmp_path)
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    error = unknown(reading)
    assert SECRET not in error and SECRET not in reading.source
    assert "bad token Bearer *** for this route" in error


def test_http_json_unset_header_variable_is_unknown_and_nothing_is_sent(
    server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    spec = {"http_json": f"{server.url}/s", "headers": {"X-Key": "${NO_SUCH_TOKEN}"}}
    error = unknown(read_signal("err", spec, root=tmp_path))
    assert "environment variable NO_SUCH_TOKEN is not set" in error
    assert server.requests == []


# --- prometheus: the HTTP API of a Prometheus server ----------------------------------------


def vector(*series: tuple[dict[str, str], str]) -> dict[str, Any]:
    result = [{"metric": m, "value": [1712000000.123, v]} for m, v in series]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def prom_spec(server: ScriptedServer, query: str, **more: Any) -> dict[str, Any]:
    return {"prometheus": {"url": server.url, "query": query}, **more}


def sent_query(server: ScriptedServer) -> str:
    (seen,) = server.requests
    parts = urlsplit(seen.path)
    assert parts.path == "/api/v1/query"
    (query,) = parse_qs(parts.query)["query"]
    return query


def test_prometheus_vector_with_one_series(server: ScriptedServer, tmp_path: Path) -> None:
    server.script("/api/v1/query", Reply(200, vector(({"service": "pricing"}, "0.0125"))))
    query = 'sum(rate(http_errors_total{service="{service}"}[5m]))'
    reading = read_signal(
        "err", prom_spec(server, query), root=tmp_path, fields={"service": "pricing"}
    )
    assert reading.value == 0.0125, reading
    rendered = 'sum(rate(http_errors_total{service="pricing"}[5m]))'
    assert sent_query(server) == rendered  # URL-encoded on the way, intact on arrival
    assert reading.source == f"prometheus {server.url} {rendered}"


def test_prometheus_scalar(server: ScriptedServer, tmp_path: Path) -> None:
    body = {"status": "success", "data": {"resultType": "scalar", "result": [1712000000, "42"]}}
    server.script("/api/v1/query", Reply(200, body))
    assert read_signal("n", prom_spec(server, "scalar(42)"), root=tmp_path).value == 42.0


def test_prometheus_empty_result_is_unknown(server: ScriptedServer, tmp_path: Path) -> None:
    server.script("/api/v1/query", Reply(200, vector()))
    error = unknown(read_signal("err", prom_spec(server, "absent_metric"), root=tmp_path))
    assert error == "query returned no series"


def test_prometheus_several_series_is_unknown(server: ScriptedServer, tmp_path: Path) -> None:
    body = vector(({"service": "a"}, "1"), ({"service": "b"}, "2"), ({"service": "c"}, "3"))
    server.script("/api/v1/query", Reply(200, body))
    error = unknown(read_signal("err", prom_spec(server, "http_error_rate"), root=tmp_path))
    assert error == "query returned 3 series; aggregate it (e.g. sum(...))"


def test_prometheus_status_error_is_unknown_with_its_text(
    server: ScriptedServer, tmp_path: Path
) -> None:
    # What Prometheus answers to a query that does not parse.
    body = {
        "status": "error",
        "errorType": "bad_data",
        "error": 'invalid parameter "query": 1:5: parse error: unexpected end of input',
    }
    server.script("/api/v1/query", Reply(400, body))
    error = unknown(read_signal("err", prom_spec(server, "sum("), root=tmp_path))
    assert error == (
        'prometheus error (bad_data): invalid parameter "query": 1:5: parse error: '
        "unexpected end of input"
    )


def test_prometheus_nan_is_unknown(server: ScriptedServer, tmp_path: Path) -> None:
    server.script("/api/v1/query", Reply(200, vector(({}, "NaN"))))
    assert "NaN" in unknown(read_signal("err", prom_spec(server, "0/0"), root=tmp_path))


def test_prometheus_matrix_is_unknown(server: ScriptedServer, tmp_path: Path) -> None:
    body = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    server.script("/api/v1/query", Reply(200, body))
    assert "matrix" in unknown(read_signal("err", prom_spec(server, "x[5m]"), root=tmp_path))


def test_prometheus_unreachable_is_unknown(tmp_path: Path) -> None:
    spec = {"prometheus": {"url": f"http://127.0.0.1:{closed_port()}", "query": "up"}}
    assert "connection refused" in unknown(read_signal("up", spec, root=tmp_path))


def test_prometheus_header_secret_is_sent_and_scrubbed(
    server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", SECRET)
    server.script("/api/v1/query", Reply(502, f"upstream rejected {SECRET}"))
    spec = prom_spec(server, "up", headers={"Authorization": "Bearer ${TOKEN}"})
    error = unknown(read_signal("up", spec, root=tmp_path))
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in error and "-> 502" in error


def test_prometheus_spec_with_neither_form_is_unknown(tmp_path: Path) -> None:
    error = unknown(read_signal("x", {"prometheus": {"url": "http://127.0.0.1:1"}}, root=tmp_path))
    assert "needs either `url` and `query`" in error


# --- prometheus: a service's own /metrics page ---------------------------------------------


@pytest.fixture
def metrics_page() -> bytes:
    """A page in the Prometheus text format, written by prometheus_client itself."""
    registry = CollectorRegistry()
    errors = Gauge("http_error_rate", "Errors per request", ["service"], registry=registry)
    errors.labels(service="pricing").set(0.5)
    errors.labels(service="curve").set(2.5)
    Counter("requests", "Requests served", registry=registry).inc(7)
    latency = Histogram("latency_seconds", "Request latency", buckets=(0.1, 1.0), registry=registry)
    latency.observe(0.05)
    latency.observe(0.5)
    return generate_latest(registry)


@pytest.fixture
def metrics_url(server: ScriptedServer, metrics_page: bytes) -> str:
    text = metrics_page.decode("utf-8")
    assert text.encode("utf-8") == metrics_page  # the server sends exactly these bytes
    server.script("/metrics", Reply(200, text))
    return f"{server.url}/metrics"


def page_spec(url: str, metric: str, **labels: str) -> dict[str, Any]:
    return {"prometheus": {"metrics_url": url, "metric": metric, "labels": labels}}


def test_metrics_page_gauge_selected_by_labels(metrics_url: str, tmp_path: Path) -> None:
    pricing = read_signal(
        "e", page_spec(metrics_url, "http_error_rate", service="pricing"), root=tmp_path
    )
    curve = read_signal(
        "e", page_spec(metrics_url, "http_error_rate", service="curve"), root=tmp_path
    )
    assert (pricing.value, curve.value) == (0.5, 2.5), (pricing, curve)
    assert pricing.source == f'metrics {metrics_url} http_error_rate{{service="pricing"}}'


def test_metrics_page_label_template_takes_the_service(metrics_url: str, tmp_path: Path) -> None:
    spec = page_spec(metrics_url, "http_error_rate", service="{service}")
    assert read_signal("e", spec, root=tmp_path, fields={"service": "curve"}).value == 2.5


def test_metrics_page_counter_by_family_or_sample_name(metrics_url: str, tmp_path: Path) -> None:
    assert read_signal("r", page_spec(metrics_url, "requests"), root=tmp_path).value == 7.0
    assert read_signal("r", page_spec(metrics_url, "requests_total"), root=tmp_path).value == 7.0


def test_metrics_page_histogram_samples(metrics_url: str, tmp_path: Path) -> None:
    def value(metric: str, **labels: str) -> Any:
        return read_signal("l", page_spec(metrics_url, metric, **labels), root=tmp_path).value

    assert value("latency_seconds_count") == 2.0
    assert value("latency_seconds_sum") == pytest.approx(0.55)
    assert value("latency_seconds_bucket", le="0.1") == 1.0
    assert value("latency_seconds_bucket", le="+Inf") == 2.0
    # The family itself has no sample of that name: say which ones there are.
    error = unknown(read_signal("l", page_spec(metrics_url, "latency_seconds"), root=tmp_path))
    assert "latency_seconds_count" in error and "latency_seconds_bucket" in error


def test_metrics_page_ambiguous_sample_is_unknown(metrics_url: str, tmp_path: Path) -> None:
    error = unknown(read_signal("e", page_spec(metrics_url, "http_error_rate"), root=tmp_path))
    assert error.startswith("2 samples match; add labels")
    assert '{service="pricing"}' in error and '{service="curve"}' in error


def test_metrics_page_missing_metric_or_labels_is_unknown(metrics_url: str, tmp_path: Path) -> None:
    missing = unknown(
        read_signal("x", page_spec(metrics_url, "queue_depth", queue="a"), root=tmp_path)
    )
    assert missing == f'no metric queue_depth{{queue="a"}} on {metrics_url}'
    other = unknown(
        read_signal(
            "e", page_spec(metrics_url, "http_error_rate", service="billing"), root=tmp_path
        )
    )
    assert 'http_error_rate has labels {service="billing"}' in other
    assert '{service="pricing"}' in other  # what there is, to fix the config by


def test_metrics_page_that_is_not_the_text_format_is_unknown(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.script("/metrics", Reply(200, "this is { not a metrics page\n"))
    error = unknown(read_signal("x", page_spec(f"{server.url}/metrics", "x"), root=tmp_path))
    assert "not a Prometheus text page" in error


def test_metrics_page_server_error_is_unknown(server: ScriptedServer, tmp_path: Path) -> None:
    server.script("/metrics", Reply(503, "starting"))
    error = unknown(read_signal("x", page_spec(f"{server.url}/metrics", "x"), root=tmp_path))
    assert error == f"GET {server.url}/metrics -> 503: starting"


# --- read_all and coerce -------------------------------------------------------------------


def test_read_all_reads_every_signal(metrics_url: str, tmp_path: Path) -> None:
    specs = {
        "static": {"value": 1},
        "errors": page_spec(metrics_url, "http_error_rate", service="{service}"),
        "broken": {"http_json": f"http://127.0.0.1:{closed_port()}/"},
    }
    readings = read_all(specs, root=tmp_path, fields={"service": "pricing"})
    assert {n: r.value for n, r in readings.items()} == {
        "static": 1.0,
        "errors": 0.5,
        "broken": None,
    }


@pytest.mark.parametrize(
    ("raw", "value"),
    [(3, 3.0), ("4.5%", 4.5), (" PASSED ", True), ("failure", False), ("+Inf", float("inf"))],
)
def test_coerce(raw: Any, value: float | bool) -> None:
    assert coerce(raw) == (value, None)


@pytest.mark.parametrize("raw", ["nan", float("nan"), None, {"a": 1}, "n/a"])
def test_coerce_refuses(raw: Any) -> None:
    got, error = coerce(raw)
    assert got is None and error


def test_a_huge_error_text_from_a_source_is_cut(server: ScriptedServer, tmp_path: Path) -> None:
    # Prometheus' error text is quoted as the reason; a hostile or broken server can make it
    # as large as the body cap, and the reason goes into gate details and the state store.
    server.script(
        "*", Reply(400, {"status": "error", "errorType": "bad_data", "error": "y" * 500_000})
    )
    spec = {"prometheus": {"url": server.url, "query": "up"}}
    error = unknown(read_signal("err", spec, root=tmp_path))
    assert error.startswith("prometheus error (bad_data): yyy")
    assert len(error) < 1100 and error.endswith(" chars cut]")
