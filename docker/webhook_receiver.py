"""A webhook receiver for trying swescribe with compose (`--profile webhooks`): it checks
each delivery's signature with the callback secret and prints what came."""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from swescribe.client import WebhookVerificationError, verify_webhook

SECRET = os.environ["WEBHOOK_SECRET"]
PORT = int(os.environ.get("WEBHOOK_PORT", "9000"))


class Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {key.lower(): value for key, value in self.headers.items()}
        try:
            verify_webhook(headers, body, secret=SECRET)
        except WebhookVerificationError as why:
            print(f"refused a delivery: {why}", flush=True)
            self.send_response(401)
        else:
            event = json.loads(body)
            print(
                f"webhook {headers.get('webhook-id')}: {event.get('type')} "
                f"job {event.get('job_id')} {event.get('status')} (signature verified)",
                flush=True,
            )
            self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Hook)
    print(f"webhook receiver on 127.0.0.1:{PORT}/hook", flush=True)
    server.serve_forever()
