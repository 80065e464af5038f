#!/usr/bin/env python3
"""s3_fault_proxy.py - a loopback HTTP proxy in front of an S3 server that injects faults.

Test-only double (never used by the product). Forwards every request unchanged (the Host
header too, so SigV4 signatures stay valid) to the upstream S3 server, except that a
seeded random share of requests get one of:

  slowdown answer 503 SlowDown without forwarding
  503      answer 503 ServiceUnavailable without forwarding
  500      answer 500 InternalError without forwarding
  drop     close the connection without an answer, before forwarding
  lost     forward, then close without relaying the answer (the write landed: ambiguous)
  stall    send nothing for up to STALL seconds, then close; logged as "stall-timeout" when
           the client gave up first (its own timeout fired), else "stall"
  short    forward, relay headers and half of the body, then close (truncated download)

    s3_fault_proxy.py --upstream http://127.0.0.1:9000 --port-file F [--rate 0.25] [--seed 1]
                      [--stall 3] [--log FILE]

Writes the chosen port to the port file once listening; prints a fault summary on SIGTERM.
"""
import argparse
import http.client
import http.server
import random
import select
import signal
import socketserver
import sys
import threading
import time
import urllib.parse

FAULTS = ["slowdown", "503", "500", "drop", "lost", "stall", "short"]


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _xml_error(self, status, code):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                "<Message>injected by s3_fault_proxy</Message></Error>" % code).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _client_gives_up(self, secs):
        """Wait up to secs without answering; True when the client closed the connection first."""
        end = time.monotonic() + secs
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.connection], [], [], left)
            if r:
                try:
                    if not self.connection.recv(1, 0x2):  # MSG_PEEK: EOF = the client closed
                        return True
                except OSError:
                    return True
                time.sleep(min(0.05, max(left, 0)))  # data (a pipelined request): keep stalling

    def _forward(self, body):
        srv = self.server
        conn = http.client.HTTPConnection(srv.up.hostname, srv.up.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        conn.request(self.command, self.path, body=body if body else None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp, data

    def _handle(self):
        body = self._body()
        srv = self.server
        with srv.lock:
            fault = srv.rng.choice(FAULTS) if srv.rng.random() < srv.rate else None
        if fault == "stall":
            fault = "stall-timeout" if self._client_gives_up(srv.stall) else "stall"
        with srv.lock:
            srv.counts[fault or "ok"] = srv.counts.get(fault or "ok", 0) + 1
            if srv.logf:
                srv.logf.write("%s %s %s\n" % (fault or "ok", self.command, self.path))
                srv.logf.flush()
        if fault == "slowdown":
            return self._xml_error(503, "SlowDown")
        if fault == "503":
            return self._xml_error(503, "ServiceUnavailable")
        if fault == "500":
            return self._xml_error(500, "InternalError")
        if fault == "drop":
            self.close_connection = True
            return
        if fault in ("stall", "stall-timeout"):
            self.close_connection = True
            return
        resp, data = self._forward(body)
        if fault == "lost":
            self.close_connection = True
            return
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                continue
            self.send_header(k, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", resp.getheader("Content-Length") or "0")
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if fault == "short" and len(data) > 1:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--rate", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stall", type=float, default=3.0)
    ap.add_argument("--log")
    a = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Proxy)
    srv.up = urllib.parse.urlsplit(a.upstream)
    srv.rate, srv.stall = a.rate, a.stall
    srv.rng = random.Random(a.seed)
    srv.lock = threading.Lock()
    srv.counts = {}
    srv.logf = open(a.log, "w") if a.log else None

    def stop(*_):
        sys.stderr.write("s3_fault_proxy: %s\n" % " ".join("%s=%d" % kv for kv in sorted(srv.counts.items())))
        sys.stderr.flush()
        threading.Thread(target=srv.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.replace(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
