"""Any number of symbols, and the whole market with --symbols '*': a
polygon feeder with '*' subscribes AM.* and publishes every ticker the
mock sends, tickers that appear later included, serving their history
and counting them in its status; a long list is subscribed in several
messages; an engine with '*' (whole, and in shards) runs a strategy for
each symbol it sees, every symbol in exactly one shard; a demo feeder
and an engine carry a list of 12,000 symbols."""
import os
import subprocess
import unittest

import msgpack
import zmq

import lt

from test_polygon_feeder import MockCase

KEY = "test-key-wild"
MIN = 60000


def fnv1a(s):
    h = 0xcbf29ce484222325
    for c in s.encode():
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


class AllBars:
    """A SUB socket on every bar ("bar|" prefix) of a feeder."""

    def __init__(self, endpoint):
        self.s = lt.CTX.socket(zmq.SUB)
        self.s.setsockopt(zmq.LINGER, 0)
        self.s.setsockopt(zmq.RCVHWM, 0)
        self.s.connect(endpoint)
        self.s.setsockopt(zmq.SUBSCRIBE, b"bar|")
        self.s.setsockopt(zmq.SUBSCRIBE, b"hb|")
        self.bars = {}
        self.hb = 0

    def pump(self, timeout_ms=50):
        for _ in range(100000):     # bounded: a pass takes what is there
            if not self.s.poll(timeout_ms):
                break
            topic, body = self.s.recv_multipart()
            if topic == b"hb|":
                self.hb += 1
            else:
                b = msgpack.unpackb(body, raw=False)
                self.assertion(topic, b)
                self.bars.setdefault(b["sym"], []).append(b)
            timeout_ms = 0
        return self

    @staticmethod
    def assertion(topic, b):
        if topic != ("bar|%s|" % b["sym"]).encode():
            raise AssertionError("bar of %s on %r" % (b["sym"], topic))

    def close(self):
        self.s.close()


