"""livetrade-feeder --source polygon warming up many symbols against the
mock Polygon server: histories fetched side by side (overlapping requests,
at most --history-concurrency at a time, one kept-alive connection each,
within --rate), progress in the log and in `livetrade status`, a symbol
whose history is held up or fails does not hold up the others' live bars
(and its own live bars never precede its history), and a second start
serves cached symbols without a REST request."""
import os
import subprocess
import sys
import unittest

import lt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "polygon_mock"))
from mockctl import MockPolygon  # noqa: E402
from test_polygon_feeder import Bus  # noqa: E402

KEY = "test-key-w4rm"
MIN = 60000


def syms(n):
    return ["S%03d" % k for k in range(n)]


def send_bars(m, bus, count, names=None):
    """Once the bus hears the feeder and the feeder has subscribed on the
    mock's WebSocket, the mock sends `count` minutes of bars (of names,
    or every symbol subscribed)."""
    lt.wait_until(lambda: bus.pump().hb > 0, 30, "a heartbeat")
    lt.wait_until(lambda: any(
        e["event"] == "action" and e.get("action") == "subscribe"
        for e in m.log()["ws"]), 30, "the subscription")
    b = {"ev": "AM", "count": count}
    if names:
        b["syms"] = names
    m.steps([{"bars": b}])


def aggs(m):
    """The mock's REST log entries for aggregates."""
    return [e for e in m.log()["rest"] if e["path"].startswith("/v2/aggs/")]


def overlap(entries):
    """The most requests the mock was serving at once."""
    ev = sorted([(e["start_ts"], 1) for e in entries] +
                [(e["ts"], -1) for e in entries], key=lambda x: (x[0], x[1]))
    cur = best = 0
    for _, d in ev:
        cur += d
        best = max(best, cur)
    return best


