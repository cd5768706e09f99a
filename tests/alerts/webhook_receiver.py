"""A webhook receiver in its own process, as a customer would run one: it checks the HMAC-SHA256 signature over
"<timestamp>.<body>" and refuses old timestamps (replay), then appends what it got to a JSON-lines file.

    python webhook_receiver.py <port> <signing key> <log file>

POST /hook must be signed (401 otherwise); any other path is logged unsigned (used for apprise's json://).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_SKEW_S = 300


def make_handler(key: bytes, log_path: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            timestamp = self.headers.get("X-Quantarb-Timestamp", "")
            signature = self.headers.get("X-Quantarb-Signature", "")
            expected = "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= MAX_SKEW_S
            verified = fresh and hmac.compare_digest(expected, signature)
            with open(log_path, "a") as log:
                record = {"path": self.path, "verified": verified, "body": body.decode()}
                record["idempotency_key"] = self.headers.get("Idempotency-Key")
                log.write(json.dumps(record) + "\n")
            status = 200 if verified or self.path != "/hook" else 401
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"bad signature")

        def log_message(self, *args: object) -> None:
            pass

    return Handler


if __name__ == "__main__":
    port, key, log_path = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(key, log_path))
    print("ready", flush=True)
    server.serve_forever()
