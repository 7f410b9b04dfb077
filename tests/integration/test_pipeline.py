"""Feeder + engine + file sink with a fixed seed: the signals are exactly
the SMA crossovers re-derived here from the feeder's own bars; an engine
started later warms up and agrees on every bar both saw; a third-party
Python reader decodes the same signals from the README's protocol. An
engine over two feeders asks each symbol's history of its own feeder
only."""
import json
import math
import os
import subprocess
import sys
import unittest

import lt

SYMS = ["AAPL", "MSFT"]
START = 1767225600000           # 2026-01-01T00:00:00Z
HISTORY = 300
COUNT = 400


class Pipeline(lt.WorkspaceTest):
    def engine(self, name, *extra):
        ws = self.ws
        return ws.start(name, "livetrade-engine",
                        "--strategy", "strategies/sma_cross.lua",
                        "--symbols", ",".join(SYMS),
                        "--sub", ws.ep("bars"), "--history", ws.ep("hist"),
                        "--pub", ws.ep(name + "-sig"),
                        "--rep", ws.ep(name + "-rep"), *extra)

    def sink(self, name, engine_name):
        return self.ws.start(name, "livetrade-sink", "file",
                             "--path", self.ws.path(name + ".jsonl"),
                             "--sub", self.ws.ep(engine_name + "-sig"))

    def engine_done(self, name, last_t):
        st = lt.status(self.ws.ep(name + "-rep"))
        if not st:
            return None
        if all(s["live"] and s["last_t"] == last_t[s["sym"]]
               for s in st["symbols"]):
            return st
        return None

    def test_signals_match_and_late_engine_agrees(self):
        ws = self.ws
        sink1 = self.sink("sink1", "eng1")
        reader_out = open(ws.path("reader.jsonl"), "w")
        reader = subprocess.Popen(
            [sys.executable, os.path.join(os.path.dirname(__file__),
                                          "reader.py"), ws.ep("eng1-sig")],
            stdout=reader_out, stderr=subprocess.DEVNULL, text=True)
        try:
            self._run(sink1, reader, reader_out)
        finally:
            reader.kill()
            reader.wait()
            reader_out.close()

    def _run(self, sink1, reader, reader_out):
        ws = self.ws
        # The engine goes live only once the sink and the reader listen.
        eng1 = self.engine("eng1", "--wait-subscribers", "2")
        lt.wait_until(lambda: os.path.getsize(ws.path("reader.jsonl")) > 0,
                      what="the reader to start")
        feeder = ws.start("feeder", "livetrade-feeder", "--source", "demo",
                          "--symbols", ",".join(SYMS), "--seed", "7",
                          "--start", str(START), "--history", str(HISTORY),
                          "--count", str(COUNT), "--interval", "0.02",
                          "--pub", ws.ep("bars"), "--rep", ws.ep("hist"))
        # A second engine joins while the feed is running.
        lt.wait_until(lambda: (lt.status(ws.ep("hist")) or {}).get(
            "bars_published", 0) >= 150 * len(SYMS),
            what="150 live bars per symbol")
        sink2 = self.sink("sink2", "eng2")
        eng2 = self.engine("eng2", "--wait-subscribers", "1",
                           "--journal", ws.path("journal2"))

        last_t = {s: START + (HISTORY + COUNT - 1) * 60000 for s in SYMS}
        st1 = lt.wait_until(lambda: self.engine_done("eng1", last_t), 60,
                            "engine 1 to take every bar")
        st2 = lt.wait_until(lambda: self.engine_done("eng2", last_t), 60,
                            "engine 2 to take every bar")
        lt.wait_until(lambda: len(lt.read_jsonl(ws.path("sink1.jsonl")))
                      >= st1["signals"], what="sink 1 to write all signals")
        lt.wait_until(lambda: len(lt.read_jsonl(ws.path("sink2.jsonl")))
                      >= st2["signals"], what="sink 2 to write all signals")

        got1 = lt.read_jsonl(ws.path("sink1.jsonl"))
        got2 = lt.read_jsonl(ws.path("sink2.jsonl"))
        self.assertEqual(len(got1), st1["signals"])
        self.assertEqual(len(got2), st2["signals"])
        self.assertGreater(len(got1), 10)

        # The feeder's whole history, as the test's independent record.
        bars = {}
        for sym in SYMS:
            h = lt.history(ws.ep("hist"), sym, 100000)
            self.assertEqual(h["type"], "history")
            bars[sym] = h["bars"]
            self.assertEqual(len(bars[sym]), HISTORY + COUNT)
            for a, b in zip(bars[sym], bars[sym][1:]):
                self.assertEqual(b["t"] - a["t"], 60000)
                self.assertEqual(b["seq"], a["seq"] + 1)

        for st, got in ((st1, got1), (st2, got2)):
            self.assertEqual(st["bad"], 0)
            # (A gap at start-up -- bars published before the
            # subscription reached the feeder -- is filled from history.)
            # Sequence numbers run 1..N with no gap or repeat.
            self.assertEqual(sorted(s["seq"] for s in got),
                             list(range(1, len(got) + 1)))
            self.assertEqual(len({s["id"] for s in got}), len(got))
            for s in st["symbols"]:
                sym = s["sym"]
                # No gap and no overlap between history and live bars:
                # the engine holds each feeder bar from its first on once.
                held = [b for b in bars[sym] if b["t"] >= s["first_t"]]
                self.assertEqual(s["bars"], len(held))
                self.assertGreater(s["warm_bars"], 0)
                expected = {t: a for t, a in
                            lt.sma_cross_calls(bars[sym]).items()
                            if t >= s["first_live_t"]}
                actual = {x["bar_ts"]: x["action"] for x in got
                          if x["symbol"] == sym}
                self.assertEqual(actual, expected, "signals for " + sym)
                closes = {b["t"]: b["c"] for b in bars[sym]}
                idx = {b["t"]: i for i, b in enumerate(bars[sym])}
                cl = [b["c"] for b in bars[sym]]
                for x in got:
                    if x["symbol"] != sym:
                        continue
                    self.assertEqual(x["price"], closes[x["bar_ts"]])
                    self.assertTrue(0.5 <= x["confidence"] <= 1)
                    i = idx[x["bar_ts"]]
                    self.assertAlmostEqual(x["indicators"]["sma1"],
                                           lt.sma(cl, 10, i), places=9)
                    self.assertAlmostEqual(x["indicators"]["sma2"],
                                           lt.sma(cl, 20, i), places=9)

        # The late engine agrees with the first on every bar both saw:
        # same ids, actions and confidence.
        start2 = {s["sym"]: s["first_live_t"] for s in st2["symbols"]}
        self.assertTrue(all(start2[s] > START + (HISTORY + 100) * 60000
                            for s in SYMS))
        both1 = {x["id"]: (x["action"], x["bar_ts"], x["confidence"])
                 for x in got1 if x["bar_ts"] >= start2[x["symbol"]]}
        both2 = {x["id"]: (x["action"], x["bar_ts"], x["confidence"])
                 for x in got2}
        self.assertEqual(both1, both2)

        # The third-party reader decoded exactly what the file sink wrote.
        lt.wait_until(lambda: len(lt.read_jsonl(ws.path("reader.jsonl")))
                      >= len(got1) + 1, what="the reader to catch up")
        read = [x for x in lt.read_jsonl(ws.path("reader.jsonl"))
                if "ready" not in x]
        self.assertEqual([(x["id"], x["seq"], x["act"], x["px"]) for x in
                          read],
                         [(x["id"], x["seq"], x["action"], x["price"])
                          for x in got1])

        for p in (feeder, eng2, eng1, sink2, sink1):
            self.assertEqual(p.stop(), 0, p.name + ":\n" + p.stderr())

    def test_history_asked_of_the_symbols_own_feeder(self):
        ws = self.ws
        groups = [["A%d" % i for i in range(5)], ["B%d" % i for i in range(5)]]
        feeders = [ws.start("feeder%d" % k, "livetrade-feeder", "--source",
                            "demo", "--symbols", ",".join(g), "--seed", "3",
                            "--history", "100", "--interval", "5",
                            "--pub", ws.ep("bars%d" % k),
                            "--rep", ws.ep("hist%d" % k))
                   for k, g in enumerate(groups)]
        syms = groups[1] + groups[0]
        eng = ws.start("engine", "livetrade-engine", "--strategy",
                       "strategies/sma_cross.lua", "--symbols",
                       ",".join(syms), "--sub",
                       ws.ep("bars0") + "," + ws.ep("bars1"),
                       "--history", ws.ep("hist0") + "," + ws.ep("hist1"),
                       "--pub", ws.ep("sig"), "--rep", ws.ep("rep"))
        lt.wait_until(lambda: all(
            x["live"] for x in (lt.status(ws.ep("rep")) or {"symbols": [
                {"live": False}]})["symbols"]), 30, "every symbol live")
        st = lt.status(ws.ep("rep"))
        self.assertTrue(all(x["warm_bars"] > 0 for x in st["symbols"]), st)
        self.assertIn("history: 10 symbol(s) routed", eng.stderr())
        # Each feeder: one status request from the engine, one history
        # request per symbol of its own, our own status request -- and
        # none for the other feeder's symbols.
        for k in range(2):
            fst = lt.status(ws.ep("hist%d" % k))
            self.assertEqual(fst["requests"], 1 + 5 + 1, fst)
            self.assertEqual(fst["bad_requests"], 0)
        for p in [eng] + feeders:
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])


if __name__ == "__main__":
    unittest.main()
