"""Bad input that the corpus in tests/data/invalid/ cannot hold (see test_invalid_inputs.py):
a file over the 64 MiB limit (generated here, never committed), a directory where a file
belongs, a missing required file, YAML in a `.json` file that is only read when the `.yaml`
sibling is absent, and a deployer template with an unknown field, which only commands that
build a deployer (plan, execute) meet.

Same bar as the corpus: exit 2, one message that names the file, no traceback, and the root
(analysis/ included) byte-for-byte unchanged. Everything runs in-process through main(argv);
the oversize file also through the real console script (a process reading 65 MiB).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from helpers import cli_argv, recording_script, run_main

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TRAIN = "Q4-curve-upgrade"
LIMIT = 64 * 1024 * 1024
COMMANDS = {"validate": ("validate",), "plan": ("plan", TRAIN)}


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str
    changed: list[str]

    @property
    def everything(self) -> str:
        return self.out + self.err

    def __str__(self) -> str:
        out, err = self.out[-1500:], self.err[-1500:]
        return f"exit {self.code}\n--- stdout ---\n{out}\n--- stderr ---\n{err}"


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): "<dir>"
        if p.is_dir()
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def _root(tmp_path: Path) -> Path:
    """The sample catalog and config, with existing reports and state that must survive."""
    root = tmp_path / "root"
    shutil.copytree(PROJECT_ROOT / "catalog", root / "catalog")
    shutil.copytree(PROJECT_ROOT / "config", root / "config")
    plans = root / "analysis" / "reports" / "release-trains" / TRAIN
    plans.mkdir(parents=True)
    (plans / "latest-plan.json").write_text('{"train": "Q4-curve-upgrade", "ready": true}\n')
    (root / "analysis" / "state").mkdir()
    (root / "analysis" / "state" / "README").write_text("state lives here\n")
    return root


def _run(root: Path, *args: str, console_script: bool = False) -> Outcome:
    before = _digest(root)
    if console_script:
        env = {k: v for k, v in os.environ.items() if k != "RELEASE_TRAINS_STATE"}
        env["NO_COLOR"] = "1"
        proc = subprocess.run(
            cli_argv("--root", root, *args),
            cwd=root, capture_output=True, text=True, env=env, timeout=120,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    else:
        code, out, err = run_main("--root", root, *args)
    after = _digest(root)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return Outcome(code, out, err, changed)


def _refused(result: Outcome, *, command: str, names: str, fragments: tuple[str, ...] = ()) -> None:
    """The corpus bar: exit 2, no traceback, the file named, nothing written."""
    assert "Traceback" not in result.everything, result
    assert "internal error" not in result.everything, result
    assert result.code == 2, result
    message = result.out if command == "validate" else result.err
    if command != "validate":
        assert result.out == "", result
        assert message.startswith("error: "), result
    assert names in message, f"{names!r} not named:\n{result}"
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing:\n{result}"
    assert len(message) < 5000, "the message should not dump whole documents"
    assert result.changed == [], f"bad input changed files under the root: {result.changed}"


# --- a file over the size limit ---------------------------------------------------------------


def test_a_catalog_over_the_size_limit_is_refused_by_every_command(tmp_path: Path) -> None:
    root = _root(tmp_path)
    big = root / "catalog" / "service-index.yaml"
    # Real YAML (the sample catalog, then comment lines), so that a missing size check would
    # show up as a slow parse of 65 MiB rather than as a quick error about something else.
    line = b"# " + b"x" * 1021 + b"\n"  # 1 KiB
    with open(big, "ab") as f:
        for _ in range(65 * 1024):
            f.write(line)
    size = big.stat().st_size
    assert size > 65 * 1024 * 1024 > LIMIT

    for (command, args), console_script in itertools.product(COMMANDS.items(), (False, True)):
        result = _run(root, *args, console_script=console_script)
        _refused(
            result, command=command, names="catalog/service-index.yaml",
            fragments=(f"file is {size} bytes", f"over the {LIMIT} byte limit"),
        )  # fmt: skip


# --- a directory where a file belongs --------------------------------------------------------


@pytest.mark.parametrize(
    "rel",
    ["catalog/service-index.yaml", "catalog/release-trains.yaml", "config/upgrade-policies.yaml"],
)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_directory_where_a_file_belongs(tmp_path: Path, rel: str, command: str) -> None:
    root = _root(tmp_path)
    (root / rel).unlink()
    (root / rel).mkdir()
    (root / rel / "services.yaml").write_text("services: []\n")  # a plausible mistake
    result = _run(root, *COMMANDS[command])
    _refused(result, command=command, names=rel, fragments=("is a directory, expected a file",))


# --- a missing required file -----------------------------------------------------------------


@pytest.mark.parametrize("rel", ["catalog/release-trains.yaml", "catalog/service-index.yaml"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_missing_required_file(tmp_path: Path, rel: str, command: str) -> None:
    root = _root(tmp_path)
    (root / rel).unlink()
    result = _run(root, *COMMANDS[command])
    _refused(result, command=command, names=rel, fragments=("file not found",))


# --- YAML where JSON is expected ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["service-index", "specs-index"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_yaml_in_a_json_file(tmp_path: Path, kind: str, command: str) -> None:
    # The .json form is read only where the .yaml file is absent (CONTRACT: YAML wins), so the
    # corpus, which lays files over the sample catalog, cannot express this case.
    root = _root(tmp_path)
    yaml_file = root / "catalog" / f"{kind}.yaml"
    text = yaml_file.read_text(encoding="utf-8")
    yaml_file.unlink()
    (root / "catalog" / f"{kind}.json").write_text(text, encoding="utf-8")
    result = _run(root, *COMMANDS[command])
    rel = f"catalog/{kind}.json"
    _refused(result, command=command, names=rel, fragments=(f"{rel}:1: invalid JSON",))


def test_block_yaml_in_a_json_file_gets_a_hint(tmp_path: Path) -> None:
    root = _root(tmp_path)
    (root / "catalog" / "specs-index.yaml").unlink()
    (root / "catalog" / "specs-index.json").write_text(
        "specs:\n  curves-api:\n    versions:\n      - 2.0.1\n", encoding="utf-8"
    )
    result = _run(root, "validate")
    _refused(
        result, command="validate", names="catalog/specs-index.json",
        fragments=(
            "catalog/specs-index.json:1: invalid JSON",
            "(is this a YAML file named .json?)",
        ),
    )  # fmt: skip


def test_valid_json_in_a_json_file_is_read(tmp_path: Path) -> None:
    # The control for the test above: the same services as JSON are a valid catalog.
    root = _root(tmp_path)
    yaml_file = root / "catalog" / "service-index.yaml"
    doc = yaml.safe_load(yaml_file.read_text(encoding="utf-8"))
    yaml_file.unlink()
    (root / "catalog" / "service-index.json").write_text(
        json.dumps(doc, indent=2), encoding="utf-8"
    )
    result = _run(root, "validate")
    assert result.code == 0, result
    assert "8 services" in result.out


# --- a deployer template with an unknown field -------------------------------------------------


def _unknown_field_root(tmp_path: Path) -> tuple[Path, Path]:
    root = _root(tmp_path)
    recorder = recording_script(tmp_path / "bin")
    config = root / "config" / "upgrade-policies.yaml"
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["release_trains"]["deployer"] = {
        "type": "command", "deploy": [str(recorder.script), "{service}", "{nope}"],
    }  # fmt: skip
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return root, recorder.record


@pytest.mark.parametrize(
    "args",
    [("plan", TRAIN), ("execute", TRAIN, "--dry-run"), ("execute", TRAIN)],
    ids=["plan", "execute-dry-run", "execute"],
)
def test_an_unknown_template_field_is_bad_input_and_nothing_runs(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    root, record = _unknown_field_root(tmp_path)
    result = _run(root, *args)
    assert "Traceback" not in result.everything, result
    assert result.code == 2, result
    assert any(
        line.startswith("error: ") and "unknown template field {nope}" in line
        for line in result.err.splitlines()
    ), result
    assert (
        "{service}, {version}, {previous_version}, {train}, {environment}" in result.err
    )  # what to use
    assert not record.exists(), "the deploy command ran"


def test_an_unknown_template_field_makes_execute_write_nothing(tmp_path: Path) -> None:
    root, _ = _unknown_field_root(tmp_path)
    result = _run(root, "execute", TRAIN)
    assert result.code == 2, result
    assert result.changed == [], f"bad input changed files under the root: {result.changed}"


@pytest.mark.parametrize("args", [("plan", TRAIN), ("execute", TRAIN)], ids=["plan", "execute"])
def test_an_unknown_template_field_names_the_file_and_path(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    root, _ = _unknown_field_root(tmp_path)
    result = _run(root, *args)
    assert result.code == 2, result
    assert "config/upgrade-policies.yaml" in result.err, result
    assert "$.release_trains.deployer.deploy" in result.err, result


def test_validate_reports_an_unknown_template_field(tmp_path: Path) -> None:
    root, _ = _unknown_field_root(tmp_path)
    result = _run(root, "validate")
    assert result.code == 2, result
    assert "{nope}" in result.out, result
    assert "config/upgrade-policies.yaml" in result.out, result
    assert result.changed == []
