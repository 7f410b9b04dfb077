"""livetrade-feeder --source csv: a CSV file written here is replayed as
live bars -- exactly the file's bars, in time order, the first --history
of them as history only -- paced by --speed or as fast as possible, and
bad files or flags get one clear line."""
import calendar
import os
import time
import unittest
from unittest import mock

import msgpack
import zmq

import lt

MIN = 60000
T0 = calendar.timegm((2024, 3, 1, 14, 30, 0)) * 1000


def iso(ms):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


def row_values(i):
    o = 100 + 0.37 * i
    c = o + (0.11 if i % 3 else -0.23)
    return o, max(o, c) + 0.05, min(o, c) - 0.07, c, 1000.0 + 17 * i


class Subscriber:
    """A SUB socket on the feeder's bars (and heartbeats)."""

    def __init__(self, endpoint, sym):
        self.s = lt.CTX.socket(zmq.SUB)
        self.s.setsockopt(zmq.LINGER, 0)
        self.s.connect(endpoint)
        self.s.setsockopt(zmq.SUBSCRIBE, ("bar|%s|" % sym).encode())
        self.s.setsockopt(zmq.SUBSCRIBE, b"hb|")
        self.bars = []
        self.hb = 0
        self.last_recv = None

    def pump(self, timeout_ms=100):
        """Reads what is waiting; returns once nothing came for a while."""
        while self.s.poll(timeout_ms):
            topic, body = self.s.recv_multipart()
            m = msgpack.unpackb(body, raw=False)
            if topic == b"hb|":
                self.hb += 1
            else:
                self.bars.append(m)
                self.last_recv = time.monotonic()
            timeout_ms = 0

    def close(self):
        self.s.close()


