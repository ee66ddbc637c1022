"""What the OpenAPI document says each route answers: the error statuses it can give, as
problem documents, and the shapes of the JSON documents (those of the CLI's --json)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .problems import MEDIA_TYPE, Problem

_WHY = {
    400: "Bad input: malformed JSON, or a value the command would refuse (exit 2).",
    401: "No token, or an unknown or revoked one.",
    403: "The token's role is too low for this route.",
    404: "Unknown train or service (exit 2).",
    409: "Not now: a lock is held, or the status does not allow it (exit 3).",
    413: "The request body is over 1 MiB.",
    415: "The request body is not sent as `Content-Type: application/json`.",
    422: "The request (body, path or query) has the wrong shape: every problem in `errors`.",
    500: "Internal error (exit 4): the state store cannot be read or written, or a bug.",
    501: "Not done by this server (exit 3).",
}


def errors(*codes: int, body: bool = False) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for these statuses: on every /api/v1/ route 401, 403, 422 (a path
    or query parameter of the wrong shape), 409 (the state store stayed busy) and 500 (the
    store cannot be read); 400, 413 and 415 on those with a body."""
    codes = (*codes, 409, 422, 500, *((400, 413, 415) if body else ()))
    return {
        code: {
            "model": Problem,
            "description": _WHY[code],
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in sorted({401, 403, *codes})
    }


def document(
    description: str, model: type[BaseModel] | Any = None, *, status: int = 200
) -> dict[int | str, Any]:
    """A `responses=` entry: the JSON document `model` describes (schemas.py)."""
    entry: dict[str, Any] = {"description": description}
    if model is not None:
        entry["model"] = model
    return {status: entry}
