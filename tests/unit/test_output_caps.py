"""A command's captured output is capped (deployers/process.py): 60 MB of deploy output is read
to its end (the command never blocks on a full pipe) but only its head is logged as it comes,
its last 64 KiB kept, and the rest counted as "[... N bytes cut]"; the step's error, the audit
log, the monitoring log and `status --json` stay small (issue 10)."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from helpers import write_script

from release_trains.deployers.process import DETAIL_CHARS, KEEP_BYTES, LOG_HEAD_BYTES, run

SIXTY_MB = 60 * 1000 * 1000
LINE = "deploying step ok " * 3  # 54 characters and a newline
TRAIN = "Q4-curve-upgrade"


def chatty(tmp_path: Path, *, last: str, code: int, one_line: bool = False) -> Path:
    """A script that prints 60 MB (lines, or a single line without a newline), then `last`."""
    body = (
        f"head -c {SIXTY_MB} /dev/zero | tr '\\0' 'x'\n"
        if one_line
        else f"yes '{LINE}' | head -n {SIXTY_MB // (len(LINE) + 1)}\n"
    )
    return write_script(tmp_path / "bin" / "chatty", f"{body}echo '{last}'\nexit {code}\n")


def test_60_mb_of_output_is_drained_but_only_head_and_tail_are_kept(tmp_path: Path) -> None:
    script = chatty(tmp_path, last="error: quota exceeded", code=3)
    logged: list[str] = []
    tracemalloc.start()
    try:
        result = run([str(script)], timeout_s=120, on_line=logged.append)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # It ran to its end (exit 3), not killed at the timeout with a blocked pipe.
    assert result.returncode == 3 and not result.timed_out
    assert result.reason(120) == "exit 3: error: quota exceeded"
    total = SIXTY_MB // (len(LINE) + 1) * (len(LINE) + 1) + len("error: quota exceeded\n")
    kept = sum(len(line) + 1 for line in result.lines)
    assert kept <= KEEP_BYTES and result.cut_bytes + kept == total
    assert result.lines[-1] == "error: quota exceeded" and LINE.endswith(result.lines[0])
    # Logged: the head line by line, one marker, then the kept end.
    markers = [i for i, line in enumerate(logged) if line.startswith("[... ")]
    assert len(markers) == 1, markers
    head, marker, tail = logged[: markers[0]], logged[markers[0]], logged[markers[0] + 1 :]
    assert sum(len(line) + 1 for line in head) <= LOG_HEAD_BYTES
    assert set(head) == {LINE} and tail == list(result.lines)
    cut = total - sum(len(line) + 1 for line in head + tail)
    assert marker == f"[... {cut} bytes cut]"
    assert peak < 4 * 1024 * 1024, peak  # not the 60 MB that went through the pipe


def test_one_60_mb_line_is_cut_in_the_failure_reason(tmp_path: Path) -> None:
    script = chatty(tmp_path, last="", code=1, one_line=True)
    logged: list[str] = []
    result = run([str(script)], timeout_s=120, on_line=logged.append)
    assert result.returncode == 1
    reason = result.reason(120)
    assert reason.startswith("exit 1: [... ") and reason.endswith("x" * DETAIL_CHARS)
    assert len(reason) < DETAIL_CHARS + 100
    assert sum(len(line) for line in logged) <= LOG_HEAD_BYTES + KEEP_BYTES + 100
    assert any(line.startswith("[... ") and line.endswith(" bytes cut]") for line in logged)


def test_output_within_the_head_is_handed_on_whole(tmp_path: Path) -> None:
    script = write_script(tmp_path / "s", "printf 'one\\ntwo\\n\\nlast without newline'\n")
    logged: list[str] = []
    result = run([str(script)], timeout_s=30, on_line=logged.append)
    assert logged == ["one", "two", "", "last without newline"]
    assert result.lines == tuple(logged) and result.cut_bytes == 0


def test_a_failed_deploy_with_60_mb_of_output_leaves_small_records(
    sample_root: Path, run_cli: Callable[..., Any]
) -> None:
    script = chatty(sample_root, last="kubectl: connection reset", code=1)
    policies = sample_root / "config" / "upgrade-policies.yaml"
    config = yaml.safe_load(policies.read_text())
    config["release_trains"]["deployer"] = {
        "type": "command",
        "deploy": [str(script), "{service}", "{version}"],
        "timeout": 300,
    }
    policies.write_text(yaml.safe_dump(config))
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 1
    status = run_cli("--root", sample_root, "status", TRAIN, "--json")
    doc = json.loads(status.out)
    failed = [s for s in doc["services"] if s["status"] == "failed"]
    assert failed, doc["services"]
    assert len(status.out) < 64 * 1024, len(status.out)
    reports = sample_root / "analysis" / "reports"
    audit = (reports / "audit.log").read_text()
    assert "kubectl: connection reset" in audit
    assert len(audit) < 64 * 1024, len(audit)
    log = (reports / "release_monitoring.log").read_text()
    assert " bytes cut]" in log and "kubectl: connection reset" in log
    # Head and kept end (128 KiB) with a time stamp and names before each line: not 60 MB.
    assert len(log) < 1024 * 1024, len(log)
    state = sample_root / "analysis" / "state"
    assert sum(p.stat().st_size for p in state.rglob("*") if p.is_file()) < 2 * 1024 * 1024
