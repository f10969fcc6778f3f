"""Security headers on every response of the API's origin.

The origin serves the web page, which holds an API key, so nothing else served from it
may run script or be framed: JSON and errors get a CSP that allows nothing, the web page
and the docs page set their own (narrower than "anything"), and stored uploads are
sandboxed (see routes_uploads). A pure ASGI middleware, so streamed bodies stay streamed.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
"""For everything that is not a page: JSON, errors, files."""
SANDBOX_CSP = f"sandbox; {STRICT_CSP}"
"""For stored uploads: even opened as a page, they get an opaque origin and no script."""
HEADERS = {
    "Content-Security-Policy": STRICT_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
"""Set on every response that has not set its own value."""


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
