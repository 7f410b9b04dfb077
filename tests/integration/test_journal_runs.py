"""The journal tells a new run from a restart on the same feed.

An engine started again on the journal of an earlier run publishes every
signal of a new run -- other parameters, a replay of the same file,
another seed -- and says so in one line; only a restart on the same,
continuing feed leaves out the signals the journal already holds
(test_journal.py and test_graceful.py cover that case).

- GOOG.csv replayed, then replayed again with other parameters: the second
  run publishes exactly what `livetrade backtest --signals` gives.
- The same file replayed twice: both runs publish every signal.
- A demo feed with seed 42, then seed 7: the second run publishes what the
  same feed gives an engine with a fresh journal."""
import calendar
import os
import time
import unittest

import lt

GOOG = os.path.join(lt.ROOT, "..", "shared", "data", "GOOG.csv")
STRAT = "strategies/sma_cross_close.lua"
START = 1767225600000           # 2026-01-01T00:00:00Z
HISTORY = 300
COUNT = 200


def goog_last_t():
    with open(GOOG) as f:
        last = [ln for ln in f.read().splitlines() if ln.strip()][-1]
    day = time.strptime(last.split(",")[0], "%Y-%m-%d")
    return calendar.timegm(day) * 1000


class Runs(unittest.TestCase):
    def setUp(self):
        self.ws = lt.Workspace()
        self.n = 0
        self.exits = []

    def tearDown(self):
        if os.environ.get("LT_KEEP"):
            print("kept", self.ws.dir)
            return
        self.ws.close()

    def backtest(self, *params):
        out = self.ws.path("bt-%d.jsonl" % len(os.listdir(self.ws.dir)))
        args = ["backtest", "--strategy", STRAT, "--data", GOOG,
                "--signals", out]
        for p in params:
            args += ["--param", p]
        code, _, err = lt.run("livetrade", *args, timeout=60)
        self.assertEqual(code, 0, err)
        return [(x["bar_ts"], x["ordinal"], x["action"], x["id"])
                for x in lt.read_jsonl(out)]

    def run_once(self, feeder_args, last_t, journal, strat=STRAT,
                 params=()):
        """One run: a feeder that holds its live bars until the engine has
        warmed up (and a subscriber of the test's opens the gate), an
        engine on `journal` until it has taken the bar at last_t; then
        both stop. Returns what the engine published (from its journal:
        the signals after its seq0) as (t, ord, act, id), and its
        stderr."""
        import zmq
        ws = self.ws
        self.n += 1
        hist, bars = ws.ep("hist%d" % self.n), ws.ep("bars%d" % self.n)
        rep = ws.ep("rep%d" % self.n)
        syms = feeder_args[feeder_args.index("--symbols") + 1]
        gate = len(syms.split(",")) + 1
        feeder = ws.start("feeder-%d" % self.n, "livetrade-feeder",
                          *feeder_args, "--wait-subscribers", str(gate),
                          "--pub", bars, "--rep", hist)
        lt.wait_until(lambda: lt.status(hist), 20, "the feeder")
        args = ["--strategy", strat, "--symbols", syms,
                "--sub", bars, "--history", hist, "--pub",
                ws.ep("sig%d" % self.n), "--rep", rep, "--journal",
                ws.path(journal)]
        for p in params:
            args += ["--param", p]
        eng = ws.start("engine-%d" % self.n, "livetrade-engine", *args)
        lt.wait_until(lambda: all(
            s["live"] for s in
            (lt.status(rep) or {"symbols": [{"live": False}]})["symbols"]),
            30, "the engine to warm up")
        sub = lt.CTX.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect(bars)
        sub.setsockopt(zmq.SUBSCRIBE, b"bar|")
        try:
            lt.wait_until(lambda: all(
                s["last_t"] == last_t for s in
                (lt.status(rep) or {"symbols": [{"last_t": 0}]})
                ["symbols"]), 90, "the engine to take every bar")
        finally:
            sub.close()
        st = lt.status(rep)
        r = lt.request(rep, {"ver": 1, "type": "replay",
                             "after": st["seq0"], "n": 10000})
        got = [(s["t"], s["ord"], s["act"], s["id"]) for s in r["signals"]]
        self.assertEqual(st.get("published", st["signals"] - st["seq0"]),
                         len(got), st)
        self.assertEqual(eng.stop(), 0, eng.stderr()[-2000:])
        self.assertEqual(feeder.stop(), 0, feeder.stderr()[-2000:])
        self.exits.append((len(got), eng.stderr()))
        return got, eng.stderr()

    def assert_exit_lines(self):
        """Each engine's exit line counts what its run published."""
        for n, err in self.exits:
            self.assertIn(" %d signals published" % n, err)

    def csv_args(self):
        return ["--source", "csv", "--symbols", "GOOG", "--data", GOOG,
                "--interval", "0.002"]

    def assert_one_new_run_line(self, err):
        lines = [ln for ln in err.splitlines() if "a new run" in ln]
        self.assertEqual(len(lines), 1, err[-3000:])
        self.assertIn("every signal of theirs is published", lines[0])
        return lines[0]

    def test_new_parameters_publish_every_signal(self):
        last_t = goog_last_t()
        want1 = self.backtest()
        want2 = self.backtest("n1=5", "n2=30")
        got1, err1 = self.run_once(self.csv_args(), last_t, "journal")
        self.assertEqual(got1, want1)
        self.assertNotIn("a new run", err1)
        got2, err2 = self.run_once(self.csv_args(), last_t, "journal",
                                   params=("n1=5", "n2=30"))
        self.assertEqual(len(got2), len(want2))
        self.assertEqual(got2, want2)
        line = self.assert_one_new_run_line(err2)
        self.assertIn("n1=10,n2=20", line)
        self.assertIn("n1=5,n2=30", line)
        self.assert_exit_lines()

    def test_same_file_replayed_twice_publishes_both(self):
        last_t = goog_last_t()
        want = self.backtest()
        got1, _ = self.run_once(self.csv_args(), last_t, "journal")
        got2, err2 = self.run_once(self.csv_args(), last_t, "journal")
        self.assertEqual(got1, want)
        self.assertEqual(got2, want)
        self.assert_one_new_run_line(err2)
        self.assert_exit_lines()

    def test_another_seed_publishes_every_signal(self):
        def demo(seed):
            return ["--source", "demo", "--symbols", "AAPL,MSFT", "--seed",
                    str(seed), "--start", str(START), "--history",
                    str(HISTORY), "--count", str(COUNT), "--interval",
                    "0.002"]
        last_t = START + (HISTORY + COUNT - 1) * 60000
        ref, _ = self.run_once(demo(7), last_t, "fresh",
                               strat="strategies/sma_cross.lua")
        self.assertGreater(len(ref), 4)
        self.run_once(demo(42), last_t, "journal",
                      strat="strategies/sma_cross.lua")
        got, err = self.run_once(demo(7), last_t, "journal",
                                 strat="strategies/sma_cross.lua")
        self.assertEqual(sorted(got), sorted(ref))
        line = self.assert_one_new_run_line(err)
        self.assertIn("a new run for 2 of the 2 symbol(s)", line)
        self.assert_exit_lines()


if __name__ == "__main__":
    unittest.main()
