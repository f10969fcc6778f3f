"""The web page at /: one HTML page, its JavaScript modules and style, in api/web/.

The page needs no key to load; its requests to the API send the key the user pasted.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from swescribe.api.errors import error_response

router = APIRouter(include_in_schema=False)

SCRIPTS = (
    "app.js",
    "page.js",
    "strings.js",
    "upload.js",
    "jobs.js",
    "transcript.js",
    "speakers.js",
    "voices.js",
    "live.js",
    "recording.js",
)
"""JavaScript modules: index.html loads app.js, which imports the others."""
WORKLETS = ("live-worklet.js",)
"""AudioWorklet modules, loaded by audioWorklet.addModule: a file of this origin, as the
CSP wants (script-src falls back to 'self'), never a blob: or inline script."""
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
    **dict.fromkeys((*SCRIPTS, *WORKLETS), "text/javascript; charset=utf-8"),
}
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Everything comes from this server; audio plays from the File the user picked (blob:).
    "Content-Security-Policy": (
        "default-src 'self'; media-src 'self' blob:; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}


def _asset(name: str) -> Response:
    body = resources.files("swescribe.api").joinpath("web", name).read_bytes()
    return Response(body, media_type=ASSETS[name], headers=HEADERS)


@router.get("/")
async def page() -> Response:
    return _asset("index.html")


@router.get("/web/{name}")
async def asset(name: str) -> Response:
    if name not in ASSETS or name == "index.html":
        return error_response(404, "not_found", "Not Found")
    return _asset(name)
