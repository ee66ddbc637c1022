"""Shell completion of train and service names, read from the catalog under --root.

Enable it once per shell (the command line prints the same in `release-trains --help`):

    eval "$(_RELEASE_TRAINS_COMPLETE=bash_source release-trains)"   # ~/.bashrc
    eval "$(_RELEASE_TRAINS_COMPLETE=zsh_source release-trains)"    # ~/.zshrc
    _RELEASE_TRAINS_COMPLETE=fish_source release-trains | source    # fish

A completion runs at every <Tab>: it only reads the two catalog files (no schema check, no
state store), and it never raises: a missing or broken catalog completes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem


def _root(ctx: click.Context) -> Path:
    """--root as given so far, after the subcommand or before it; else the working directory."""
    here: click.Context | None = ctx
    while here is not None:
        for key in ("_root", "root"):  # the subcommand's own option, then the group's
            value = here.params.get(key)
            if isinstance(value, str) and value:
                return Path(value)
        here = here.parent
    return Path(".")


def _load(root: Path, kind: str) -> Any:
    from ..catalog import find_file
    from ..yaml_io import load_file

    path = find_file(root, kind)
    return load_file(path) if path is not None else None


def train_names(root: Path) -> list[str]:
    try:
        trains = (_load(root, "trains") or {}).get("trains") or []
        return [t["name"] for t in trains if isinstance(t, dict) and isinstance(t.get("name"), str)]
    except Exception:  # completion must never fail the shell: a broken catalog offers nothing
        return []


def service_names(root: Path) -> list[str]:
    """Every service's name and its declared aliases (both are accepted where a service is)."""
    try:
        raw = (_load(root, "services") or {}).get("services") or []
        if isinstance(raw, dict):
            raw = [{"name": k, **(v if isinstance(v, dict) else {})} for k, v in raw.items()]
        names: list[str] = []
        for entry in raw:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                continue
            names.append(entry["name"])
            aliases = entry.get("aliases")
            names.extend(a for a in aliases or [] if isinstance(a, str))
        return list(dict.fromkeys(names))
    except Exception:  # completion must never fail the shell: a broken catalog offers nothing
        return []


def complete_train(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return [CompletionItem(n) for n in train_names(_root(ctx)) if n.startswith(incomplete)]


def complete_service(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return [CompletionItem(n) for n in service_names(_root(ctx)) if n.startswith(incomplete)]
