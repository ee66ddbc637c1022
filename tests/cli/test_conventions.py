"""CONTRACT.md "Command line conventions", command by command: shared options before or after
the subcommand, --json everywhere (usage errors included), an example at the end of every
--help, completion of train and service names, durations and reasons checked while parsing,
and the small first-use fixes (local deployer wording, rollback aliases, the hint after a
failed execute, plain output wider than 80 columns). All in-process through main(argv); the
pipe that closes early needs real processes: see test_console_script.py."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import write_script

from release_trains.cli.complete import service_names, train_names
from release_trains.cli.context import Options
from release_trains.cli.main import COMMANDS, wants_json

RunCli = Callable[..., Any]  # conftest.run_cli: (*args) -> CliResult(code, out, err)
TRAIN = "Q4-curve-upgrade"

# The smallest valid call of each command (after `--root ROOT`), all reading the sample.
CALLS: dict[str, tuple[str, ...]] = {
    "validate": ("validate",),
    "plan": ("plan", TRAIN, "--dry-run"),
    "execute": ("execute", TRAIN, "--dry-run"),
    "pause": ("pause", TRAIN),
    "freeze": ("freeze", "--reason", "INC-1", "--until", "2000-01-01T00:00:00Z"),  # passed
    "unfreeze": ("unfreeze",),  # nothing is frozen
    "resume": ("resume", TRAIN),
    "approve": ("approve", TRAIN, "--gate", "uat-signoff"),  # the sample has no approval gate
    "reject": ("reject", TRAIN, "--gate", "uat-signoff", "--reason", "no"),
    "unlock": ("unlock", TRAIN, "no-such-lock"),
    "audit": ("audit",),
    "rollback": ("rollback", TRAIN, "--dry-run"),
    "status": ("status", TRAIN),
    "monitor": ("monitor", TRAIN),
    "report": ("report", "--train", TRAIN, "--output", "-"),
    "report-deploy": ("report-deploy", "curve", "--status", "deployed", "--version", "2.0.0"),
    "token": ("token", "list"),
    # refused before binding: no token exists, so only 127.0.0.1 may be served
    "serve": ("serve", "--host", "0.0.0.0"),
    "state": ("state", "migrate"),
    "worker": ("worker", "--once"),  # nothing queued: it exits at once, writing nothing
    "notify": ("notify", "test"),  # the sample sets up no channel: exit 2, saying so
}


def one_document(text: str) -> Any:
    """stdout holds exactly one JSON document and nothing else."""
    doc, end = json.JSONDecoder().raw_decode(text.strip())
    assert end == len(text.strip()), f"more than one document on stdout:\n{text}"
    return doc


def test_every_command_has_a_call_here() -> None:
    assert set(CALLS) == set(COMMANDS)


# --- shared options, before or after the subcommand -----------------------------------------


@pytest.mark.parametrize("name", sorted(CALLS))
def test_root_and_json_work_after_the_subcommand(
    sample_root: Path, run_cli: RunCli, tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no catalog here: only --root can find the sample
    result = run_cli(*CALLS[name], "--root", sample_root, "--json")
    doc = one_document(result.out)  # one document on stdout, whatever the answer
    if name in (
        "pause",
        "resume",
        "unlock",
        "rollback",
        "serve",
        "approve",
        "reject",
        "notify",
        "freeze",
        "unfreeze",
    ):  # they say no
        assert result.code in (2, 3) and doc["exit_code"] == result.code, result
        assert "No such option" not in doc["error"] and "file not found" not in doc["error"]
    else:
        assert result.code in (0, 1), result
        assert "error" not in doc, doc


@pytest.mark.parametrize("where", ["before", "after"])
def test_state_is_accepted_on_either_side(
    sample_root: Path, run_cli: RunCli, tmp_path: Path, where: str
) -> None:
    state = tmp_path / "elsewhere.db"
    args = ("execute", "pricing-refresh")
    argv = (
        ("--root", sample_root, "--state", state, *args)
        if where == "before"
        else ("--root", sample_root, *args, "--state", state)
    )
    assert run_cli(*argv).code == 0
    assert state.is_file()
    assert not (sample_root / "analysis" / "state").exists()


def test_the_subcommands_value_wins(sample_root: Path, run_cli: RunCli, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("--root", empty, "status", "--root", sample_root, "--json")
    assert result.code == 0, result
    assert TRAIN in {t["train"] for t in one_document(result.out)["trains"]}
    # and the other way round: the root given after the subcommand is the one read
    result = run_cli("--root", sample_root, "status", "--root", empty, "--json")
    assert result.code == 2 and "file not found" in one_document(result.out)["error"]


def test_options_merge_flags_from_either_side() -> None:
    group = Options.build(root="a", state="s1", verbose=True, as_json=False)
    merged = group.merged(root=None, state=None, verbose=False, as_json=True)
    assert (merged.root, merged.state, merged.verbose, merged.json) == (Path("a"), "s1", True, True)
    merged = group.merged(root="b", state="s2", verbose=False, as_json=False)
    assert (merged.root, merged.state) == (Path("b"), "s2")


def test_verbose_after_the_subcommand_shows_the_traceback(
    sample_root: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import release_trains.cli.validate_cmd as validate_cmd

    def broken(root: Path, **_: Any) -> Any:  # an internal error: a bug of ours
        raise RuntimeError("boom")

    monkeypatch.setattr(validate_cmd, "check_catalog", broken)
    quiet = run_cli("--root", sample_root, "validate")
    loud = run_cli("--root", sample_root, "validate", "-v")
    assert quiet.code == loud.code == 4
    assert "Traceback" not in quiet.err and "run again with -v" in quiet.err
    assert "Traceback" in loud.err and "RuntimeError: boom" in loud.err


# --- --json everywhere, usage errors included -----------------------------------------------


def test_pause_and_unlock_print_a_json_document(sample_root: Path, run_cli: RunCli) -> None:
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 0
    # pause: the train is completed, so the answer is no (exit 3), as one document
    refused = run_cli("--root", sample_root, "pause", TRAIN, "--json")
    assert refused.code == 3 and one_document(refused.out)["exit_code"] == 3

    unknown = run_cli("--root", sample_root, "unlock", TRAIN, "nope", "--json")
    assert unknown.code == 2 and "holds no lock" in one_document(unknown.out)["error"]


def test_pause_of_a_run_nobody_executes_prints_its_document(
    sample_root: Path, run_cli: RunCli
) -> None:
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 0
    # Stage a run left executing by a process that died (no lock holds it any more).
    db = sqlite3.connect(sample_root / "analysis" / "state" / "release-trains.db")
    with db:
        db.execute("UPDATE runs SET status = 'executing' WHERE train = ?", (TRAIN,))
    db.close()
    result = run_cli("--root", sample_root, "pause", TRAIN, "--json", "--reason", "night")
    assert result.code == 0, result
    doc = one_document(result.out)
    assert doc["train"] == TRAIN and doc["status"] == "paused" and doc["requested"] is False


@pytest.mark.parametrize(
    "argv",
    [
        ("--json", "status", "--no-such-option"),
        ("status", "--no-such-option", "--json"),
        ("--json", "no-such-command"),
        ("execute", "--json"),  # TRAIN missing
        ("execute", TRAIN, "--max-parallel", "0", "--json"),
        ("report", "--json"),  # neither --train nor --service
        ("report", "--train", TRAIN, "--format=json", "--format", "pdf"),
    ],
    ids=lambda a: " ".join(a),
)
def test_usage_errors_under_json_print_the_error_document(
    sample_root: Path, run_cli: RunCli, argv: tuple[str, ...]
) -> None:
    result = run_cli("--root", sample_root, *argv)
    assert result.code == 2, result
    doc = one_document(result.out)
    assert set(doc) == {"error", "exit_code"} and doc["exit_code"] == 2 and doc["error"]
    assert "Usage:" in result.err or "error" in result.err.lower()


def test_usage_errors_without_json_keep_stdout_empty(sample_root: Path, run_cli: RunCli) -> None:
    result = run_cli("--root", sample_root, "status", "--no-such-option")
    assert result.code == 2 and result.out == "" and "No such option" in result.err


def test_json_is_read_from_the_words_before_a_double_dash() -> None:
    assert wants_json(["status", "--json"]) and wants_json(["--json", "status"])
    assert wants_json(["report", "--format", "json"]) and wants_json(["report", "--format=json"])
    assert not wants_json(["rollback", "T", "--", "--json"])
    assert not wants_json(["report", "--format", "html", "--train", "json"])


# --- --help ends with examples ----------------------------------------------------------------


@pytest.mark.parametrize("name", [None, *sorted(COMMANDS)])
def test_help_ends_with_an_example(run_cli: RunCli, name: str | None) -> None:
    result = run_cli(*([name] if name else []), "--help")
    assert result.code == 0, result
    text = result.out.rstrip()
    assert "Examples:" in text, text
    after = text.rsplit("Examples:", 1)[1]
    lines = [line.strip() for line in after.splitlines() if line.strip()]
    assert lines and any(line.startswith("release-trains") for line in lines), after
    if name:  # an example of this very command, not of another
        assert any(line.startswith(f"release-trains {name}") for line in lines), after
    # \b kept each example on its own line (click would otherwise join them into a paragraph)
    assert all(line.count("release-trains ") <= 1 for line in lines), after


def test_help_says_how_to_enable_completion(run_cli: RunCli) -> None:
    out = run_cli("--help").out
    assert "_RELEASE_TRAINS_COMPLETE=bash_source release-trains" in out


# --- shell completion ---------------------------------------------------------------------------


@pytest.fixture
def offered(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., list[str]]:
    from release_trains.cli.main import main

    def run(words: str, *, cwd: Path | None = None) -> list[str]:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        parts = words.split(" ")
        monkeypatch.setenv("_RELEASE_TRAINS_COMPLETE", "bash_complete")
        monkeypatch.setenv("COMP_WORDS", words)
        monkeypatch.setenv("COMP_CWORD", str(len(parts) - 1))
        capsys.readouterr()
        with pytest.raises(SystemExit) as done:  # click's completion ends the process
            main([])
        assert done.value.code in (0, None)
        # bash_complete prints "type,value" per line
        return [line.split(",", 1)[1] for line in capsys.readouterr().out.splitlines() if line]

    return run


def test_train_names_complete_from_the_catalog(
    sample_root: Path, offered: Callable[..., list[str]], tmp_path: Path
) -> None:
    assert offered("release-trains plan Q4", cwd=sample_root) == [TRAIN]
    everything = offered("release-trains execute ", cwd=sample_root)
    assert TRAIN in everything and "pricing-refresh" in everything
    # the root may be given before or after the subcommand
    assert offered(f"release-trains --root {sample_root} status Q4", cwd=tmp_path) == [TRAIN]
    assert offered(f"release-trains rollback --root {sample_root} Q4", cwd=tmp_path) == [TRAIN]
    assert offered(f"release-trains report --root {sample_root} --train Q", cwd=tmp_path) == [TRAIN]


def test_service_names_and_aliases_complete(
    sample_root: Path, offered: Callable[..., list[str]]
) -> None:
    got = offered(f"release-trains rollback {TRAIN} --service curve", cwd=sample_root)
    assert "curve-service" in got
    assert all(name.startswith("curve") for name in got)
    assert "curve-service" in offered("release-trains report --service cu", cwd=sample_root)


def test_completion_never_fails_on_a_missing_or_broken_catalog(
    tmp_path: Path, offered: Callable[..., list[str]]
) -> None:
    assert offered("release-trains plan Q", cwd=tmp_path) == []
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "release-trains.yaml").write_text("trains: [{{{\n")
    (tmp_path / "catalog" / "service-index.yaml").write_bytes(b"\xff\xfe not yaml")
    assert offered("release-trains plan Q", cwd=tmp_path) == []
    assert train_names(tmp_path) == [] and service_names(tmp_path) == []


def test_service_names_come_with_aliases(make_root: Callable[..., Path]) -> None:
    root = make_root(
        {
            "catalog/service-index.yaml": {
                "services": [
                    {"name": "curve-service", "version": "1.0.0", "aliases": ["curve", "curves"]},
                    {"name": "pricing", "version": "1.0.0"},
                ]
            }
        }
    )
    assert service_names(root) == ["curve-service", "curve", "curves", "pricing"]


# --- durations and reasons, checked while parsing --------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ("report", "--train", TRAIN, "--since", "99999999999999d"),
        ("report", "--train", TRAIN, "--since", "0d"),
        ("report", "--train", TRAIN, "--since", "-5d"),
        ("audit", "--since", "99999999999999d"),
        ("audit", "--since", "nan"),
        ("audit", "--since", "1" + "0" * 400 + "w"),
        ("monitor", TRAIN, "--interval", "nan"),
        ("monitor", TRAIN, "--interval", "inf"),
        ("monitor", TRAIN, "--interval", "-1"),
        ("monitor", TRAIN, "--interval", "0"),
        ("monitor", TRAIN, "--interval", "1e400"),
        ("monitor", TRAIN, "--interval", "99999999999999d"),
    ],
    ids=lambda a: " ".join(a)[:60],
)
def test_out_of_range_durations_are_usage_errors(
    sample_root: Path, run_cli: RunCli, argv: tuple[str, ...]
) -> None:
    result = run_cli("--root", sample_root, *argv, "--json")
    assert result.code == 2, result
    assert "internal error" not in result.err and "Traceback" not in result.err
    assert one_document(result.out)["exit_code"] == 2
    assert "Invalid value for" in result.err


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e400", "abc"])
def test_a_bad_busy_timeout_is_bad_input(
    sample_root: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    (sample_root / "analysis" / "state").mkdir(parents=True)  # so the store is opened
    monkeypatch.setenv("RELEASE_TRAINS_BUSY_TIMEOUT", value)
    result = run_cli("--root", sample_root, "status", TRAIN)
    assert result.code == 2, result
    assert "RELEASE_TRAINS_BUSY_TIMEOUT" in result.err and "internal error" not in result.err


@pytest.mark.parametrize(
    ("argv", "seconds"),
    [(("--interval", "0.5"), 0.5), (("--interval", "2s"), 2.0), (("--interval", "1m"), 60.0)],
)
def test_durations_in_range_are_read(argv: tuple[str, ...], seconds: float) -> None:
    from release_trains.cli.params import Duration

    assert Duration(min_s=0.05, max_s=86400).convert(argv[1], None, None) == seconds


@pytest.mark.parametrize("reason", ["", " ", "\t\n "])
def test_a_blank_rollback_reason_is_refused(
    sample_root: Path, run_cli: RunCli, reason: str
) -> None:
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 0
    before = (sample_root / "analysis" / "reports" / "audit.log").read_bytes()
    result = run_cli("--root", sample_root, "rollback", TRAIN, "--reason", reason)
    assert result.code == 2 and "--reason" in result.err, result
    assert (sample_root / "analysis" / "reports" / "audit.log").read_bytes() == before


def test_a_blank_pause_reason_is_refused(sample_root: Path, run_cli: RunCli) -> None:
    result = run_cli("--root", sample_root, "pause", TRAIN, "--reason", "  ")
    assert result.code == 2 and "--reason" in result.err


def test_rollback_dry_run_needs_no_reason(sample_root: Path, run_cli: RunCli) -> None:
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 0
    result = run_cli("--root", sample_root, "rollback", TRAIN, "--dry-run", "--json")
    assert result.code == 0, result
    doc = one_document(result.out)
    assert doc["dry_run"] is True and doc["reason"] is None
    assert doc["order"][-1] == "curve-service"


def test_a_real_rollback_still_needs_a_reason(sample_root: Path, run_cli: RunCli) -> None:
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 0
    result = run_cli("--root", sample_root, "rollback", TRAIN)
    assert result.code == 2 and "--reason is required" in result.err
    steps = run_cli("--root", sample_root, "status", TRAIN, "--json")
    assert {s["status"] for s in json.loads(steps.out)["services"]} == {"released"}


# --- rollback --service takes the names the train takes ------------------------------------


def test_rollback_service_accepts_an_alias_and_a_short_name(
    sample_root: Path, run_cli: RunCli
) -> None:
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 0
    for name in ("curve", "curve-service"):  # `curve` is how the train names it
        result = run_cli(
            "--root", sample_root, "rollback", TRAIN, "--dry-run", "--json", "--service", name,
            "--force",
        )  # fmt: skip
        doc = one_document(result.out)
        assert "error" not in doc, doc
        assert [s["service"] for s in doc["services"]] == ["curve-service"], doc
    unknown = run_cli("--root", sample_root, "rollback", TRAIN, "--dry-run", "--service", "nope")
    assert unknown.code == 2 and "not a service of train" in unknown.err


# --- the local deployer says it deploys nothing ---------------------------------------------


def test_the_local_deployer_says_it_deploys_nothing_everywhere(
    sample_root: Path, run_cli: RunCli
) -> None:
    plan = run_cli("--root", sample_root, "plan", TRAIN, "--dry-run")
    assert "records versions in the state store and deploys nothing" in plan.out
    dry = run_cli("--root", sample_root, "execute", TRAIN, "--dry-run")
    real = run_cli("--root", sample_root, "execute", TRAIN)
    status = run_cli("--root", sample_root, "status", TRAIN)
    for text in (plan.out, dry.out, real.out):  # the results, on stdout
        assert "Deployer: local for curve-service" in text, text
    for text in (dry.out, real.err, status.out):  # each step, its event and its evidence
        assert "deploys nothing" in text, text
        assert "in the state store" in text
        assert not re.search(r"\bset curve-service \S+ -> ", text), text


def test_plan_names_no_local_deployer_where_a_real_one_deploys(
    sample_root: Path, run_cli: RunCli
) -> None:
    script = write_script(sample_root / "bin" / "deploy", "exit 0\n")
    path = sample_root / "config" / "upgrade-policies.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["release_trains"]["deployer"] = {"type": "command", "deploy": [str(script), "{service}"]}
    path.write_text(yaml.safe_dump(doc))
    plan = run_cli("--root", sample_root, "plan", TRAIN, "--dry-run")
    assert plan.code == 0 and "deploys nothing" not in plan.out


# --- a failed execute says what to do next --------------------------------------------------


def test_a_failed_execute_says_what_to_do_next(sample_root: Path, run_cli: RunCli) -> None:
    script = write_script(
        sample_root / "bin" / "deploy", 'if [ "$1" = "scenario-service" ]; then exit 1; fi\n'
    )
    path = sample_root / "config" / "upgrade-policies.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["release_trains"]["deployer"] = {
        "type": "command",
        "deploy": [str(script), "{service}", "{version}"],
    }
    doc["release_trains"].setdefault("rollback", {})["enabled"] = False
    path.write_text(yaml.safe_dump(doc))
    trains = sample_root / "catalog" / "release-trains.yaml"
    tdoc = yaml.safe_load(trains.read_text())
    for t in tdoc["trains"]:
        t.pop("rollback", None)
    trains.write_text(yaml.safe_dump(tdoc))

    for extra in ((), ("--json",)):
        result = run_cli("--root", sample_root, "execute", TRAIN, *extra)
        assert result.code == 1, result
        hint = [line for line in result.err.splitlines() if line.startswith("next: ")]
        assert hint, result.err
        assert f"release-trains status {TRAIN}" in hint[0]
        assert f"release-trains execute {TRAIN}" in hint[0]
        assert f"release-trains rollback {TRAIN} --reason" in hint[0]
        if extra:
            assert one_document(result.out)["status"] == "failed"  # stdout: only the document


def test_a_completed_execute_gives_no_hint(sample_root: Path, run_cli: RunCli) -> None:
    result = run_cli("--root", sample_root, "execute", TRAIN)
    assert result.code == 0 and "next: " not in result.err


# --- plain output is not cut at 80 columns ----------------------------------------------------


def test_plain_tables_are_not_cut_at_80_columns(
    sample_root: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    out = run_cli("--root", sample_root, "plan", TRAIN, "--dry-run").out
    assert "…" not in out, out
    # each cell whole on one line: the gate and its evidence, the dependency's detail
    assert re.search(r"all_participants_coverage >= 70 .*every participant meets coverage", out)
    assert "curves-api 1.9.0, 2.0.1 satisfies >=2.0.0" in out
    assert max(len(line) for line in out.splitlines()) > 80


def test_plain_output_takes_the_width_columns_asks_for(
    sample_root: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    out = run_cli("--root", sample_root, "plan", TRAIN, "--dry-run").out
    table = [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]
    assert table and max(len(line) for line in table) <= 100
