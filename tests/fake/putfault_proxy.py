#!/usr/bin/python3
"""A registry proxy that forwards everything to a real registry but fails some PUTs.

    putfault_proxy.py --upstream HOST:PORT --fail-put REGEX [--status N]
                      [--slow-put REGEX --hold-until FILE] [--portfile FILE] [--log FILE]

Listens on 127.0.0.1 (a free port, written to FILE, renamed into place). Every request
(GET, HEAD, PUT, POST, PATCH, DELETE) goes to the upstream registry with its headers and
body, and the answer comes back as it is, except a PUT whose path matches REGEX: that one
is answered N (default 500) without reaching the upstream; a PUT whose path matches the
--slow-put REGEX is held (logged first as {"method", "path", "slow": true}) until FILE
exists (the test makes it: no clock decides), then goes on. Each request is logged as one JSON line {"method", "path", "faulted"}. For tests/integration/test_fanout.sh: a promotion
whose second PUT fails, against the real registry's content. Standard library only.
"""
import argparse
import http.client
import http.server
import json
import os
import re
import signal
import socketserver
import sys
import threading
import time

ARGS = None
LOG_LOCK = threading.Lock()
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate", "host"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def log(self, faulted):
        if ARGS.log:
            with LOG_LOCK, open(ARGS.log, "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path,
                                    "faulted": faulted}) + "\n")

    def forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        if self.command == "PUT" and re.search(ARGS.fail_put, self.path):
            self.log(True)
            msg = b'{"errors":[{"code":"UNKNOWN","message":"injected by putfault_proxy"}]}'
            self.send_response(ARGS.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        if self.command == "PUT" and ARGS.slow_put and re.search(ARGS.slow_put, self.path):
            if ARGS.log:
                with LOG_LOCK, open(ARGS.log, "a") as f:
                    f.write(json.dumps({"method": "PUT", "path": self.path, "slow": True}) + "\n")
            while ARGS.hold_until and not os.path.exists(ARGS.hold_until):
                time.sleep(0.02)
        self.log(False)
        host, port = ARGS.upstream.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        # A HEAD's Content-Length is the GET's: keep it, send no body.
        length = resp.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
        if length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = forward


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--fail-put", required=True)
    ap.add_argument("--status", type=int, default=500)
    ap.add_argument("--slow-put")
    ap.add_argument("--hold-until")
    ap.add_argument("--portfile")
    ap.add_argument("--log")
    ARGS = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    if ARGS.portfile:
        tmp = ARGS.portfile + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(srv.server_address[1]))
        os.rename(tmp, ARGS.portfile)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
