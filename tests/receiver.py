"""A real webhook receiver on 127.0.0.1 that checks both signatures of every delivery."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    seed_signature_ok: bool
    standard_signature_ok: bool

    @property
    def payload(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result


@dataclass
class Receiver:
    """Answers with the scripted status codes in turn (then 200), recording deliveries."""

    secret: str | None
    script: list[int] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.deliveries.append(receiver.check(headers, body))
                status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def check(self, headers: dict[str, str], body: bytes) -> Delivery:
        seed_ok = standard_ok = False
        if self.secret is not None:
            expected = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            seed_ok = hmac.compare_digest(
                headers.get("x-webhook-signature", ""), f"hmac-sha256={expected}"
            )
            key = "whsec_" + base64.b64encode(self.secret.encode()).decode()
            try:
                Webhook(key).verify(body, headers)
                standard_ok = True
            except Exception:
                standard_ok = False
        return Delivery(headers, body, seed_ok, standard_ok)

    def wait_for(self, count: int, timeout: float = 120.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.deliveries) >= count, f"only {len(self.deliveries)} deliveries"
        return self.deliveries
