"""A local web server for mask downloads (127.0.0.1 only): the reference composite mask at
``/masks/1`` for requests with the test API key, ``/open`` for any request, ``/expired`` (403),
``/redirect`` (302 elsewhere); every request's path and Authorization header is recorded."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent / "data" / "reference"
KEY = "lb-test-key"


class MaskServer:
    """Serves the reference composite at ``/masks/1`` to requests carrying the key; records
    every request's Authorization header."""

    def __init__(self, redirect_to: str | None = None):
        self.composite = (REFERENCE / "export_v2_masks" / "tank.composite.png").read_bytes()
        self.seen: list[tuple[str, str | None]] = []
        self.redirect_to = redirect_to
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                auth = self.headers.get("Authorization")
                server.seen.append((self.path, auth))
                if self.path == "/redirect" and server.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", server.redirect_to)
                    self.end_headers()
                    return
                if self.path == "/open":
                    return self.reply(200, server.composite)
                if auth != f"Bearer {KEY}":
                    return self.reply(401, b"unauthorized")
                if self.path == "/masks/1":
                    return self.reply(200, server.composite)
                if self.path == "/expired":
                    return self.reply(403, b"expired")
                return self.reply(404, b"no such mask")

            def reply(self, code: int, body: bytes):
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # quiet test output
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
