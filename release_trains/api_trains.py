"""Trains defined through the API: create, change and delete their definitions.

A definition is the YAML train schema's train item as JSON, checked exactly as a YAML train
is (catalog.check_train_definition: the schema, versions, dependencies, gates, durations and
participant resolution), and kept in the state store (state/trains.py). The catalog loader
merges these trains with the YAML ones, so from then on they are planned, executed and
reported like any train. Catalog trains are changed in catalog/release-trains.yaml, never
here; a train with a run in progress (not completed, failed or rolled back: a paused run
included) keeps its definition until that run ends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .catalog import check_train_definition
from .errors import DefinitionInvalid, NotNowError, UnknownTrainError
from .lifecycle import FINAL
from .models import Catalog
from .state import ApiTrain, Store

SETTLED = sorted(str(s) for s in FINAL)


def document(record: ApiTrain) -> dict[str, Any]:
    """`GET .../{train}` of an API train (also the answer to POST and PUT)."""
    return {
        "train": record.name,
        "source": "api",
        "definition": record.definition,
        "created_by": record.created_by,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def _catalog_train(catalog: Catalog, name: str, verb: str) -> NotNowError:
    return NotNowError(
        f"train {name!r} is a catalog train: {verb} it in {catalog.files['trains']} "
        "(edit catalog/release-trains.yaml)"
    )


def _checked(catalog: Catalog, definition: Any) -> dict[str, Any]:
    fields = check_train_definition(catalog, definition)
    if fields:
        raise DefinitionInvalid(fields)
    assert isinstance(definition, dict)
    return definition


def create_train(
    catalog: Catalog, store: Store, definition: Any, *, who: str, now: datetime
) -> dict[str, Any]:
    """Store a new train. A name in use (in the catalog or through the API): NotNowError
    (409); any problem of the definition: DefinitionInvalid listing every one (422).

    `catalog` here and below is the YAML catalog alone (load_catalog without a store), so an
    API train that no longer loads (a service it names was removed) can still be changed or
    deleted through the API."""
    name = definition.get("name") if isinstance(definition, dict) else None
    if isinstance(name, str):
        if name in catalog.trains:
            raise _catalog_train(catalog, name, "change")
        if store.api_train(name) is not None:
            raise NotNowError(
                f"a train named {name!r} exists (created through the API): change it with "
                f"PUT /api/v1/release-trains/{name}"
            )
    checked = _checked(catalog, definition)
    record = store.add_api_train(checked, who=who, now=now.isoformat())
    return document(record)


def replace_train(
    catalog: Catalog, store: Store, name: str, definition: Any, *, now: datetime
) -> dict[str, Any]:
    """Replace an API train's definition (PUT with a definition). The name may be left out
    (it is the path's) but not changed."""
    _refuse_catalog(catalog, store, name, "change")
    if isinstance(definition, dict):
        if "name" not in definition:
            definition = {"name": name, **definition}
        elif definition["name"] != name:
            raise DefinitionInvalid(
                [
                    {
                        "path": "$.name",
                        "message": f"{definition['name']!r} is not this train's name {name!r}: "
                        "a train cannot be renamed (create the new one, delete this one)",
                    }
                ]
            )
    checked = _checked(catalog, definition)
    record = store.replace_api_train(name, checked, not_running=SETTLED, now=now.isoformat())
    return document(record)


def delete_train(catalog: Catalog, store: Store, name: str) -> None:
    """Remove an API train's definition; its runs, events and audit records stay."""
    _refuse_catalog(catalog, store, name, "remove")
    store.delete_api_train(name, not_running=SETTLED)


def _refuse_catalog(catalog: Catalog, store: Store, name: str, verb: str) -> None:
    if name in catalog.trains:
        raise _catalog_train(catalog, name, verb)
    if store.api_train(name) is None:
        raise UnknownTrainError(f"unknown train {name!r}")
