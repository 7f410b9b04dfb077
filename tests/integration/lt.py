"""Helpers for livetrade's integration tests: real processes on real
ZeroMQ sockets (ipc:// endpoints in a private directory)."""
import atexit
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import msgpack
import zmq

BIN = os.environ.get("LIVETRADE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "bin")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STRATEGIES = os.path.join(ROOT, "strategies")
CTX = zmq.Context.instance()

# Programs started by the tests keep their caches (the polygon feeder's
# history cache) in a directory of this run, never in the user's.
_CACHE = tempfile.mkdtemp(prefix="lt-it-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE
os.environ["XDG_STATE_HOME"] = os.path.join(_CACHE, "state")
atexit.register(shutil.rmtree, _CACHE, True)


def wait_until(cond, timeout=30.0, what="condition", interval=0.02):
    """Polls cond() until it returns something truthy; bounded in time."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (all held until all are
    picked, then let go)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port():
    """A free TCP port on 127.0.0.1."""
    return free_ports(1)[0]


def request(endpoint, body, timeout_ms=3000):
    """One msgpack request/reply on a fresh REQ socket; None on timeout."""
    s = CTX.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    try:
        s.send(msgpack.packb(body))
        if not s.poll(timeout_ms):
            return None
        return msgpack.unpackb(s.recv(), raw=False)
    finally:
        s.close()


def status(endpoint):
    return request(endpoint, {"ver": 1, "type": "status"})


def wait_engine_took(rep, last_t, timeout):
    """Waits until the engine answering status on rep has taken the bar at
    last_t of every symbol."""
    wait_until(lambda: all(
        s["last_t"] == last_t for s in
        (status(rep) or {"symbols": [{"last_t": 0}]})["symbols"]),
        timeout, "the engine to take every bar")


def history(endpoint, sym, n, since=None):
    body = {"ver": 1, "type": "history", "sym": sym, "n": n}
    if since is not None:
        body["since"] = since
    return request(endpoint, body)


class Proc:
    """A livetrade program under test, with its stderr in a log file."""

    def __init__(self, workdir, name, args, stdout=None):
        self.name = name
        self.log_path = os.path.join(workdir, name + ".log")
        self.log = open(self.log_path, "wb")
        self.out_path = os.path.join(workdir, name + ".out")
        self.out = open(self.out_path, "wb") if stdout is None else stdout
        self.p = subprocess.Popen(args, stdout=self.out, stderr=self.log,
                                  stdin=subprocess.DEVNULL, cwd=ROOT)

    def stderr(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout=10):
        """SIGTERM, then the exit code (killing it if it hangs)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                raise AssertionError("%s did not stop on SIGTERM" % self.name)
        return self.p.returncode

    def wait(self, timeout=30):
        return self.p.wait(timeout)


class Workspace:
    """A private directory for endpoints and files; stops what it started."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lt-it-")
        self.procs = []
        # Journals and sink state files of the programs started from here
        # on stay with this workspace.
        os.environ["XDG_STATE_HOME"] = os.path.join(self.dir, "state")

    def ep(self, name):
        return "ipc://%s/%s.ipc" % (self.dir, name)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        """Writes text to the file name here; its path."""
        path = self.path(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, name, prog, *args, stdout=None):
        p = Proc(self.dir, name, [os.path.join(BIN, prog)] + list(args),
                 stdout=stdout)
        self.procs.append(p)
        return p

    def close(self, keep=False):
        """Kills what is still running; removes the directory unless
        keep."""
        for p in reversed(self.procs):
            if p.alive():
                p.p.kill()
                p.p.wait()
            p.log.close()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class WorkspaceTest(unittest.TestCase):
    """A test case with a Workspace of its own in self.ws, closed after the
    test (after tearDown and any cleanup added later). With LT_KEEP set in
    the environment the directory stays and its path is printed."""

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self._close_ws)

    def _close_ws(self):
        keep = bool(os.environ.get("LT_KEEP"))
        if keep:
            print("kept", self.ws.dir)
        self.ws.close(keep)


def run(prog, *args, timeout=30):
    """Runs a program to completion: (exit code, stdout, stderr)."""
    r = subprocess.run([os.path.join(BIN, prog)] + list(args), cwd=ROOT,
                       capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def read_jsonl(path):
    """The whole lines of a JSON Lines file a program may be writing: a
    last line without its newline is still being written."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f
                if line.endswith("\n") and line.strip()]


def sma(xs, n, i):
    """Mean of xs[i-n+1..i], or NaN before the window is full."""
    if i < n - 1:
        return math.nan
    return math.fsum(xs[i - n + 1:i + 1]) / n


def sma_cross_calls(bars, n1=10, n2=20):
    """backtesting.py's SmaCross over bars: {t: action} for every bar where
    next() runs and calls buy() or sell(). next() first runs one bar after
    both SMAs have a value."""
    closes = [b["c"] for b in bars]
    calls = {}
    start = max(n1, n2) - 1 + 1
    for i in range(max(start, 1), len(bars)):
        a1, b1 = sma(closes, n1, i), sma(closes, n2, i)
        a2, b2 = sma(closes, n1, i - 1), sma(closes, n2, i - 1)
        if a2 < b2 and a1 > b1:
            calls[bars[i]["t"]] = "buy"
        elif b2 < a2 and b1 > a1:
            calls[bars[i]["t"]] = "sell"
    return calls


def pack_bar(sym, t, o, h, l, c, vol=100.0, seq=1, pub=1, tf=60):
    return msgpack.packb({"ver": 1, "src": "test", "sym": sym, "t": t,
                          "tf": tf, "o": o, "h": h, "l": l, "c": c,
                          "vol": vol, "seq": seq, "pub": pub})


class FakeFeeder:
    """A feeder played by the test: an XPUB for bars and a ROUTER that
    answers history requests with the bars given to it (a thread)."""

    def __init__(self, ws, bars_by_sym=None):
        import threading
        self.pub = CTX.socket(zmq.XPUB)
        self.pub.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.pub.bind(ws.ep("fake-bars"))
        self.rep = CTX.socket(zmq.ROUTER)
        self.rep.bind(ws.ep("fake-hist"))
        self.history = bars_by_sym or {}
        self.requests = []
        self.subs = set()
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        self.bars_ep, self.hist_ep = ws.ep("fake-bars"), ws.ep("fake-hist")

    def _serve(self):
        while not self.stop:
            if not self.rep.poll(50):
                continue
            frames = self.rep.recv_multipart()
            ident, body = frames[0], frames[-1]
            req = msgpack.unpackb(body, raw=False)
            self.requests.append(req)
            bars = self.history.get(req.get("sym"))
            if bars is None:
                reply = {"ver": 1, "type": "error",
                         "error": "unknown symbol '%s'" % req.get("sym")}
            else:
                sel = [b for b in bars if "since" not in req or
                       b["t"] > req["since"]]
                sel = sel[:req["n"]] if "since" in req else sel[-req["n"]:]
                reply = {"ver": 1, "type": "history", "sym": req["sym"],
                         "seq": sel[-1]["seq"] if sel else 0, "bars": sel}
            self.rep.send_multipart([ident, b"", msgpack.packb(reply)])

    def wait_subscribed(self, topics, timeout=10):
        """Waits until every topic has been subscribed to (XPUB)."""
        deadline = time.monotonic() + timeout
        while not set(topics) <= self.subs:
            left = deadline - time.monotonic()
            if left <= 0 or not self.pub.poll(int(left * 1000)):
                raise AssertionError("no subscription to %s" % topics)
            m = self.pub.recv()
            if m[:1] == b"\x01":
                self.subs.add(m[1:].decode())

    def send(self, *frames):
        self.pub.send_multipart(list(frames))

    def send_bar(self, bar):
        self.send(("bar|%s|" % bar["sym"]).encode(), msgpack.packb(bar))

    def close(self):
        self.stop = True
        self.thread.join()
        self.pub.close(0)
        self.rep.close(0)


def make_bars(sym, n, start=1767225600000, pub=99, seed=1.0, first_seq=1):
    """A deterministic zig-zag of n valid bars."""
    out = []
    for i in range(n):
        c = 100 + 5 * math.sin((i + seed) / 4.0) + 0.1 * (i % 5)
        out.append({"ver": 1, "src": "test", "sym": sym,
                    "t": start + i * 60000, "tf": 60, "o": c, "h": c + 1,
                    "l": c - 1, "c": c, "vol": 1000.0, "seq": first_seq + i,
                    "pub": pub})
    return out
