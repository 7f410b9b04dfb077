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
  same feed gives an engine with a fresh journal.
- A journal written before marks named the strategy still opens, and a
  replay of its feed is a new run."""
import unittest

from engine_case import EngineCase, goog_last_t

START = 1767225600000           # 2026-01-01T00:00:00Z
HISTORY = 300
COUNT = 200


class Runs(EngineCase):
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

    def test_journal_of_an_older_version(self):
        """A journal whose marks do not name the strategy (written before
        they did) opens; its sequence numbers go on, and a replay of the
        marked feed is a new run."""
        import os
        import struct
        import zlib
        import msgpack
        last_t = goog_last_t()
        jdir = self.ws.path("journal")
        os.makedirs(jdir)

        def record(kind, m):
            body = kind + msgpack.packb(m)
            return struct.pack("<II", len(body), zlib.crc32(body)) + body
        sig = {"ver": 1, "id": "0123456789abcdef", "eng": "e",
               "strat": "sma_cross_close", "sym": "GOOG", "act": "buy",
               "t": last_t, "ord": 0, "px": 806.19, "size": None,
               "conf": 0.5, "ind": {}, "seq": 7, "pub": 1, "ts": 1}
        with open(os.path.join(jdir, "signals-%020d.jnl" % 1), "wb") as f:
            f.write(record(b"S", sig))
            f.write(record(b"M", {"sym": "GOOG", "t": last_t,
                                  "c": 806.19, "tf": 86400}))
        want = self.backtest()
        got, err = self.run_once(self.csv_args(), last_t, "journal")
        self.assertIn("1 signals held (seq 7..7)", err)
        self.assertEqual(got, want)
        self.assert_one_new_run_line(err)
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
