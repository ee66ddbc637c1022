"""`python benchmarks/run.py --quick` runs every benchmark at small sizes and writes its JSON.

Only that it runs and what it writes are checked: timings are never asserted (they depend on
the machine and on whatever else runs on it). The results go to a temporary file through
--output, so the repository's benchmarks/results/latest.json and README are left alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
IDS = {"B1", "B2", "B3", "B4", "B5", "B5P", "B6", "B9"}


@pytest.mark.slow
def test_quick_benchmarks_run_and_write_json(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    readme = PROJECT_ROOT / "benchmarks" / "README.md"
    readme_before = readme.read_bytes() if readme.exists() else None

    proc = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "benchmarks" / "run.py"),
            "--quick",
            "--output",
            str(out),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,  # the quick run takes well under a minute; this only stops a hang
    )

    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads(out.read_text())
    assert doc["quick"] is True
    assert set(doc["benchmarks"]) == IDS
    for bid, result in doc["benchmarks"].items():
        status = result["status"]
        assert status == "ok" or status.startswith("not run"), f"{bid}: {status}"
        assert isinstance(result["rows"], list)
    assert {"cpu_model", "cores", "python"} <= set(doc["machine"])
    assert "| B1 |" in proc.stdout  # the table was printed
    if readme_before is not None:
        assert readme.read_bytes() == readme_before  # --quick never rewrites the README
