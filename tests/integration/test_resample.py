"""resample_apply against pandas, as backtesting.lib computes it:
series.resample(rule, label='right').agg(...).dropna(), the indicator
over that, forward-filled back onto the original bars."""
import os
import unittest

import lt

SHARED = os.path.join(lt.ROOT, "..", "shared")
EURUSD = os.path.join(SHARED, "data", "EURUSD.csv")

STRATEGY = """
local R = Strategy {}
function R:init()
  self.d = resample_apply('D', SMA, self.data.Close, 3)
  self.h4 = resample_apply('4H', EMA, self.data.Close, 5)
  self.w = resample_apply('W', SMA, self.data.Close, 2)
  self.hi = resample_apply('D', SMA, self.data.High, 2)
  self.vol = resample_apply('D', SMA, self.data.Volume, 2)
end
function R:next() self:buy { size = 1 } end
return R
"""


@unittest.skipUnless(os.path.exists(EURUSD), "skipped: ../shared/data not "
                     "found beside the repository")
class Resample(unittest.TestCase):
    def test_against_pandas(self):
        import pandas as pd
        ws = lt.Workspace()
        self.addCleanup(ws.close)
        path = ws.path("resample.lua")
        with open(path, "w") as f:
            f.write(STRATEGY)
        out = ws.path("sig.jsonl")
        rc, _, err = lt.run("livetrade", "backtest", "--strategy", path,
                            "--data", EURUSD, "--signals", out, timeout=120)
        self.assertEqual(rc, 0, err)
        calls = lt.read_jsonl(out)
        self.assertGreater(len(calls), 3000)

        df = pd.read_csv(EURUSD, index_col=0, parse_dates=True)

        def want(rule, col, fn):
            agg = {"Open": "first", "High": "max", "Low": "min",
                   "Close": "last", "Volume": "sum"}[col]
            r = df[col].resample(rule, label="right").agg(agg).dropna()
            v = fn(r)
            return v.reindex(df.index.union(r.index),
                             method="ffill").reindex(df.index)

        def sma(n):
            return lambda r: r.rolling(n).mean()

        def ema(n):     # seeded with the mean of the first n values
            def f(r):
                out, prev = [], None
                for i, x in enumerate(r.values):
                    if i < n - 1:
                        out.append(float("nan"))
                        continue
                    prev = r.values[:n].mean() if i == n - 1 else \
                        x * 2 / (n + 1) + prev * (1 - 2 / (n + 1))
                    out.append(prev)
                return pd.Series(out, index=r.index)
            return f

        refs = {"d": want("D", "Close", sma(3)),
                "h4": want("4H", "Close", ema(5)),
                "w": want("W", "Close", sma(2)),
                "hi": want("D", "High", sma(2)),
                "vol": want("D", "Volume", sma(2))}
        ms = (df.index.view("int64") // 1_000_000).tolist()
        pos = {t: i for i, t in enumerate(ms)}
        # next() starts one bar after every indicator has a value: for the
        # daily and 4-hour ones exactly where pandas has it; the weekly
        # one becomes valid at the last bar of its week, while pandas
        # already shows it on that Sunday's first bar.
        first = max(refs[k].first_valid_index() for k in refs if k != "w")
        wfirst = df.index.get_loc(refs["w"].first_valid_index())
        start = max(df.index.get_loc(first) + 1, wfirst + 1)
        self.assertGreaterEqual(calls[0]["bar_ts"], ms[start])
        self.assertLessEqual(calls[0]["bar_ts"], ms[start] + 86400000)
        sundays = 0
        for c in calls:
            i = pos[c["bar_ts"]]
            for k, ref in refs.items():
                # pandas' weekly value on a Sunday already holds that
                # Sunday's later bars (its label is Sunday 00:00); a live
                # engine cannot see them, so those bars are left out.
                if k == "w" and df.index[i].dayofweek == 6:
                    sundays += 1
                    continue
                got, exp = c["indicators"][k], float(ref.iloc[i])
                self.assertAlmostEqual(got, exp, delta=1e-9 * abs(exp),
                                       msg="%s at bar %d" % (k, i))
        self.assertLess(sundays, len(calls) // 10)


if __name__ == "__main__":
    unittest.main()
