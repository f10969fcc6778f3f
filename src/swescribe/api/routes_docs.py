"""/docs and /redoc: FastAPI's documentation pages, from assets that ship in the package.

Swagger UI 5 and ReDoc 2 are vendored in api/docs_assets/ (their licences beside them,
README.md there says which versions and where from) and served at /docs/assets/, so
the pages work with no network at all. Swagger UI starts from one inline script; the
CSP names this origin and that script's hash (so no other inline script runs on this
origin, which also serves the web page and its key).
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from swescribe.api.errors import error_response

router = APIRouter(include_in_schema=False)

ASSETS_PATH = "/docs/assets"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
"""What the two pages load; the versions never change within a release of swescribe."""
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _csp(html: str, *, extra: str = "") -> str:
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; connect-src 'self'; "
        f"img-src 'self' data:; {extra}"
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def _page(response: HTMLResponse, *, extra: str) -> HTMLResponse:
    html = bytes(response.body).decode()
    return HTMLResponse(html, headers={"Content-Security-Policy": _csp(html, extra=extra)})


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    assets = f"{_root(request)}{ASSETS_PATH}"
    page = get_swagger_ui_html(
        openapi_url=f"{_root(request)}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},  # no badge from validator.swagger.io
    )
    return _page(page, extra="style-src 'self'; ")


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    assets = f"{_root(request)}{ASSETS_PATH}"
    page = get_redoc_html(
        openapi_url=f"{_root(request)}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{assets}/redoc.standalone.js",
        redoc_favicon_url=f"{assets}/favicon-32x32.png",
        with_google_fonts=False,
    )
    return _page(page, extra="style-src 'self' 'unsafe-inline'; worker-src blob:; ")


@router.get(f"{ASSETS_PATH}/{{name}}")
async def asset(name: str) -> Response:
    if name not in ASSETS:
        return error_response(404, "not_found", "Not Found")
    body = resources.files("swescribe.api").joinpath("docs_assets", name).read_bytes()
    return Response(
        body,
        media_type=ASSETS[name],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
