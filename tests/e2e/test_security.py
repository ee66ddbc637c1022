"""End to end: the defences of SECURITY.md, proved against the real console entry point.

(a) a shell-injection version never runs: `validate`, `plan` and `execute` refuse it as bad
    input, and a command deployer handed one in-process (past validation) refuses it too;
(b) deploy and signal tokens from `${VAR}` headers reach the servers and nothing else: not a
    file under the root (state database included), not stdout, not stderr, even when the
    servers echo the header back;
(c) a `<script>` in a description, a deploy's output or a rollback reason is never written raw
    into a report format meant for browsers;
(d) a custom gate or trigger written as Python is bad input and never runs;
(e) control characters in a description, a deploy's output or a rollback reason never reach
    a terminal, the monitoring log or a report raw, and a newline never forges a log line.

Every server listens on 127.0.0.1; every CLI call is a real subprocess.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from e2e_support import TARGET, TRAIN, Project, Result, chain, make_project
from helpers import recording_script, write_script

from release_trains.deployers.base import DeployRequest
from release_trains.deployers.command import CommandDeployer
from release_trains.errors import InputError

# --- (a) shell injection through a version ----------------------------------------------------


def _evil(tmp_path: Path, name: str = "pwned") -> tuple[str, Path]:
    pwned = tmp_path / name
    return f"1.0; touch {pwned}", pwned


def _assert_refused_as_bad_input(result: Result, *, names: str, path: str) -> None:
    assert result.code == 2, result
    assert "Traceback" not in result.out + result.err, result
    shown = result.out + result.err
    assert names in shown and path in shown, result


@pytest.mark.parametrize("where", ["participant version", "catalog version", "target version"])
def test_an_injected_version_is_refused_before_anything_runs(tmp_path: Path, where: str) -> None:
    evil, pwned = _evil(tmp_path)
    trains: list[dict[str, Any]] = [
        {"name": TRAIN, "target_version": TARGET, "participants": ["a", "b"]}
    ]
    service_extra: dict[str, dict[str, Any]] = {}
    if where == "participant version":
        trains[0]["participants"] = [{"name": "a", "version": evil}, "b"]
        file, path = "catalog/release-trains.yaml", "$.trains[0].participants[0].version"
    elif where == "catalog version":
        service_extra = {"a": {"version": evil}}
        file, path = "catalog/service-index.yaml", "$.services[0].version"
    else:
        trains[0]["target_version"] = f"a:{evil}"
        file, path = "catalog/release-trains.yaml", "$.trains[0].target_version"
    p = make_project(
        tmp_path, services=chain(["a", "b"]), trains=trains, service_extra=service_extra
    )

    for args in (
        ("validate",),
        ("plan", TRAIN),
        ("execute", TRAIN, "--dry-run"),
        ("execute", TRAIN),
    ):
        _assert_refused_as_bad_input(p.run(*args), names=file, path=path)

    assert not pwned.exists()
    assert p.calls() == [], "the deploy command ran"
    assert not (p.root / "analysis").exists(), "bad input wrote state, plans or logs"


def _requests(evil: str) -> list[tuple[str, DeployRequest]]:
    """Every place a value reaches a template, each carrying the injected text once."""
    ok = DeployRequest(
        service="a", version="2.0.0", previous_version="1.0.0", train=TRAIN, environment="test"
    )
    return [
        ("deploy", DeployRequest("a", evil, "1.0.0", TRAIN, "test")),
        ("deploy", DeployRequest(evil, "2.0.0", "1.0.0", TRAIN, "test")),
        ("deploy", DeployRequest("a", "2.0.0", "1.0.0", evil, "test")),
        ("deploy", DeployRequest("a", "2.0.0", "1.0.0", TRAIN, evil)),
        ("deploy", DeployRequest("a", "2.0.0", evil, TRAIN, "test")),  # {previous_version}
        ("rollback", DeployRequest("a", evil, "2.0.0", TRAIN, "test")),  # the version to return to
        ("rollback", DeployRequest("a", ok.version, evil, TRAIN, "test")),  # the version left
        ("check", DeployRequest("a", evil, "1.0.0", TRAIN, "test")),
    ]


@pytest.mark.parametrize("shell", [False, True], ids=["argv", "sh-c-template"])
def test_a_version_that_slips_past_validation_is_refused_by_the_command_deployer(
    tmp_path: Path, shell: bool
) -> None:
    # Built in-process, as if a value had reached the executor without going through the
    # catalog. With `sh -c` templates (a user's choice the tool cannot forbid) the value check
    # is the only thing between the version and a shell, so it is tested both ways.
    evil, pwned = _evil(tmp_path)
    recorder = recording_script(tmp_path / "bin")
    fields = "{service} {version} {previous_version} {train} {environment}"
    if shell:
        template = ["/bin/sh", "-c", f"{recorder.script} {fields}"]
    else:
        template = [str(recorder.script), *fields.split()]
    logged: list[str] = []
    deployer = CommandDeployer.from_settings(
        {
            "deploy": template, "rollback": template, "check": template,
            "current_version": [str(recorder.script), "{service}"], "retries": 2, "backoff": 0,
        },
        environment="test", log=logged.append, sleep=lambda s: None,
    )  # fmt: skip
    for action, req in _requests(evil):
        with pytest.raises(InputError, match=r"refusing .* template values must match"):
            getattr(deployer, action)(req)
        with pytest.raises(InputError, match="refusing"):
            deployer.describe(action, req)  # the dry run's text refuses it too
    with pytest.raises(InputError, match="refusing service"):
        deployer.current_version(evil)

    assert not pwned.exists()
    assert recorder.lines() == [], "the deploy command ran"
    assert logged == [], "nothing was attempted, so nothing was logged"
    # The control: the same deployer with clean values does run the command.
    result = deployer.deploy(DeployRequest("a", "2.0.0", "1.0.0", TRAIN, "test"))
    assert result.ok, result
    assert recorder.lines() == ["a 2.0.0 1.0.0 T test"]


def test_a_version_printed_by_current_version_is_not_trusted(tmp_path: Path) -> None:
    # What a deployer's `current_version` prints comes from the service's side: garbage there
    # must not become the rollback point that a later rollback hands to the deploy command.
    evil, pwned = _evil(tmp_path)
    p = make_project(tmp_path, services=chain(["a", "b"]))
    write_script(p.current_script, f"echo '{evil}'\n")
    plan = p.run("plan", TRAIN, "--json")
    assert plan.code == 0, plan
    assert {x["service"]: x["from_version"] for x in plan.json()["participants"]} == {
        "a": "1.0.0",
        "b": "1.0.0",
    }
    assert p.run("execute", TRAIN).code == 0
    rolled = p.run("rollback", TRAIN, "--reason", "security test")
    assert rolled.code == 0, rolled
    assert p.called() == [("a", TARGET), ("b", TARGET), ("b", "1.0.0"), ("a", "1.0.0")]
    assert not pwned.exists()


# --- (b) secrets --------------------------------------------------------------------------------

DEPLOY_TOKEN = "dtok-5f1c9a7e3b-DEPLOY"
SIGNAL_TOKEN = "stok-8e2d4b6a1c-SIGNAL"
TOKENS = {"DEPLOY_TOKEN": DEPLOY_TOKEN, "SIGNAL_TOKEN": SIGNAL_TOKEN}


@dataclass(frozen=True)
class Got:
    method: str
    path: str
    authorization: str
    body: bytes


Rule = Callable[[Got, int], tuple[int, Any]]  # (request, how many times this key was seen) -> reply


@dataclass
class EchoServer:
    """A server on 127.0.0.1 whose replies are computed from the request, so it can echo back
    exactly the Authorization header it received (as a careless debug page would)."""

    rule: Rule
    url: str = ""
    got: list[Got] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, got: Got) -> tuple[int, Any]:
        key = got.path
        if got.body:
            key += " " + str(json.loads(got.body).get("action"))
        with self.lock:
            self.got.append(got)
            self.seen[key] = self.seen.get(key, 0) + 1
            count = self.seen[key]
        return self.rule(got, count)


@contextmanager
def echo_server(rule: Rule) -> Iterator[EchoServer]:
    server = EchoServer(rule)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            got = Got(self.command, self.path, self.headers.get("Authorization", ""), body)
            status, payload = server.reply(got)
            data = (
                json.dumps(payload) if isinstance(payload, (dict, list)) else str(payload)
            ).encode()
            self.send_response(status)
            self.send_header(
                "Content-Type",
                "application/json" if isinstance(payload, (dict, list)) else "text/plain",
            )
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _deploy_rule(got: Got, count: int) -> tuple[int, Any]:
    """Every deploy and rollback fails once with the header echoed in the error body, then
    succeeds (with the header echoed in the success body too); versions are never known."""
    if got.path.startswith("/version/"):
        return 404, f"no version for this caller (Authorization: {got.authorization})"
    if count == 1:
        return 500, f"upstream refused the request; you sent Authorization: {got.authorization}"
    return 200, {"accepted": True, "you_sent": got.authorization}


def _signal_rule(got: Got, count: int) -> tuple[int, Any]:
    if got.path == "/ok":
        return 200, {"value": 1.5, "debug": {"authorization": got.authorization}}
    if got.path == "/broken":
        return 503, f"maintenance; request headers: Authorization: {got.authorization}"
    if got.path == "/echo":  # a 200 whose value is the echo itself
        return 200, {"value": f"rejected {got.authorization}"}
    return 404, f"nothing here for {got.authorization}"


def _secrets_project(
    tmp_path: Path, deploy: EchoServer, signals: EchoServer, *, gates: list[Any]
) -> Project:
    signal_headers = {"Authorization": "Bearer ${SIGNAL_TOKEN}"}

    def signal(path: str) -> dict[str, Any]:
        return {
            "http_json": f"{signals.url}{path}",
            "path": "value",
            "headers": signal_headers,
            "timeout": 5,
        }

    return make_project(
        tmp_path,
        services=chain(["a", "b"]),
        trains=[{
            "name": TRAIN, "target_version": TARGET, "participants": ["a", "b"],
            "description": "release behind tokens", "gates": gates,
        }],
        deployer={
            "type": "http", "url": f"{deploy.url}/deploy/{{service}}",
            "version_url": f"{deploy.url}/version/{{service}}",
            "headers": {"Authorization": "Bearer ${DEPLOY_TOKEN}", "X-Trace": "t-${DEPLOY_TOKEN}"},
            "retries": 2, "backoff": 0.01, "timeout": 5,
        },
        release_trains={
            "signals": {
                "error_rate": signal("/ok"),
                "latency_ms": signal("/broken"),
                "echoed": signal("/echo"),
            },
            "rollback": {"enabled": False},
        },
    )  # fmt: skip


def _every_file(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _leaks(texts: dict[str, bytes]) -> list[str]:
    out = []
    for name, data in texts.items():
        for var, token in TOKENS.items():
            if token.encode() in data:
                start = data.index(token.encode())
                out.append(f"{var} in {name}: ...{data[max(0, start - 80) : start + 40]!r}")
    return out


def _run_everything(p: Project) -> dict[str, bytes]:
    """Every command that reads or writes what the run produced; returns their outputs."""
    outputs: dict[str, bytes] = {}

    def run(*args: str, expect: set[int]) -> Result:
        result = p.run(*args, env=TOKENS)
        assert result.code in expect, f"{args}: {result}"
        assert "Traceback" not in result.err, f"{args}: {result}"
        outputs[f"stdout of {' '.join(args)}"] = result.out.encode()
        outputs[f"stderr of {' '.join(args)}"] = result.err.encode()
        return result

    run("validate", expect={0})
    run("plan", TRAIN, expect={0})
    run("plan", TRAIN, "--json", expect={0})
    run("execute", TRAIN, "--dry-run", expect={0})
    executed = run("execute", TRAIN, "--json", expect={0})
    assert executed.json()["status"] == "completed", executed
    run("status", TRAIN, expect={0})
    run("status", TRAIN, "--json", expect={0})
    run("status", expect={0})
    run("monitor", TRAIN, expect={0})
    for fmt in ("html", "markdown", "json"):
        run("report", "--train", TRAIN, "--format", fmt, expect={0})
        run("report", "--service", "a", "--format", fmt, expect={0, 1})
    run("rollback", TRAIN, "--reason", "token test", "--dry-run", expect={0})
    run("rollback", TRAIN, "--reason", "token test", expect={0})
    run("status", TRAIN, "--json", expect={0, 1})
    run("report", "--train", TRAIN, "--format", "html", expect={0, 1})
    run("audit", expect={0})
    run("audit", "--json", expect={0})
    run("audit", "--verify", expect={0})
    return outputs


def test_tokens_reach_the_servers_and_nothing_else(tmp_path: Path) -> None:
    gates = ["error_rate < 5", {"custom": "latency_ms < 100", "required": False}]
    with echo_server(_deploy_rule) as deploy, echo_server(_signal_rule) as signals:
        p = _secrets_project(tmp_path, deploy, signals, gates=gates)
        outputs = _run_everything(p)
        deploy_got, signal_got = list(deploy.got), list(signals.got)

    # The servers did get the expanded headers, on every request.
    posts = [g for g in deploy_got if g.method == "POST"]
    actions = [(g.path, json.loads(g.body)["action"]) for g in posts]
    assert actions == [
        ("/deploy/a", "deploy"), ("/deploy/a", "deploy"),
        ("/deploy/b", "deploy"), ("/deploy/b", "deploy"),
        ("/deploy/b", "rollback"), ("/deploy/b", "rollback"),
        ("/deploy/a", "rollback"), ("/deploy/a", "rollback"),
    ], actions  # fmt: skip
    assert any(g.path.startswith("/version/") for g in deploy_got)
    assert {g.authorization for g in deploy_got} == {f"Bearer {DEPLOY_TOKEN}"}
    assert {g.path for g in signal_got} >= {"/ok", "/broken"}
    assert {g.authorization for g in signal_got} == {f"Bearer {SIGNAL_TOKEN}"}

    # ... and nothing the tool wrote or printed holds either token.
    files = _every_file(p.root)
    assert "analysis/state/release-trains.db" in files and "analysis/reports/audit.log" in files
    assert any(name.endswith(".html") for name in files), sorted(files)
    assert _leaks(files) == []
    assert _leaks(outputs) == []
    # The echoed error bodies were kept as evidence, scrubbed.
    log = files["analysis/reports/release_monitoring.log"].decode()
    assert "upstream refused the request" in log and "Authorization: Bearer ***" in log, log[-2000:]


def test_a_signal_value_that_echoes_the_token_is_scrubbed(tmp_path: Path) -> None:
    gates = ["error_rate < 5", {"custom": "echoed < 1", "required": False}]
    with echo_server(_deploy_rule) as deploy, echo_server(_signal_rule) as signals:
        p = _secrets_project(tmp_path, deploy, signals, gates=gates)
        outputs: dict[str, bytes] = {}
        for args in (("plan", TRAIN), ("plan", TRAIN, "--json"), ("execute", TRAIN)):
            result = p.run(*args, env=TOKENS)
            assert result.code == 0, result
            outputs[" ".join(args)] = (result.out + result.err).encode()
        assert any(g.path == "/echo" for g in signals.got)
    assert _leaks(outputs) == []
    assert _leaks(_every_file(p.root)) == []


# --- (c) script injection in reports ------------------------------------------------------

HOSTILE_DESCRIPTION = "<script>alert(1)</script>"
HOSTILE_OUTPUT = "<img src=x onerror=alert(2)>"
HOSTILE_REASON = "<script>alert(3)</script>"


def _unescaped_markup(text: str) -> list[str]:
    """Raw tags a browser would run or load: <script ...>, <img ...> (any case)."""
    return re.findall(r"<\s*(?:script|img)\b[^>]*>", text, flags=re.IGNORECASE)


def test_hostile_text_never_reaches_a_browser_report_unescaped(tmp_path: Path) -> None:
    script = write_script(
        tmp_path / "bin" / "deploy",
        'echo "deploying $1 $2"\n'
        f"if [ \"$1\" = b ]; then echo '{HOSTILE_OUTPUT}'; exit 1; fi\n"
        "exit 0\n",
    )
    p = make_project(
        tmp_path,
        services=chain(["a", "b"]),
        trains=[{
            "name": TRAIN, "target_version": TARGET, "participants": ["a", "b"],
            "description": HOSTILE_DESCRIPTION,
        }],
        deployer={
            "type": "command", "deploy": [str(script), "{service}", "{version}"], "timeout": 10,
        },
        release_trains={"rollback": {"enabled": False}},
    )  # fmt: skip
    assert p.run("execute", TRAIN).code == 1  # b fails with the hostile output
    rolled = p.run("rollback", TRAIN, "--reason", HOSTILE_REASON)
    assert rolled.code == 0, rolled

    reports: dict[str, str] = {}
    for subject in (("--train", TRAIN), ("--service", "a"), ("--service", "b")):
        for fmt in ("html", "markdown", "json"):
            result = p.run("report", *subject, "--format", fmt, "--output", "-")
            assert result.code in (0, 1), result
            reports[f"{' '.join(subject)} {fmt}"] = result.out

    train_html = reports[f"--train {TRAIN} html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in train_html  # it is shown, as text
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in train_html
    assert "&lt;img src=x onerror=alert(2)&gt;" in train_html
    for name, text in reports.items():
        if name.endswith(" html"):
            assert _unescaped_markup(text) == [], name
            assert "<script" not in text.lower(), name
        elif name.endswith(" markdown"):
            # Markdown viewers pass raw HTML through; every '<' of the hostile text is escaped.
            raw = [
                m
                for m in re.finditer(r"<\s*(script|img)", text, flags=re.IGNORECASE)
                if text[m.start() - 1] != "\\"
            ]
            assert raw == [], f"{name}: {[text[m.start() - 20 : m.end() + 20] for m in raw]}"
    # JSON keeps the exact text: it is data for programs, not for browsers.
    assert json.loads(reports[f"--train {TRAIN} json"])["description"] == HOSTILE_DESCRIPTION

    # Reports written to their default place (the files a team shares) are escaped too.
    for fmt in ("html", "markdown"):
        assert p.run("report", "--train", TRAIN, "--format", fmt).code in (0, 1)
    written = [q for q in (p.root / "analysis").rglob("*") if q.suffix in (".html", ".md")]
    assert {q.suffix for q in written} == {".html", ".md"}, written
    for q in written:
        text = q.read_text(encoding="utf-8")
        assert _unescaped_markup(text.replace("\\<", "")) == [], q


# --- (e) control characters never reach a terminal, a log or a report raw ----------------------

FORGED = "2026-12-02T00:00:00 forged line"
CONTROL_REASON = f"why\n{FORGED}\x1b[2J\x07 [bold]loud[/bold] | piped"
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # raw C0/C1, tab and newline aside
LOG_LINE = re.compile(rf"^\d{{4}}-\d\d-\d\dT[\d:.]+\+00:00 {TRAIN}( [\w.-]+)? [\w-]+: ")


def test_control_characters_are_escaped_wherever_text_leaves_the_tool(tmp_path: Path) -> None:
    script = write_script(
        tmp_path / "bin" / "deploy",
        'echo "deploying $1 $2"\n'
        "if [ \"$1\" = b ]; then printf 'boom\\033[2J\\007\\n%s\\n' "
        f"'{FORGED} from output'; exit 1; fi\n"
        "exit 0\n",
    )
    p = make_project(
        tmp_path,
        services=chain(["a", "b"]),
        trains=[{
            "name": TRAIN, "target_version": TARGET, "participants": ["a", "b"],
            "description": "clears \x1b[2J the screen \x07",
        }],
        deployer={
            "type": "command", "deploy": [str(script), "{service}", "{version}"], "timeout": 10,
        },
        release_trains={"rollback": {"enabled": False}},
    )  # fmt: skip
    failed = p.run("execute", TRAIN)
    assert failed.code == 1, failed
    rolled = p.run("rollback", TRAIN, "--reason", CONTROL_REASON)
    assert rolled.code == 0, rolled
    shown = {
        "execute": failed,
        "rollback": rolled,
        "status": p.run("status", TRAIN),
        "monitor": p.run("monitor", TRAIN),
        "audit": p.run("audit", "--train", TRAIN),
        "audit --verify": p.run("audit", "--verify"),
    }
    for fmt in ("markdown", "html"):
        shown[f"report {fmt}"] = p.run("report", "--train", TRAIN, "--format", fmt, "--output", "-")
    for name, result in shown.items():
        assert result.code in (0, 1), (name, result)
        for stream in (result.out, result.err):
            assert CONTROLS.findall(stream) == [], (name, stream)
    assert "\\x1b[2J" in shown["status"].out  # shown as its escape, not lost
    assert "[bold]loud[/bold]" in shown["audit"].out  # text, not markup
    records = json.loads(p.run("audit", "--json", "--train", TRAIN).out)
    assert len(shown["audit"].out.splitlines()) == len(records)  # one line per record
    reasons = [r["detail"].get("reason") for r in records if isinstance(r["detail"], dict)]
    assert CONTROL_REASON in reasons  # JSON keeps the exact text: it is data, escaped by JSON
    assert "\\|" in shown["report markdown"].out  # a pipe cannot split a table cell

    log = (p.root / "analysis" / "reports" / "release_monitoring.log").read_text(encoding="utf-8")
    lines = log.splitlines()
    assert CONTROLS.findall(log) == []
    assert [line for line in lines if not LOG_LINE.match(line)] == []
    assert not any(FORGED in line.split(" ", 1)[0] for line in lines)
    outputs = [line for line in lines if f" {TRAIN} output: " in line]
    assert len(lines) - len(outputs) == len(p.events())  # exactly one line per event
    assert any(f"\\n{FORGED}" in line for line in lines)  # the reason, on its event's line


# --- (d) gates and triggers never execute code ----------------------------------------------------


@pytest.mark.parametrize("form", ["custom object", "string", "train trigger", "config trigger"])
def test_a_gate_written_as_python_is_bad_input_and_never_runs(tmp_path: Path, form: str) -> None:
    pwned = tmp_path / "pwned2"
    code = f"__import__('os').system('touch {pwned}')"
    train: dict[str, Any] = {"name": TRAIN, "target_version": TARGET, "participants": ["a", "b"]}
    release_trains: dict[str, Any] = {}
    if form == "custom object":
        train["gates"] = [{"custom": code}]
        file, path = "catalog/release-trains.yaml", "$.trains[0].gates[0].custom"
    elif form == "string":
        train["gates"] = [code]
        file, path = "catalog/release-trains.yaml", "$.trains[0].gates[0]"
    elif form == "train trigger":
        train["rollback"] = {"enabled": True, "triggers": [{"expression": code}]}
        file, path = "catalog/release-trains.yaml", "$.trains[0].rollback.triggers[0].expression"
    else:
        release_trains["rollback"] = {
            "enabled": True,
            "triggers": [{"name": "x", "expression": code}],
        }
        file, path = (
            "config/upgrade-policies.yaml",
            "$.release_trains.rollback.triggers[0].expression",
        )
    p = make_project(
        tmp_path, services=chain(["a", "b"]), trains=[train], release_trains=release_trains
    )

    for args in (
        ("validate",),
        ("plan", TRAIN),
        ("execute", TRAIN, "--dry-run"),
        ("execute", TRAIN),
    ):
        result = p.run(*args)
        _assert_refused_as_bad_input(result, names=file, path=path)
        assert "gate expression" in result.out + result.err, result

    assert not pwned.exists()
    assert p.calls() == []
    assert not (p.root / "analysis").exists()