class Wildcard(MockCase):
    def polygon_feeder(self, name, m, symbols, *extra):
        env = dict(os.environ)
        env.pop("MASSIVE_API_KEY", None)
        env["POLYGON_API_KEY"] = KEY
        log = open(self.ws.path(name + ".log"), "wb")
        self.addCleanup(log.close)
        args = [os.path.join(lt.BIN, "livetrade-feeder"), "--source",
                "polygon", "--symbols", symbols, "--timeframe", "60",
                "--rest-url", m.rest_url, "--ws-url", m.ws_url + "/stocks",
                "--market-hours", "always", "--cache-dir", "",
                "--pub", self.ws.ep(name + "-pub"),
                "--rep", self.ws.ep(name + "-rep")] + list(extra)
        p = subprocess.Popen(args, env=env, cwd=self.ws.dir,
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=log)
        self.addCleanup(self._kill, p)
        return p

    @staticmethod
    def _kill(p):
        if p.poll() is None:
            p.kill()
            p.wait()

    def stop(self, p, name):
        p.terminate()
        code = p.wait(15)
        with open(self.ws.path(name + ".log"), errors="replace") as f:
            err = f.read()
        self.assertEqual(code, 0, err)
        return err

    def subscribes(self, m):
        return [e["params"] for e in m.log()["ws"]
                if e["event"] == "action" and e.get("action") == "subscribe"]

    def test_polygon_every_symbol_and_those_that_come_later(self):
        first = ["AAPL", "MSFT", "BRK.B"]
        later = ["NEWCO", "ZZZ-W", "AB:C"]
        m = self.mock({
            "api_keys": [KEY],
            "dataset": {"symbols": {s: 100.0 for s in first},
                        "start": "now-240m", "end": "now+240m"},
            "ws": {"live_start": "now+5m", "sessions": [
                {"name": "one", "steps": []}]}})
        live_t = m.live_t
        p = self.polygon_feeder("wf", m, "*", "--history", "0")
        bus = AllBars(self.ws.ep("wf-pub"))
        try:
            lt.wait_until(lambda: bus.pump().hb > 0, 20, "a heartbeat")
            lt.wait_until(lambda: self.subscribes(m), 20, "the subscription")
            m.steps([{"bars": {"ev": "AM", "count": 2, "per_frame": 4}}])
            lt.wait_until(lambda: all(
                len(bus.pump().bars.get(s, [])) == 2 for s in first), 30,
                "two bars of each first symbol")
            self.assertEqual(self.subscribes(m), ["AM.*"])
            # Tickers the feed starts sending later, beside the others.
            m.steps([{"bars": {"ev": "AM", "count": 3, "per_frame": 5,
                               "syms": first + later}}])
            lt.wait_until(lambda: all(
                len(bus.pump().bars.get(s, [])) == 5 for s in first) and all(
                len(bus.bars.get(s, [])) == 3 for s in later), 30,
                "the later bars of every symbol")
            bus.pump(200)
            self.assertEqual(sorted(bus.bars), sorted(first + later))
            for s in first:
                self.assertEqual([b["t"] for b in bus.bars[s]],
                                 [live_t + k * MIN for k in range(5)])
            for s in later:
                self.assertEqual([b["t"] for b in bus.bars[s]],
                                 [live_t + k * MIN for k in range(2, 5)])
                self.assertEqual([b["seq"] for b in bus.bars[s]], [1, 2, 3])
                # The new symbol's history is served like a listed one's.
                h = lt.history(self.ws.ep("wf-rep"), s, 10)
                self.assertEqual(h["type"], "history", h)
                self.assertEqual([b["t"] for b in h["bars"]],
                                 [b["t"] for b in bus.bars[s]])
            st = lt.status(self.ws.ep("wf-rep"))
            self.assertEqual(st["known"], len(first) + len(later))
            self.assertEqual(sorted(x["sym"] for x in st["symbols"]),
                             sorted(first + later))
            self.assertEqual(st["new_symbols"], len(first) + len(later))
        finally:
            bus.close()
        err = self.stop(p, "wf")
        self.assertIn("AM.* (every symbol", err)

    def test_polygon_every_symbol_with_history(self):
        """With --history N a ticker the feed brings is warmed up from REST
        as a listed one: its history is served before its live bars, which
        wait for it."""
        later = ["NEWCO", "ZZZ-W"]
        m = self.mock({
            "api_keys": [KEY],
            "dataset": {"symbols": {"AAPL": 100.0},
                        "start": "now-240m", "end": "now+240m"},
            "ws": {"live_start": "now+1m", "sessions": [
                {"name": "one", "steps": []}]}})
        live_t = m.live_t
        p = self.polygon_feeder("wh", m, "*", "--history", "5")
        bus = AllBars(self.ws.ep("wh-pub"))
        try:
            lt.wait_until(lambda: bus.pump().hb > 0, 20, "a heartbeat")
            lt.wait_until(lambda: self.subscribes(m), 20, "the subscription")
            m.steps([{"bars": {"ev": "AM", "count": 3, "per_frame": 5,
                               "syms": later}}])
            lt.wait_until(lambda: all(
                bus.pump().bars.get(s) and bus.bars[s][-1]["t"] ==
                live_t + 2 * MIN for s in later), 30,
                "the live bars of the new symbols")
            bus.pump(200)
            for s in later:
                ts = [b["t"] for b in bus.bars[s]]
                self.assertEqual(ts, sorted(set(ts)), s)
                h = lt.history(self.ws.ep("wh-rep"), s, 100)
                hts = [b["t"] for b in h["bars"]]
                # Five bars of history before the first live one, then
                # every bar published, once each and in order.
                self.assertGreaterEqual(len(hts), 5 + 3, s)
                self.assertEqual(hts, sorted(set(hts)), s)
                self.assertEqual(hts[-len(ts):], ts, s)
                self.assertLess(hts[0], live_t, s)
            tickers = {e["path"].split("/")[4] for e in m.log()["rest"]
                       if e["path"].startswith("/v2/aggs/")}
            self.assertLessEqual(set(later), tickers)
        finally:
            bus.close()
        self.stop(p, "wh")

    def test_polygon_long_list_in_several_subscribe_messages(self):
        syms = ["S%05d" % i for i in range(12000)] + ["AAPL"]
        m = self.mock({
            "api_keys": [KEY],
            "dataset": {"symbols": {"AAPL": 100.0},
                        "start": "now-240m", "end": "now+240m"},
            "ws": {"live_start": "now+5m", "sessions": [
                {"name": "one", "steps": [
                    {"wait_subscribed": ["AM.AAPL", "AM.S00000",
                                         "AM.S11999"], "timeout_ms": 30000},
                    {"bars": {"ev": "AM", "count": 1, "syms": ["AAPL"]}}]}]}})
        p = self.polygon_feeder("wl", m, ",".join(syms), "--history", "0")
        bus = AllBars(self.ws.ep("wl-pub"))
        try:
            lt.wait_until(lambda: bus.pump().bars.get("AAPL"), 60,
                          "the bar of AAPL")
            subs = self.subscribes(m)
            self.assertGreater(len(subs), 1, "one message per 64 KiB")
            for params in subs:
                self.assertLessEqual(len(params), 64 * 1024 + 40)
            topics = ",".join(subs).split(",")
            self.assertEqual(topics, ["AM." + s for s in syms])
        finally:
            bus.close()
        self.stop(p, "wl")

    def engine(self, name, symbols, *extra):
        ws = self.ws
        return ws.start(name, "livetrade-engine",
                        "--strategy", "strategies/sma_cross.lua",
                        "--symbols", symbols, "--sub", ws.ep("bars"),
                        "--history", ws.ep("hist"),
                        "--pub", ws.ep(name + "-sig"),
                        "--rep", ws.ep(name + "-rep"), "--summary", "0",
                        *extra)

    def engine_done(self, name, syms, last_t):
        st = lt.status(self.ws.ep(name + "-rep"))
        if st and len(st["symbols"]) == len(syms) and all(
                s["live"] and s["last_t"] == last_t for s in st["symbols"]):
            return st
        return None

    def test_engine_every_symbol_whole_and_in_shards(self):
        ws = self.ws
        syms = ["AAPL", "MSFT", "GOOG", "NVDA", "META", "QQQ", "BRK.B",
                "SPY"]
        start, history, count = 1767225600000, 300, 150
        procs = [self.engine("all", "*"),
                 self.engine("s0", "*", "--shard", "0/2"),
                 self.engine("s1", "*", "--shard", "1/2")]
        # Each engine subscribes to every bar once ("bar|").
        procs.append(ws.start(
            "feeder", "livetrade-feeder", "--source", "demo", "--symbols",
            ",".join(syms), "--seed", "7", "--start", str(start),
            "--history", str(history), "--count", str(count), "--interval",
            "0.05", "--wait-subscribers", "3", "--pub", ws.ep("bars"),
            "--rep", ws.ep("hist")))
        last_t = start + (history + count - 1) * MIN
        shard = {s: fnv1a(s) % 2 for s in syms}
        want = {"all": syms, "s0": [s for s in syms if shard[s] == 0],
                "s1": [s for s in syms if shard[s] == 1]}
        self.assertTrue(want["s0"] and want["s1"])
        st = {n: lt.wait_until(lambda n=n: self.engine_done(
            n, want[n], last_t), 90, n + " to take every bar")
            for n in want}
        # Every symbol in exactly one shard, each warmed up from history
        # and run live.
        for n in want:
            self.assertEqual(sorted(s["sym"] for s in st[n]["symbols"]),
                             sorted(want[n]))
            for s in st[n]["symbols"]:
                self.assertGreaterEqual(s["warm_bars"], st[n]["lookback"], s)
                self.assertGreater(s["signals"], 0, (n, s))
        self.assertTrue(st["s0"]["id"].endswith("-s0of2"))
        # The signals of the two shards are the whole engine's, from the
        # bar where every engine had every symbol live on.
        cut = max(s["first_live_t"] for n in st
                  for s in st[n]["symbols"])

        def signals(name):
            r = lt.request(ws.ep(name + "-rep"), {"ver": 1,
                           "type": "replay", "after": 0})
            return sorted((x["sym"], x["t"], x["act"]) for x in
                          r["signals"] if x["t"] > cut)
        whole = signals("all")
        self.assertGreater(len(whole), 10)
        self.assertEqual(sorted(signals("s0") + signals("s1")), whole)
        for p in procs:
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])

    def test_demo_feeder_and_engine_with_12000_symbols(self):
        ws = self.ws
        n, start, history, count = 12000, 1767225600000, 30, 3
        syms = ["W%05d" % i for i in range(n)]
        # Lua memory: --memory-mb is shared among the symbols, at least
        # 1 MiB each (a strategy like this uses far less).
        eng = self.engine("big", ",".join(syms), "--memory-mb", "16384")
        feeder = ws.start(
            "feeder", "livetrade-feeder", "--source", "demo", "--symbols",
            ",".join(syms), "--start", str(start), "--history",
            str(history), "--count", str(count), "--interval", "0.5",
            "--wait-subscribers", str(n), "--pub", ws.ep("bars"),
            "--rep", ws.ep("hist"))
        last_t = start + (history + count - 1) * MIN
        st = lt.wait_until(lambda: self.engine_done("big", syms, last_t),
                           180, "the engine to take every bar", 0.5)
        self.assertEqual(sorted(s["sym"] for s in st["symbols"]), syms)
        self.assertEqual(st["bars_in"], n * count)
        fst = lt.status(ws.ep("hist"))
        self.assertEqual(fst["known"], n)
        self.assertEqual(fst["bars_published"], n * count)
        # livetrade status shows a few rows and says how many more.
        code, out, err = lt.run("livetrade", "status", "--endpoints",
                                ws.ep("hist") + "," + ws.ep("big-rep"),
                                "--rows", "3", "--timeout", "5000")
        self.assertEqual(code, 0, err)
        self.assertIn("known %d" % n, out)
        self.assertEqual(out.count("... %d more symbol(s)" % (n - 3)), 2,
                         out)
        for p in (eng, feeder):
            self.assertEqual(p.stop(30), 0, p.stderr()[-2000:])

    def test_dashboard_charts_a_subset_and_says_which(self):
        import asyncio
        import json
        import time
        import websockets
        ws, port = self.ws, lt.free_port()
        syms = ["D%03d" % i for i in range(600)]
        web = ws.start("web", "livetrade-sink", "web", "--listen",
                       "127.0.0.1:%d" % port, "--sub", ws.ep("sig"),
                       "--bars", ws.ep("bars"), "--history", ws.ep("hist"),
                       "--status", "")
        ws.start("feeder", "livetrade-feeder", "--source", "demo",
                 "--symbols", ",".join(syms), "--history", "2", "--count",
                 "2", "--interval", "0.2", "--wait-subscribers", "1",
                 "--pub", ws.ep("bars"), "--rep", ws.ep("hist"))
        line = lt.wait_until(lambda: [
            ln for ln in web.stderr().splitlines()
            if "charting the first 512 symbols seen" in ln], 60,
            "the line that says which symbols are charted")
        self.assertIn("(D000 to D511 ...)", line[0])

        async def status():
            url = "ws://127.0.0.1:%d/ws" % port
            async with websockets.connect(url, max_size=None) as c:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    m = json.loads(await asyncio.wait_for(c.recv(), 30))
                    k = m.get("sink") or {}
                    if m["type"] == "status" and k["bars"] == 2 * 512:
                        return k
            raise AssertionError("no status with every bar: %s" % k)
        sk = asyncio.run(status())
        self.assertEqual(sk["chart_limit"], 512)
        self.assertEqual(sk["symbols"], 512)
        self.assertEqual(sk["bars"], 2 * 512)
        self.assertGreaterEqual(sk["not_charted"], 2 * (len(syms) - 512))
        self.assertEqual(web.stop(), 0)

    def test_pull_sources_need_a_list(self):
        code, _, err = lt.run("livetrade-feeder", "--source", "demo",
                              "--symbols", "*")
        self.assertEqual(code, 2, err)
        self.assertIn("--symbols '*' needs a source that brings its "
                      "symbols (polygon)", err)


if __name__ == "__main__":
    unittest.main()
