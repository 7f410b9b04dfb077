"""livetrade-feeder --source polygon against the mock Polygon server: REST
history with a 429, live WebSocket bars, a connection dropped mid-stream, a
burst of 500s on the backfill -- and the bus still carries every bar once,
in order, equal to what the mock serves. Bad or missing keys end the feeder
with one clear line that never shows the key."""
import json
import os
import subprocess
import sys
import tempfile
import unittest
import urllib.request

import msgpack
import zmq

import lt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "polygon_mock"))
from mockctl import MockPolygon  # noqa: E402

KEY = "test-key-5c1e"
MIN = 60000
SYMS = ["AAPL", "MSFT"]
TOPICS = ["AM.%s" % s for s in SYMS]


def rest_bars(m, sym, t0, t1):
    url = ("%s/v2/aggs/ticker/%s/range/1/minute/%d/%d?limit=50000&apiKey=%s"
           % (m.rest_url, sym, t0, t1, KEY))
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read()).get("results") or []


def fails_cleanly(test, p, secret, code=None):
    """Waits for feeder p to fail: exit status `code` (None: any but 0),
    one ERROR line (returned), and `secret` nowhere in its log."""
    try:
        _, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise
    err = err.decode(errors="replace")
    if code is None:
        test.assertNotEqual(p.returncode, 0, err)
    else:
        test.assertEqual(p.returncode, code, err)
    test.assertNotIn(secret, err)
    errors = [ln for ln in err.splitlines() if " ERROR " in ln]
    test.assertEqual(len(errors), 1, err)
    return errors[0]


class Bus:
    """A SUB socket on the feeder's bars of syms and heartbeats."""

    def __init__(self, endpoint, syms=SYMS):
        self.s = lt.CTX.socket(zmq.SUB)
        self.s.setsockopt(zmq.LINGER, 0)
        self.s.connect(endpoint)
        for sym in syms:
            self.s.setsockopt(zmq.SUBSCRIBE, ("bar|%s|" % sym).encode())
        self.s.setsockopt(zmq.SUBSCRIBE, b"hb|")
        self.bars = {s: [] for s in syms}
        self.hb = 0

    def pump(self, timeout_ms=50):
        while self.s.poll(timeout_ms):
            topic, body = self.s.recv_multipart()
            if topic == b"hb|":
                self.hb += 1
            else:
                b = msgpack.unpackb(body, raw=False)
                self.bars[b["sym"]].append(b)
            timeout_ms = 0
        return self

    def close(self):
        self.s.close()


class MockCase(lt.WorkspaceTest):
    """A workspace and the mock Polygon servers the test starts with
    mock(), stopped after the workspace is closed (no tests)."""

    def setUp(self):
        self.mocks = []
        self.addCleanup(self._stop_mocks)
        super().setUp()

    def _stop_mocks(self):
        for m in self.mocks:
            m.stop()

    def mock(self, script, **kw):
        m = MockPolygon(script=script, **kw)
        self.mocks.append(m)
        return m


