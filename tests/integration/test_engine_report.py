"""What a running engine tells its user.

- A strategy ported from Python that closes while flat on most bars
  (`if not self.position` is never true in Lua) is warned about once per
  symbol, naming the file, the symbol and the fix; in the engine and in
  `livetrade backtest`, which run the same code.
- --summary SECONDS: a line at that interval with bars, signals, lag and
  the strategy's paper P&L since its first live bar; at exit the same
  and a line per symbol (at most ten, the best and the worst). The P&L of
  GOOG.csv replayed live is the backtest's final equity less the cash."""
import json
import re
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


if __name__ == "__main__":
    unittest.main()
