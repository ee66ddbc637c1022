"""The parsed-catalog cache through the real console script: several `plan --dry-run`s at once
filling one cache, the project untouched, every later run reading the same plan back."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from helpers import cli_argv

PROJECT = Path(__file__).resolve().parents[2]
TRAIN = "Q4-curve-upgrade"


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _plan(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    doc.pop("created_at", None)
    return doc


def test_concurrent_plans_share_one_cache_and_write_nothing_in_the_project(
    tmp_path: Path,
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(PROJECT / "catalog", root / "catalog")
    shutil.copytree(PROJECT / "config", root / "config")
    before = _digest(root)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RELEASE_TRAINS_")},
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
        "RELEASE_TRAINS_CACHE": "1",
    }
    argv = cli_argv("--root", root, "plan", TRAIN, "--json", "--dry-run")
    plain = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, env={**env, "RELEASE_TRAINS_CACHE": "0"}
    )
    assert plain.returncode == 0, plain.stderr
    assert not (tmp_path / "xdg").exists()

    procs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(4)
    ]
    deadline = time.monotonic() + 120
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert proc.returncode == 0, err
        outputs.append(_plan(out))
    assert all(doc == _plan(plain.stdout) for doc in outputs)

    cache = tmp_path / "xdg" / "release-trains"
    entries = sorted(cache.rglob("*.json"))
    assert len(entries) == 5  # one per catalog file (JSON too), whoever renamed it last
    assert not list(cache.rglob(".tmp-*"))
    for entry in entries:
        header, payload = entry.read_bytes().split(b"\n", 1)
        assert json.loads(header)["payload_sha256"] == hashlib.sha256(payload).hexdigest()

    warm = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert warm.returncode == 0, warm.stderr
    assert _plan(warm.stdout) == _plan(plain.stdout)
    assert _digest(root) == before  # --dry-run: nothing written in the project
