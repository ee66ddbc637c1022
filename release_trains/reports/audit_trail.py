"""The audit records a report or `audit` shows: the store's chain when it holds one (every
machine's records), else this machine's audit.log."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import audit
from ..monitoring import parse_ts
from ..state import Store
from .window import Window


def audit_records(
    root: Path, store: Store | None, *, train: str | None, window: Window
) -> list[dict[str, Any]]:
    """The audit records for `train` (None: every train) inside `window`, oldest first. A
    record that is not an audit record is bad input (exit 2) naming the file and line, or the
    store and record."""
    if store is not None and store.has_audit_chain():
        found = audit.from_store(store.audit_chain(train=train), where=store.where)
    else:
        found = audit.read(audit.path_for(root))
    return [r for r in found if (train is None or r["train"] == train) and window.holds(r["ts"])]


def audit_tail(
    root: Path, store: Store | None, *, train: str, since: datetime | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """The newest records of `train` back to `since` (None: back to the first), newest first,
    at most `limit`; and whether older ones were left out. From the store only the records
    shown are read (index audit_train); an audit.log is filtered by train before parsing."""

    def keep(ts: str) -> bool:
        when = parse_ts(ts)
        return since is None or when is None or when >= since

    if store is not None and store.has_audit_chain():
        shown, more = store.audit_tail(train, keep=keep, limit=limit)
        return audit.from_store(shown, where=store.where), more
    # This machine's audit.log (a store without the chain): lines of other trains are skipped
    # by a text test before any JSON is parsed; the kept ones are still checked as records.
    needle = f'"train": {json.dumps(train, ensure_ascii=False)}'
    records = [
        r
        for r in audit.read(audit.path_for(root), prefilter=needle)
        if r["train"] == train and keep(r["ts"])
    ]
    records.reverse()
    return records[:limit], len(records) > limit


def train_audit(
    root: Path, store: Store | None, *, train: str | None, window: Window
) -> list[dict[str, Any]]:
    """`audit --json [--train T]` and `GET /api/v1/audit?train=T`: the records, and for a
    train with none, a check that it exists (an empty answer would hide a typo: exit 2)."""
    records = audit_records(root, store, train=train, window=window)
    if train is not None and not records:
        check_known_train(root, store, train)
    return records


def check_known_train(root: Path, store: Store | None, train: str) -> None:
    """A train with no record at all is fine when the catalog defines it (it never ran);
    otherwise it is a typo, and an empty answer with exit 0 would hide it."""
    from ..catalog import load_catalog
    from ..errors import ReleaseTrainError, UnknownTrainError

    everything = audit_records(root, store, train=None, window=Window(None, None))
    known = {str(r["train"]) for r in everything}
    if train in known:
        return
    note = ""
    try:
        catalog_trains = set(load_catalog(root, services=False).trains)
    except ReleaseTrainError as e:
        catalog_trains = set()
        note = f" (the catalog could not be read: {str(e).splitlines()[0]})"
    if train in catalog_trains:
        return
    import difflib  # only for this message

    close = difflib.get_close_matches(train, sorted(known | catalog_trains), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UnknownTrainError(
        f"unknown train {train!r}: not in the catalog and no audit record names it{note}{hint}"
    )


def detail_text(value: Any) -> str:
    if value is None:
        return ""
    return (
        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    )
