"""`livetrade backtest` on backtesting.py's GOOG.csv: the statistics table
on stdout, and output files that are well-formed and agree with each
other and with the data (the calls are the SMA crossovers re-derived here,
one equity row per bar, the last equity is "Equity Final [$]", one trades
row per "# Trades"); bad flags exit 2, missing or broken files exit 1
with one line that names them. (The comparison with a real backtesting.py
run is test_backtest_reference.py.)"""
import calendar
import csv
import json
import math
import os
import time
import unittest

import lt

SHARED = os.path.join(lt.ROOT, "..", "shared")
GOOG = os.path.join(SHARED, "data", "GOOG.csv")
STRATEGY = "strategies/sma_cross.lua"

JSON_KEYS = {"ver", "id", "engine", "strategy", "symbol", "action",
             "bar_ts", "ordinal", "price", "size", "confidence",
             "indicators", "position", "seq", "pub", "ts"}
TRADE_COLS = ["Size", "EntryBar", "ExitBar", "EntryPrice", "ExitPrice",
              "SL", "TP", "PnL", "Commission", "ReturnPct", "EntryTime",
              "ExitTime", "Duration", "Tag"]


def read_goog():
    """GOOG.csv's rows as dicts with t (epoch ms) and c (close)."""
    bars = []
    with open(GOOG) as f:
        for row in csv.DictReader(f):
            day = time.strptime(row[""], "%Y-%m-%d")
            bars.append({"t": calendar.timegm(day) * 1000,
                         "iso": row[""] + "T00:00:00",
                         "c": float(row["Close"])})
    return bars


def timedelta(ms):
    """pandas' Timedelta text for whole seconds."""
    s = ms // 1000
    return "%d days %02d:%02d:%02d" % (s // 86400, s % 86400 // 3600,
                                       s % 3600 // 60, s % 60)


def close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1.0)


@unittest.skipUnless(os.path.exists(GOOG),
                     "skipped: ../shared/data/GOOG.csv not found beside the "
                     "repository")
