"""livetrade-feeder --source polygon against the mock Polygon server: gap
fills after a reconnect.
- A fill meets 500s for longer than one fill's retry budget: the feeder
  holds the symbol's live bars, tries the fill again later
  (LIVETRADE_POLYGON_GAP_RETRY_MS shortens the first delay), and once REST
  answers the bus carries every bar once, in order, with no gap.
- A fill that REST holds unanswered: the WebSocket is still read and the
  other symbol's bars go out meanwhile; the held symbol's follow in order.
- A fill that fails on every try: given up with one line and a counter,
  the held bars go out after the gap, the feed goes on."""
import os
import subprocess
import unittest

import lt
import test_polygon_feeder as tpf

KEY = tpf.KEY
MIN = tpf.MIN
SYMS = tpf.SYMS
TOPICS = tpf.TOPICS


class GapsBase(tpf.MockCase):
    """A mock, a polygon feeder on it and a bus reader (no tests)."""

    def feeder(self, m, *extra, env_extra=None):
        env = dict(os.environ)
        env.pop("MASSIVE_API_KEY", None)
        env["POLYGON_API_KEY"] = KEY
        env["LIVETRADE_POLYGON_GAP_RETRY_MS"] = "500"
        env.update(env_extra or {})
        args = [os.path.join(lt.BIN, "livetrade-feeder"), "--source",
                "polygon", "--symbols", ",".join(SYMS), "--timeframe", "60",
                "--rest-url", m.rest_url, "--ws-url", m.ws_url + "/stocks",
                "--pub", self.ws.ep("pub"), "--rep", self.ws.ep("rep"),
                "--cache-dir", ""]
        return subprocess.Popen(args + list(extra), env=env,
                                cwd=self.ws.dir, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)

    def start(self, m, sessions_after_drop, env_extra=None):
        """Starts the feeder on m (whose first session waits for both
        subscriptions), streams three minutes of both symbols and waits for
        them on the bus. Returns (feeder, bus, live_t)."""
        live_t = m.live_t
        p = self.feeder(m, "--history", "5", env_extra=env_extra)
        bus = tpf.Bus(self.ws.ep("pub"))
        lt.wait_until(lambda: bus.pump().hb > 0, 20, "a heartbeat")
        lt.wait_until(lambda: any(
            e["event"] == "action" and e.get("action") == "subscribe"
            for e in m.log()["ws"]), 20, "the subscription")
        m.session(*sessions_after_drop)
        m.steps([{"bars": {"ev": "AM", "count": 3, "per_frame": 3}}])
        lt.wait_until(lambda: all(
            bus.pump().bars[s] and bus.bars[s][-1]["t"] >= live_t + 2 * MIN
            for s in SYMS), 30, "the first live bars of every symbol")
        return p, bus, live_t

    def stop(self, p):
        p.terminate()
        _, err = p.communicate(timeout=10)
        err = err.decode(errors="replace")
        self.assertEqual(p.returncode, 0, err)
        self.assertNotIn(KEY, err)
        return err

    def check_bus(self, m, bus, sym, ts_expected):
        """The bars of sym on the bus have exactly the times ts_expected,
        consecutive seq, and REST's values."""
        got = bus.bars[sym]
        ts = [b["t"] for b in got]
        self.assertEqual(ts, ts_expected, sym)
        self.assertEqual([b["seq"] for b in got],
                         list(range(got[0]["seq"], got[0]["seq"] + len(got))))
        served = {r["t"]: r for r in tpf.rest_bars(m, sym, ts[0], ts[-1])}
        for b in got:
            self.assertAlmostEqual(b["c"], served[b["t"]]["c"], places=6)

    def dataset(self, second):
        wait_both = {"wait_subscribed": TOPICS, "timeout_ms": 8000}
        return {
            "api_keys": [KEY],
            "dataset": {"symbols": {"AAPL": 180.0, "MSFT": 400.0},
                        "start": "now-240m", "end": "now+240m"},
            "ws": {"live_start": "now+5m", "sessions": [
                {"name": "first", "steps": [wait_both]}]}}, \
            dict(second, steps=[wait_both] + second["steps"])


