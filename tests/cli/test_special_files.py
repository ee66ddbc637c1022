"""Catalog and config files that are not regular files, or larger than they say (yaml_io
.read_text): a FIFO (opening it would block), a symlink to /dev/zero (reading never ends), a
directory, a file over the 64 MiB limit, and a file whose reported size (0) hides content
over the limit. `validate` and `plan` refuse each at once: exit 2, the file named, nothing
written."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from slow_servers import within

from release_trains import yaml_io

GUARD_S = 60.0  # only stops a blocking read from hanging the run; never decides a pass
TRAIN = "Q4-curve-upgrade"
COMMANDS = {"validate": ("validate",), "plan": ("plan", TRAIN)}
FILES = ["catalog/service-index.yaml", "config/upgrade-policies.yaml"]


def _refused(run_cli: Callable[..., Any], root: Path, command: str, *, rel: str, says: str) -> None:
    result = within(GUARD_S, lambda: run_cli("--root", root, *COMMANDS[command]))
    assert result.code == 2, result
    message = result.out + result.err
    assert "Traceback" not in message and "internal error" not in message, message
    assert f"{root / rel}: {says}" in message, message
    assert len(message) < 5000, message
    assert not (root / "analysis").exists(), "bad input wrote state"


@pytest.mark.parametrize("rel", FILES)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_fifo_is_refused_without_blocking(
    sample_root: Path, run_cli: Callable[..., Any], rel: str, command: str
) -> None:
    (sample_root / rel).unlink()
    os.mkfifo(sample_root / rel)  # nobody ever writes to it: opening it to read would block
    _refused(
        run_cli,
        sample_root,
        command,
        rel=rel,
        says="is a FIFO (named pipe), expected a regular file",
    )


@pytest.mark.parametrize("rel", FILES)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_symlink_to_dev_zero_is_refused_without_reading(
    sample_root: Path, run_cli: Callable[..., Any], rel: str, command: str
) -> None:
    (sample_root / rel).unlink()
    (sample_root / rel).symlink_to("/dev/zero")
    _refused(
        run_cli,
        sample_root,
        command,
        rel=rel,
        says="is a character device, expected a regular file",
    )


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_directory_is_refused(
    sample_root: Path, run_cli: Callable[..., Any], command: str
) -> None:
    rel = FILES[0]
    (sample_root / rel).unlink()
    (sample_root / rel).mkdir()
    _refused(run_cli, sample_root, command, rel=rel, says="is a directory, expected a file")


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_file_over_the_limit_is_refused(
    sample_root: Path, run_cli: Callable[..., Any], command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yaml_io, "MAX_FILE_BYTES", 4096)
    rel = FILES[0]
    with open(sample_root / rel, "a", encoding="utf-8") as f:
        f.write("# padding\n" * 1000)
    size = (sample_root / rel).stat().st_size
    _refused(
        run_cli,
        sample_root,
        command,
        rel=rel,
        says=f"file is {size} bytes, over the 4096 byte limit",
    )


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("command", list(COMMANDS))
def test_the_limit_holds_while_reading_whatever_the_size_claims(
    sample_root: Path, run_cli: Callable[..., Any], command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # /proc files are regular files that report a size of 0 and hold more: only a limit
    # enforced on the bytes actually read catches them.
    maps = Path("/proc/self/maps")
    assert maps.stat().st_size == 0 and len(maps.read_bytes()) > 4096
    monkeypatch.setattr(yaml_io, "MAX_FILE_BYTES", 4096)
    rel = FILES[0]
    (sample_root / rel).unlink()
    (sample_root / rel).symlink_to(maps)
    _refused(run_cli, sample_root, command, rel=rel, says="file is over the 4096 byte limit")
