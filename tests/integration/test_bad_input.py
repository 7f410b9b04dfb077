"""Bad input gets one clear line and nothing else is lost: malformed bars
on the bus, a strategy that fails for one symbol, broken strategy files,
bad flags, malformed signals at a sink, bad requests at a feeder."""
import math
import os
import time
import unittest

import msgpack

import lt


def engine_args(ws, fake, strategy, symbols, *extra):
    return ("--strategy", strategy, "--symbols", symbols,
            "--sub", fake.bars_ep, "--history", fake.hist_ep,
            "--pub", ws.ep("sig"), "--rep", ws.ep("rep")) + extra


class EngineBadBars(lt.WorkspaceTest):
    def setUp(self):
        super().setUp()
        self.fake = lt.FakeFeeder(self.ws, {"AAPL": [], "MSFT": []})

    def tearDown(self):
        self.fake.close()

    def test_malformed_bars_are_dropped_and_counted(self):
        ws, fake = self.ws, self.fake
        sink = ws.start("sink", "livetrade-sink", "file", "--path",
                        ws.path("sig.jsonl"), "--sub", ws.ep("sig"))
        eng = ws.start("engine", "livetrade-engine", *engine_args(
            ws, fake, "strategies/sma_cross.lua", "AAPL,MSFT",
            "--wait-subscribers", "1"))
        fake.wait_subscribed(["bar|AAPL|", "bar|MSFT|"])
        lt.wait_until(lambda: all(s["live"] for s in
                                  (lt.status(ws.ep("rep")) or
                                   {"symbols": [{"live": 0}]})["symbols"]),
                      what="the engine to go live")
        good = lt.make_bars("AAPL", 60)
        bad_bodies = [
            b"not msgpack at all",
            msgpack.packb([1, 2, 3]),                       # not a map
            msgpack.packb({"ver": 1, "sym": "AAPL"}),       # keys missing
            msgpack.packb(dict(good[0], c="high")),         # wrong type
            msgpack.packb(dict(good[0], c=math.nan)),       # NaN
            msgpack.packb(dict(good[0], o=-5.0)),           # negative
            msgpack.packb(dict(good[0], h=90.0, l=110.0)),  # high < low
            msgpack.packb(dict(good[0], ver=7)),            # unknown version
            msgpack.packb(dict(good[0], sym="MSFT")),       # wrong topic
        ]
        for _ in range(5):
            for body in bad_bodies:
                fake.send(b"bar|AAPL|", body)
        fake.send(b"bar|AAPL|")                              # one frame
        fake.send(b"bar|AAPL|", msgpack.packb(good[0]), b"extra")
        for b in good[:40]:
            fake.send_bar(b)
        fake.send_bar(dict(good[10], seq=41))                # older bar
        for b in good[40:]:
            fake.send_bar(dict(b, seq=b["seq"] + 1))
        st = lt.wait_until(
            lambda: (lambda s: s if s and s["symbols"][0]["bars"] == 60
                     else None)(lt.status(ws.ep("rep"))),
            what="the engine to take the 60 good bars")
        self.assertTrue(eng.alive())
        self.assertEqual(st["bad"], 5 * len(bad_bodies) + 2)
        self.assertEqual(st["old"], 1)
        want = lt.sma_cross_calls(good)
        self.assertGreater(len(want), 0)
        lt.wait_until(lambda: len(lt.read_jsonl(ws.path("sig.jsonl")))
                      >= len(want), what="the signals")
        got = {x["bar_ts"]: x["action"]
               for x in lt.read_jsonl(ws.path("sig.jsonl"))}
        self.assertEqual(got, want)
        log = eng.stderr()
        self.assertIn("bad bar on bar|AAPL|", log)
        self.assertIn("not newer than the last one", log)
        # Rate limited: far fewer lines than bad messages.
        self.assertLess(log.count("bad bar"), 10)
        self.assertEqual(eng.stop(), 0)
        self.assertEqual(sink.stop(), 0)

    def test_error_in_next_disables_one_symbol_only(self):
        ws, fake = self.ws, self.fake
        fake.history = {"GOOD": [], "BAD": []}
        path = ws.path("flaky.lua")
        with open(path, "w") as f:
            f.write("local S = Strategy{}\n"
                    "function S:next()\n"
                    "  if self.symbol == 'BAD' and #self.data == 5 then\n"
                    "    error('no data for ' .. self.symbol)\n"
                    "  end\n"
                    "  self:buy()\n"
                    "end\n"
                    "return S\n")
        sink = ws.start("sink", "livetrade-sink", "file", "--path",
                        ws.path("sig.jsonl"), "--sub", ws.ep("sig"))
        eng = ws.start("engine", "livetrade-engine", *engine_args(
            ws, fake, path, "GOOD,BAD", "--wait-subscribers", "1"))
        fake.wait_subscribed(["bar|GOOD|", "bar|BAD|"])
        lt.wait_until(lambda: all(s["live"] for s in
                                  (lt.status(ws.ep("rep")) or
                                   {"symbols": [{"live": 0}]})["symbols"]),
                      what="the engine to go live")
        for i in range(10):
            for sym in ("GOOD", "BAD"):
                fake.send_bar(lt.make_bars(sym, 10)[i])
        st = lt.wait_until(
            lambda: (lambda s: s if s and all(x["bars"] == 10 for x in
                                              s["symbols"]) else None)(
                lt.status(ws.ep("rep"))), what="all bars taken")
        by = {x["sym"]: x for x in st["symbols"]}
        self.assertEqual(by["GOOD"]["signals"], 9)      # bars 1..9
        self.assertEqual(by["BAD"]["signals"], 3)       # bars 1..3
        self.assertIn(path + ":4: no data for BAD", by["BAD"]["error"])
        self.assertEqual(by["GOOD"]["error"], "")
        self.assertIn("BAD: strategy disabled: " + path + ":4:", eng.stderr())
        lt.wait_until(lambda: len(lt.read_jsonl(ws.path("sig.jsonl"))) >= 12,
                      what="the signals in the file")
        self.assertTrue(eng.alive())
        self.assertEqual(eng.stop(), 0)
        self.assertEqual(sink.stop(), 0)


