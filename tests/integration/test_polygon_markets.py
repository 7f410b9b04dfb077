"""livetrade-feeder --source polygon --market crypto|forex|indices against
the mock Polygon server: each market warms up from REST history under its
ticker form (X:BTCUSD, C:EURUSD, I:SPX), subscribes to its own aggregates
on its own WebSocket path and publishes every bar once, in order, under
the bus form of the symbol, whichever form the user gave. Feed health
follows each market's hours (LIVETRADE_POLYGON_HOURS_AT_MS sets the clock
it goes by). Bad --market values and symbols are one line and exit 2."""
import json
import os
import subprocess
import tempfile
import unittest
import urllib.request

import lt
from test_polygon_feeder import MIN, Bus, MockCase

KEY = "test-key-7d20"
SAT = 1796490000000     # Sat 2026-12-05 12:00 New York
WED = 1796835600000     # Wed 2026-12-09 12:00 New York

# market: (dataset tickers, --symbols as given, bus symbols, WS topics)
CASES = {
    "crypto": ({"X:BTCUSD": 60000.0, "X:ETHUSDT": 3000.0},
               "X:BTCUSD,eth-usdt", ["BTC-USD", "ETH-USDT"],
               ["XA.BTC-USD", "XA.ETH-USDT"]),
    "forex": ({"C:EURUSD": 1.08, "C:GBPJPY": 190.0},
              "EUR/USD,C:GBPJPY", ["EUR-USD", "GBP-JPY"],
              ["CA.EUR/USD", "CA.GBP/JPY"]),
    "indices": ({"I:SPX": 5000.0, "I:NDX": 18000.0},
                "SPX,I:NDX", ["I:SPX", "I:NDX"], ["AM.I:SPX", "AM.I:NDX"]),
}


def feeder_env(**extra):
    env = dict(os.environ)
    env.pop("MASSIVE_API_KEY", None)
    env["POLYGON_API_KEY"] = KEY
    env.update(extra)
    return env


