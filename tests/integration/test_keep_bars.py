"""--keep-bars, with real processes: memory that does not grow with the
bars seen.

- A feeder with --keep-bars K answers history with at most K bars per
  symbol, the newest, however many it published; --keep-bars below
  --history is refused in one line.
- An engine with a small bound (below what sma_cross reads back: it keeps
  that instead and says so) publishes exactly the signals of `livetrade
  backtest` on shared/data/GOOG.csv, and logs what it keeps.
- Over a long run (bounded in bars and time) the engine's resident memory
  at the end is within a small margin of what it was a quarter in.
- A strategy reading self.data.Close[1] (counted from the first bar) is
  named, file and line, in one warning at start."""
import os
import re
import unittest

import lt

SHARED = os.path.join(lt.ROOT, "..", "shared")
DATA = os.path.join(SHARED, "data")
KEYS = ("id", "action", "bar_ts", "ordinal", "price", "size", "limit",
        "stop", "sl", "tp", "tag", "confidence", "indicators")


def rss_kb(proc):
    with open("/proc/%d/status" % proc.p.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %s" % proc.name)


class KeepBars(lt.WorkspaceTest):

    def test_feeder_history_holds_the_newest(self):
        ws = self.ws
        keep, count = 64, 500
        f = ws.start("feeder", "livetrade-feeder", "--source", "demo",
                     "--symbols", "AAA,BBB", "--history", "40",
                     "--keep-bars", str(keep), "--count", str(count),
                     "--interval", "0", "--pub", ws.ep("bars"),
                     "--rep", ws.ep("hist"))
        last = 40 + count

        def all_out():
            h = lt.history(ws.ep("hist"), "BBB", 100000)
            return h if h and h.get("seq") == last else None
        lt.wait_until(all_out, 60, "the feeder to publish every bar")
        for sym in ("AAA", "BBB"):
            h = lt.history(ws.ep("hist"), sym, 100000)
            self.assertEqual(h["type"], "history", h)
            self.assertEqual(h["seq"], last)
            bars = h["bars"]
            self.assertGreaterEqual(len(bars), keep * 7 // 8)
            self.assertLessEqual(len(bars), keep)
            self.assertEqual([b["seq"] for b in bars],
                             list(range(last - len(bars) + 1, last + 1)))
        self.assertIn("keeping the newest 64 bars per symbol", f.stderr())
        self.assertEqual(f.stop(), 0, f.stderr())

    def test_feeder_keep_below_history_refused(self):
        rc, _, err = lt.run("livetrade-feeder", "--source", "demo",
                            "--history", "500", "--keep-bars", "100")
        self.assertEqual(rc, 2, err)
        self.assertIn("--history 500 is more than --keep-bars 100 keeps",
                      err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)

    @unittest.skipUnless(os.path.isdir(DATA), "skipped: ../shared/data not "
                         "found beside the repository")
    def test_engine_parity_with_a_small_bound(self):
        ws = self.ws
        data = os.path.join(DATA, "GOOG.csv")
        with open(data) as f:
            nbars = sum(1 for line in f if line.strip()) - 1
        bt = ws.path("bt.jsonl")
        rc, _, err = lt.run("livetrade", "backtest", "--strategy",
                            "strategies/sma_cross.lua", "--data", data,
                            "--symbol", "GOOG", "--signals", bt,
                            timeout=120)
        self.assertEqual(rc, 0, err)
        out = ws.path("live.jsonl")
        sink = ws.start("sink", "livetrade-sink", "file", "--path", out,
                        "--sub", ws.ep("sig"))
        eng = ws.start("engine", "livetrade-engine", "--strategy",
                       "strategies/sma_cross.lua", "--symbols", "GOOG",
                       "--keep-bars", "5", "--sub", ws.ep("bars"),
                       "--history", "", "--pub", ws.ep("sig"), "--rep",
                       ws.ep("rep"), "--wait-subscribers", "1")
        feeder = ws.start("feeder", "livetrade-feeder", "--source", "csv",
                          "--data", data, "--symbols", "GOOG",
                          "--interval", "0", "--wait-subscribers", "1",
                          "--pub", ws.ep("bars"), "--rep", ws.ep("hist"))

        def done():
            st = lt.status(ws.ep("rep"))
            return st if st and st["symbols"][0]["bars"] == nbars else None
        st = lt.wait_until(done, 120, "the engine to take every bar")
        lt.wait_until(lambda: len(lt.read_jsonl(out)) >= st["signals"], 30,
                      "the sink to write every signal")
        for p in (feeder, eng, sink):
            self.assertEqual(p.stop(), 0, p.stderr())
        log = eng.stderr()
        m = re.search(r"--keep-bars 5 is less than \S+ reads back \((\d+) "
                      r"bars.*; keeping (\d+)", log)
        self.assertTrue(m, log)
        self.assertEqual(m.group(1), m.group(2))
        self.assertLess(int(m.group(2)), 100)   # a bound far below 2148
        self.assertRegex(log, r"keeping the last %s bars per symbol "
                         r"\(--keep-bars.*bytes a bar, about \d+ KiB per "
                         r"symbol per day at 86400s bars" % m.group(2))
        self.assertNotIn("reads further back", log)
        live = lt.read_jsonl(out)
        want = lt.read_jsonl(bt)
        self.assertGreater(len(want), 10)
        self.assertEqual([tuple(repr(s.get(k)) for k in KEYS) for s in live],
                         [tuple(repr(s.get(k)) for k in KEYS) for s in want])

    def test_engine_memory_flat(self):
        ws = self.ws
        # Under AddressSanitizer freed memory is held back for a while:
        # without that the resident memory is what is in use, as without.
        asan = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = ":".join(filter(None, [
            asan, "quarantine_size_mb=0",
            "thread_local_quarantine_size_kb=0"]))
        self.addCleanup(lambda: os.environ.pop("ASAN_OPTIONS") if asan is
                        None else os.environ.update(ASAN_OPTIONS=asan))
        syms = ["S%02d" % i for i in range(40)]
        count = 20000                   # bars per symbol: 800,000 in all
        start = 1767225600000
        # Paced (a round of bars a millisecond at most) so that the engine
        # is a quarter in when it is measured there, however fast it is.
        feeder = ws.start("feeder", "livetrade-feeder", "--source", "demo",
                          "--symbols", ",".join(syms), "--history", "0",
                          "--start", str(start), "--count", str(count),
                          "--interval", "0.001", "--keep-bars", "1000",
                          "--wait-subscribers", "1", "--pub", ws.ep("bars"),
                          "--rep", ws.ep("hist"))
        eng = ws.start("engine", "livetrade-engine", "--strategy",
                       "strategies/sma_cross.lua", "--symbols",
                       ",".join(syms), "--keep-bars", "100", "--sub",
                       ws.ep("bars"), "--history", ws.ep("hist"),
                       "--pub", ws.ep("sig"), "--rep", ws.ep("rep"),
                       "--journal", "")

        def reached(k):
            """Every symbol has taken its bar number k (0 = the first)."""
            st = lt.status(ws.ep("rep"))
            return st and all(s["last_t"] >= start + k * 60000
                              for s in st["symbols"])
        lt.wait_until(lambda: reached(count // 4), 300,
                      "a quarter of the bars")
        quarter = rss_kb(eng)
        lt.wait_until(lambda: reached(count - 1), 600, "every bar")
        end = rss_kb(eng)
        # A quarter in, every symbol holds its bound of bars (and of
        # closed trades). Every bar held would add about 80 bytes (six
        # columns, two indicators, the equity) and closed trades more:
        # at least 48 MB over the last three quarters.
        self.assertLess(end - quarter, 4 * 1024 + quarter * 0.03,
                        "engine RSS %d kB a quarter in, %d kB at the end"
                        % (quarter, end))
        for p in (feeder, eng):
            self.assertEqual(p.stop(), 0, p.stderr())

    def test_warning_for_a_read_from_the_first_bar(self):
        ws = self.ws
        path = ws.write("first.lua", (
            "local S = Strategy { n = 10 }\n"
            "function S:init()\n"
            "  self.sma = self:I(SMA, self.data.Close, self.n)\n"
            "end\n"
            "function S:next()\n"
            "  if self.data.Close[-1] > self.data.Close[1] then\n"
            "    self:buy()\n"
            "  end\n"
            "end\n"
            "return S\n"))
        eng = ws.start("engine", "livetrade-engine", "--strategy", path,
                       "--symbols", "AAA", "--sub", ws.ep("bars"),
                       "--history", "", "--pub", ws.ep("sig"), "--rep",
                       ws.ep("rep"))
        lt.wait_until(lambda: lt.status(ws.ep("rep")), 30, "the engine")
        self.assertEqual(eng.stop(), 0, eng.stderr())
        lines = [ln for ln in eng.stderr().splitlines()
                 if "reads further back" in ln]
        self.assertEqual(len(lines), 1, eng.stderr())
        self.assertIn("%s:6: data.Close[1...] (an index counted from the "
                      "first bar)" % path, lines[0])
        self.assertIn("than the 1000 bars kept", lines[0])
        # Every bar kept: nothing to warn about.
        eng = ws.start("engine2", "livetrade-engine", "--strategy", path,
                       "--symbols", "AAA", "--keep-bars", "0", "--sub",
                       ws.ep("bars2"), "--history", "", "--pub",
                       ws.ep("sig2"), "--rep", ws.ep("rep2"))
        lt.wait_until(lambda: lt.status(ws.ep("rep2")), 30, "the engine")
        self.assertEqual(eng.stop(), 0, eng.stderr())
        self.assertNotIn("reads further back", eng.stderr())


if __name__ == "__main__":
    unittest.main()
