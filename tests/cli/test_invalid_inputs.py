"""Acceptance corpus of malformed inputs (tests/data/invalid/<case>/): bad input is exit 2, a
message that names the file and where, no traceback, and nothing written (the root, analysis/
included, is byte-for-byte unchanged).

Every case runs in-process through main(argv), the one exit-code mapper the console script
calls too (a process start-up per case made this file most of the suite's time); a few cases
also run through the real console script, so the in-process path cannot drift from it."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import cli_argv

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CORPUS = PROJECT_ROOT / "tests" / "data" / "invalid"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
COMMANDS = ("plan", "validate")
# Run through the console script as well: a YAML error, a schema error, undecodable bytes.
SMOKE = [("yaml-syntax-error", "plan"), ("unknown-participant", "validate"), ("non-utf8", "plan")]

# Problems about a whole document, where no single line or path is at fault.
NO_LOCATION = {
    "empty-file", "empty-services", "empty-config", "empty-specs", "empty-snapshot",
    "alias-bomb", "alias-bomb-config", "deeply-nested", "deeply-nested-block-config",
}  # fmt: skip

# (case, command) -> "BUG: ... root cause": strict xfail, so a fix shows up as XPASS until removed.
# Found and since fixed: service-index type errors (float version, service named `no`), a
# participant's float version, an object gate without `name`, an unknown participant
# (validate said valid; plan named no line), and non-mapping entries in the quality snapshot,
# specs index, trains and services ending as internal errors (exit 4).
KNOWN_BUGS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str
    changed: list[str]  # files under the root that differ from before the run
    broken_files: tuple[str, ...]


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): "<dir>"
        if p.is_dir()
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def _build_root(case: str, root: Path) -> tuple[Path, tuple[str, ...]]:
    shutil.copytree(PROJECT_ROOT / "catalog", root / "catalog")
    shutil.copytree(PROJECT_ROOT / "config", root / "config")
    broken = []
    for src in sorted((CORPUS / case).rglob("*")):
        rel = src.relative_to(CORPUS / case).as_posix()
        if src.is_file() and rel != "expected.txt":
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, root / rel)
            broken.append(rel)
    # Existing reports and state must survive bad input untouched.
    plans = root / "analysis" / "reports" / "release-trains" / "Q4-curve-upgrade"
    plans.mkdir(parents=True)
    (plans / "latest-plan.json").write_text('{"train": "Q4-curve-upgrade", "ready": true}\n')
    (root / "analysis" / "state").mkdir()
    (root / "analysis" / "state" / "README").write_text("state lives here\n")
    return root, tuple(broken)


Runner = Callable[[Path, list[str]], tuple[int, str, str]]


def _args(command: str) -> list[str]:
    return ["plan", "Q4-curve-upgrade"] if command == "plan" else ["validate"]


def _run(case: str, command: str, where: Path, runner: Runner) -> Outcome:
    root, broken = _build_root(case, where / f"{case}-{command}")
    before = _digest(root)
    code, out, err = runner(root, ["--root", str(root), *_args(command)])
    after = _digest(root)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return Outcome(code, out, err, changed, broken)


@pytest.fixture
def in_process(run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Runner:
    """main(argv) with the console script's surroundings: the root as working directory (so
    nothing can lean on the repository's own files) and no colour."""
    monkeypatch.setenv("NO_COLOR", "1")

    def run(root: Path, argv: list[str]) -> tuple[int, str, str]:
        monkeypatch.chdir(root)
        result = run_cli(*argv)
        return result.code, result.out, result.err

    return run


def console_script(root: Path, argv: list[str]) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RELEASE_TRAINS_STATE"}
    env["NO_COLOR"] = "1"
    proc = subprocess.run(
        cli_argv(*argv), cwd=root, capture_output=True, text=True, env=env, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return proc.returncode, proc.stdout, proc.stderr


def _params() -> list[object]:
    out = []
    for case in CASES:
        for command in COMMANDS:
            reason = KNOWN_BUGS.get((case, command))
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            out.append(pytest.param(case, command, id=f"{case}-{command}", marks=marks))
    return out


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 60
    for case in CASES:
        assert (CORPUS / case / "expected.txt").is_file(), case
        assert len([p for p in (CORPUS / case).rglob("*") if p.is_file()]) >= 2, case
    assert {c for c, _ in KNOWN_BUGS} <= set(CASES)
    assert {c for c, _ in SMOKE} <= set(CASES)


@pytest.mark.parametrize(("case", "command"), _params())
def test_bad_input_is_refused_cleanly(
    in_process: Runner, tmp_path: Path, case: str, command: str
) -> None:
    _check(case, command, _run(case, command, tmp_path, in_process))


@pytest.mark.parametrize(("case", "command"), SMOKE, ids=[f"{c}-{m}" for c, m in SMOKE])
def test_bad_input_is_refused_cleanly_by_the_console_script(
    tmp_path: Path, case: str, command: str
) -> None:
    _check(case, command, _run(case, command, tmp_path, console_script))


def _check(case: str, command: str, result: Outcome) -> None:
    message = result.err if command == "plan" else result.out
    everything = result.out + result.err

    assert "Traceback" not in everything
    assert "internal error" not in everything
    assert result.code == 2, (
        f"exit {result.code}\nstdout: {result.out[-800:]}\nstderr: {result.err[-800:]}"
    )
    if command == "plan":
        assert result.out == "", "a refused plan prints no result"
        assert message.startswith("error: ")

    for fragment in (CORPUS / case / "expected.txt").read_text().splitlines():
        if fragment.strip():
            assert fragment in message, f"{fragment!r} not in:\n{message[-1500:]}"

    named = [rel for rel in result.broken_files if rel in message]
    assert named, f"none of {result.broken_files} is named in:\n{message[-1500:]}"
    if case not in NO_LOCATION:
        located = any(
            re.search(re.escape(rel) + r":\d+: ", message)
            or re.search(re.escape(rel) + r"(:\d+)?: \$\.", message)
            for rel in named
        )
        assert located, f"no line or $. path for {named} in:\n{message[-1500:]}"
    assert len(message) < 5000, "the message should not dump whole documents"

    assert result.changed == [], f"bad input changed files under the root: {result.changed}"