class StartupErrors(lt.WorkspaceTest):
    def strategy(self, name, text):
        return self.ws.write(name, text)

    def engine(self, *args):
        return lt.run("livetrade-engine", "--sub", self.ws.ep("b"),
                      "--history", self.ws.ep("h"), "--pub",
                      self.ws.ep("s"), "--rep", self.ws.ep("r"), *args)

    def one_line(self, err):
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, err)
        return lines[0]

    def test_strategy_file_errors(self):
        missing = self.ws.path("missing.lua")
        rc, _, err = self.engine("--strategy", missing)
        self.assertNotEqual(rc, 0)
        self.assertIn(missing, self.one_line(err))

        syntax = self.strategy("syntax.lua", "local S = Strategy{}\n"
                               "function S:next(\nreturn S\n")
        rc, _, err = self.engine("--strategy", syntax)
        self.assertNotEqual(rc, 0)
        self.assertIn(syntax + ":3:", self.one_line(err))

        init = self.strategy("init.lua", "local S = Strategy{}\n"
                             "function S:init()\n"
                             "  self.x = self:I(SMA, self.data.Close, 0)\n"
                             "end\nreturn S\n")
        rc, _, err = self.engine("--strategy", init)
        self.assertNotEqual(rc, 0)
        line = self.one_line(err)
        self.assertIn(init + ":3:", line)
        self.assertIn("SMA", line)

        noreturn = self.strategy("noreturn.lua", "local S = Strategy{}\n")
        rc, _, err = self.engine("--strategy", noreturn)
        self.assertNotEqual(rc, 0)
        self.assertIn("must return its strategy", self.one_line(err))

    def test_bad_flags_exit_2(self):
        cases = [
            ("livetrade-engine", ["--strategy", "strategies/sma_cross.lua",
                                  "--param", "n3=5"], "unknown strategy "
                                                      "parameter 'n3'"),
            ("livetrade-engine", ["--strategy", "strategies/sma_cross.lua",
                                  "--param", "n1=fast"], "expects a number"),
            ("livetrade-engine", ["--strategy", "strategies/sma_cross.lua",
                                  "--lookback", "zero"], "--lookback"),
            ("livetrade-engine", ["--strategy", "strategies/sma_cross.lua",
                                  "--symbols", "AAPL|X"], "invalid symbol"),
            ("livetrade-engine", ["--frobnicate"], "unknown flag"),
            ("livetrade-engine", [], "--strategy"),
            ("livetrade-feeder", ["--source", "nyse"], "nyse"),
            ("livetrade-feeder", ["--interval", "soon"], "soon"),
            ("livetrade-feeder", ["--symbols", "A B"], "A B"),
            ("livetrade-sink", [], ""),
            ("livetrade-sink", ["bogus"], "bogus"),
            ("livetrade-sink", ["file"], "--path"),
            ("livetrade-sink", ["console", "--colour"], "--colour"),
            ("livetrade", ["fly"], "fly"),
            ("livetrade", ["run", "--duration", "-1"], "duration"),
            ("livetrade", ["run", "--data-source", "nyse"], "nyse"),
            ("livetrade", ["run", "--strategy", "nope.lua"], "nope.lua"),
            ("livetrade", ["run", "--rate", "5"], "--data-source polygon"),
            ("livetrade", ["run", "--market", "crypto"],
             "--data-source polygon"),
            ("livetrade-feeder", ["--source", "polygon",
                                  "--history-concurrency", "0"],
             "--history-concurrency must be between 1 and 64"),
            ("livetrade-engine", ["--strategy", "strategies/sma_cross.lua",
                                  "--keep-bars", "-3"], "--keep-bars"),
        ]
        for prog, args, text in cases:
            rc, _, err = lt.run(prog, *args)
            self.assertEqual(rc, 2, "%s %s: %s" % (prog, args, err))
            line = self.one_line(err)
            self.assertIn(text, line, "%s %s" % (prog, args))

    def test_repeated_symbol_refused_everywhere(self):
        """One rule for --symbols in every program: a symbol listed twice
        is a bad flag (exit 2) naming it, never dropped or kept twice."""
        goog = os.path.join(lt.ROOT, "..", "shared", "data", "GOOG.csv")
        cases = [
            ("livetrade-feeder", ["--symbols", "AAPL,MSFT,AAPL",
                                  "--pub", self.ws.ep("bars"),
                                  "--rep", self.ws.ep("hist"),
                                  "--interval", "0", "--history", "0",
                                  "--count", "1", "--exit-when-done"]),
            ("livetrade-sink", ["console", "--symbols", "AAPL, AAPL",
                                "--sub", self.ws.ep("sig"),
                                "--replay", "", "--state", ""]),
            ("livetrade-engine", ["--strategy", "strategies/sma_cross.lua",
                                  "--symbols", "AAPL,AAPL"]),
            ("livetrade", ["run", "--symbols", "AAPL,AAPL"]),
            ("livetrade", ["backtest", "--strategy",
                           "strategies/sma_cross.lua", "--data", goog,
                           "--symbols", "AAPL,AAPL"]),
        ]
        for prog, args in cases:
            rc, _, err = lt.run(prog, *args, timeout=60)
            self.assertEqual(rc, 2, "%s %s: %s" % (prog, args, err))
            line = self.one_line(err)
            self.assertIn("AAPL is listed twice", line, prog)

    def test_help_exits_0(self):
        for prog in ("livetrade-engine", "livetrade-feeder",
                     "livetrade-sink", "livetrade"):
            rc, out, _ = lt.run(prog, "--help")
            self.assertEqual(rc, 0, prog)
            self.assertIn("usage", out.lower())


