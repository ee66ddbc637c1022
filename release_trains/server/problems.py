"""Every error as application/problem+json (RFC 9457): `{type, title, status, detail,
exit_code}`, plus `errors: [{path, message}]` for schema problems.

One mapping from the project's errors to HTTP statuses, in `status_of`; `detail` is the text
the CLI prints for the same error. Request bodies are capped at MAX_BODY bytes while they are
read (BodyLimit), whatever Content-Length claims."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ..errors import (
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_NOT_NOW,
    ApprovalDeniedError,
    AuthenticationError,
    DefinitionInvalid,
    InputError,
    NotAvailableError,
    NotNowError,
    PermissionDeniedError,
    RefusedError,
    ReleaseTrainError,
    ResolutionError,
    UnknownGateError,
    UnknownTokenError,
    UnknownTrainError,
    ValidationFailed,
)

MEDIA_TYPE = "application/problem+json"
MAX_BODY = 1024 * 1024  # 1 MiB: a train definition is a few KiB; more is a mistake or abuse
TYPE_BASE = "https://release-trains.dev/problems/"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class FieldProblem(BaseModel):
    path: str = Field(description="Where in the body, as a JSON path: `$.max_parallel`.")
    message: str


class Problem(BaseModel):
    """An error (application/problem+json)."""

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong, the text the CLI prints for it.")
    exit_code: int = Field(description="The CLI's exit code for the same error (2, 3, 4).")
    errors: list[FieldProblem] | None = Field(
        default=None, description="Every schema problem of the request body (422 only)."
    )


TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    500: "Internal error",
    501: "Not implemented",
}


def problem(
    status: int,
    detail: str,
    *,
    exit_code: int,
    kind: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    title = TITLES.get(status, "Error")
    body: dict[str, Any] = {
        "type": TYPE_BASE + (kind or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
        "exit_code": exit_code,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def status_of(e: ReleaseTrainError) -> int:
    """The one mapping from the project's errors to HTTP statuses (CONTRACT.md)."""
    if isinstance(e, AuthenticationError):
        return 401
    if isinstance(e, PermissionDeniedError | ApprovalDeniedError):
        return 403  # an approval by someone who may not give it (approvals.py)
    if isinstance(e, UnknownTrainError | ResolutionError | UnknownTokenError | UnknownGateError):
        return 404
    if isinstance(e, ValidationFailed):
        return 422
    if isinstance(e, InputError):
        return 400
    if isinstance(e, NotAvailableError):
        return 501
    if isinstance(e, NotNowError | RefusedError):
        return 409  # lock held, status does not allow it; a refused partial rollback
    return 500


def from_error(e: ReleaseTrainError) -> JSONResponse:
    status = status_of(e)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    errors = None
    if isinstance(e, DefinitionInvalid):
        errors = list(e.fields)
    elif isinstance(e, ValidationFailed):
        errors = [{"path": "$", "message": p} for p in e.problems]
    kind = {501: "not-implemented", 409: "not-now"}.get(status)
    return problem(
        status,
        str(e),
        exit_code=e.exit_code,
        kind=kind,
        errors=errors,
        headers=headers,
    )


def _json_path(loc: tuple[Any, ...]) -> str:
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def from_validation(e: RequestValidationError) -> JSONResponse:
    errs = list(e.errors())
    if any(err.get("type") == "json_invalid" for err in errs):
        first = next(err for err in errs if err.get("type") == "json_invalid")
        why = (first.get("ctx") or {}).get("error", "not JSON")
        return problem(
            400, f"the request body is not valid JSON: {why}", exit_code=EXIT_INPUT, kind="bad-json"
        )
    fields = [
        {"path": _json_path(tuple(err.get("loc", ()))), "message": err["msg"]} for err in errs
    ]
    detail = "; ".join(f"{f['path']}: {f['message']}" for f in fields)
    return problem(422, detail, exit_code=EXIT_INPUT, kind="invalid-request", errors=fields)


def _allowed(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def install(app: FastAPI) -> None:
    """The exception handlers: every error leaves as a problem document, never a traceback."""

    async def on_error(request: Request, e: Exception) -> JSONResponse:
        assert isinstance(e, ReleaseTrainError)
        return from_error(e)

    async def on_validation(request: Request, e: Exception) -> JSONResponse:
        assert isinstance(e, RequestValidationError)
        return from_validation(e)

    async def on_http(request: Request, e: Exception) -> JSONResponse:
        assert isinstance(e, StarletteHTTPException)
        detail = str(e.detail) if e.detail else TITLES.get(e.status_code, "error")
        if e.status_code == 404 and detail == "Not Found":
            detail = f"no such resource: {request.url.path}"
        if e.status_code == 400 and detail == "There was an error parsing the body":
            detail = "the request body is not valid JSON (not UTF-8, or nested too deep)"
        code = EXIT_INPUT if e.status_code < 500 else EXIT_INTERNAL
        headers = dict(e.headers or {})
        if e.status_code == 405:
            # Starlette names the methods of the first route matching the path only; a path
            # served by several routes (GET and PUT) allows all of theirs
            allowed = _allowed(request)
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"
        return problem(e.status_code, detail, exit_code=code, headers=headers or None)

    async def on_other(request: Request, e: Exception) -> JSONResponse:
        # A bug of ours: say so without a traceback (the server's log has it).
        return problem(500, f"internal error: {type(e).__name__}: {e}", exit_code=EXIT_INTERNAL)

    app.add_exception_handler(ReleaseTrainError, on_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_other)


def replay_none() -> Receive:
    async def receive() -> Message:
        return {"type": "http.disconnect"}

    return receive


class BodyLimit:
    """ASGI middleware: reads a request body up to MAX_BODY bytes before the app sees it and
    answers 413 as soon as more arrives (a Content-Length over the cap is refused unread; one
    under it is not trusted: the bytes are counted). Within the cap the app reads the body as
    usual, from the copy kept here. A body that is not sent as JSON gets 415 (FastAPI would
    read it as no JSON at all)."""

    def __init__(self, app: ASGIApp, *, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.limit:
                await self._too_large(scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole = b"".join(chunks)
        kind = dict(scope.get("headers") or ()).get(b"content-type", b"").split(b";")[0].strip()
        if whole and not (kind == b"application/json" or kind.endswith(b"+json")):
            # FastAPI would read such a body as no JSON at all and answer with a puzzling 422
            response = problem(
                415,
                "the request body must be JSON: send `Content-Type: application/json`"
                + (f" (not {kind.decode('latin-1')})" if kind else ""),
                exit_code=EXIT_INPUT,
            )
            await response(scope, replay_none(), send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()  # after the body: wait for the disconnect

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            f"the request body is larger than {self.limit} bytes (1 MiB); nothing was done",
            exit_code=EXIT_INPUT,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


__all__ = ["EXIT_NOT_NOW", "BodyLimit", "Problem", "install", "problem"]
