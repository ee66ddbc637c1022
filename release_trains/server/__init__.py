"""The REST API of `release-trains serve` (CONTRACT.md, "The server").

FastAPI on Starlette and uvicorn: the OpenAPI 3 document is generated from the routes and
their pydantic bodies (so it cannot drift from what is served), pydantic validates request
bodies (every problem listed, 422), and Starlette gives plain ASGI underneath. Only `serve`
imports this package: `--help`, `plan` and `status` never load FastAPI.

Routes are thin: they parse the request, call the one library function the CLI calls, and
return the document the CLI prints with --json, built by the same code. app.py builds the
application; one module per resource (trains, services, monitoring, audit, reports); auth.py
checks tokens and roles; problems.py turns every error into application/problem+json.
"""
