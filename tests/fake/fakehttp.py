"""The HTTP plumbing the fake servers beside this file share: a quiet HTTP/1.1 handler
that answers with a body and its length (none for HEAD), a registry's JSON error, and a
threaded server on a free port of 127.0.0.1 whose number is written to PORTFILE (renamed
into place, so that a test waiting for the file reads a whole number)."""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body=b"", headers=None, ctype="application/json", length=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, err, msg):
        """The distribution spec's error body."""
        self.send(code, json.dumps({"errors": [{"code": err, "message": msg}]}).encode())


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients that time out on purpose hang up mid-answer: not news.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def serve(handler, portfile):
    """Serve `handler` until killed, the port written to `portfile`."""
    server = Server(("127.0.0.1", 0), handler)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_port))
    os.rename(tmp, portfile)
    server.serve_forever()
