"""livetrade-feeder --source polygon against the mock Polygon server: the
REST request rate (--rate), the history cache that spares a restarted
feeder the requests it already made (--cache-dir), feed health (silent
symbols, reconnects and backfills in the status reply), timeframes
built from minute bars (--timeframe 300) and history N bars back across
weekends and market holidays."""
import datetime
import glob
import json
import os
import subprocess
import time
import unittest
import urllib.request
import zoneinfo

import lt
from test_polygon_feeder import Bus, MockCase  # Bus: the same symbols

KEY = "test-key-f3a9"
MIN = 60000
SYMS = ["AAPL", "MSFT"]
TOPICS = ["AM.%s" % s for s in SYMS]


def rest_bars(m, sym, mult, t0, t1):
    url = ("%s/v2/aggs/ticker/%s/range/%d/minute/%d/%d?limit=50000&apiKey=%s"
           % (m.rest_url, sym, mult, t0, t1, KEY))
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read()).get("results") or []


def aggs_requests(m):
    return [e for e in m.log()["rest"] if e["path"].startswith("/v2/aggs/")]


class PolygonFeatures(MockCase):
    def setUp(self):
        super().setUp()
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)

    def feeder(self, m, name, *extra, tf=60):
        env = dict(os.environ)
        env.pop("MASSIVE_API_KEY", None)
        env["POLYGON_API_KEY"] = KEY
        env["XDG_CACHE_HOME"] = self.ws.path("xdg")
        args = [os.path.join(lt.BIN, "livetrade-feeder"), "--source",
                "polygon", "--symbols", ",".join(SYMS), "--timeframe",
                str(tf), "--rest-url", m.rest_url,
                "--ws-url", m.ws_url + "/stocks",
                "--pub", self.ws.ep("pub"), "--rep", self.ws.ep("rep")]
        log = open(self.ws.path(name + ".log"), "wb")
        p = subprocess.Popen(args + list(extra), env=env, cwd=self.ws.dir,
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        p.log_path = self.ws.path(name + ".log")
        self.procs.append(p)
        return p

    def stop(self, p, code=0):
        p.terminate()
        p.wait(timeout=15)
        with open(p.log_path, errors="replace") as f:
            err = f.read()
        self.assertNotIn(KEY, err)
        self.assertNotIn("runtime error", err)
        if code is not None:
            self.assertEqual(p.returncode, code, err)
        return err

    def log(self, p):
        with open(p.log_path, errors="replace") as f:
            return f.read()

    def running(self, p):
        """Waits until the feeder answers and every history is out."""
        status = {"ver": 1, "type": "status"}

        def warm():
            st = lt.request(self.ws.ep("rep"), status, 500)
            return st and st.get("history_done", 0) == \
                st.get("history_symbols_now", 0)
        lt.wait_until(lambda: p.poll() is not None or warm(), 60,
                      "the feeder's history")
        self.assertIsNone(p.poll(), self.log(p))

    def test_rate_holds_requests(self):
        m = self.mock({"api_keys": [KEY]})
        p = self.feeder(m, "rate", "--history", "5", "--rate", "1",
                        "--cache-dir", "")
        lt.wait_until(lambda: "rate limit 1/min, waiting" in
                      self.log(p), 30, "the limiter's wait")
        time.sleep(0.5)
        # The second symbol's history waits for the minute to pass.
        self.assertEqual(len(aggs_requests(m)), 1)
        err = self.stop(p, code=None)   # stopped during the history
        self.assertIn("rate limit 1/min", err)

    def test_cache_spares_requests_on_restart(self):
        m = self.mock({"api_keys": [KEY],
                       "dataset": {"symbols": {"AAPL": 180.0,
                                               "MSFT": 400.0},
                                   "start": "now-3d", "end": "now+60m"}})
        cache = self.ws.path("cache")
        p = self.feeder(m, "first", "--history", "2000", "--cache-dir",
                        cache)
        self.running(p)
        first = len(aggs_requests(m))
        self.stop(p)
        files = sorted(glob.glob(os.path.join(cache, "*.csv")))
        self.assertEqual(len(files), 2, files)
        m.reset()
        p = self.feeder(m, "second", "--history", "2000", "--cache-dir",
                        cache)
        self.running(p)
        st = lt.status(self.ws.ep("rep"))
        second = aggs_requests(m)
        # At most one request per symbol, for the minutes after the last
        # cached bar (none when the restart falls in the same minute); the
        # first run asked for days.
        self.assertEqual(first, len(SYMS))
        self.assertLessEqual(len(second), len(SYMS))
        for e in second:
            t0, t1 = (int(x) for x in e["path"].split("/")[-2:])
            self.assertLessEqual(t1 - t0, 10 * MIN, e["path"])
        second = len(second)
        self.assertGreaterEqual(st["cache_bars"], 2 * 2000)
        self.assertEqual(st["rest_requests"], second)
        for sym in SYMS:
            hist = lt.history(self.ws.ep("rep"), sym, 2000)["bars"]
            ts = [b["t"] for b in hist]
            self.assertEqual(len(ts), 2000)
            self.assertEqual(ts, list(range(ts[0], ts[-1] + MIN, MIN)))
            served = {r["t"]: r for r in rest_bars(m, sym, 1, ts[0], ts[-1])}
            for b in hist:
                r = served[b["t"]]
                self.assertEqual((b["o"], b["h"], b["l"], b["c"], b["vol"]),
                                 (r["o"], r["h"], r["l"], r["c"], r["v"]))
        self.stop(p)
        # A corrupt file: one warning, ignored, then replaced.
        with open(files[0], "w") as f:
            f.write("# livetrade polygon cache v1 AAPL 60\n12,oops\n")
        p = self.feeder(m, "third", "--history", "50", "--cache-dir",
                        cache)
        self.running(p)
        err = self.stop(p)
        warns = [ln for ln in err.splitlines() if "cache ignored" in ln]
        self.assertEqual(len(warns), 1, err)
        self.assertTrue(" WARN" in warns[0], warns[0])
        with open(files[0]) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "# livetrade polygon cache v1 AAPL 60")
        self.assertGreaterEqual(len(lines), 51)

    def test_silence_reconnects_and_backfills_counted(self):
        wait_both = {"wait_subscribed": TOPICS, "timeout_ms": 8000}
        m = self.mock({"api_keys": [KEY],
                       "ws": {"live_start": "now+5m", "sessions": [
                           {"name": "first", "steps": [wait_both]},
                           {"name": "second", "steps": [
                               wait_both, {"skip": 2},
                               {"bars": {"ev": "AM", "count": 2}}]}]}})
        p = self.feeder(m, "health", "--history", "3", "--cache-dir", "",
                        "--market-hours", "always", "--stale-after", "1")
        self.running(p)
        lt.wait_until(lambda: lt.status(self.ws.ep("rep"))["silences"] >= 2,
                      20, "both symbols reported silent")
        st = lt.status(self.ws.ep("rep"))
        self.assertEqual(st["silent_now"], 2)
        bus = Bus(self.ws.ep("pub"))
        lt.wait_until(lambda: bus.pump().hb > 0, 20, "a heartbeat")
        m.steps([{"bars": {"ev": "AM", "count": 2}}, {"drop": True}])
        last = m.live_t + 5 * MIN
        lt.wait_until(lambda: all(
            bus.pump().bars[s] and bus.bars[s][-1]["t"] >= last
            for s in SYMS), 60, "the bars after the reconnect")
        bus.close()
        st = lt.status(self.ws.ep("rep"))
        self.assertEqual(st["reconnects"], 1)
        self.assertEqual(st["silent_now"], 0)
        # First connect: the gap from the history to live_t; reconnect:
        # the two skipped minutes; one of each per symbol.
        self.assertEqual(st["backfills"], 4)
        self.assertGreaterEqual(st["backfill_requests"], 4)
        self.assertGreaterEqual(st["backfill_bars"], 2 * 2)
        err = self.stop(p)
        warns = [ln for ln in err.splitlines() if "no bar for" in ln]
        self.assertGreaterEqual(len(warns), 1, err)
        self.assertLessEqual(len(warns), 2, err)
        self.assertIn("silences 2", err)
        self.assertIn("reconnects 1", err)

    def test_five_minute_bars_from_minutes(self):
        m = self.mock({"api_keys": [KEY],
                       "dataset": {"symbols": {"AAPL": 180.0,
                                               "MSFT": 400.0},
                                   "start": "now-240m", "end": "now+240m"},
                       "ws": {"live_start": "now+10m"}})
        tf = 5 * MIN
        p = self.feeder(m, "agg", "--history", "3", "--cache-dir", "",
                        tf=300)
        self.running(p)
        bus = Bus(self.ws.ep("pub"))
        lt.wait_until(lambda: bus.pump().hb > 0, 20, "a heartbeat")
        lt.wait_until(lambda: any(
            e.get("action") == "subscribe" for e in m.log()["ws"]), 20,
            "the subscription")
        sub = [e for e in m.log()["ws"] if e.get("action") == "subscribe"]
        self.assertEqual(sorted(sub[0]["params"].split(",")), TOPICS)
        m.steps([{"bars": {"ev": "AM", "count": 12, "per_frame": 5}}])
        m_last = m.live_t + 11 * MIN
        done = m_last - m_last % tf
        if (m_last + MIN) % tf:
            done -= tf              # the last bucket is not complete yet
        lt.wait_until(lambda: all(
            bus.pump().bars[s] and bus.bars[s][-1]["t"] >= done
            for s in SYMS), 60, "the last complete 5-minute bar")
        bus.pump(300)
        bus.close()
        for sym in SYMS:
            got = bus.bars[sym]
            ts = [b["t"] for b in got]
            self.assertEqual(ts, list(range(ts[0], done + tf, tf)), sym)
            hist = [b["t"] for b in
                    lt.history(self.ws.ep("rep"), sym, 100)["bars"]]
            self.assertEqual(hist[-len(ts):], ts)
            self.assertEqual(len(hist), len(ts) + 3)
            served = {r["t"]: r for r in rest_bars(m, sym, 5, hist[0],
                                                   done + tf - 1)}
            for b in got:
                r = served[b["t"]]
                self.assertEqual(b["tf"], 300)
                for kb, kr in (("o", "o"), ("h", "h"), ("l", "l"),
                               ("c", "c"), ("vol", "v"), ("vw", "vw")):
                    self.assertAlmostEqual(b[kb], r[kr], places=3,
                                           msg="%s %s at %d" % (sym, kb,
                                                                b["t"]))
        err = self.stop(p)
        self.assertIn("streaming AM.*", err)

    def test_history_steps_over_weekends_and_holidays(self):
        """N bars back, not N days: with bars only in regular hours and the
        last three weekdays closed, the history still holds exactly the
        last 1000 trading minutes, across the closures and a weekend."""
        ny = zoneinfo.ZoneInfo("America/New_York")
        day = datetime.datetime.now(ny).date()
        holidays = []
        while len(holidays) < 3:
            day -= datetime.timedelta(days=1)
            if day.weekday() < 5:
                holidays.append(day.isoformat())
        m = self.mock({"api_keys": [KEY],
                       "dataset": {"symbols": {"AAPL": 180.0,
                                               "MSFT": 400.0},
                                   "start": "now-16d", "end": "now",
                                   "hours": "regular",
                                   "holidays": holidays}})
        p = self.feeder(m, "closures", "--history", "1000", "--cache-dir",
                        "")
        self.running(p)
        first = datetime.datetime.now(ny) - datetime.timedelta(days=16)
        for sym in SYMS:
            hist = [b["t"] for b in
                    lt.history(self.ws.ep("rep"), sym, 5000)["bars"]]
            served = [r["t"] for r in rest_bars(
                m, sym, 1, int(first.timestamp() * 1000),
                int(time.time() * 1000))]
            self.assertGreater(len(served), 1000)
            self.assertEqual(hist, served[-1000:], sym)
            days = sorted({datetime.datetime.fromtimestamp(t / 1000, ny)
                           .date().isoformat() for t in hist})
            self.assertFalse(set(days) & set(holidays), days)
            self.assertLess(days[0], min(holidays), "begins before them")
            steps = [b - a for a, b in zip(hist, hist[1:])]
            self.assertGreater(max(steps), 2 * 86400000, "a weekend")
        # The window widened: more than one request per symbol.
        reqs = aggs_requests(m)
        for sym in SYMS:
            self.assertGreater(sum(1 for e in reqs if "/%s/" % sym in
                                   e["path"]), 1, sym)
        self.stop(p)


if __name__ == "__main__":
    unittest.main()
