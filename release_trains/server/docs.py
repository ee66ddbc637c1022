"""What the OpenAPI document says each route answers: the error statuses it can give, as
problem documents, and the shapes of the JSON documents (those of the CLI's --json)."""

from __future__ import annotations

from typing import Any

from .problems import MEDIA_TYPE, Problem

_WHY = {
    400: "Bad input: malformed JSON, or a value the command would refuse (exit 2).",
    401: "No token, or an unknown or revoked one.",
    403: "The token's role is too low for this route.",
    404: "Unknown train or service (exit 2).",
    409: "Not now: a lock is held, or the status does not allow it (exit 3).",
    413: "The request body is over 1 MiB.",
    415: "The request body is not sent as `Content-Type: application/json`.",
    422: "The request body has the wrong shape: every problem in `errors`.",
    501: "Not done by this server: runs started through the API need workers (exit 3).",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for these statuses (401 and 403 on every /api/v1/ route; a route
    with a body (422) can also answer 400, 413 and 415)."""
    if 422 in codes:
        codes = (*codes, 400, 413, 415)
    return {
        code: {
            "model": Problem,
            "description": _WHY[code],
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in sorted({401, 403, *codes})
    }


def document(
    description: str, *, example: Any = None, status: int = 200, kind: str = "object"
) -> dict[int | str, Any]:
    entry: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"type": kind}}},
    }
    if example is not None:
        entry["content"]["application/json"]["example"] = example
    return {status: entry}
