"""/docs and /redoc: FastAPI's documentation pages, under a CSP that fits them.

They load their scripts from FastAPI's CDN and Swagger UI starts from one inline script;
the CSP names the CDN and that script's hash (so no other inline script runs on this
origin, which also serves the web page and its key).
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

CDN = "https://cdn.jsdelivr.net"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _csp(html: str, *, extra: str = "") -> str:
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'none'; script-src {CDN} {hashes}; connect-src 'self'; "
        f"img-src 'self' data: https://fastapi.tiangolo.com; {extra}"
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def _page(response: HTMLResponse, *, extra: str) -> HTMLResponse:
    html = bytes(response.body).decode()
    return HTMLResponse(html, headers={"Content-Security-Policy": _csp(html, extra=extra)})


def _openapi_url(request: Request) -> str:
    root_path = str(request.scope.get("root_path", "")).rstrip("/")
    return f"{root_path}{request.app.openapi_url}"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=_openapi_url(request), title=f"{request.app.title} - Swagger UI"
    )
    return _page(page, extra=f"style-src {CDN}; ")


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    page = get_redoc_html(openapi_url=_openapi_url(request), title=f"{request.app.title} - ReDoc")
    return _page(
        page,
        extra=(
            "style-src 'unsafe-inline' https://fonts.googleapis.com; "
            "font-src https://fonts.gstatic.com; worker-src blob:; "
        ),
    )