class CsvFeeder(lt.WorkspaceTest):
    def setUp(self):
        super().setUp()
        self.sub = None

    def tearDown(self):
        if self.sub:
            self.sub.close()

    def feeder(self, path, *extra, sym=None):
        args = ["--source", "csv", "--data", path,
                "--pub", self.ws.ep("bars"), "--rep", self.ws.ep("hist")]
        if sym:
            args += ["--symbols", sym]
        return self.ws.start("feeder", "livetrade-feeder", *args, *extra)

    def check_bar(self, b, want, sym, tf):
        self.assertEqual((b["src"], b["sym"], b["tf"]), ("csv", sym, tf))
        self.assertEqual((b["t"], b["o"], b["h"], b["l"], b["c"],
                          b["vol"]), want)

    def test_speed_replays_every_bar_in_time(self):
        """backtesting.py's layout plus extra columns; 5 history bars, a
        4-hour gap (4 s at --speed 3600), then 30 minute bars."""
        times = [T0 + i * MIN for i in range(5)]
        times += [times[-1] + 240 * MIN + i * MIN for i in range(30)]
        want = []
        path = self.ws.path("intraday.csv")
        with open(path, "w") as f:
            f.write(",Open,High,Low,Close,Volume,VWAP,Trades,Note\n")
            for i, t in enumerate(times):
                o, h, l, c, v = row_values(i)
                f.write("%s,%r,%r,%r,%r,%r,%r,%d,\"a, b\"\n"
                        % (iso(t), o, h, l, c, v, (h + l) / 2, 10 + i))
                want.append((t, o, h, l, c, v))
        started = time.monotonic()
        feeder = self.feeder(path, "--history", "5", "--speed", "3600",
                             sym="TEST.X")
        self.sub = sub = Subscriber(self.ws.ep("bars"), "TEST.X")
        # A heartbeat proves the subscriptions are in place: the feeder
        # is idle for 4 s before the first live bar.
        lt.wait_until(lambda: sub.pump() or sub.hb, 10, "a heartbeat")
        self.assertEqual(sub.bars, [], "a live bar before the gap")
        lt.wait_until(lambda: sub.pump() or len(sub.bars) >= 30, 30,
                      "30 live bars")
        sub.pump(200)
        self.assertEqual(len(sub.bars), 30)
        for k, b in enumerate(sub.bars):
            self.check_bar(b, want[5 + k], "TEST.X", 60)
            self.assertEqual(b["seq"], 6 + k)
            self.assertAlmostEqual(b["vw"], (b["h"] + b["l"]) / 2)
            self.assertEqual(b["n"], 15 + k)
        # Paced by bar times: the last bar cannot come before
        # (t_last - t_last_history) / 3600 seconds after the start.
        self.assertGreaterEqual(sub.last_recv - started,
                                (times[-1] - times[4]) / 3600 / 1000)

        h = lt.history(self.ws.ep("hist"), "TEST.X", 1000)
        self.assertEqual(h["type"], "history", h)
        self.assertEqual(len(h["bars"]), 35)
        for k, b in enumerate(h["bars"]):
            self.check_bar(b, want[k], "TEST.X", 60)
            self.assertEqual(b["seq"], k + 1)
        st = lt.status(self.ws.ep("hist"))
        self.assertEqual((st["source"], st["bars_published"]), ("csv", 30))
        # At the end of the file it goes on serving requests.
        self.assertTrue(feeder.alive())
        self.assertEqual(feeder.stop(), 0, feeder.stderr())
        log = feeder.stderr()
        self.assertIn("35 bars of TEST.X", log)
        self.assertIn("5 as history, 30 to replay", log)
        self.assertIn("end of the file after 35 bars", log)

    def test_burst_in_time_order(self):
        """Plain layout with epoch-ms times, two rows swapped, the symbol
        from the file name (TRADING_SYMBOLS does not apply), --interval 0.
        A burst is out before any subscriber can join, so the feeder's
        counters and history tell what it published."""
        n, hist = 3000, 100
        rows = []
        for i in range(n):
            o, h, l, c, v = row_values(i % 500)
            rows.append((T0 + i * 5 * MIN, o, h, l, c, v))
        path = self.ws.path("eurusd_5m.csv")
        with open(path, "w") as f:
            f.write("time,open,high,low,close,volume\n")
            order = list(range(n))
            order[1500], order[1501] = order[1501], order[1500]
            for i in order:
                f.write("%d,%r,%r,%r,%r,%r\n" % rows[i])
        with mock.patch.dict(os.environ, {"TRADING_SYMBOLS": "AAPL,MSFT"}):
            feeder = self.feeder(path, "--history", str(hist),
                                 "--interval", "0")
        st = lt.wait_until(
            lambda: (lambda s: s if s and s["bars_published"] == n - hist
                     else None)(lt.status(self.ws.ep("hist"))),
            what="every live bar")
        self.assertEqual(st["dropped"], 0)
        h = lt.history(self.ws.ep("hist"), "EURUSD_5M", 100000)
        self.assertEqual(h["seq"], n)
        self.assertEqual(len(h["bars"]), n)
        for k, b in enumerate(h["bars"]):
            self.check_bar(b, rows[k], "EURUSD_5M", 300)
            self.assertEqual(b["seq"], k + 1)
        self.assertEqual(feeder.stop(), 0)
        log = feeder.stderr()
        self.assertIn("1 out-of-order rows", log)
        self.assertIn("bad_bars 0 ", log)

    def test_exit_when_done(self):
        """--exit-when-done without --count: exits 0 at the end of the
        file, after publishing every bar past the history."""
        path = self.ws.path("small.csv")
        with open(path, "w") as f:
            f.write("Date,Open,High,Low,Close\n")
            for i in range(50):
                o, h, l, c, _ = row_values(i)
                f.write("%s,%r,%r,%r,%r\n" % (iso(T0 + i * 86400000)[:10],
                                               o, h, l, c))
        feeder = self.feeder(path, "--history", "20", "--interval", "0",
                             "--exit-when-done")
        self.assertEqual(feeder.wait(30), 0, feeder.stderr())
        log = feeder.stderr()
        self.assertIn("bars_published 30 ", log)
        self.assertIn("timeframe 86400s", log)

    def test_bad_files(self):
        def run(name, text):
            path = self.ws.path(name)
            with open(path, "w") as f:
                f.write(text)
            return lt.run("livetrade-feeder", "--source", "csv", "--data",
                          path, "--pub", self.ws.ep("b-" + name),
                          "--rep", self.ws.ep("r-" + name))

        head = "time,open,high,low,close,volume\n"
        code, _, err = run("dup.csv", head + "2024-01-02,1,2,0.5,1.5,10\n"
                           "2024-01-03,1,2,0.5,1.5,10\n"
                           "2024-01-02,1,2,0.5,1.5,10\n")
        self.assertEqual(code, 1)
        self.assertIn("dup.csv:4: time 2024-01-02T00:00:00 repeats line 2",
                      err)
        code, _, err = run("hl.csv", head + "2024-01-02,1,2,0.5,1.5,10\n"
                           "2024-01-03,1,0.5,2,1.5,10\n")
        self.assertEqual(code, 1)
        self.assertIn("hl.csv:3: ", err)
        self.assertIn("high 0.5 < low 2", err)
        code, _, err = run("empty.csv", head)
        self.assertEqual(code, 1)
        self.assertIn("empty.csv: no bars", err)
        missing = self.ws.path("nowhere.csv")
        code, _, err = lt.run("livetrade-feeder", "--source", "csv",
                              "--data", missing, "--pub", self.ws.ep("b"),
                              "--rep", self.ws.ep("r"))
        self.assertEqual(code, 1)
        self.assertIn(missing, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_bad_flags(self):
        path = self.ws.path("ok.csv")
        with open(path, "w") as f:
            f.write("time,open,high,low,close\n2024-01-02,1,2,0.5,1.5\n")
        cases = [
            (["--source", "csv"], "needs --data"),
            (["--source", "csv", "--data", path, "--symbols", "A,B"],
             "one symbol"),
            (["--source", "csv", "--data", path, "--speed", "2",
              "--interval", "1"], "not both"),
            (["--source", "csv", "--data", path, "--speed", "0"],
             "--speed"),
            (["--source", "csv", "--data", path, "--timeframe", "60"],
             "does not apply"),
            (["--source", "demo", "--data", path], "need --source csv"),
            (["--source", "csv", "--data", self.ws.path("a b.csv")],
             "give --symbols"),
        ]
        for args, text in cases:
            code, out, err = lt.run("livetrade-feeder", *args)
            self.assertEqual(code, 2, (args, err))
            self.assertIn(text, err, args)
            self.assertEqual(len(err.strip().splitlines()), 1, err)


if __name__ == "__main__":
    unittest.main()
