"""`--help` lists the commands from a summary table without importing them; the summaries
must stay the first words of each command's own help."""

from __future__ import annotations

import subprocess
import sys
from importlib import import_module

import pytest

from release_trains.cli.main import COMMANDS


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_summary_is_the_start_of_the_commands_help(name: str) -> None:
    module, summary = COMMANDS[name]
    command = import_module(f"release_trains.cli.{module}").command
    assert command.name == name
    first_line = (command.help or "").strip().splitlines()[0]
    assert first_line.startswith(summary.rstrip(".")), (summary, first_line)


def test_help_lists_every_command_without_importing_them() -> None:
    code = (
        "import sys\n"
        "from release_trains.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "finally:\n"
        "    print(sorted(m for m in sys.modules if m.endswith('_cmd')), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    for name in COMMANDS:
        assert f"  {name} " in result.stdout
    assert result.stderr.strip() == "[]"  # no command module was imported
