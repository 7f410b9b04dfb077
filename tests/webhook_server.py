#!/usr/bin/python3
"""A local webhook receiver for livetrade's alert output and its tests
(standard library only).

    webhook_server.py [--port N]

Listens on 127.0.0.1 (port 0: any free port) and prints one JSON line on
stdout when ready: {"port": N, "pid": P}. Every request to a path outside
/_ctl/ is recorded (method, path, body, headers, arrival time) and
answered 200 {"ok": true} unless a fault was scripted for its path.

Control endpoints (JSON in, JSON out):

    POST /_ctl/script   {"path": "/hook", "actions": [A, ...], "then": A}
        The next requests to "/hook" (or "*" for any path) get the
        actions in order; after them every request gets "then" (default:
        the normal answer). An action is one of
            {"status": 500}                      answer with that status
            {"status": 429, "retry_after": "1",  ... with a Retry-After
             "body": {"retry_after": 1.0}}       header and/or a body
            {"hang": 30}                         read the request, answer
                                                 nothing for 30 s, close
            {"close": true}                      close without answering
            {"ok": true}                         the normal answer
    GET  /_ctl/log      every recorded request, oldest first:
        {"path", "method", "body", "headers", "t" (monotonic s),
         "wall" (epoch s), "answer"}
    POST /_ctl/reset    forgets the log and every script
"""
import argparse
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
LOG = []
SCRIPTS = {}          # path -> {"actions": [..], "then": action or None}
RELEASE = threading.Event()     # set at exit: hanging handlers return


def next_action(path):
    with LOCK:
        for key in (path, "*"):
            sc = SCRIPTS.get(key)
            if sc is None:
                continue
            if sc["actions"]:
                return sc["actions"].pop(0)
            if sc["then"] is not None:
                return sc["then"]
    return {"ok": True}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass                        # quiet: the log endpoint tells all

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, obj=None, headers=None):
        data = json.dumps(obj if obj is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(data)

    def _control(self, body):
        if self.command == "GET" and self.path == "/_ctl/log":
            with LOCK:
                self._send(200, list(LOG))
            return
        if self.command == "POST" and self.path == "/_ctl/reset":
            with LOCK:
                LOG.clear()
                SCRIPTS.clear()
            self._send(200, {"ok": True})
            return
        if self.command == "POST" and self.path == "/_ctl/script":
            req = json.loads(body or b"{}")
            with LOCK:
                SCRIPTS[req.get("path", "*")] = {
                    "actions": list(req.get("actions", [])),
                    "then": req.get("then")}
            self._send(200, {"ok": True})
            return
        self._send(404, {"error": "unknown control endpoint"})

    def _handle(self):
        body = self._read_body()
        if self.path.startswith("/_ctl/"):
            self._control(body)
            return
        act = next_action(self.path)
        entry = {"path": self.path, "method": self.command,
                 "body": body.decode("utf-8", "replace"),
                 "headers": dict(self.headers.items()),
                 "t": time.monotonic(), "wall": time.time(),
                 "answer": act}
        with LOCK:
            LOG.append(entry)
        if act.get("hang") is not None:
            RELEASE.wait(float(act["hang"]))
            self._drop()
            return
        if act.get("close"):
            self._drop()
            return
        status = int(act.get("status", 200))
        headers = {}
        if act.get("retry_after") is not None:
            headers["Retry-After"] = act["retry_after"]
        self._send(status, act.get("body", {"ok": status < 300}), headers)

    def _drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    do_POST = _handle
    do_GET = _handle
    do_PUT = _handle


def main():
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    print(json.dumps({"port": srv.server_address[1], "pid": os.getpid()}),
          flush=True)
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        RELEASE.set()
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
