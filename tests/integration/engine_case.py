"""Helpers for tests of whole engine runs: a feeder that holds its live
bars until the engine is warmed up, so that every run of the same input
takes the same bars live, and backtests of the same input to compare."""
import calendar
import os
import time

import lt

GOOG = os.path.join(lt.ROOT, "..", "shared", "data", "GOOG.csv")
STRAT = "strategies/sma_cross_close.lua"


def goog_last_t():
    with open(GOOG) as f:
        last = [ln for ln in f.read().splitlines() if ln.strip()][-1]
    day = time.strptime(last.split(",")[0], "%Y-%m-%d")
    return calendar.timegm(day) * 1000


class EngineCase(lt.WorkspaceTest):
    """Helpers: backtests of GOOG.csv and gated engine runs."""

    def setUp(self):
        super().setUp()
        self.n = 0
        self.exits = []

    def backtest(self, *params, strat=STRAT, extra=()):
        """`livetrade backtest` of GOOG.csv: its signals as (t, ord,
        action, id); its stderr in self.bt_err."""
        out = self.ws.path("bt-%d.jsonl" % len(os.listdir(self.ws.dir)))
        args = ["backtest", "--strategy", strat, "--data", GOOG,
                "--signals", out] + list(extra)
        for p in params:
            args += ["--param", p]
        code, _, err = lt.run("livetrade", *args, timeout=60)
        self.assertEqual(code, 0, err)
        self.bt_err = err
        return [(x["bar_ts"], x["ordinal"], x["action"], x["id"])
                for x in lt.read_jsonl(out)]

    def run_once(self, feeder_args, last_t, journal, strat=STRAT,
                 params=(), extra=(), before_stop=None):
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
        args += list(extra)
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
            lt.wait_engine_took(rep, last_t, 90)
        finally:
            sub.close()
        st = lt.status(rep)
        r = lt.request(rep, {"ver": 1, "type": "replay",
                             "after": st["seq0"], "n": 10000})
        got = [(s["t"], s["ord"], s["act"], s["id"]) for s in r["signals"]]
        self.assertEqual(st.get("published", st["signals"] - st["seq0"]),
                         len(got), st)
        if before_stop:
            before_stop(eng, st)
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