class PolygonGaps(GapsBase):
    def test_websocket_read_while_a_fill_waits(self):
        script, second = self.dataset({"name": "second", "steps": [
            {"bars": {"ev": "AM", "count": 2, "per_frame": 1,
                      "syms": ["MSFT"]}},
            {"bars": {"ev": "AM", "count": 3, "per_frame": 2}}]})
        m = self.mock(script)
        p, bus, live_t = self.start(m, [second])
        try:
            # AAPL misses two minutes while offline, MSFT none: only
            # AAPL's fill goes to REST, which holds it unanswered.
            m.fault({"kind": "hold", "ticker": "AAPL", "count": 1,
                     "timeout_ms": 60000})
            m.steps([{"drop": True}])
            last = live_t + 7 * MIN
            lt.wait_until(lambda: bus.pump().bars["MSFT"][-1]["t"] >= last,
                          20, "MSFT's bars while AAPL's fill is held")
            # The fill is still held (only a release ends it): every MSFT
            # bar went out while AAPL's REST request waited.
            lt.wait_until(lambda: m.state()["held"] == 1, 20,
                          "AAPL's fill to reach the mock and be held")
            bus.pump(200)
            self.assertEqual(bus.bars["AAPL"][-1]["t"], live_t + 2 * MIN,
                             "AAPL's bars wait behind its gap")
            st = lt.status(self.ws.ep("rep"))
            self.assertIsNotNone(st, "status answered during the fill")
            self.assertEqual(st["reconnects"], 1)
            m.release()
            lt.wait_until(lambda: bus.pump().bars["AAPL"][-1]["t"] >= last,
                          20, "AAPL's bars after the release")
            bus.pump(300)
            for sym in SYMS:
                first = bus.bars[sym][0]["t"]
                self.check_bus(m, bus, sym,
                               list(range(first, last + MIN, MIN)))
            bus.close()
        finally:
            err = self.stop(p)
        self.assertIn("AAPL: gap filled through REST: 2 bars", err)
        self.assertIn("fill_errors 0 duplicates 0", err)

    def test_gap_given_up_after_every_try(self):
        script, second = self.dataset({"name": "second", "steps": [
            {"skip": 2}, {"bars": {"ev": "AM", "count": 3, "per_frame": 4}}]})
        m = self.mock(script)
        p, bus, live_t = self.start(m, [second])
        try:
            # Every REST request for AAPL gets a 429 with Retry-After: 0,
            # so each try spends its attempts at once.
            m.fault({"kind": "rate_limit", "retry_after": 0,
                     "ticker": "AAPL", "count": -1})
            m.steps([{"drop": True}])
            last = live_t + 7 * MIN
            lt.wait_until(lambda: all(
                bus.pump().bars[s][-1]["t"] >= last for s in SYMS), 60,
                "the last live bar of every symbol")
            m.reset()               # REST answers AAPL again
            m.steps([{"bars": {"ev": "AM", "count": 1, "per_frame": 2}}])
            lt.wait_until(lambda: all(
                bus.pump().bars[s][-1]["t"] >= last + MIN for s in SYMS),
                20, "a bar after the gap was given up")
            bus.pump(300)
            first = bus.bars["MSFT"][0]["t"]
            self.check_bus(m, bus, "MSFT",
                           list(range(first, last + 2 * MIN, MIN)))
            first = bus.bars["AAPL"][0]["t"]
            hole = [live_t + 3 * MIN, live_t + 4 * MIN]
            self.check_bus(m, bus, "AAPL",
                           [t for t in range(first, last + 2 * MIN, MIN)
                            if t not in hole])
            st = lt.status(self.ws.ep("rep"))
            self.assertEqual(st["backfill_errors"], 1)
            self.assertEqual(st["backfill_retries"], 5)
            bus.close()
        finally:
            err = self.stop(p)
        self.assertIn("AAPL: gap from %d to %d not filled after 6 tries"
                      % (hole[0], hole[1] + MIN), err)
        self.assertIn("publishing the 3 bars held after it", err)
        self.assertIn("fill_retries 5 fill_errors 1 duplicates 0", err)

    def test_gap_fill_retried_after_its_budget(self):
        wait_both = {"wait_subscribed": TOPICS, "timeout_ms": 8000}
        m = self.mock({
            "api_keys": [KEY],
            "dataset": {"symbols": {"AAPL": 180.0, "MSFT": 400.0},
                        "start": "now-240m", "end": "now+240m"},
            "ws": {"live_start": "now+5m", "sessions": [
                {"name": "first", "steps": [wait_both]},
                {"name": "second", "steps": [
                    wait_both, {"skip": 2},
                    {"bars": {"ev": "AM", "count": 3, "per_frame": 4}}]}]}})
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
