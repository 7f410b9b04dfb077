"""livetrade-feeder --source polygon against the mock Polygon server: a gap
fill after a reconnect meets 500s for longer than one fill's retry budget.
The feeder holds the symbol's live bars, tries the fill again later
(LIVETRADE_POLYGON_GAP_RETRY_MS shortens the first delay), and once REST
answers the bus carries every bar once, in order, with no gap."""
import os
import subprocess
import sys
import unittest

import lt
import test_polygon_feeder as tpf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "polygon_mock"))
from mockctl import MockPolygon  # noqa: E402

KEY = tpf.KEY
MIN = tpf.MIN
SYMS = tpf.SYMS
TOPICS = tpf.TOPICS


class PolygonGaps(unittest.TestCase):
    def setUp(self):
        self.ws = lt.Workspace()
        self.mocks = []

    def tearDown(self):
        self.ws.close()
        for m in self.mocks:
            m.stop()

    def feeder(self, m, *extra):
        env = dict(os.environ)
        env.pop("MASSIVE_API_KEY", None)
        env["POLYGON_API_KEY"] = KEY
        env["LIVETRADE_POLYGON_GAP_RETRY_MS"] = "500"
        args = [os.path.join(lt.BIN, "livetrade-feeder"), "--source",
                "polygon", "--symbols", ",".join(SYMS), "--timeframe", "60",
                "--rest-url", m.rest_url, "--ws-url", m.ws_url + "/stocks",
                "--pub", self.ws.ep("pub"), "--rep", self.ws.ep("rep"),
                "--cache-dir", ""]
        return subprocess.Popen(args + list(extra), env=env,
                                cwd=self.ws.dir, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)

    def test_gap_fill_retried_after_its_budget(self):
        wait_both = {"wait_subscribed": TOPICS, "timeout_ms": 8000}
        m = MockPolygon(script={
            "api_keys": [KEY],
            "dataset": {"symbols": {"AAPL": 180.0, "MSFT": 400.0},
                        "start": "now-240m", "end": "now+240m"},
            "ws": {"live_start": "now+5m", "sessions": [
                {"name": "first", "steps": [wait_both]},
                {"name": "second", "steps": [
                    wait_both, {"skip": 2},
                    {"bars": {"ev": "AM", "count": 3, "per_frame": 4}}]}]}})
        self.mocks.append(m)
        live_t = m.live_t
        p = self.feeder(m, "--history", "5")
        try:
            bus = tpf.Bus(self.ws.ep("pub"))
            lt.wait_until(lambda: bus.pump().hb > 0, 20, "a heartbeat")
            lt.wait_until(lambda: any(
                e["event"] == "action" and e.get("action") == "subscribe"
                for e in m.log()["ws"]), 20, "the subscription")
            # The backfill of AAPL gets seven 500s: more than the first
            # fill's 1 + 4 attempts, so only a later try succeeds.
            m.fault({"kind": "server_error", "ticker": "AAPL", "count": 7})
            m.steps([{"bars": {"ev": "AM", "count": 3, "per_frame": 3}},
                     {"drop": True}])
            last = live_t + 7 * MIN
            lt.wait_until(lambda: all(
                bus.pump().bars[s] and bus.bars[s][-1]["t"] >= last
                for s in SYMS), 60, "the last live bar of every symbol")
            bus.pump(300)
            for sym in SYMS:
                got = bus.bars[sym]
                ts = [b["t"] for b in got]
                self.assertEqual(ts, list(range(ts[0], last + MIN, MIN)),
                                 "%s: one bar per minute, in order" % sym)
                self.assertLessEqual(ts[0], live_t)
                self.assertEqual([b["seq"] for b in got],
                                 list(range(got[0]["seq"],
                                            got[0]["seq"] + len(got))))
                served = {r["t"]: r for r in
                          tpf.rest_bars(m, sym, ts[0], last)}
                for b in got:
                    self.assertAlmostEqual(b["c"], served[b["t"]]["c"],
                                           places=6)
                hist = lt.history(self.ws.ep("rep"), sym, 100)
                stored = [b["t"] for b in hist["bars"]]
                self.assertEqual(stored[-len(ts):], ts)
            codes = [e["status"] for e in m.log()["rest"]
                     if "/AAPL/" in e["path"]]
            self.assertEqual(codes.count(500), 7)
            bus.close()
        finally:
            p.terminate()
            _, err = p.communicate(timeout=10)
        err = err.decode(errors="replace")
        self.assertEqual(p.returncode, 0, err)
        self.assertNotIn(KEY, err)
        self.assertIn("not filled yet", err)
        self.assertIn("AAPL: gap filled on try 2; 3 held bars follow", err)
        self.assertIn("fill_retries 1 fill_errors 0", err)
        self.assertIn("duplicates 0", err)


if __name__ == "__main__":
    unittest.main()
