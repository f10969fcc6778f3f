"""How `swescribe serve` runs uvicorn: proxy headers trusted only from the reverse proxies
the operator names, and a deadline on each request's line and headers.

uvicorn trusts X-Forwarded-For from 127.0.0.1 unless told otherwise, so on a loopback
serve any local client could pick the address its requests are counted against; and it
waits for request headers as long as a client keeps dripping them. Body timeouts are the
app's (api/body_deadline.py): only the app knows when it is waiting for a body.
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from swescribe.core.errors import AddressInUse, InvalidOption

__all__ = ["HeaderDeadlineProtocol", "listening_socket", "uvicorn_options"]


WS_HEADROOM_BYTES = 64 * 1024


def uvicorn_options(
    trusted_proxies: tuple[str, ...],
    header_timeout: float,
    ws_message_bytes: int = 1024 * 1024,
) -> dict[str, Any]:
    """Keyword arguments for uvicorn.run / uvicorn.Config beyond the app, host and port.

    /v1/realtime refuses a message over ws_message_bytes with an error event; one much
    larger is never read whole: the WebSocket closes (1009) past a little headroom."""
    return {
        "http": _with_header_timeout(header_timeout),
        "proxy_headers": bool(trusted_proxies),
        "forwarded_allow_ips": list(trusted_proxies),  # never FORWARDED_ALLOW_IPS's default
        "ws": "websockets-sansio",  # /v1/realtime
        "ws_max_size": ws_message_bytes + WS_HEADROOM_BYTES,
    }


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket serve listens on, bound before anything else starts (uvicorn is handed
    it): a port another service holds is refused before a worker could take that
    service's jobs, and nothing else can take the port in between."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise AddressInUse(
                f"port {port} is in use: stop the other service or pass --port"
            ) from None
        raise InvalidOption(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(2048)
    return sock


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, with a deadline from the moment it waits for a request (the
    connection opened, or the last response ended) until that request's headers are in:
    past it, 408 and the connection closes. uvicorn's own keep-alive timeout stops as soon
    as one byte arrives."""

    header_timeout = 10.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        self._arm()  # before super(): it may start a pipelined request at once
        super().on_response_complete()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._disarm()  # the headers are in; the WebSocket has its own clocks
        super().handle_websocket_upgrade(event)

    def handle_events(self) -> None:
        serving = self.cycle
        super().handle_events()
        if self.cycle is not serving:  # a new request's headers are in
            self._disarm()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        partial, _ = self.conn.trailing_data
        if partial and self.conn.their_state is h11.IDLE:  # half a request line or headers
            self.transport.write(_request_timeout(self.header_timeout))
        self.transport.close()


def _with_header_timeout(seconds: float) -> type[HeaderDeadlineProtocol]:
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": seconds})


def _request_timeout(seconds: float) -> bytes:
    body = json.dumps(
        {
            "error": {
                "code": "request_timeout",
                "message": f"the request headers did not arrive within {seconds:g} s",
            }
        }
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        "content-type: application/json\r\n"
        "x-content-type-options: nosniff\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body
