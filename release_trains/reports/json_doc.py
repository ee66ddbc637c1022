"""The JSON report: the report's `to_json` document, encoded in pieces."""

from __future__ import annotations

import json
from collections.abc import Iterator

from .service_data import ServiceReport
from .train_data import TrainReport


def json_chunks(report: TrainReport | ServiceReport) -> Iterator[str]:
    yield from json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(report.to_json())
    yield "\n"


def json_text(report: TrainReport | ServiceReport) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
