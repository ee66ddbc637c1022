"""The signal readings of one service (GET /api/v1/monitoring/performance/{service})."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ..catalog import resolve
from ..models import Catalog
from ..signals import SIGNAL_EVENT, Reading, read_signal
from ..state import Store
from .service_data import metric_specs


def performance(
    catalog: Catalog,
    store: Store | None,
    service: str,
    *,
    now: datetime,
    read: Callable[[str, Mapping[str, Any]], Reading] | None = None,
) -> dict[str, Any]:
    """The service's signal readings, newest first: one reading now of each signal that
    measures it (metric_specs; each bounded by its own timeout), then those recorded as
    `signal` events during runs. A reading that failed has value None and its error."""
    name = resolve(catalog, service)
    fields = {"service": name, "environment": catalog.config.environment}
    reader = read or (lambda n, spec: read_signal(n, spec, root=catalog.root, fields=fields))
    taken = now.isoformat(timespec="milliseconds")
    out: list[dict[str, Any]] = []
    for metric, spec in sorted(metric_specs(catalog, name).items()):
        r = reader(metric, spec)
        out.append(
            {"name": metric, "value": r.value, "read_at": taken, "source": r.source}
            | ({"error": r.error} if r.error else {})
        )
    recorded = store.service_events(name) if store else []
    for e in reversed(recorded):
        if e.kind != SIGNAL_EVENT:
            continue
        try:
            doc = json.loads(e.message)
        except ValueError:
            continue
        if isinstance(doc, dict) and "name" in doc:
            out.append(
                {
                    "name": str(doc["name"]),
                    "value": doc.get("value"),
                    "read_at": e.ts,
                    "source": str(doc.get("source", "")),
                    "run_id": e.run_id,
                }
            )
    return {"service": name, "signals": out}