class PolygonFeeder(MockCase):
    def feeder(self, m, key, *extra):
        env = dict(os.environ)
        env.pop("MASSIVE_API_KEY", None)
        env["POLYGON_API_KEY"] = key
        args = [os.path.join(lt.BIN, "livetrade-feeder"), "--source",
                "polygon", "--symbols", ",".join(SYMS), "--timeframe", "60",
                "--rest-url", m.rest_url, "--ws-url", m.ws_url + "/stocks",
                "--pub", self.ws.ep("pub"), "--rep", self.ws.ep("rep")]
        return subprocess.Popen(args + list(extra), env=env,
                                cwd=self.ws.dir, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)

    def test_bars_once_in_order_across_drop_429_and_500s(self):
        wait_both = {"wait_subscribed": TOPICS, "timeout_ms": 8000}
        m = self.mock({
            "api_keys": [KEY],
            "dataset": {"symbols": {"AAPL": 180.0, "MSFT": 400.0},
                        "start": "now-240m", "end": "now+240m"},
            "rest_faults": [{"kind": "rate_limit", "ticker": "AAPL",
                             "count": 1}],
            "ws": {"live_start": "now+5m", "sessions": [
                {"name": "first", "steps": [wait_both]},
                {"name": "second", "steps": [
                    wait_both, {"skip": 2},
                    {"bars": {"ev": "AM", "count": 3, "per_frame": 4}}]}]}})
        live_t = m.live_t
        p = self.feeder(m, KEY, "--history", "5")
        try:
            bus = Bus(self.ws.ep("pub"))
            lt.wait_until(lambda: bus.pump().hb > 0, 20, "a heartbeat")
            lt.wait_until(lambda: sum(
                1 for e in m.log()["ws"] if e["event"] == "action" and
                e.get("action") == "subscribe"), 20, "the subscription")
            # Three live minutes, then the connection dies mid-stream; the
            # backfill of MSFT then meets a burst of 500s.
            m.fault({"kind": "server_error", "ticker": "MSFT", "count": 3})
            m.steps([{"bars": {"ev": "AM", "count": 3, "per_frame": 3}},
                     {"drop": True}])
            last = live_t + 7 * MIN
            lt.wait_until(lambda: all(
                bus.pump().bars[s] and bus.bars[s][-1]["t"] >= last
                for s in SYMS), 60, "the last live bar of every symbol")
            bus.pump(300)
            for sym in SYMS:
                hist = lt.history(self.ws.ep("rep"), sym, 100)
                self.assertIsNotNone(hist)
                got = bus.bars[sym]
                ts = [b["t"] for b in got]
                self.assertEqual(ts, list(range(ts[0], last + MIN, MIN)),
                                 "%s: one bar per minute, in order" % sym)
                self.assertLessEqual(ts[0], live_t)
                # The feeder's store: 5 history bars, then exactly the
                # bars of the bus, so the first live bar follows history.
                stored = [b["t"] for b in hist["bars"]]
                self.assertEqual(stored[-len(ts):], ts)
                self.assertEqual(stored[:-len(ts)],
                                 list(range(ts[0] - 5 * MIN, ts[0], MIN)))
                self.assertEqual([b["seq"] for b in got],
                                 list(range(got[0]["seq"],
                                            got[0]["seq"] + len(got))))
                served = {r["t"]: r for r in rest_bars(m, sym, ts[0], last)}
                for b in got:
                    r = served[b["t"]]
                    for k_bus, k_rest in (("o", "o"), ("h", "h"), ("l", "l"),
                                          ("c", "c"), ("vol", "v")):
                        self.assertAlmostEqual(b[k_bus], r[k_rest], places=6,
                                               msg="%s %s at %d" % (
                                                   sym, k_bus, b["t"]))
            log = m.log()
            actions = [e for e in log["ws"] if e["event"] == "action"]
            auths = [e for e in actions if e.get("action") == "auth"]
            subs = [e for e in actions if e.get("action") == "subscribe"]
            self.assertGreaterEqual(len(auths), 2, "re-authenticated")
            self.assertTrue(all(e.get("key_ok") for e in auths))
            self.assertGreaterEqual(len(subs), 2, "re-subscribed")
            for e in subs[:2]:
                self.assertEqual(sorted(e["params"].split(",")), TOPICS)
            codes = [e["status"] for e in log["rest"]]
            self.assertIn(429, codes)
            self.assertGreaterEqual(codes.count(500), 3)
            # A correction of a published bar: logged and counted, never
            # republished (a bar once on the bus does not change).
            n_bars = {s: len(bus.bars[s]) for s in SYMS}
            m.steps([{"correction": {"sym": "AAPL", "t": "last",
                                     "delta": 0.05, "dv": 100}},
                     {"status": "success", "message": "marker"}])
            lt.wait_until(lambda: any(
                e["event"] == "step" and e.get("step") == "correction"
                for e in m.log()["ws"]), 10, "the correction")
            bus.pump(300)
            self.assertEqual({s: len(bus.bars[s]) for s in SYMS}, n_bars)
            bus.close()
        finally:
            p.terminate()
            _, err = p.communicate(timeout=10)
        err = err.decode(errors="replace")
        self.assertEqual(p.returncode, 0, err)
        self.assertNotIn(KEY, err)
        self.assertIn("reconnects 1", err)
        self.assertIn("corrections 1", err)
        self.assertIn("duplicates 0", err)

    def test_tls_with_ca_file(self):
        m = self.mock({"api_keys": [KEY], "ws": {"live_start": "now+1m"}},
                      tls=True, rest_tls=True)
        self.assertTrue(m.ws_url.startswith("wss:"))
        p = self.feeder(m, KEY, "--history", "3", "--ca-file", m.cert)
        try:
            bus = Bus(self.ws.ep("pub"))
            lt.wait_until(lambda: bus.pump().hb > 0, 20, "a heartbeat")
            lt.wait_until(lambda: any(
                e.get("action") == "subscribe" for e in m.log()["ws"]), 20,
                "the subscription")
            m.steps([{"bars": {"ev": "AM", "count": 2}}])
            lt.wait_until(lambda: all(
                bus.pump().bars[s] and
                bus.bars[s][-1]["t"] >= m.live_t + MIN for s in SYMS),
                30, "two live bars over wss://")
            bus.close()
        finally:
            p.terminate()
            _, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 0, err.decode(errors="replace"))

    def _fails_cleanly(self, p, bad):
        return fails_cleanly(self, p, bad)

    def test_bad_key_rest(self):
        m = self.mock({"api_keys": [KEY]})
        line = self._fails_cleanly(self.feeder(m, "wrong-key-77", "--history",
                                               "5"), "wrong-key-77")
        self.assertIn("401", line)

    def test_bad_key_websocket(self):
        m = self.mock({"api_keys": [KEY], "ws": {"sessions": [
            {"name": "denied", "auth": "fail", "steps": []}]}})
        line = self._fails_cleanly(self.feeder(m, "wrong-key-88", "--history",
                                               "0"), "wrong-key-88")
        self.assertIn("auth", line)

    def test_missing_key(self):
        env = {k: v for k, v in os.environ.items()
               if k not in ("POLYGON_API_KEY", "MASSIVE_API_KEY")}
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run([os.path.join(lt.BIN, "livetrade-feeder"),
                                "--source", "polygon", "--symbols", "AAPL"],
                               env=env, cwd=d, capture_output=True,
                               timeout=10)
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 2, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("POLYGON_API_KEY", err)


if __name__ == "__main__":
    unittest.main()
