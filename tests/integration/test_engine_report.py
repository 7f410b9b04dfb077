"""What a running engine tells its user.

- A strategy ported from Python that closes while flat on most bars
  (`if not self.position` is never true in Lua) is warned about once per
  symbol, naming the file, the symbol and the fix; in the engine and in
  `livetrade backtest`, which run the same code.
- --summary SECONDS: a line at that interval with bars, signals, lag and
  the strategy's paper P&L since its first live bar; at exit the same
  and a line per symbol (at most ten, the best and the worst). The P&L of
  GOOG.csv replayed live is the backtest's final equity less the cash.
- A newcomer's log says what happens plainly: bars published while the
  engine subscribed are filled from history at INFO (a gap later is a
  WARN), a symbol without history goes live "from its first bar", the
  stop line names the signal, and old bars are a replay, not a lag.
- `livetrade status` shows the signals this run published and the
  journal's sequence number beside them."""
import json
import os
import re
import subprocess
import time
import unittest

import lt
from engine_case import EngineCase, goog_last_t

START = 1767225600000           # 2026-01-01T00:00:00Z

HABIT = """-- backtesting.py's `if not self.position:` ported word for word
local Habit = Strategy { n = 10 }

function Habit:init()
  self.sma = self:I(SMA, self.data.Close, self.n)
end

function Habit:next()
  if not self.position then
    self:buy()
  else
    self.position:close()
  end
end

return Habit
"""


def demo(syms, count, history=100):
    return ["--source", "demo", "--symbols", ",".join(syms), "--seed", "3",
            "--start", str(START), "--history", str(history), "--count",
            str(count), "--interval", "0.002"]


class Report(EngineCase):
    def habit(self):
        path = self.ws.path("habit.lua")
        with open(path, "w") as f:
            f.write(HABIT)
        return path

    def flat_lines(self, err):
        return [ln for ln in err.splitlines() if "close() while flat" in ln]

    def test_close_while_flat_warned_once_per_symbol(self):
        path = self.habit()
        self.backtest(strat=path)
        lines = self.flat_lines(self.bt_err)
        self.assertEqual(len(lines), 1, self.bt_err)
        for part in (path, "GOOG", "if self.position.size == 0"):
            self.assertIn(part, lines[0])
        self.backtest()             # sma_cross_close: a close per cross
        self.assertEqual(self.flat_lines(self.bt_err), [], self.bt_err)

        syms = ["AAPL", "MSFT"]
        _, err = self.run_once(demo(syms, 150), START + 249 * 60000,
                               "journal", strat=path)
        lines = self.flat_lines(err)
        self.assertEqual(len(lines), 2, err[-3000:])
        for sym, ln in zip(sorted(syms), sorted(lines)):
            self.assertIn(path + ": " + sym + ":", ln)

    def test_summary_of_a_replay(self):
        out = self.ws.path("stats.json")
        want = self.backtest(extra=("--stats-json", out))
        with open(out) as f:
            final = json.load(f)["Equity Final [$]"]
        pl = "%+.2f (%+.2f%%" % (final - 10000, (final - 10000) / 100)
        last_t = goog_last_t()

        def summary_done(eng, st):
            line = "summary: 1 symbol(s), 1 live, 0 stale; %d bars in " \
                   "(+" % st["bars_in"]
            got = lt.wait_until(lambda: [
                ln for ln in eng.stderr().splitlines()
                if line in ln and " %d signals published" % len(want)
                in ln], 30, "a summary line with every bar")
            self.assertIn("paper P&L since live " + pl, got[0])
            self.assertIn(": GOOG " + pl + ", position ", got[0])
        got, err = self.run_once(
            ["--source", "csv", "--symbols", "GOOG", "--data",
             lt.os.path.join(lt.ROOT, "..", "shared", "data", "GOOG.csv"),
             "--interval", "0.002"], last_t, "journal",
            extra=("--summary", "1"), before_stop=summary_done)
        self.assertEqual(got, want)
        tail = err[err.index("stopping:"):]
        self.assertIn("summary at exit: 1 symbol(s)", tail)
        self.assertIn("paper P&L GOOG: " + pl, tail)

    def test_summary_of_many_symbols_is_bounded(self):
        syms = ["S%02d" % i for i in range(12)]
        _, err = self.run_once(demo(syms, 60), START + 159 * 60000,
                               "journal", strat="strategies/sma_cross.lua",
                               extra=("--summary", "1"),
                               before_stop=lambda eng, st: lt.wait_until(
                                   lambda: "best 3 of 12:" in eng.stderr(),
                                   30, "a summary line"))
        line = [ln for ln in err.splitlines() if "best 3 of 12:" in ln][0]
        self.assertEqual(len(re.findall(r" S\d\d [-+]\d", line)), 6, line)
        self.assertIn("; worst 3:", line)
        tail = err[err.index("stopping:"):].splitlines()
        pl = [ln for ln in tail if "paper P&L S" in ln]
        self.assertEqual(len(pl), 10, "\n".join(tail))
        self.assertEqual(len([ln for ln in tail if "2 more symbol(s)" in ln]),
                         1)


