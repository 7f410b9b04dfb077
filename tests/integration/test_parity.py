"""Backtest/live parity: the engine fed by `livetrade-feeder --source csv`
through the bus publishes exactly the signals -- same ids, actions, bars,
arguments and confidence -- that `livetrade backtest` makes on the same
file, for every example strategy."""
import os
import unittest

import lt

SHARED = os.path.join(lt.ROOT, "..", "shared")
DATA = os.path.join(SHARED, "data")
STRATEGIES = ["sma_cross", "sma_cross_close", "rsi_reversion",
              "bollinger_breakout", "macd_cross", "sma_sl_tp", "random"]
KEYS = ("id", "action", "bar_ts", "ordinal", "price", "size", "limit",
        "stop", "sl", "tp", "tag", "confidence", "indicators")


def key(sig):
    return tuple(repr(sig.get(k)) for k in KEYS)


@unittest.skipUnless(os.path.isdir(DATA), "skipped: ../shared/data not "
                     "found beside the repository")
class Parity(unittest.TestCase):
    def backtest(self, ws, strategy, data, sym):
        path = ws.path(strategy + ".bt.jsonl")
        rc, _, err = lt.run("livetrade", "backtest", "--strategy",
                            "strategies/%s.lua" % strategy, "--data", data,
                            "--symbol", sym, "--signals", path, timeout=120)
        self.assertEqual(rc, 0, err)
        return lt.read_jsonl(path)

    def live(self, ws, strategy, data, sym, nbars):
        name = strategy
        sink = ws.start(name + "-sink", "livetrade-sink", "file", "--path",
                        ws.path(name + ".live.jsonl"), "--sub",
                        ws.ep(name + "-sig"))
        eng = ws.start(name + "-engine", "livetrade-engine", "--strategy",
                       "strategies/%s.lua" % strategy, "--symbols", sym,
                       "--sub", ws.ep(name + "-bars"), "--history", "",
                       "--pub", ws.ep(name + "-sig"), "--rep",
                       ws.ep(name + "-rep"), "--wait-subscribers", "1")
        feeder = ws.start(name + "-feeder", "livetrade-feeder", "--source",
                          "csv", "--data", data, "--symbols", sym,
                          "--interval", "0", "--wait-subscribers", "1",
                          "--pub", ws.ep(name + "-bars"), "--rep",
                          ws.ep(name + "-hist"))

        def done():
            st = lt.status(ws.ep(name + "-rep"))
            return st if st and st["symbols"][0]["bars"] == nbars else None
        st = lt.wait_until(done, 60, "the engine to take every bar")
        self.assertEqual(st["gaps"], 0)
        lt.wait_until(lambda: len(lt.read_jsonl(
            ws.path(name + ".live.jsonl"))) >= st["signals"], 30,
            "the sink to write every signal")
        for p in (feeder, eng, sink):
            self.assertEqual(p.stop(), 0, p.stderr())
        return lt.read_jsonl(ws.path(name + ".live.jsonl"))

    def check(self, strategy, file, sym):
        ws = lt.Workspace()
        self.addCleanup(ws.close)
        data = os.path.join(DATA, file)
        with open(data) as f:
            nbars = sum(1 for line in f if line.strip()) - 1
        bt = self.backtest(ws, strategy, data, sym)
        live = self.live(ws, strategy, data, sym, nbars)
        self.assertGreater(len(bt), 0, strategy + " made no calls")
        self.assertEqual([key(s) for s in live], [key(s) for s in bt],
                         strategy)

    def test_goog_every_strategy(self):
        for strategy in STRATEGIES:
            with self.subTest(strategy=strategy):
                self.check(strategy, "GOOG.csv", "GOOG")

    def test_eurusd_hourly(self):
        for strategy in ("sma_cross_close", "rsi_reversion"):
            with self.subTest(strategy=strategy):
                self.check(strategy, "EURUSD.csv", "EURUSD")


if __name__ == "__main__":
    unittest.main()
