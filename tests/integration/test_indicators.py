"""The engine's streaming indicators against pandas and numpy (Debian's
python3-pandas and python3-numpy) over real data: EURUSD (5000 hourly
bars) and GOOG (2148 daily bars) from the shared data directory, and a
million-bar series (EURUSD repeated 200 times) long enough to show drift.

The C values come from the test helper ind_dump (tests/tools/ind_dump.c),
which runs the same indicator code as the engine, bar by bar. It is built
by `make integration` next to the programs under test: LIVETRADE_BIN=bin
-> build/rel/tests/tools/ind_dump, LIVETRADE_BIN=build/san/bin ->
build/san/tests/tools/ind_dump.

References: rolling means, maxima and minima are pandas' own; standard
deviations are numpy's two-pass std over each window (pandas' rolling
std is a running update that is itself off by up to 3e-9 relative on
EURUSD, so it is only checked to agree loosely, to show the definition
(ddof) is the same); recursive indicators (EMA, RSI, ATR, MACD) are
plain Python loops written from their textbook definitions. Values must
match to 1e-9 relative (plus an absolute floor of 1e-12 of the price
scale for values that cross zero), and NaN exactly where the reference
has NaN."""
import math
import os
import subprocess
import unittest

from lt import BIN, ROOT

try:
    import numpy as np
    import pandas as pd
    from numpy.lib.stride_tricks import sliding_window_view
except ImportError:                 # pragma: no cover
    np = pd = None

SHARED = os.path.join(ROOT, "..", "shared")
DATA = os.path.join(SHARED, "data")
RTOL = 1e-9


def helper_path():
    """ind_dump of the build that LIVETRADE_BIN belongs to."""
    bindir = os.path.abspath(BIN)
    build = os.path.dirname(bindir)
    if os.path.basename(os.path.dirname(build)) == "build":
        return os.path.join(build, "tests", "tools", "ind_dump")
    return os.path.join(ROOT, "build", "rel", "tests", "tools", "ind_dump")


def load(name):
    path = os.path.join(DATA, name + ".csv")
    if not os.path.exists(path):
        raise unittest.SkipTest("shared data not found: %s (the tests look "
                                "for ../shared/data beside the repository)"
                                % path)
    return pd.read_csv(path, index_col=0)


