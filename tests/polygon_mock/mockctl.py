"""Starts mock_polygon.py for a test and talks to its control endpoint.

    with MockPolygon(script={...}, tls=True) as m:
        m.rest_url, m.ws_url, m.cert
        m.fault({"kind": "rate_limit", "retry_after": 1})
        m.log()["rest"]
"""
import json
import os
import select
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
MOCK = os.path.join(HERE, "mock_polygon.py")
# Recorded Polygon responses and frames, beside the clone (may be absent).
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared",
                                         "polygon_fixtures"))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") \
    else sys.executable


class MockPolygon:
    def __init__(self, script=None, tls=False, rest_tls=False,
                 max_lifetime=120, ready_timeout=15, rest_port=0, ws_port=0):
        self.tmp = tempfile.mkdtemp(prefix="lt-polymock-")
        args = [PYTHON, MOCK, "--rest-port", str(rest_port), "--ws-port",
                str(ws_port), "--max-lifetime", str(max_lifetime)]
        if script is not None:
            path = os.path.join(self.tmp, "script.json")
            with open(path, "w") as f:
                json.dump(script, f)
            args += ["--script", path]
        if tls:
            args.append("--tls")
        if rest_tls:
            args.append("--rest-tls")
        self.err_path = os.path.join(self.tmp, "mock.err")
        self.err = open(self.err_path, "wb")
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE,
                                  stderr=self.err, stdin=subprocess.DEVNULL)
        self.info = self._ready(ready_timeout)
        self.rest_url = self.info["rest_url"]
        self.ws_url = self.info["ws_url"]
        self.cert = self.info["cert"]
        self.live_t = self.info["live_t"]
        self.rest_port = self.info["rest_port"]
        self.ws_port = self.info["ws_port"]

    def _ready(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.p.poll() is not None:
                self.err.flush()
                with open(self.err_path, "rb") as f:
                    err = f.read().decode(errors="replace")
                self.stop()
                raise AssertionError("mock_polygon not ready: %s" % err)
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 4096)
                if not chunk:
                    continue
                buf += chunk
        return json.loads(buf.split(b"\n", 1)[0])

    def control(self, method, path, body=None, timeout=5):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.rest_url + path, data=data,
                                     method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        ctx = None
        if self.rest_url.startswith("https:"):
            ctx = ssl.create_default_context(cafile=self.cert)
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            return json.loads(r.read())

    def fault(self, *rules):
        return self.control("POST", "/_mock/fault", list(rules))

    def config(self, **kw):
        return self.control("POST", "/_mock/config", kw)

    def session(self, *sessions):
        return self.control("POST", "/_mock/ws/session", list(sessions))

    def steps(self, steps, conn=None):
        body = {"steps": steps}
        if conn is not None:
            body["conn"] = conn
        return self.control("POST", "/_mock/ws/steps", body)

    def log(self):
        return self.control("GET", "/_mock/log")

    def state(self):
        return self.control("GET", "/_mock/state")

    def release(self):
        return self.control("POST", "/_mock/release", {})

    def reset(self):
        return self.control("POST", "/_mock/reset", {})

    def kill(self):
        """Ends the server at once (SIGKILL), as a crash would: no close
        frames, connections reset."""
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p.stdout.close()
        self.err.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
