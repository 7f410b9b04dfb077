"""`livetrade backtest` reproduces a real backtesting.py 0.6.6 result
(../shared/reference/): the calls exactly, the trades exactly, prices to
1e-9 relative, every statistic to 1e-6 relative."""
import csv
import json
import math
import os
import unittest

import lt

SHARED = os.path.join(lt.ROOT, "..", "shared")
REFERENCE = os.path.join(SHARED, "reference")

# reference run -> (strategy file, data file, extra flags)
RUNS = {
    "sma_cross_close__GOOG": ("strategies/sma_cross_close.lua", "GOOG.csv",
                              []),
}


def close(a, b, rel):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and math.isnan(a):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


@unittest.skipUnless(os.path.isdir(REFERENCE),
                     "skipped: ../shared/reference not found beside the "
                     "repository")
class Reference(unittest.TestCase):
    def run_backtest(self, name):
        strategy, data, flags = RUNS[name]
        ws = lt.Workspace()
        self.addCleanup(ws.close)
        out = {k: ws.path(k) for k in ("sig.jsonl", "trades.csv",
                                      "equity.csv", "stats.json")}
        rc, stdout, err = lt.run(
            "livetrade", "backtest", "--strategy", strategy,
            "--data", os.path.join(SHARED, "data", data),
            "--signals", out["sig.jsonl"], "--trades-csv", out["trades.csv"],
            "--equity-csv", out["equity.csv"],
            "--stats-json", out["stats.json"], *flags, timeout=120)
        self.assertEqual(rc, 0, err)
        with open(os.path.join(REFERENCE, name + ".json")) as f:
            ref = json.load(f)
        with open(out["trades.csv"]) as f:
            trades = list(csv.DictReader(f))
        with open(out["equity.csv"]) as f:
            equity = list(csv.DictReader(f))
        with open(out["stats.json"]) as f:
            stats = json.load(f)
        return ref, lt.read_jsonl(out["sig.jsonl"]), trades, equity, \
            stats, stdout, err

    def test_sma_cross_close_goog(self):
        ref, calls, trades, equity, stats, stdout, err = \
            self.run_backtest("sma_cross_close__GOOG")

        # Every call, in order: bar, kind, ordinal, arguments.
        self.assertEqual(len(calls), len(ref["calls"]))
        for got, want in zip(calls, ref["calls"]):
            self.assertEqual(got["bar_ts"], want["time_ms"])
            self.assertEqual(got["action"], want["kind"])
            self.assertEqual(got["ordinal"], want["ordinal"])
            if want["kind"] == "close":
                self.assertEqual(got["size"], want["args"]["portion"])
            else:
                args = want["args"]
                self.assertEqual(got["size"], args["size"])
                for k in ("limit", "stop", "sl", "tp", "tag"):
                    self.assertEqual(got.get(k), args[k], k)
            self.assertTrue(close(got["indicators"]["sma1"],
                                  want["indicators"]["sma1"], 1e-9))
            self.assertTrue(close(got["indicators"]["sma2"],
                                  want["indicators"]["sma2"], 1e-9))

        # Every closed trade: sizes and bars exactly, prices to 1e-9.
        self.assertEqual(len(trades), len(ref["trades"]))
        for got, want in zip(trades, ref["trades"]):
            self.assertEqual(float(got["Size"]), want["size"])
            self.assertEqual(int(got["EntryBar"]), want["entry_bar"])
            self.assertEqual(int(got["ExitBar"]), want["exit_bar"])
            for k, r in (("EntryPrice", "entry_price"),
                         ("ExitPrice", "exit_price"), ("PnL", "pnl")):
                self.assertTrue(close(float(got[k]), want[r], 1e-9),
                                (k, got[k], want[r]))
            self.assertTrue(close(float(got["ReturnPct"]),
                                  want["return_pct"] / 100, 1e-9))
            for k in ("sl", "tp"):
                self.assertEqual(got[k.upper()], "" if want[k] is None else
                                 repr(float(want[k])), k)
            self.assertEqual(got["EntryTime"][:19], want["entry_time"])
            self.assertEqual(got["ExitTime"][:19], want["exit_time"])

        # The equity curve, bar by bar.
        self.assertEqual(len(equity), len(ref["equity"]))
        for got, want in zip(equity, ref["equity"]):
            self.assertTrue(close(float(got["Equity"]), want, 1e-9))

        # Every statistic.
        for key, want in ref["stats_all"].items():
            self.assertIn(key, stats)
            got = stats[key]
            if isinstance(want, str) or isinstance(got, str):
                self.assertEqual(got, want, key)
            elif isinstance(want, int) and not isinstance(want, bool):
                self.assertEqual(got, want, key)
            else:
                self.assertTrue(close(got, want, 1e-6), (key, got, want))
        self.assertEqual(list(stats)[:len(ref["stats_all"])],
                         [k for k in ref["stats_all"]])

        # The printed table and backtesting.py's warning.
        self.assertIn("Sharpe Ratio", stdout)
        self.assertIn("Some trades remain open", err)


if __name__ == "__main__":
    unittest.main()
