"""Request bodies that stall: 408, and the connection closed.

A body may pause at most `seconds` between two chunks, and a JSON body (at most
SWESCRIBE_MAX_JSON_BYTES) must arrive whole within `seconds`: a client that drips
either would otherwise hold a connection, and a handler waiting on it, for as long as it
likes. An audio upload has no total bound, so a slow link still uploads a big file.

The clock runs only while the app waits for the next chunk, never while it is busy with
the last one (a handler writing to a slow disk does not count against the client).

A client that leaves mid-body makes the handler raise ClientDisconnect: that ends the
request here, with no answer (there is nobody to read it) and no traceback.
"""

from __future__ import annotations

import asyncio
import time

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from swescribe.api.body_limit import is_json_request
from swescribe.api.errors import error_response
from swescribe.api.openai_errors import is_openai_path, openai_error_response


class BodyDeadline:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        whole_by = time.monotonic() + self.seconds if is_json_request(scope) else None
        body_done = False
        timed_out = False
        client_left = False
        started = False

        async def receive_in_time() -> Message:
            nonlocal body_done, timed_out, client_left
            if body_done or timed_out:  # after the body, receive waits for a disconnect
                return await receive() if body_done else {"type": "http.disconnect"}
            wait = self.seconds
            if whole_by is not None:
                wait = min(wait, whole_by - time.monotonic())
            try:
                message = await asyncio.wait_for(receive(), max(wait, 0.0))
            except TimeoutError:
                timed_out = True
                return {"type": "http.disconnect"}  # the app gives up as if the client left
            if message["type"] == "http.disconnect":
                client_left = True
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_in_time, send_noting_start)
        except ClientDisconnect:
            if client_left:
                return  # nobody to answer; the handler logged what it gave up, if anything
            if not timed_out or started:
                raise
        except Exception:
            if not timed_out or started:
                raise  # a handler reading a timed-out body may raise (ClientDisconnect)
        if timed_out and not started:
            await _request_timeout(scope, self.seconds)(scope, receive, send)


def _request_timeout(scope: Scope, seconds: float) -> ASGIApp:
    message = f"the request body stalled: no data for {seconds:g} s"
    if is_json_request(scope):
        message = f"the JSON body did not arrive within {seconds:g} s"
    if is_openai_path(scope.get("path", "")):
        response = openai_error_response(408, "request_timeout", message)
    else:
        response = error_response(408, "request_timeout", message)
    response.headers["Connection"] = "close"
    return response