class PolygonWarmup(lt.WorkspaceTest):
    def setUp(self):
        super().setUp()
        self.procs = []
        self.addCleanup(self._stop_all)

    def _stop_all(self):
        for p, f in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            f.close()

    def mock(self, script):
        m = MockPolygon(script=script, max_lifetime=300)
        self.addCleanup(m.stop)
        return m

    def feeder(self, m, names, *extra, log="feeder.err"):
        env = {k: v for k, v in os.environ.items()
               if k not in ("POLYGON_API_KEY", "MASSIVE_API_KEY",
                            "LIVETRADE_ENV_FILE")}
        env["POLYGON_API_KEY"] = KEY
        env["LIVETRADE_POLYGON_PROGRESS_MS"] = "300"
        args = [os.path.join(lt.BIN, "livetrade-feeder"), "--source",
                "polygon", "--symbols", ",".join(names), "--timeframe",
                "60", "--market-hours", "always", "--rest-url", m.rest_url,
                "--ws-url", m.ws_url + "/stocks", "--pub", self.ws.ep("pub"),
                "--rep", self.ws.ep("rep")] + list(extra)
        self.err_path = self.ws.path(log)
        f = open(self.err_path, "wb")
        p = subprocess.Popen(args, env=env, cwd=self.ws.dir,
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=f)
        self.procs.append((p, f))
        return p

    def log(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def status(self, p):
        self.assertIsNone(p.poll(), "feeder exited: " + self.log())
        return lt.status(self.ws.ep("rep")) or {}

    def wait_status(self, p, cond, what, timeout=60):
        """The first status reply that meets cond."""
        last = {}

        def check():
            last["s"] = self.status(p)
            return cond(last["s"])
        lt.wait_until(check, timeout, what)
        return last["s"]

    def stop(self, p):
        p.terminate()
        p.wait(15)
        err = self.log()
        self.assertEqual(p.returncode, 0, err)
        self.assertNotIn(KEY, err)
        return err

    def test_many_symbols_side_by_side_one_held_up(self):
        """320 symbols, 4 at a time: requests overlap (never more than 4),
        4 connections carry them all, the rate is kept, progress shows in
        the log and in `livetrade status`; S007's history is held by the
        server, yet S001's live bars go out, and S007's only after its
        history."""
        names = syms(320)
        m = self.mock({
            "api_keys": [KEY], "rate_limit_per_minute": 5000,
            "dataset": {"symbols": names, "start": "now-600m",
                        "end": "now+240m"},
            "rest_faults": [
                {"kind": "hold", "ticker": "S007", "count": 1,
                 "timeout_ms": 60000},
                {"kind": "slow", "delay_ms": 20, "count": -1}],
            "ws": {"live_start": "now+5m"}})
        p = self.feeder(m, names, "--history", "30", "--cache-dir", "",
                        "--history-concurrency", "4", "--rate", "5000")
        bus = Bus(self.ws.ep("pub"), ["S001", "S007"])
        self.addCleanup(bus.close)
        st = self.wait_status(p, lambda s: s.get("history_done") == 319,
                              "every history but S007's")
        self.assertEqual(st["history_symbols_now"], 320)
        self.assertEqual(st["history_failed"], 0)
        # S001 is live while S007's history is still held.
        send_bars(m, bus, 2, ["S001", "S007"])
        lt.wait_until(lambda: len(bus.pump().bars["S001"]) >= 2, 30,
                      "S001's live bars")
        self.assertEqual(m.state()["held"], 1)
        self.assertEqual(bus.pump().bars["S007"], [])
        # Asked for S007's history meanwhile, the feeder says "ask again".
        r = lt.history(self.ws.ep("rep"), "S007", 100)
        self.assertEqual((r["type"], r.get("busy")), ("error", True), r)
        self.assertGreaterEqual(len(lt.history(self.ws.ep("rep"), "S001",
                                               100)["bars"]), 32)
        code, out, err = lt.run("livetrade", "status", "--endpoints",
                                self.ws.ep("rep"))
        self.assertEqual(code, 0, out + err)
        self.assertIn("history 319/320 symbols, 99%", out)
        lines = [ln for ln in self.log().splitlines()
                 if "polygon: history " in ln and "/320 symbols" in ln]
        self.assertTrue(lines, self.log())

        m.control("POST", "/_mock/release", {})
        self.wait_status(p, lambda s: s.get("history_done") == 320,
                         "S007's history")
        lt.wait_until(lambda: len(bus.pump().bars["S007"]) >= 2, 30,
                      "S007's live bars")
        hist = lt.history(self.ws.ep("rep"), "S007", 1000)["bars"]
        live = [b["t"] for b in bus.bars["S007"]]
        ts = [b["t"] for b in hist]
        self.assertEqual(ts, sorted(set(ts)), "one bar per minute, in order")
        self.assertEqual(ts[-len(live):], live)
        self.assertGreaterEqual(len(ts) - len(live), 30, "history first")
        self.assertEqual(ts, list(range(ts[0], ts[-1] + MIN, MIN)),
                         "no minute missing between history and live")
        err = self.stop(p)
        self.assertIn("history done: 320 symbols", err)

        reqs = aggs(m)
        self.assertEqual([e for e in reqs if e["status"] == 429], [])
        self.assertGreater(overlap(reqs), 1, "requests side by side")
        self.assertLessEqual(overlap(reqs), 4)
        self.assertLessEqual(len({e["peer"] for e in reqs}), 4,
                             "one connection per worker, kept alive")
        hist_reqs = {e["path"].split("/")[4] for e in reqs}
        self.assertEqual(hist_reqs, set(names))

    def test_rate_holds_across_workers(self):
        """--rate 10 with 4 workers and 30 symbols: 10 requests go out,
        side by side, and the others wait for the window."""
        names = syms(30)
        m = self.mock({
            "api_keys": [KEY],
            "dataset": {"symbols": names, "start": "now-600m",
                        "end": "now+240m"},
            "rest_faults": [{"kind": "slow", "delay_ms": 50, "count": -1}]})
        p = self.feeder(m, names, "--history", "10", "--cache-dir", "",
                        "--history-concurrency", "4", "--rate", "10")
        st = self.wait_status(p, lambda s: s.get("history_done") == 10,
                              "the first ten histories")
        lt.wait_until(lambda: self.log().count("rate limit 10/min, "
                                               "waiting") >= 4, 30,
                      "every worker waiting for the window")
        reqs = aggs(m)
        self.assertEqual(len(reqs), 10)
        self.assertGreater(overlap(reqs), 1)
        st = self.status(p)
        self.assertEqual((st["history_done"], st["rest_requests"]), (10, 10))
        code, out, err = lt.run("livetrade", "status", "--endpoints",
                                self.ws.ep("rep"))
        self.assertIn("history 10/30 symbols, 33%", out)
        self.stop(p)
        self.assertEqual(len(aggs(m)), 10)

    def test_engine_waits_for_a_history_still_loading(self):
        """An engine started while S001's history is held by the server
        is told to ask again, and warms up on the whole of it once it is
        out; live bars then follow without a gap."""
        names = syms(2)
        m = self.mock({
            "api_keys": [KEY],
            "dataset": {"symbols": names, "start": "now-600m",
                        "end": "now+240m"},
            "rest_faults": [{"kind": "hold", "ticker": "S001", "count": 1,
                             "timeout_ms": 60000}],
            "ws": {"live_start": "now+5m"}})
        p = self.feeder(m, names, "--history", "40", "--cache-dir", "")
        bus = Bus(self.ws.ep("pub"), names)
        self.addCleanup(bus.close)
        self.wait_status(p, lambda s: s.get("history_done") == 1,
                         "S000's history")
        eng = self.ws.start("engine", "livetrade-engine", "--strategy",
                            "strategies/sma_cross_close.lua", "--symbols",
                            ",".join(names), "--sub", self.ws.ep("pub"),
                            "--history", self.ws.ep("rep"), "--pub",
                            self.ws.ep("sig"), "--rep", self.ws.ep("eng"),
                            "--lookback", "100000")

        def eng_bars():
            st = lt.status(self.ws.ep("eng")) or {"symbols": []}
            return {y["sym"]: y.get("bars", 0) for y in st["symbols"]}
        lt.wait_until(lambda: eng_bars().get("S000", 0) >= 40, 30,
                      "the engine's warm-up of S000")
        self.assertEqual(eng_bars().get("S001", 0), 0)
        m.control("POST", "/_mock/release", {})
        lt.wait_until(lambda: eng_bars().get("S001", 0) >= 40, 30,
                      "the engine's warm-up of S001")
        send_bars(m, bus, 3)
        lt.wait_until(lambda: all(len(bus.pump().bars[s]) >= 3
                                  for s in names), 30, "live bars")
        want = {s: len(lt.history(self.ws.ep("rep"), s, 1000)["bars"])
                for s in names}
        lt.wait_until(lambda: eng_bars() == want, 30,
                      "the engine to take every bar")
        self.assertEqual(lt.status(self.ws.ep("eng"))["gaps"], 0)
        self.assertEqual(eng.stop(), 0, eng.stderr())
        self.stop(p)

    def test_failing_ticker_goes_live_without_history(self):
        """S002's history is not found (404): one WARN line, counted, and
        its live bars go out without one; the others have theirs."""
        names = syms(6)
        m = self.mock({
            "api_keys": [KEY],
            "dataset": {"symbols": names, "start": "now-600m",
                        "end": "now+240m"},
            "rest_faults": [{"kind": "server_error", "code": 404,
                             "ticker": "S002", "count": -1}],
            "ws": {"live_start": "now+5m"}})
        p = self.feeder(m, names, "--history", "10", "--cache-dir", "")
        bus = Bus(self.ws.ep("pub"), names)
        self.addCleanup(bus.close)
        st = self.wait_status(p, lambda s: s.get("history_done") == 6,
                              "every history")
        self.assertEqual(st["history_failed"], 1)
        send_bars(m, bus, 2)
        lt.wait_until(lambda: all(len(bus.pump().bars[s]) >= 2
                                  for s in names), 30, "live bars")
        self.assertEqual(len(lt.history(self.ws.ep("rep"), "S002",
                                        1000)["bars"]), 2)
        self.assertGreaterEqual(len(lt.history(self.ws.ep("rep"), "S001",
                                               1000)["bars"]), 12)
        err = self.stop(p)
        bad = [ln for ln in err.splitlines() if "S002: no history" in ln]
        self.assertEqual(len(bad), 1, err)
        self.assertIn("HTTP 404", bad[0])
        self.assertIn("WARN", bad[0])

    def test_second_start_from_the_cache(self):
        """A restart whose cache reaches the newest bar makes no REST
        request for those symbols."""
        names = syms(20)
        cache = self.ws.path("cache")
        m = self.mock({
            "api_keys": [KEY],
            "dataset": {"symbols": names, "start": "now-600m",
                        "end": "now+240m"},
            "ws": {"live_start": "now+5m"}})
        p = self.feeder(m, names, "--history", "10", "--cache-dir", cache)
        bus = Bus(self.ws.ep("pub"), names)
        self.addCleanup(bus.close)
        self.wait_status(p, lambda s: s.get("history_done") == 20,
                         "every history")
        send_bars(m, bus, 2)
        lt.wait_until(lambda: all(len(bus.pump().bars[s]) >= 2
                                  for s in names), 60, "live bars")
        self.stop(p)
        bus.close()
        self.assertTrue(aggs(m))
        m.control("POST", "/_mock/reset", {})

        p = self.feeder(m, names, "--history", "10", "--cache-dir", cache,
                        log="feeder2.err")
        st = self.wait_status(p, lambda s: s.get("history_done") == 20,
                              "every history")
        self.assertEqual(st["history_failed"], 0)
        hist = lt.history(self.ws.ep("rep"), "S005", 1000)["bars"]
        self.assertEqual(len(hist), 10)
        err = self.stop(p)
        self.assertEqual(aggs(m), [])
        self.assertNotIn("history of", err)


if __name__ == "__main__":
    unittest.main()