class SinkBadSignals(unittest.TestCase):
    def test_malformed_and_duplicate_signals(self):
        import zmq
        ws = lt.Workspace()
        pub = lt.CTX.socket(zmq.XPUB)
        pub.setsockopt(zmq.XPUB_VERBOSE, 1)
        try:
            pub.bind(ws.ep("sig"))
            sink = ws.start("sink", "livetrade-sink", "file", "--path",
                            ws.path("out.jsonl"), "--sub", ws.ep("sig"))
            self.assertTrue(pub.poll(10000), "the sink never subscribed")
            self.assertEqual(pub.recv()[:1], b"\x01")

            def sig(seq, t, act="buy", **kw):
                d = {"ver": 1, "id": "%016x" % (1000 + seq), "eng": "e1",
                     "strat": "s", "sym": "AAPL", "act": act, "t": t,
                     "ord": 0, "px": 10.5, "size": None, "conf": 0.7,
                     "ind": {"a": 1.0}, "seq": seq, "pub": 5, "ts": 1}
                d.update(kw)
                return msgpack.packb(d)
            pub.send_multipart([b"sig|AAPL|", sig(1, 1000)])
            pub.send_multipart([b"sig|AAPL|", b"\xc1garbage"])
            pub.send_multipart([b"sig|AAPL|", sig(2, 2000, act="hold")])
            pub.send_multipart([b"sig|AAPL|", sig(3, 3000, px="x")])
            pub.send_multipart([b"sig|AAPL|", sig(4, 4000, sym="MSFT")])
            pub.send_multipart([b"sig|AAPL|"])
            pub.send_multipart([b"sig|AAPL|", sig(5, 5000, act="sell")])
            pub.send_multipart([b"sig|AAPL|", sig(5, 5000, act="sell")])
            pub.send_multipart([b"sig|AAPL|", sig(6, 6000, act="close")])
            lt.wait_until(lambda: len(lt.read_jsonl(ws.path("out.jsonl")))
                          >= 3, what="three good signals")
            self.assertTrue(sink.alive())
            self.assertEqual(sink.stop(), 0)
            got = lt.read_jsonl(ws.path("out.jsonl"))
            self.assertEqual([(g["seq"], g["action"]) for g in got],
                             [(1, "buy"), (5, "sell"), (6, "close")])
            log = sink.stderr()
            self.assertIn("duplicates 1", log)
        finally:
            pub.close(0)
            ws.close()