class BacktestCli(lt.WorkspaceTest):
    def backtest(self, *flags, data=GOOG, strategy=STRATEGY):
        out = {k: self.ws.path(k) for k in ("stats.json", "sig.jsonl",
                                           "trades.csv", "equity.csv")}
        for p in out.values():
            if os.path.exists(p):
                os.unlink(p)
        rc, stdout, err = lt.run(
            "livetrade", "backtest", "--strategy", strategy, "--data", data,
            "--stats-json", out["stats.json"], "--signals", out["sig.jsonl"],
            "--trades-csv", out["trades.csv"],
            "--equity-csv", out["equity.csv"], *flags, timeout=120)
        self.assertEqual(rc, 0, err)
        with open(out["stats.json"]) as f:
            stats = json.load(f)
        with open(out["trades.csv"], newline="") as f:
            rows = list(csv.reader(f))
        with open(out["equity.csv"], newline="") as f:
            equity = list(csv.DictReader(f))
        return (stats, lt.read_jsonl(out["sig.jsonl"]), rows, equity,
                stdout, err)

    def check_trades(self, rows, stats, bars):
        self.assertEqual(rows[0], TRADE_COLS)
        trades = [dict(zip(TRADE_COLS, r)) for r in rows[1:]]
        self.assertEqual(len(trades), stats["# Trades"])
        for t in trades:
            size, eb, xb = float(t["Size"]), int(t["EntryBar"]), \
                int(t["ExitBar"])
            ep, xp, com = float(t["EntryPrice"]), float(t["ExitPrice"]), \
                float(t["Commission"])
            self.assertNotEqual(size, 0)
            self.assertEqual(size, round(size))
            self.assertTrue(0 < eb <= xb < len(bars), t)
            self.assertEqual(t["EntryTime"], bars[eb]["iso"])
            self.assertEqual(t["ExitTime"], bars[xb]["iso"])
            self.assertEqual(t["Duration"],
                             timedelta(bars[xb]["t"] - bars[eb]["t"]))
            self.assertTrue(close(float(t["PnL"]),
                                  size * (xp - ep) - com), t)
            ret = math.copysign(1, size) * (xp / ep - 1) - \
                com / (abs(size) * ep)
            self.assertTrue(close(float(t["ReturnPct"]), ret), t)
            self.assertEqual((t["SL"], t["TP"], t["Tag"]), ("", "", ""))
        return trades

    def check_equity(self, equity, stats, bars, cash, durations=True):
        self.assertEqual(len(equity), len(bars))
        self.assertEqual([e["time"] for e in equity],
                         [b["iso"] for b in bars])
        eq = [float(e["Equity"]) for e in equity]
        self.assertEqual(eq[0], cash)
        self.assertEqual(eq[-1], stats["Equity Final [$]"])
        self.assertEqual(max(eq), stats["Equity Peak [$]"])
        peak, worst, ends = -math.inf, 0.0, []
        for e, row in zip(eq, equity):
            peak = max(peak, e)
            dd = float(row["DrawdownPct"])
            self.assertTrue(abs(dd - (1 - e / peak)) < 1e-12, row)
            worst = max(worst, dd)
            if row["DrawdownDuration"]:
                ends.append(row["DrawdownDuration"])
        self.assertTrue(close(-100 * worst, stats["Max. Drawdown [%]"]))
        if durations:
            days = [int(d.split()[0]) for d in ends]
            self.assertEqual("%d days 00:00:00" % max(days),
                             stats["Max. Drawdown Duration"])
        return eq

    def test_goog_sma_cross(self):
        """sma_cross.lua never closes before reversing, so its second
        order finds no margin left and is cancelled; short from $169,
        the account runs out of money as GOOG rises (as backtesting.py's
        does): the run stops there, equity 0 to the end."""
        stats, sigs, rows, equity, stdout, err = self.backtest()
        bars = read_goog()

        for key in ("Start", "Equity Final [$]", "Return [%]",
                    "Sharpe Ratio", "# Trades", "Kelly Criterion"):
            self.assertIn(key, stdout)
            self.assertIn(key, stats)
        self.assertEqual(stats["Start"], "2004-08-19T00:00:00")
        self.assertIn("insufficient margin", err)
        self.assertIn("the equity fell to 0", err)

        # The calls: exactly the crossovers of SMA(10) and SMA(20) before
        # the bar where the money ran out.
        stop = next(i for i, e in enumerate(equity)
                    if float(e["Equity"]) == 0)
        self.assertTrue(all(float(e["Equity"]) == 0 for e in equity[stop:]))
        self.assertEqual(stats["Equity Final [$]"], 0)
        want = {t: a for t, a in lt.sma_cross_calls(bars).items()
                if t < bars[stop]["t"]}
        self.assertGreater(len(want), 5)
        self.assertEqual({s["bar_ts"]: s["action"] for s in sigs}, want)
        self.assertEqual(len(sigs), len(want))
        self.assertEqual([s["seq"] for s in sigs],
                         list(range(1, len(sigs) + 1)))
        self.assertEqual(len({s["id"] for s in sigs}), len(sigs))
        closes = {b["t"]: b["c"] for b in bars}
        for s in sigs:
            self.assertEqual(set(s), JSON_KEYS)
            self.assertEqual((s["symbol"], s["strategy"], s["engine"],
                              s["ordinal"], s["size"]),
                             ("GOOG", "sma_cross", "backtest", 0, None))
            self.assertEqual(s["price"], closes[s["bar_ts"]])
            self.assertTrue(0 <= s["confidence"] <= 1)
            self.assertEqual(set(s["indicators"]), {"sma1", "sma2"})

        self.check_trades(rows, stats, bars)
        self.check_equity(equity, stats, bars, 10000, durations=False)

    def test_sl_tp_columns(self):
        """sma_sl_tp.lua's trades keep the SL and TP of the order that
        opened them, as backtesting.py's _trades: the TP always; the SL
        too, except on a trade its SL closed at an open beyond the stop
        (a triggered stop is cleared and put back only when it filled at
        the stop)."""
        _, sigs, rows, _, _, _ = self.backtest(
            "--finalize-trades", strategy="strategies/sma_sl_tp.lua")
        with open(GOOG) as f:
            ohlc = [{k: float(r[k]) for k in ("Open", "High", "Low")}
                    for r in csv.DictReader(f)]
        bar_of = {b["t"]: i for i, b in enumerate(read_goog())}
        entries = {bar_of[s["bar_ts"]] + 1: s for s in sigs
                   if s["action"] == "buy"}
        trades = [dict(zip(TRADE_COLS, r)) for r in rows[1:]]
        self.assertGreater(len(trades), 10)
        kinds = set()
        for t in trades:
            order = entries[int(t["EntryBar"])]
            xb, xp = int(t["ExitBar"]), float(t["ExitPrice"])
            sl, tp = order["sl"], order["tp"]
            gapped = ohlc[xb]["Low"] <= sl and ohlc[xb]["Open"] < sl and \
                xp == ohlc[xb]["Open"]
            kinds.add("gapped sl" if gapped else "sl" if xp == sl else
                      "tp" if xp >= tp else "other")
            self.assertEqual(t["SL"], "" if gapped else repr(sl), t)
            self.assertEqual(float(t["TP"]), tp, t)
            self.assertEqual(t["Tag"], "golden cross")
        self.assertTrue({"sl", "gapped sl", "tp"} <= kinds, kinds)

    def test_out_of_money_stats_cover_every_bar(self):
        """As in backtesting.py, a run that stops out of money still spans
        the whole data: End is the last bar, and the drawdown that never
        recovers lasts from its peak to the last bar."""
        stats, _, _, equity, _, _ = self.backtest()
        bars = read_goog()
        self.assertEqual(float(equity[-1]["Equity"]), 0)
        self.assertEqual(stats["End"], "2013-03-01T00:00:00")
        self.assertEqual(stats["Duration"], "3116 days 00:00:00")
        self.assertEqual(equity[-1]["DrawdownDuration"],
                         stats["Max. Drawdown Duration"])
        self.check_equity(equity, stats, bars, 10000)

    def test_finalize_commission_params(self):
        """sma_cross_close.lua closes, then reverses: two calls per
        crossover. With --finalize-trades every trade is closed, so the
        final equity is the cash plus the trades' P&L."""
        stats, sigs, rows, equity, stdout, err = self.backtest(
            "--finalize-trades", "--commission", "0.002", "--cash",
            "100000", "--param", "n1=5", "--param", "n2=30", "--symbol",
            "GOOG.X", strategy="strategies/sma_cross_close.lua")
        bars = read_goog()
        self.assertNotIn("Some trades remain open", err)
        want = lt.sma_cross_calls(bars, 5, 30)
        self.assertEqual(len(sigs), 2 * len(want))
        for c, o in zip(sigs[::2], sigs[1::2]):
            self.assertEqual((c["action"], c["ordinal"], c["size"]),
                             ("close", 0, 1.0))
            self.assertEqual((o["action"], o["ordinal"], o["size"]),
                             (want[c["bar_ts"]], 1, None))
            self.assertEqual(o["bar_ts"], c["bar_ts"])
        self.assertTrue(all(s["symbol"] == "GOOG.X" for s in sigs))
        trades = self.check_trades(rows, stats, bars)
        eq = self.check_equity(equity, stats, bars, 100000)
        pnl = math.fsum(float(t["PnL"]) for t in trades)
        self.assertTrue(close(eq[-1], 100000 + pnl))
        coms = math.fsum(float(t["Commission"]) for t in trades)
        self.assertGreater(coms, 0)
        self.assertTrue(close(stats["Commissions [$]"], coms))

    def test_symbols_flag_as_livetrade_run(self):
        """--symbols, as livetrade run takes it, names the one symbol."""
        _, sigs, _, _, _, err = self.backtest(
            "--symbols", " GOOG.Y ", strategy="strategies/sma_cross_close.lua")
        self.assertTrue(sigs)
        self.assertTrue(all(s["symbol"] == "GOOG.Y" for s in sigs))

    def test_warnings_speak_of_flags(self):
        """Trades left open: the warning names --finalize-trades, not
        backtesting.py's Backtest(...) argument."""
        _, _, _, _, _, err = self.backtest(
            strategy="strategies/sma_cross_close.lua")
        self.assertIn("Some trades remain open", err)
        self.assertIn("--finalize-trades", err)
        for python in ("Backtest(", "finalize_trades=", "Broker canceled",
                       "time="):
            self.assertNotIn(python, err)
        _, _, _, _, _, err = self.backtest()
        self.assertIn("insufficient margin", err)
        self.assertNotIn("time=", err)

    def lua_file(self, name, src):
        return self.ws.write(name, src)

    def test_dot_calls_fail_or_run_as_colon_calls(self):
        """self.buy{size = 0.5, sl = x} (Python's dot) once ran with its
        table dropped: all-in, no stop-loss. Now it stops the backtest
        with one line naming file:line and self:buy{...}; the colon form
        gives sma_sl_tp.lua's own result."""
        with open("strategies/sma_sl_tp.lua") as f:
            src = f.read()
        self.assertIn("self:buy {", src)
        dot = self.lua_file("dot.lua", src.replace("self:buy {",
                                                   "self.buy {"))
        line = next(i for i, ln in enumerate(src.splitlines(), 1)
                    if "self:buy {" in ln)
        rc, out, err = lt.run("livetrade", "backtest", "--strategy", dot,
                              "--data", GOOG, timeout=120)
        self.assertEqual(rc, 1, err)
        self.assertIn("dot.lua:%d: self.buy called with a dot: write "
                      "self:buy{...}" % line, err)
        self.one_line(err)

        colon = self.lua_file("colon.lua", src)
        want = self.backtest(strategy="strategies/sma_sl_tp.lua")
        got = self.backtest(strategy=colon)
        self.assertEqual(got[0], want[0])
        self.assertEqual(got[2], want[2])
        all_in = self.lua_file("all_in.lua", src.replace(
            "self:buy {", "self:buy() local _ = {"))
        self.assertNotEqual(self.backtest(strategy=all_in)[0]["Return [%]"],
                            want[0]["Return [%]"])

        src = open("strategies/sma_cross_close.lua").read()
        half = self.lua_file("half.lua", src.replace(
            "self.position:close()", "self.position.close(0.5)", 1))
        rc, out, err = lt.run("livetrade", "backtest", "--strategy", half,
                              "--data", GOOG, timeout=120)
        self.assertEqual(rc, 1, err)
        self.assertIn("self.position.close called with a dot: write "
                      "self.position:close()", err)
        self.one_line(err)

    def test_closes_while_flat_are_counted(self):
        """Python's `if not self.position: self.buy()` ported as is never
        buys and `if self.position: self.position.close()` always closes,
        a position being always true in Lua: the calls stay, and one
        warning counts them and gives the test to write. Not when few
        closes find nothing (sma_cross_close.lua's first)."""
        flat = self.lua_file("flat.lua", """local S = Strategy {}
function S:init()
  self.a = self:I(SMA, self.data.Close, 10)
  self.b = self:I(SMA, self.data.Close, 20)
end
function S:next()
  if crossover(self.a, self.b) and not self.position then
    self:buy()
  elseif crossover(self.b, self.a) and self.position then
    self.position:close()
  end
end
return S
""")
        _, sigs, _, _, _, err = self.backtest(strategy=flat)
        closes = [s for s in sigs if s["action"] == "close"]
        noop = [s for s in closes if s["position"] == 0]
        self.assertGreater(len(closes), 10)
        self.assertEqual(len(noop), len(closes))
        lines = [ln for ln in err.splitlines() if "found no position" in ln]
        self.assertEqual(lines, [
            "livetrade backtest: warning: %d of %d position:close() calls "
            "found no position: a position is always true in Lua (`if not "
            "self.position` is never taken); test `if self.position.size "
            "== 0` (or `~= 0`)" % (len(noop), len(closes))])
        _, sigs, _, _, _, err = self.backtest(
            strategy="strategies/sma_cross_close.lua")
        self.assertEqual(sum(s["action"] == "close" and s["position"] == 0
                             for s in sigs), 1)
        self.assertNotIn("found no position", err)

    def test_unsorted_csv_is_sorted_with_a_warning(self):
        with open(GOOG) as f:
            lines = f.read().splitlines()
        head, body = lines[0], lines[1:]
        body[100], body[101] = body[101], body[100]
        path = self.ws.path("goog_shuffled.csv")
        with open(path, "w") as f:
            f.write("\n".join([head] + body) + "\n")
        stats, sigs, rows, equity, _, err = self.backtest(data=path)
        self.assertIn("1 out-of-order rows; sorted by time", err)
        self.assertEqual(len(equity), len(body))
        self.assertEqual(sigs[0]["symbol"], "GOOG_SHUFFLED")
        ref, _, _, ref_equity, _, _ = self.backtest()
        self.assertEqual(stats, ref)
        self.assertEqual(equity, ref_equity)

    def one_line(self, err):
        self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_bad_flags_exit_2(self):
        cases = [
            (["--nope"], "unknown flag --nope"),
            (["--data", GOOG], "--strategy"),
            (["--strategy", STRATEGY], "--data"),
            (["--strategy", STRATEGY, "--data", GOOG, "--cash", "-5"],
             "cash"),
            (["--strategy", STRATEGY, "--data", GOOG, "--margin", "2"],
             "margin"),
            (["--strategy", STRATEGY, "--data", GOOG, "--cash", "lots"],
             "--cash"),
            (["--strategy", STRATEGY, "--data", GOOG, "--symbol", "A B"],
             "symbol"),
            (["--strategy", STRATEGY, "--data", GOOG, "--param", "n9=1"],
             "n9"),
            (["--strategy", STRATEGY, "--data", GOOG, "--symbols",
              "AAPL,MSFT"], "--symbols: a backtest runs one symbol"),
            (["--strategy", STRATEGY, "--data", GOOG, "--symbols", "A B"],
             "--symbols: invalid symbol"),
            (["--strategy", STRATEGY, "--data", GOOG, "--symbol", "A",
              "--symbols", "B"], "differ"),
        ]
        for args, text in cases:
            rc, out, err = lt.run("livetrade", "backtest", *args)
            self.assertEqual(rc, 2, (args, err))
            self.assertIn(text, err, args)
            self.one_line(err)
            self.assertEqual(out, "")

    def test_missing_and_broken_files_exit_1(self):
        missing = os.path.join(self.ws.dir, "nowhere", "GOOG.csv")
        rc, out, err = lt.run("livetrade", "backtest", "--strategy",
                              STRATEGY, "--data", missing)
        self.assertEqual(rc, 1, err)
        self.assertIn(missing, err)
        self.one_line(err)

        bad = self.ws.path("bad.csv")
        with open(bad, "w") as f:
            f.write(",Open,High,Low,Close,Volume\n"
                    "2004-08-19,100,104.06,95.96,100.34,22351900\n"
                    "2004-08-20,101.01,99,100.5,108.31,11428600\n")
        rc, out, err = lt.run("livetrade", "backtest", "--strategy",
                              STRATEGY, "--data", bad)
        self.assertEqual(rc, 1, err)
        self.assertIn(bad + ":3: ", err)
        self.one_line(err)

        lua = self.ws.path("boom.lua")
        with open(lua, "w") as f:
            f.write("local S = Strategy {}\n"
                    "function S:init() end\n"
                    "function S:next()\n"
                    "  if #self.data.Close > 30 then error('boom') end\n"
                    "end\n"
                    "return S\n")
        rc, out, err = lt.run("livetrade", "backtest", "--strategy", lua,
                              "--data", GOOG)
        self.assertEqual(rc, 1, err)
        self.assertIn("boom.lua:4:", err)
        self.assertIn("boom", err)
        self.one_line(err)

        rc, out, err = lt.run("livetrade", "backtest", "--strategy",
                              self.ws.path("none.lua"), "--data", GOOG)
        self.assertEqual(rc, 1, err)
        self.assertIn("none.lua", err)
        self.one_line(err)

    def test_usage_lists_backtest(self):
        rc, out, err = lt.run("livetrade", "--help")
        self.assertEqual(rc, 0)
        self.assertIn("backtest", out)
        rc, out, err = lt.run("livetrade", "backtest", "--help")
        self.assertEqual(rc, 0)
        for flag in ("--strategy", "--data", "--symbol", "--cash",
                     "--commission", "--spread", "--margin",
                     "--trade-on-close", "--hedging", "--exclusive-orders",
                     "--finalize-trades", "--param", "--stats-json",
                     "--signals", "--trades-csv", "--equity-csv"):
            self.assertIn(flag, out)


if __name__ == "__main__":
    unittest.main()