def run_helper(df, specs, repeat=1, last=None):
    """Runs ind_dump over df's High, Low, Close; returns one numpy array
    per output column, in the order of specs and their outputs."""
    args = [helper_path()]
    if repeat > 1:
        args += ["--repeat", str(repeat)]
    if last:
        args += ["--last", str(last)]
    args += specs
    text = "".join("%r %r %r\n" % (float(h), float(l), float(c))
                   for h, l, c in zip(df.High, df.Low, df.Close))
    out = subprocess.run(args, input=text.encode(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=300, check=True)
    rows = [line.split() for line in out.stdout.decode().splitlines()]
    return [np.array([float(r[j]) for r in rows])
            for j in range(len(rows[0]))]


# {==================== references ============================

def ema(x, n):
    """SMA-seeded EMA over the values from the first non-NaN one."""
    x = np.asarray(x, dtype=float)
    out = np.full(len(x), np.nan)
    a = 2.0 / (n + 1.0)
    start = int(np.argmax(~np.isnan(x)))
    if len(x) - start < n:
        return out
    prev = float(np.mean(x[start:start + n]))
    out[start + n - 1] = prev
    for i in range(start + n, len(x)):
        prev = a * x[i] + (1.0 - a) * prev
        out[i] = prev
    return out


def wilder(x, n, start):
    """Wilder's average of x[start:]: mean of the first n, then
    (prev*(n-1) + x)/n."""
    out = np.full(len(x), np.nan)
    prev = float(np.mean(x[start:start + n]))
    out[start + n - 1] = prev
    for i in range(start + n, len(x)):
        prev = (prev * (n - 1) + x[i]) / n
        out[i] = prev
    return out


def rsi(c, n):
    c = np.asarray(c, dtype=float)
    d = np.diff(c, prepend=np.nan)
    g = wilder(np.where(d > 0, d, 0.0), n, 1)
    lo = wilder(np.where(d < 0, -d, 0.0), n, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = 100.0 - 100.0 / (1.0 + g / lo)
    r[(lo == 0) & (g > 0)] = 100.0
    r[(lo == 0) & (g == 0)] = 50.0
    return r


def atr(h, l, c, n):
    h, l, c = (np.asarray(v, dtype=float) for v in (h, l, c))
    pc = np.concatenate(([np.nan], c[:-1]))
    tr = np.maximum(h - l, np.maximum(np.abs(h - pc), np.abs(l - pc)))
    return wilder(tr, n, 1)


def window_std(x, n, ddof):
    x = np.asarray(x, dtype=float)
    out = np.full(len(x), np.nan)
    out[n - 1:] = sliding_window_view(x, n).std(axis=1, ddof=ddof)
    return out


def wma(x, n):
    w = np.arange(1, n + 1, dtype=float)
    return pd.Series(x).rolling(n).apply(
        lambda v: np.dot(v, w) / w.sum(), raw=True).values


def references(df, spec):
    """The reference outputs of one ind_dump SPEC."""
    name, _, args = spec.partition(":")
    p = [float(a) for a in args.split(",")] if args else []
    n = int(p[0]) if p else None
    c, h, l = df.Close, df.High, df.Low
    if name == "SMA":
        return [c.rolling(n).mean().values]
    if name == "EMA":
        return [ema(c.values, n)]
    if name == "WMA":
        return [wma(c.values, n)]
    if name == "RSI":
        return [rsi(c.values, n)]
    if name == "MACD":
        f, s, g = (int(v) for v in p)
        m = ema(c.values, f) - ema(c.values, s)
        sig = ema(m, g)
        return [m, sig, m - sig]
    if name == "BBANDS":
        mid = c.rolling(n).mean().values
        sd = window_std(c.values, n, 0)
        return [mid + p[1] * sd, mid, mid - p[1] * sd]
    if name == "ATR":
        return [atr(h.values, l.values, c.values, n)]
    if name == "STDDEV":
        return [window_std(c.values, n, 1)]
    if name == "HIGHEST":
        return [c.rolling(n).max().values]
    if name == "LOWEST":
        return [c.rolling(n).min().values]
    if name == "ROC":
        return [(100.0 * (c / c.shift(n) - 1.0)).values]
    if name == "MOM":
        return [(c - c.shift(n)).values]
    if name == "STOCH":
        k, d = (int(v) for v in p)
        hh, ll = h.rolling(k).max(), l.rolling(k).min()
        pk = 100.0 * (c - ll) / (hh - ll)
        pk[(hh == ll) & hh.notna()] = 50.0
        return [pk.values, pk.rolling(d).mean().values]
    if name == "DONCHIAN":
        up, lo = h.rolling(n).max().values, l.rolling(n).min().values
        return [up, (up + lo) / 2.0, lo]
    raise ValueError(spec)

# }============================================================


SPECS = ["SMA:10", "SMA:20", "SMA:200", "EMA:10", "EMA:26", "WMA:10",
         "WMA:30", "RSI:14", "RSI:2", "MACD:12,26,9", "BBANDS:20,2",
         "ATR:14", "STDDEV:20", "STDDEV:2", "HIGHEST:20", "LOWEST:20",
         "ROC:10", "MOM:10", "STOCH:14,3", "DONCHIAN:20"]


@unittest.skipIf(np is None, "python3-numpy and python3-pandas are needed "
                 "(make deps installs them)")
class IndicatorsVsPandas(unittest.TestCase):

    def setUp(self):
        if not os.path.isdir(SHARED):
            self.skipTest("shared directory not found: %s" % SHARED)
        if not os.access(helper_path(), os.X_OK):
            self.fail("%s is missing: run `make integration`" % helper_path())

    def check(self, df, specs, got, offset=0, what=""):
        scale = 1e-12 * max(float(np.nanmean(np.abs(df.Close))), 100.0)
        col = 0
        for spec in specs:
            for j, ref in enumerate(references(df, spec)):
                ref = np.asarray(ref, dtype=float)[offset:]
                c = got[col]
                col += 1
                label = "%s %s output %d" % (what, spec, j)
                self.assertEqual(len(c), len(ref), label)
                np.testing.assert_array_equal(np.isnan(c), np.isnan(ref),
                                              err_msg=label + ": NaN")
                ok = ~np.isnan(ref)
                err = np.abs(c[ok] - ref[ok])
                tol = RTOL * np.abs(ref[ok]) + scale
                worst = int(np.argmax(err - tol)) if err.size else 0
                self.assertTrue(np.all(err <= tol),
                                "%s: |C - reference| = %g at %d (value %r)"
                                % (label, err[worst], worst, ref[ok][worst]))
        self.assertEqual(col, len(got))

    def test_eurusd(self):
        df = load("EURUSD")
        self.check(df, SPECS, run_helper(df, SPECS), what="EURUSD")

    def test_goog(self):
        df = load("GOOG")
        self.check(df, SPECS, run_helper(df, SPECS), what="GOOG")

    def test_million_bars_no_drift(self):
        """EURUSD repeated 200 times (1,000,000 bars): the last 5000 bars
        of the streaming values against references over the whole
        series (window ones over their windows, recursive ones by
        looping over all million bars)."""
        base = load("EURUSD")
        reps, last = 200, 5000
        df = pd.DataFrame({c: np.tile(base[c].values, reps)
                           for c in ("High", "Low", "Close")})
        specs = ["SMA:20", "WMA:30", "STDDEV:20", "BBANDS:20,2",
                 "HIGHEST:50", "EMA:26", "RSI:14", "ATR:14", "MACD:12,26,9"]
        got = run_helper(base, specs, repeat=reps, last=last)
        self.check(df, specs, got, offset=len(df) - last, what="1M bars")

    def test_pandas_std_is_the_same_definition(self):
        """pandas' rolling(n).std() (ddof=1) agrees with STDDEV to pandas'
        own accuracy, and population std (ddof=0) with the bands."""
        df = load("EURUSD")
        got = run_helper(df, ["STDDEV:20", "BBANDS:20,2"])
        ref = df.Close.rolling(20).std().values
        ok = ~np.isnan(ref)
        self.assertTrue(np.allclose(got[0][ok], ref[ok], rtol=1e-7, atol=0))
        ref0 = df.Close.rolling(20).std(ddof=0).values
        width = (got[1] - got[3]) / 4.0
        self.assertTrue(np.allclose(width[ok], ref0[ok], rtol=1e-6, atol=0))


if __name__ == "__main__":
    unittest.main()
