"""Where reports go, and writing one: rendered in pieces into a temporary file that is
renamed into place, so readers never see half a report and no report is held whole."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..errors import InputError
from .html import html_chunks
from .json_doc import json_chunks
from .markdown import markdown_chunks
from .service_data import ServiceReport
from .train_data import TrainReport

Report = TrainReport | ServiceReport
FORMATS = {"markdown": "md", "json": "json", "html": "html"}
_RENDERERS: dict[str, Callable[[Report], Iterator[str]]] = {
    "markdown": markdown_chunks,
    "json": json_chunks,
    "html": html_chunks,
}


def chunks(report: Report, fmt: str) -> Iterator[str]:
    if fmt not in FORMATS:
        raise InputError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return _RENDERERS[fmt](report)


def render(report: Report, fmt: str) -> str:
    return "".join(chunks(report, fmt))


def default_output(root: Path, report: Report, *, fmt: str) -> Path:
    """analysis/reports/release-trains/<train>/ or analysis/reports/services/<service>/."""
    stamp = report.now.strftime("%Y%m%dT%H%M%SZ")
    if isinstance(report, TrainReport):
        folder = root / "analysis" / "reports" / "release-trains" / report.snapshot.train
    else:
        folder = root / "analysis" / "reports" / "services" / report.service
    return folder / f"report-{stamp}.{FORMATS[fmt]}"


def write_report(
    path: Path, pieces: Iterable[str], *, also: Callable[[str], None] | None = None
) -> None:
    """Write `pieces` to `path` through a temporary file and os.replace; `also` gets each
    piece too (the CLI prints a JSON report while writing it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for piece in pieces:
                f.write(piece)
                if also is not None:
                    also(piece)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