class FeederBadRequests(unittest.TestCase):
    def test_bad_requests_get_errors(self):
        import zmq
        with lt.Workspace() as ws:
            feeder = ws.start("feeder", "livetrade-feeder", "--symbols",
                              "AAPL", "--history", "50", "--interval", "10",
                              "--pub", ws.ep("bars"), "--rep", ws.ep("rep"))
            st = lt.wait_until(lambda: lt.status(ws.ep("rep")),
                               what="the feeder to answer")
            self.assertEqual(st["type"], "status")
            s = lt.CTX.socket(zmq.REQ)
            s.setsockopt(zmq.LINGER, 0)
            s.connect(ws.ep("rep"))
            for body in (b"junk", msgpack.packb([1]),
                         msgpack.packb({"ver": 1, "type": "dance"}),
                         msgpack.packb({"ver": 1, "type": "history",
                                        "sym": "ZZZ", "n": 5}),
                         msgpack.packb({"ver": 1, "type": "history",
                                        "sym": "AAPL", "n": "five"})):
                s.send(body)
                self.assertTrue(s.poll(5000))
                r = msgpack.unpackb(s.recv(), raw=False)
                self.assertEqual(r["type"], "error", body)
                self.assertTrue(r["error"])
            s.close()
            h = lt.history(ws.ep("rep"), "AAPL", 10)
            self.assertEqual(len(h["bars"]), 10)
            self.assertTrue(feeder.alive())
            self.assertEqual(feeder.stop(), 0)


if __name__ == "__main__":
    unittest.main()
