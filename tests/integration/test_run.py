"""`livetrade run`: the whole demo pipeline in one command."""
import json
import os
import re
import signal
import subprocess
import time
import unittest

import lt


def livetrade(*args, env=None):
    return subprocess.Popen([os.path.join(lt.BIN, "livetrade"), "run",
                             *args], cwd=lt.ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=env)


class Run(unittest.TestCase):
    def test_random_strategy_shows_both_symbols(self):
        t0 = time.monotonic()
        p = livetrade("--strategy", "strategies/random.lua", "--symbols",
                      "AAPL,MSFT", "--data-source", "demo", "--duration",
                      "0.1", "--interval", "0.05", "--param", "p=0.2")
        out, err = p.communicate(timeout=60)
        took = time.monotonic() - t0
        self.assertEqual(p.returncode, 0, err)
        self.assertGreater(took, 5.5)
        lines = [l for l in out.splitlines() if l.startswith("#")]
        syms = {l.split()[3] for l in lines}
        self.assertEqual(syms, {"AAPL", "MSFT"}, out)
        # Numbered 1.. in order, with an action, a price and a confidence.
        for n, l in enumerate(lines, 1):
            self.assertRegex(l, r"^#%d\s+\S+ \S+\s+\S+\s+(📈 BUY|📉 SELL)"
                             r"\s+@ [0-9.]+\s+conf \d+%%" % n)

    def test_sma_cross_json(self):
        p = livetrade("--symbols", "AAPL,MSFT", "--duration", "0.1",
                      "--interval", "0.02", "--json", "--flat-closes")
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        import json
        sigs = [json.loads(l) for l in out.splitlines()]
        self.assertGreater(len(sigs), 0, err)
        self.assertTrue(all(s["strategy"] == "sma_cross_close" for s in sigs))
        self.assertEqual([s["seq"] for s in sigs],
                         list(range(1, len(sigs) + 1)))

    def test_end_of_duration_is_said_as_it_is(self):
        p = livetrade("--duration", "0.02", "--interval", "0.05")
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("livetrade: duration reached; stopping the feeder, "
                      "the engine and the sink", err)
        self.assertRegex(err, r"livetrade-feeder\[\d+\] INFO  stopping "
                         r"\(SIGTERM\): draining")
        self.assertNotIn("signal received", err)
        self.assertNotIn("killed", err)
        # The programs' INFO lines (the engine's periodic summary among
        # them) reach the user as they are: run does not filter stderr.
        self.assertRegex(err, r"livetrade-engine\[\d+\] INFO  stopping: ")
        self.assertRegex(err, r"stopped after [0-9.]+ s \(duration "
                         r"reached\), exit status 0")

    def test_ctrl_c_stops_cleanly(self):
        p = livetrade("--duration", "1", "--interval", "0.05")
        # Wait for the engine's live line, then interrupt.
        lt.wait_until(lambda: p.poll() is not None or
                      self._engine_live(p), what="the engine to go live")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)

    def _engine_live(self, p):
        # Reads stderr lines as they come until the engine says "live".
        line = p.stderr.readline()
        return "live after" in line

    def test_child_failure_is_reported(self):
        with lt.Workspace() as ws:
            for prog in ("livetrade-feeder", "livetrade-sink"):
                os.symlink(os.path.join(os.path.abspath(lt.BIN), prog),
                           os.path.join(ws.dir, prog))
            fake = os.path.join(ws.dir, "livetrade-engine")
            with open(fake, "w") as f:
                f.write("#!/bin/sh\necho 'engine: simulated crash' >&2\n"
                        "exit 3\n")
            os.chmod(fake, 0o755)
            env = dict(os.environ, LIVETRADE_BIN_DIR=ws.dir)
            p = livetrade("--duration", "1", env=env)
            out, err = p.communicate(timeout=60)
            self.assertNotEqual(p.returncode, 0)
            self.assertRegex(err, r"engine exited with status 3")
            # The others were stopped by run, maybe before they had their
            # signal handlers: stopped, not "killed".
            self.assertIn("engine exited; stopping the feeder and the "
                          "sink", err)
            self.assertNotIn("killed", err)


