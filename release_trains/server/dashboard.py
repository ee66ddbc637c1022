"""The dashboard: one HTML shell, one script and one style sheet, served from package files
(release_trains/server/static/) by this server itself: no CDN, no web fonts, no build step.

The pages and their assets need no token (they hold no data); the script asks for one once
per browser session and sends it as `Authorization: Bearer` on every /api/v1/ call. Every
answer carries a Content-Security-Policy that allows nothing but this server, so even a
mistake in the script could not load or send anything elsewhere."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from ..errors import UnknownTrainError

router = APIRouter(include_in_schema=False)

ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
SHELL = "index.html"
MAX_ASSET_BYTES = 1 << 20  # our own files; the cap only guards against a broken install

# 'self' only: scripts, styles, API calls (connect-src) and images; inline SVG built by the
# script through the DOM needs nothing more. No inline script or style is ever allowed.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a `?token=` first address never leaks onwards
    "Cache-Control": "no-cache",  # revalidated each load: an upgrade is seen at once
}

Name = Annotated[str, Path(min_length=1, max_length=200)]


@cache
def asset(name: str) -> bytes:
    """A static file of the package (read once: they do not change while serving)."""
    data = resources.files(__package__).joinpath("static").joinpath(name).read_bytes()
    if len(data) > MAX_ASSET_BYTES:
        raise ValueError(f"static/{name} is over {MAX_ASSET_BYTES} bytes")
    return data


def _shell() -> Response:
    return Response(asset(SHELL), media_type="text/html; charset=utf-8", headers=HEADERS)


@router.api_route("/", methods=["GET", "HEAD"])
def trains_page() -> Response:
    return _shell()


@router.api_route("/trains/{train}", methods=["GET", "HEAD"])
def train_page(train: Name) -> Response:
    return _shell()  # the script reads the name from the address


@router.api_route("/services/{service}", methods=["GET", "HEAD"])
def service_page(service: Name) -> Response:
    return _shell()


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
def static(name: Name) -> Response:
    media = ASSETS.get(name)
    if media is None:  # only the files named above: no path is ever joined from the request
        raise UnknownTrainError(f"no dashboard asset {name!r}")
    return Response(asset(name), media_type=media, headers=HEADERS)