def bars_of(sym, n, start, tf=60, first_seq=1, pub=7):
    """n valid bars of sym from start (epoch ms), every tf seconds."""
    out = lt.make_bars(sym, n, start=start, pub=pub, first_seq=first_seq)
    for i, b in enumerate(out):
        b["t"], b["tf"] = start + i * tf * 1000, tf
    return out


class NewcomerLog(lt.WorkspaceTest):
    def setUp(self):
        super().setUp()
        self.fake = lt.FakeFeeder(self.ws)
        self.addCleanup(self.fake.close)

    def engine(self, syms, hist, *extra, name="engine"):
        return self.ws.start(name, "livetrade-engine", "--strategy",
                             "strategies/sma_cross.lua", "--symbols", syms,
                             "--sub", self.fake.bars_ep, "--history", hist,
                             "--pub", self.ws.ep(name + "-sig"), "--rep",
                             self.ws.ep(name + "-rep"), *extra)

    def sym_status(self, name, sym):
        st = lt.status(self.ws.ep(name + "-rep")) or {"symbols": []}
        return ([y for y in st["symbols"] if y["sym"] == sym] or [None])[0]

    def taken(self, name, sym, t):
        def got():
            y = self.sym_status(name, sym)
            return y if y and y["last_t"] == t else None
        return lt.wait_until(got, 30, "%s to take bar %d" % (sym, t))

    def test_bars_published_while_subscribing_are_no_gap(self):
        """ZeroMQ's slow joiner: the feeder answers the history, then
        publishes a bar before the engine's subscription reaches it. That
        bar comes from history, said at INFO; a later gap is a WARN."""
        start = (int(time.time()) // 60 - 60) * 60000
        bars = bars_of("AAPL", 40, start)
        self.fake.history["AAPL"] = bars[:30]
        eng = self.engine("AAPL", self.fake.hist_ep)
        self.fake.wait_subscribed(["bar|AAPL|"])
        lt.wait_until(lambda: (self.sym_status("engine", "AAPL") or
                               {}).get("live"), 30, "the engine to go live")
        # Bar 31 is published before the subscription took effect: only
        # the history has it.
        self.fake.history["AAPL"] = bars[:31]
        self.fake.send_bar(bars[31])
        self.fake.send_bar(bars[32])
        self.taken("engine", "AAPL", bars[32]["t"])
        # Bar 34 is lost on the way: a real gap.
        self.fake.history["AAPL"] = bars[:34]
        self.fake.send_bar(bars[34])
        y = self.taken("engine", "AAPL", bars[34]["t"])
        # The history's bars up to seq 30, then 31..35: none lost or twice.
        self.assertEqual(y["bars"], y["warm_bars"] + 5, y)
        self.assertEqual(y["warm_bars"], 21, y)
        st = lt.status(self.ws.ep("engine-rep"))
        self.assertEqual(st["gaps"], 1, st)
        self.assertEqual(eng.stop(), 0)
        err = eng.stderr()
        warns = [ln for ln in err.splitlines() if " WARN " in ln]
        self.assertEqual(len(warns), 1, err)
        self.assertIn("AAPL: 1 bar(s) missing before seq 35; filling "
                      "from history", warns[0])
        self.assertRegex(err, r"INFO  AAPL: 1 bar\(s\) published while "
                         r"the engine was subscribing, taken from history "
                         r"\(expected at start\)")
        self.assertIn("1 gaps (1 bars missed, 1 recovered)", err)
        self.assertIn("; 1 bar(s) published while subscribing, taken "
                      "from history", err)

    def test_no_history_stop_reason_and_replay(self):
        """Without a history endpoint a symbol is live from its first bar;
        the stop line names the signal; the summary calls bars more than
        7 days behind the clock a replay, and gives a lag otherwise."""
        now = (int(time.time()) // 60 - 30) * 60000
        eng = self.engine("AAPL,GOOG", "", "--summary", "1")
        self.fake.wait_subscribed(["bar|AAPL|", "bar|GOOG|"])
        lt.wait_until(lambda: (self.sym_status("engine", "GOOG") or
                               {}).get("live"), 30, "the engine to go live")
        recent = bars_of("AAPL", 5, now)
        for b in recent:
            self.fake.send_bar(b)
        self.taken("engine", "AAPL", recent[-1]["t"])
        lt.wait_until(lambda: re.search(r"summary: .*; lag \d+\.\d min "
                                        r"\(AAPL\)", eng.stderr()), 30,
                      "a summary with AAPL's lag")
        old = bars_of("GOOG", 5, 1361750400000, tf=86400)  # 2013-02-25
        for b in old:
            self.fake.send_bar(b)
        self.taken("engine", "GOOG", old[-1]["t"])
        lt.wait_until(lambda: "; replaying bars of 2013-03-01 (GOOG); "
                      in eng.stderr(), 30, "a summary of the replay")
        self.assertEqual(eng.stop(), 0)
        err = eng.stderr()
        for sym in ("AAPL", "GOOG"):
            self.assertIn("INFO  %s: live from its first bar (no history "
                          "endpoint)" % sym, err)
        self.assertNotIn("bars of history", err)
        self.assertRegex(err, r"INFO  stopping \(SIGTERM\): draining")
        self.assertIn("summary at exit: 2 symbol(s), 2 live, 0 stale; 10 "
                      "bars in (+", err)
        self.assertNotIn(" d (GOOG)", err)

    def test_status_shows_this_runs_signals(self):
        """`livetrade status`: the signals this run published, and the
        journal's sequence number (which counts earlier runs) beside."""
        start = (int(time.time()) // 60 - 300) * 60000
        bars = bars_of("AAPL", 200, start)
        journal = ("--journal", self.ws.path("journal"))
        runs = []
        for n, part in enumerate((bars[:100], bars[100:])):
            name = "engine%d" % n
            eng = self.engine("AAPL", "", *journal, name=name)
            self.fake.wait_subscribed(["bar|AAPL|"])
            lt.wait_until(lambda: (self.sym_status(name, "AAPL") or
                                   {}).get("live"), 30, "the engine live")
            for b in part:
                self.fake.send_bar(b)
            self.taken(name, "AAPL", part[-1]["t"])
            st = lt.status(self.ws.ep(name + "-rep"))
            runs.append(st["published"])
            if n == 0:
                self.assertEqual(eng.stop(), 0)
                self.fake.subs.clear()
        self.assertGreater(runs[0], 0)
        self.assertGreater(runs[1], 0)
        self.assertEqual(st["signals"], runs[0] + runs[1])
        r = subprocess.run([os.path.join(lt.BIN, "livetrade"), "status",
                            "--endpoints", self.ws.ep("engine1-rep"),
                            "--timeout", "3000"], cwd=lt.ROOT,
                           capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"\n    bars_in 100  signals_published "
                         r"%d \(journal seq %d\)  gaps 0" %
                         (runs[1], st["signals"]))
        self.assertEqual(eng.stop(), 0)


if __name__ == "__main__":
    unittest.main()