def run_dir(first_line):
    """The private directory named in run's first line ("ipc in DIR")."""
    m = re.search(r"ipc in (\S+?)\)", first_line)
    assert m, first_line
    return m.group(1)


def procs_mentioning(text):
    """Pids of live processes whose command line contains `text`."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if text.encode() in f.read():
                    pids.append(int(d))
        except OSError:
            pass
    return pids


class Watched:
    """A `livetrade run` whose output is read by threads as it comes, so
    a test can wait for a line (bounded in time) and never blocks on a
    read."""

    def __init__(self, *args, env=None):
        import threading
        self.p = livetrade(*args, env=env)
        self.err, self.out = [], []
        self.threads = [threading.Thread(target=self._read, args=(f, l),
                                         daemon=True)
                        for f, l in ((self.p.stderr, self.err),
                                     (self.p.stdout, self.out))]
        for t in self.threads:
            t.start()

    @staticmethod
    def _read(f, lines):
        for line in f:
            lines.append(line)

    def text(self):
        return "".join(self.err)

    def wait_for(self, text, what):
        lt.wait_until(lambda: self.p.poll() is not None or
                      text in self.text(), timeout=60, what=what)
        self.assertAlive(what)

    def assertAlive(self, what):
        if self.p.poll() is not None:
            raise AssertionError("run exited (%s) before %s:\n%s" %
                                 (self.p.returncode, what, self.text()))

    def finish(self, timeout=60):
        self.p.wait(timeout)
        for t in self.threads:
            t.join(timeout)
        return self.p.returncode, "".join(self.out), self.text()


class Stop(unittest.TestCase):
    """A second SIGTERM or SIGINT (timeout(1) sends two, an impatient
    Ctrl-C too) still stops every child and removes the run's directory,
    with exit code 0."""

    def _check_clean(self, w):
        rc, out, err = w.finish()
        d = run_dir(err.splitlines()[0])
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(d), err)
        self.assertEqual(procs_mentioning(d), [], err)
        self.assertNotIn("killed", err)
        return err

    def test_two_quick_sigterms(self):
        w = Watched("--duration", "5", "--interval", "0.05")
        w.wait_for("live after", "the engine to go live")
        w.p.send_signal(signal.SIGTERM)
        w.p.send_signal(signal.SIGTERM)
        self._check_clean(w)

    def test_second_sigint_while_stopping(self):
        """The feeder here is a stand-in that drains until the test lets
        it go, so the second SIGINT surely comes while run is stopping."""
        with lt.Workspace() as ws:
            for prog in ("livetrade-engine", "livetrade-sink"):
                os.symlink(os.path.join(os.path.abspath(lt.BIN), prog),
                           os.path.join(ws.dir, prog))
            fifo = ws.path("release")
            os.mkfifo(fifo)
            fake = os.path.join(ws.dir, "livetrade-feeder")
            with open(fake, "w") as f:
                f.write('#!/bin/sh\n'
                        'trap \'echo "fake feeder: draining" >&2; '
                        'read x < "$RELEASE"; exit 0\' TERM\n'
                        'echo "fake feeder: up" >&2\n'
                        'while :; do sleep 1 & wait $!; done\n')
            os.chmod(fake, 0o755)
            env = dict(os.environ, LIVETRADE_BIN_DIR=ws.dir, RELEASE=fifo)
            w = Watched("--duration", "5", env=env)
            w.wait_for("fake feeder: up", "the feeder to start")
            w.p.send_signal(signal.SIGINT)
            w.wait_for("fake feeder: draining",
                       "the feeder to be asked to stop")
            w.p.send_signal(signal.SIGINT)
            w.wait_for("already stopping",
                       "run to say it is already stopping")
            with open(fifo, "w") as f:
                f.write("go\n")
            err = self._check_clean(w)
            self.assertIn("SIGINT received; already stopping", err)
            self.assertIn("(SIGINT received), exit status 0", err)


class Csv(unittest.TestCase):
    GOOG = os.path.join(lt.ROOT, "..", "shared", "data", "GOOG.csv")

    def test_signals_equal_backtest(self):
        """A CSV replayed by run (no history: every bar is live) gives
        backtest's calls, bar for bar; run ends at the end of the file."""
        with lt.Workspace() as ws:
            strat = "strategies/sma_cross_close.lua"
            bt = ws.path("bt.jsonl")
            rc, _, err = lt.run("livetrade", "backtest", "--strategy", strat,
                                "--data", self.GOOG, "--signals", bt,
                                timeout=120)
            self.assertEqual(rc, 0, err)
            def replay(*extra):
                p = livetrade("--data-source", "csv", "--data", self.GOOG,
                              "--strategy", strat, "--interval", "0",
                              "--duration", "10", "--json", *extra)
                out, err = p.communicate(timeout=300)
                self.assertEqual(p.returncode, 0, err)
                return out, err
            out, err = replay()
            self.assertIn("end of the CSV file; stopping the engine and "
                          "the sink", err)
            self.assertIn("stream of GOOG ended: no more bars", err)
            self.assertIn("exiting: every symbol is done", err)
            self.assertNotIn("not found", err)
            self.assertNotIn("killed", err)
            self.assertIn("running %s on GOOG" % strat, err)
            key = lambda s: (s["symbol"], s["bar_ts"], s["action"],
                             s["price"], s["size"], s["id"])
            calls = lt.read_jsonl(bt)
            # The console leaves out closes that found no position.
            flat = [s for s in calls
                    if s["action"] == "close" and s["position"] == 0]
            self.assertGreater(len(flat), 0)
            want = [key(s) for s in calls if s not in flat]
            got = [key(s) for s in map(json.loads, out.splitlines())]
            self.assertGreater(len(want), 100)
            self.assertEqual(got, want)
            # --flat-closes shows every call.
            out, err = replay("--flat-closes")
            want = [key(s) for s in calls]
            got = [key(s) for s in map(json.loads, out.splitlines())]
            self.assertGreater(len(want), 100)
            self.assertEqual(got, want)

    def test_symbol_flag_and_bad_flags(self):
        p = livetrade("--data-source", "csv", "--data", self.GOOG,
                      "--symbol", "XGOOG", "--interval", "0", "--duration",
                      "10")
        out, err = p.communicate(timeout=300)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("on XGOOG", err)
        self.assertEqual({l.split()[3] for l in out.splitlines()},
                         {"XGOOG"}, out)
        for args, msg in (
                (("--data-source", "csv"), "--data-source csv needs --data"),
                (("--data", self.GOOG), "--data needs --data-source csv"),
                (("--data-source", "csv", "--data", self.GOOG, "--seed",
                  "3"), "--seed does not apply to --data-source csv"),
                (("--data-source", "csv", "--data", self.GOOG, "--history",
                  "3"), "--history does not apply to --data-source csv"),
                (("--symbol", "A", "--symbols", "B"),
                 "--symbol or --symbols, not both"),
                (("--data-source", "csv", "--data", "/nonexistent.csv"),
                 "cannot read '/nonexistent.csv'")):
            p = livetrade(*args)
            out, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 2, err)
            self.assertIn(msg, err)
            self.assertEqual(len(err.splitlines()), 1, err)