class PolygonMarkets(MockCase):
    def setUp(self):
        super().setUp()
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)

    def feeder(self, m, name, market, symbols, *extra, env=None):
        args = [os.path.join(lt.BIN, "livetrade-feeder"), "--source",
                "polygon", "--market", market, "--symbols", symbols,
                "--rest-url", m.rest_url, "--ws-url",
                m.ws_url + "/" + market, "--cache-dir", "",
                "--pub", self.ws.ep(name + "-pub"),
                "--rep", self.ws.ep(name + "-rep")]
        log = open(self.ws.path(name + ".log"), "wb")
        p = subprocess.Popen(args + list(extra), env=env or feeder_env(),
                             cwd=self.ws.dir, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        p.log_path = self.ws.path(name + ".log")
        self.procs.append(p)
        return p

    def stop(self, p):
        p.terminate()
        p.wait(timeout=15)
        with open(p.log_path, errors="replace") as f:
            err = f.read()
        self.assertEqual(p.returncode, 0, err)
        self.assertNotIn(KEY, err)
        return err

    def live_bars(self, market, tf=60, ev=None, count=3):
        """A feeder of `market` against a mock that sends `count` live
        bars once both topics are subscribed and the bus listens: the bars
        on the bus are REST's, once each and in order, from the history
        on."""
        tickers, given, syms, topics = CASES[market]
        if ev:
            topics = [ev + t[t.index("."):] for t in topics]
        span = MIN if tf == 60 else 1000
        m = self.mock({
            "api_keys": [KEY],
            "dataset": {"symbols": tickers, "start": "now-240m",
                        "end": "now+240m"},
            "ws": {"live_start": "now+2m"}})
        p = self.feeder(m, market, market, given, "--history", "5",
                        "--timeframe", str(tf))
        bus = Bus(self.ws.ep(market + "-pub"), syms)
        lt.wait_until(lambda: bus.pump().hb > 0, 20, "a heartbeat")
        lt.wait_until(lambda: any(
            e.get("action") == "subscribe" for e in m.log()["ws"]), 20,
            "the subscription")
        m.steps([{"wait_subscribed": topics, "timeout_ms": 20000},
                 {"bars": {"ev": ev, "count": count}
                  if ev else {"count": count}}])
        last = m.live_t + (count - 1) * span
        lt.wait_until(lambda: all(
            bus.pump().bars[s] and bus.bars[s][-1]["t"] >= last
            for s in syms), 60, "the live %s bars" % market)
        bus.pump(200)
        bus.close()
        sub = [e for e in m.log()["ws"] if e.get("action") == "subscribe"]
        self.assertEqual(sorted(sub[0]["params"].split(",")), sorted(topics))
        connects = [e for e in m.log()["ws"] if e["event"] == "connect"]
        self.assertEqual(connects[0]["path"], "/" + market)
        paths = {e["path"].split("/")[4] for e in m.log()["rest"]
                 if e["path"].startswith("/v2/aggs/")}
        self.assertEqual(paths, set(tickers))
        for sym, ticker in zip(syms, tickers):
            got = bus.bars[sym]
            ts = [b["t"] for b in got]
            self.assertEqual(ts, list(range(ts[0], last + span, span)), sym)
            hist = lt.history(self.ws.ep(market + "-rep"), sym, 1000)
            hts = [b["t"] for b in hist["bars"]]
            self.assertEqual(hts[-len(ts):], ts, sym)
            self.assertEqual(len(hts), len(ts) + 5, sym)
            url = ("%s/v2/aggs/ticker/%s/range/1/%s/%d/%d?limit=50000"
                   "&apiKey=%s" % (m.rest_url, ticker, "second" if tf == 1
                                   else "minute", hts[0], last, KEY))
            served = {r["t"]: r for r in rest_bars_url(url)}
            for b in hist["bars"]:
                r = served[b["t"]]
                self.assertEqual(b["sym"], sym)
                self.assertEqual((b["o"], b["h"], b["l"], b["c"]),
                                 (r["o"], r["h"], r["l"], r["c"]), sym)
                self.assertEqual(b["vol"], r.get("v", 0), sym)
        err = self.stop(p)
        self.assertIn("streaming %s.* for 2 symbols from %s/%s (%s, feed "
                      "realtime)" % (topics[0].split(".")[0], m.ws_url,
                                     market, market), err)
        return bus

    def test_livetrade_run_crypto(self):
        """`livetrade run --market crypto` passes the market on and names
        the symbol in its bus form to the engine: the Polygon form given
        (X:BTCUSD) reaches the strategy as BTC-USD."""
        m = self.mock({
            "api_keys": [KEY],
            "dataset": {"symbols": {"X:BTCUSD": 60000.0},
                        "start": "now-240m", "end": "now+240m"},
            "ws": {"live_start": "now+2m"}})
        args = [os.path.join(lt.BIN, "livetrade"), "run", "--data-source",
                "polygon", "--market", "crypto", "--symbols", "X:BTCUSD",
                "--strategy", "strategies/sma_cross_close.lua",
                "--rest-url", m.rest_url, "--ws-url", m.ws_url + "/crypto",
                "--history", "60", "--duration", "0.25", "--json"]
        p = subprocess.Popen(args, env=feeder_env(), cwd=lt.ROOT,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        lt.wait_until(lambda: p.poll() is not None or any(
            e.get("action") == "subscribe" for e in m.log()["ws"]), 30,
            "the feeder's WebSocket subscription")
        m.steps([{"wait_subscribed": ["XA.BTC-USD"], "timeout_ms": 20000},
                 {"bars": {"ev": "XA", "count": 3}}])
        out, err = p.communicate(timeout=60)
        err = err.decode(errors="replace")
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("streaming XA.* for 1 symbols", err)
        self.assertRegex(err, r"polygon: live [1-9]")
        # The engine asked the feeder's history for BTC-USD and got it.
        self.assertRegex(err, r"engine.* BTC-USD: live after [1-9]\d* bars "
                         r"of history")
        paths = {e["path"].split("/")[4] for e in m.log()["rest"]
                 if e["path"].startswith("/v2/aggs/")}
        self.assertEqual(paths, {"X:BTCUSD"})
        r = subprocess.run([os.path.join(lt.BIN, "livetrade"), "run",
                            "--data-source", "polygon", "--market", "moon",
                            "--duration", "0.1"], env=feeder_env(),
                           cwd=lt.ROOT, capture_output=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"unknown --market 'moon'", r.stderr)

    def test_every_crypto_pair(self):
        """--market crypto --symbols '*' subscribes XA.* and publishes each
        pair the feed sends under its bus form."""
        m = self.mock({
            "api_keys": [KEY],
            "dataset": {"symbols": {"X:BTCUSD": 60000.0,
                                    "X:ETHUSD": 3000.0},
                        "start": "now-240m", "end": "now+240m"},
            "ws": {"live_start": "now+2m"}})
        p = self.feeder(m, "all", "crypto", "*", "--history", "0")
        bus = Bus(self.ws.ep("all-pub"), ["BTC-USD", "ETH-USD"])
        try:
            lt.wait_until(lambda: bus.pump().hb > 0, 20, "a heartbeat")
            lt.wait_until(lambda: any(
                e.get("action") == "subscribe" for e in m.log()["ws"]), 20,
                "the subscription")
            m.steps([{"bars": {"ev": "XA", "count": 2}}])
            lt.wait_until(lambda: all(
                len(bus.pump().bars[s]) == 2 for s in ("BTC-USD", "ETH-USD")),
                30, "two bars of each pair")
        finally:
            bus.close()
        sub = [e["params"] for e in m.log()["ws"]
               if e.get("action") == "subscribe"]
        self.assertEqual(sub, ["XA.*"])
        err = self.stop(p)
        self.assertIn("XA.* (every symbol", err)

    def test_crypto(self):
        self.live_bars("crypto")

    def test_forex(self):
        self.live_bars("forex")

    def test_indices_values_without_volume(self):
        bus = self.live_bars("indices")
        self.assertTrue(all(b["vol"] == 0 for b in bus.bars["I:SPX"]))

    def test_forex_second_bars(self):
        self.live_bars("forex", tf=1, ev="CAS", count=5)

    def test_health_follows_market_hours(self):
        """No bars at all: each feeder reports its symbols silent only if
        its market is open at the clock it is given."""
        m = self.mock({"api_keys": [KEY], "dataset": {"symbols": {
            t: 1.0 for c in CASES.values() for t in c[0]}}})
        runs = [  # name, market, clock, --market-hours, open; shut first
            ("forex-sat", "forex", SAT, None, 0),
            ("indices-sat", "indices", SAT, None, 0),
            ("crypto-sat-us", "crypto", SAT, "us-equities", 0),
            ("crypto-sat", "crypto", SAT, None, 1),
            ("forex-wed", "forex", WED, None, 1),
            ("forex-sat-always", "forex", SAT, "always", 1),
        ]
        for name, market, at, hours, _ in runs:
            extra = ["--history", "0", "--stale-after", "1"]
            if hours:
                extra += ["--market-hours", hours]
            self.feeder(m, name, market, CASES[market][1], *extra,
                        env=feeder_env(LIVETRADE_POLYGON_HOURS_AT_MS=str(at)))
        for name, _, _, _, is_open in runs:
            rep = self.ws.ep(name + "-rep")
            st = lt.wait_until(lambda: lt.status(rep), 30, name)
            self.assertEqual(st["market_open"], is_open, name)
        for name, _, _, _, is_open in runs:
            if is_open:
                rep = self.ws.ep(name + "-rep")
                lt.wait_until(lambda: lt.status(rep)["silences"] == 2, 30,
                              name + ": both symbols silent")
        # The open ones have reported; the closed ones, started before
        # them, have had as long and report nothing.
        for name, _, _, _, is_open in runs:
            if not is_open:
                st = lt.status(self.ws.ep(name + "-rep"))
                self.assertEqual((st["silences"], st["market_open"]),
                                 (0, 0), name)
        for p in self.procs:
            err = self.stop(p)
            self.assertEqual(err.count("no bar for") > 0,
                             "silences 2" in err, err)

    def test_bad_market_and_symbols(self):
        cases = [
            (["--market", "bonds"], "--market"),
            (["--market", "crypto", "--feed", "delayed"], "delayed"),
            (["--market", "crypto", "--symbols", "BTC-USD,X:BTCUSD"],
             "BTC-USD twice"),
            (["--market", "crypto", "--symbols", "BTCXYZ"], "BTCXYZ"),
            (["--market", "forex", "--symbols", "EURO-USD"], "EURO-USD"),
            (["--market", "indices", "--symbols", "I:S&P"], "I:S&P"),
            (["--market", "stocks", "--market-hours", "weekends"],
             "--market-hours"),
        ]
        with tempfile.TemporaryDirectory() as d:
            for args, what in cases:
                if "--symbols" not in args:
                    args = args + ["--symbols", "BTC-USD"]
                r = subprocess.run(
                    [os.path.join(lt.BIN, "livetrade-feeder"), "--source",
                     "polygon"] + args, env=feeder_env(), cwd=d,
                    capture_output=True, timeout=10,
                    stdin=subprocess.DEVNULL)
                err = r.stderr.decode()
                self.assertEqual(r.returncode, 2, (args, err))
                self.assertEqual(len(err.strip().splitlines()), 1,
                                 (args, err))
                self.assertIn(what, err, args)


def rest_bars_url(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read()).get("results") or []


if __name__ == "__main__":
    unittest.main()
