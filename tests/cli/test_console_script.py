"""The real `release-trains` console script: the one the tests spawn (next to sys.executable,
never from PATH), and output into a pipe whose reader goes away early (`| head -1`), which
must end quietly with exit 0 every time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml
from helpers import cli_argv, console_script

TRAIN = "Q4-curve-upgrade"


def test_the_console_script_is_the_one_beside_this_python() -> None:
    script = console_script()
    assert script.parent in {Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))}
    assert cli_argv("status", Path("x")) == [str(script), "status", "x"]
    done = subprocess.run(cli_argv("--version"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "release-trains" in done.stdout


def test_a_missing_console_script_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python3"))
    monkeypatch.setattr(sysconfig, "get_path", lambda name, *a, **kw: str(tmp_path / "scripts"))
    with pytest.raises(AssertionError, match=r"no release-trains console script .* pip install"):
        console_script()


# --- a pipe that closes early -------------------------------------------------------------


def many_trains(tmp_path: Path, sample_root: Path, count: int = 3000) -> Path:
    """The sample with `count` trains: `status` prints more than a pipe holds (64 KiB), so a
    reader that leaves after one line always meets a writer that is still writing."""
    trains = [
        {"name": f"train-{i:05d}", "target_version": "2.0.0", "participants": ["curve"]}
        for i in range(count)
    ]
    path = sample_root / "catalog" / "release-trains.yaml"
    path.write_text(yaml.safe_dump({"trains": trains}), encoding="utf-8")
    return sample_root


def to_closed_pipe(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe whose reading end is closed before the first write (EPIPE at
    the first flush, every time)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            cli_argv(*args), stdout=write, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True, timeout=60,
        )  # fmt: skip
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("plan", "--help"),
        ("status",),
        ("status", TRAIN, "--json"),
        ("plan", TRAIN, "--dry-run", "--json"),
        ("plan", TRAIN, "--dry-run"),  # rich tables: rich would exit 1 on its own
        ("execute", TRAIN, "--dry-run"),
        ("validate",),
        ("status", "--no-such-option", "--json"),  # the error document, into a closed pipe
    ],
    ids=lambda a: " ".join(a),
)
def test_output_into_a_closed_pipe_ends_quietly_with_exit_0(
    sample_root: Path, args: tuple[str, ...]
) -> None:
    done = to_closed_pipe("--root", sample_root, *args)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert "Broken pipe" not in done.stderr and "internal error" not in done.stderr


@pytest.mark.slow
def test_status_into_head_exits_0_every_time(sample_root: Path, tmp_path: Path) -> None:
    root = many_trains(tmp_path, sample_root)
    codes = []
    for _ in range(20):
        writer = subprocess.Popen(
            cli_argv("--root", root, "status"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert writer.stdout is not None and writer.stderr is not None
        first = writer.stdout.readline()  # like `head -1`: one line, then the reader leaves
        writer.stdout.close()
        err = writer.stderr.read().decode()
        codes.append(writer.wait(timeout=60))
        assert first.startswith(b"train-00000: "), first
        assert err == "", err
    assert codes == [0] * 20


# --- shell completion, as the --help text says to enable it --------------------------------


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_documented_bash_completion_completes_trains_and_services(sample_root: Path) -> None:
    script = (
        'eval "$(_RELEASE_TRAINS_COMPLETE=bash_source release-trains)"\n'
        "COMP_WORDS=(release-trains plan Q4); COMP_CWORD=2\n"
        '_release_trains_completion release-trains; echo "trains: ${COMPREPLY[*]}"\n'
        f"COMPREPLY=(); COMP_WORDS=(release-trains rollback {TRAIN} --service cu); COMP_CWORD=4\n"
        '_release_trains_completion release-trains; echo "services: ${COMPREPLY[*]}"\n'
    )
    env = {**os.environ, "PATH": f"{console_script().parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-c", script], cwd=sample_root, env=env, capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"trains: {TRAIN}\n" in done.stdout
    assert "services: curve-service" in done.stdout