class Status(lt.WorkspaceTest):
    """`livetrade status` with no flags finds a running `livetrade run`
    by the record the run keeps while it runs; with nothing to find it
    says what it tried and what to do."""

    def setUp(self):
        super().setUp()
        self.env = dict(os.environ, XDG_RUNTIME_DIR=self.ws.path("rt"))
        self.env.pop("LIVETRADE_STATUS", None)
        self.env.pop("LIVETRADE_CURVE", None)
        self.recs = os.path.join(self.ws.path("rt"), "livetrade")

    def status(self, *args):
        r = subprocess.run([os.path.join(lt.BIN, "livetrade"), "status",
                            "--timeout", "3000", *args], cwd=lt.ROOT,
                           env=self.env, capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout, r.stderr

    def test_finds_the_running_pipeline(self):
        w = Watched("--duration", "5", "--interval", "0.05", env=self.env)
        try:
            w.wait_for("live after", "the engine to go live")
            d = run_dir(w.text().splitlines()[0])
            rc, out, err = self.status()
            self.assertEqual(rc, 0, out + err)
            self.assertIn("ipc://%s/history.ipc" % d, out)
            self.assertIn("livetrade-feeder demo", out)
            self.assertIn("livetrade-engine sma_cross_close", out)
            self.assertIn("2 of 2 component(s) up", out)
            self.assertEqual(len(os.listdir(self.recs)), 1)
        finally:
            w.p.send_signal(signal.SIGTERM)
            rc, _, err = w.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual(os.listdir(self.recs), [], err)

    def test_nothing_found_says_why(self):
        # A record left by a run that was killed is skipped and removed.
        os.makedirs(self.recs)
        stale = os.path.join(self.recs, "run-999999999")
        with open(stale, "w") as f:
            f.write("pid 999999999\ndir /nonexistent\n"
                    "status ipc:///nonexistent/engine.ipc\n")
        rc, out, err = self.status("--timeout", "300")
        self.assertEqual(rc, 1, out + err)
        self.assertFalse(os.path.exists(stale))
        self.assertIn("tcp://127.0.0.1:5556", out)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn("no running `livetrade run` is recorded in %s"
                      % self.recs, err)
        self.assertIn("LIVETRADE_STATUS is not set", err)
        self.assertIn("--endpoints", err)
        self.env["LIVETRADE_STATUS"] = self.ws.ep("nobody")
        rc, out, err = self.status("--timeout", "300")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("in LIVETRADE_STATUS answered", err)
        rc, out, err = self.status("--timeout", "300", "--quiet")
        self.assertEqual(err, "")


class Settings(unittest.TestCase):
    """Unknown LIVETRADE_* settings and unknown flags are named with the
    closest known name, by every program."""

    def test_unknown_flag_did_you_mean(self):
        for prog, args, want in (
                ("livetrade", ["run", "--duraton", "1"], "--duration"),
                ("livetrade", ["status", "--endpoint", "x"], "--endpoints"),
                ("livetrade", ["backtest", "--stratgy", "x"], "--strategy"),
                ("livetrade-feeder", ["--symbol", "A"], "--symbols"),
                ("livetrade-engine", ["--strat", "x"], "--strategy"),
                ("livetrade-sink", ["console", "--jsno"], "--json")):
            rc, out, err = lt.run(prog, *args)
            self.assertEqual(rc, 2, err)
            self.assertIn("(did you mean %s? see --help)" % want, err)
            self.assertEqual(len(err.splitlines()), 1, err)

    def test_unknown_settings_warned_once(self):
        with lt.Workspace() as ws:
            envf = ws.write("env", "# comment\nLIVETRADE_CURV=/x\n"
                            "TRADING_SYMBOL=MSFT\nCOMPOSE_PROJECT_NAME=x\n")
            env = dict(os.environ, LIVETRADE_ENV_FILE=envf,
                       LIVETRADE_STOP_GRACE="3", LIVETRADE_ZZZZZZZZ="1")
            env.pop("LIVETRADE_SETTINGS_CHECKED", None)
            p = livetrade("--duration", "0.02", "--interval", "0.05",
                          env=env)
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
            for line in (
                    "unknown setting LIVETRADE_STOP_GRACE in the "
                    "environment (did you mean LIVETRADE_STOP_GRACE_S?)",
                    "unknown setting LIVETRADE_ZZZZZZZZ in the "
                    "environment; ignored",
                    "unknown setting LIVETRADE_CURV in %s line 2 (did you "
                    "mean LIVETRADE_CURVE?)" % envf,
                    "unknown setting TRADING_SYMBOL in %s line 3 (did you "
                    "mean TRADING_SYMBOLS?)" % envf):
                # Said once: by run, not again by the three programs.
                self.assertEqual(err.count(line), 1, err)
            self.assertNotIn("COMPOSE_PROJECT_NAME", err)
            self.assertNotIn("LIVETRADE_BIN", err)


if __name__ == "__main__":
    unittest.main()
