"""Where the executable of a deployer, probe or signal command is: the one resolver.

An argv's first item that is a path (it has a `/`) and is relative, such as `./bin/deploy`,
names a file under the project root (`--root`), wherever the command is started from. A
bare name (`kubectl`) is looked up on PATH when it runs, as a shell would; an absolute path
is used as it is. The command deployer, the command health probe and command signals
resolve through `resolve_argv` when they run, and `plan` checks through `problem` that what
they will run exists and is executable.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def resolve(executable: str, root: Path | None) -> str:
    """`executable` as it will be run: a relative path made absolute under `root`."""
    if root is None or "/" not in executable or os.path.isabs(executable):
        return executable
    return os.path.abspath(os.path.join(root, executable))


def resolve_argv(argv: Sequence[str], root: Path | None) -> list[str]:
    """`argv` with its executable resolved (the arguments are left as written)."""
    if not argv:
        return list(argv)
    return [resolve(argv[0], root), *argv[1:]]


def problem(executable: str, root: Path | None) -> str | None:
    """Why `executable` cannot be run (missing, a folder, not executable), or None.

    Bare names are not judged here: PATH is the environment's, read when the command runs."""
    if "/" not in executable:
        return None
    path = resolve(executable, root)
    shown = path if path == executable else f"{executable} ({path})"
    if not os.path.exists(path):
        where = f"; relative paths resolve against --root {root}" if path != executable else ""
        return f"executable not found: {shown}{where}"
    if os.path.isdir(path):
        return f"executable is a folder: {shown}"
    if not os.access(path, os.X_OK):
        return f"not executable: {shown} (chmod +x it)"
    return None
