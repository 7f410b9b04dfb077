"""Engines sharded per symbol group: two engines with --shard 0/2 and 1/2
on the same feeder cover every symbol exactly once and together publish
exactly the signals of one engine over all symbols; one file sink reads
both engines at once, every signal once, each engine's in order. An empty
shard idles; bad --shard values are refused."""
import os
import unittest

import lt

# FNV-1a 64 of the symbol's bytes, modulo 2: NVDA META QQQ -> 0,
# AAPL MSFT GOOG -> 1 (checked below against the engines' status).
SYMS = ["AAPL", "MSFT", "GOOG", "NVDA", "META", "QQQ"]
START = 1767225600000
HISTORY = 300
COUNT = 300


def fnv1a(s):
    h = 0xcbf29ce484222325
    for c in s.encode():
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


class Shard(lt.WorkspaceTest):
    def engine(self, name, *extra):
        ws = self.ws
        return ws.start(name, "livetrade-engine",
                        "--strategy", "strategies/sma_cross.lua",
                        "--symbols", ",".join(SYMS), "--sub", ws.ep("bars"),
                        "--history", ws.ep("hist"),
                        "--pub", ws.ep(name + "-sig"),
                        "--rep", ws.ep(name + "-rep"),
                        "--wait-subscribers", "1", *extra)

    def done(self, name, last_t):
        st = lt.status(self.ws.ep(name + "-rep"))
        if st and all(s["live"] and s["last_t"] == last_t
                      for s in st["symbols"]):
            return st
        return None

    def test_two_shards_equal_one_engine(self):
        ws = self.ws
        both = ws.start("both", "livetrade-sink", "file", "--path",
                        ws.path("both.jsonl"), "--sub",
                        ws.ep("s0-sig") + "," + ws.ep("s1-sig"), "--replay",
                        ws.ep("s0-rep") + "," + ws.ep("s1-rep"))
        one = ws.start("one", "livetrade-sink", "file", "--path",
                       ws.path("one.jsonl"), "--sub", ws.ep("all-sig"),
                       "--replay", ws.ep("all-rep"))
        procs = [both, one, self.engine("s0", "--shard", "0/2"),
                 self.engine("s1", "--shard", "1/2"), self.engine("all")]
        procs.append(ws.start(
            "feeder", "livetrade-feeder", "--source", "demo", "--symbols",
            ",".join(SYMS), "--seed", "5", "--start", str(START),
            "--history", str(HISTORY), "--count", str(COUNT), "--interval",
            "0.02", "--wait-subscribers", str(2 * len(SYMS)), "--pub",
            ws.ep("bars"), "--rep", ws.ep("hist")))
        last_t = START + (HISTORY + COUNT - 1) * 60000
        st = {n: lt.wait_until(lambda n=n: self.done(n, last_t), 60,
                               n + " to take every bar")
              for n in ("s0", "s1", "all")}
        held = {n: sorted(s["sym"] for s in st[n]["symbols"]) for n in st}
        self.assertEqual(held["s0"], sorted(s for s in SYMS
                                            if fnv1a(s) % 2 == 0))
        self.assertEqual(held["s1"], sorted(s for s in SYMS
                                            if fnv1a(s) % 2 == 1))
        self.assertEqual(held["all"], sorted(SYMS))
        self.assertNotEqual(st["s0"]["id"], st["s1"]["id"])
        n_both = st["s0"]["signals"] + st["s1"]["signals"]
        lt.wait_until(lambda: len(lt.read_jsonl(ws.path("both.jsonl")))
                      >= n_both, 30, "the two-engine sink")
        lt.wait_until(lambda: len(lt.read_jsonl(ws.path("one.jsonl")))
                      >= st["all"]["signals"], 30, "the one-engine sink")
        got = lt.read_jsonl(ws.path("both.jsonl"))
        ref = lt.read_jsonl(ws.path("one.jsonl"))
        self.assertGreater(len(ref), 20)
        self.assertEqual(len(got), n_both)
        self.assertEqual(sorted((x["id"], x["symbol"], x["bar_ts"],
                                 x["action"], x["confidence"]) for x in got),
                         sorted((x["id"], x["symbol"], x["bar_ts"],
                                 x["action"], x["confidence"]) for x in ref))
        for name in ("s0", "s1"):
            seqs = [x["seq"] for x in got if x["engine"] == st[name]["id"]]
            self.assertEqual(seqs, list(range(1, st[name]["signals"] + 1)))
        for p in procs:
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])

    def test_empty_shard_idles_and_bad_values(self):
        ws = self.ws
        eng = ws.start("idle", "livetrade-engine", "--strategy",
                       "strategies/sma_cross.lua", "--symbols", "AAPL",
                       "--shard", "0/2", "--pub", ws.ep("sig"), "--rep",
                       ws.ep("rep"), "--sub", ws.ep("bars"))
        st = lt.wait_until(lambda: lt.status(ws.ep("rep")), 10, "status")
        self.assertEqual(st["symbols"], [])
        self.assertEqual(st["strategy"], "sma_cross")
        self.assertTrue(st["id"].endswith("-s0of2"), st["id"])
        self.assertIn("none: this engine stays idle", eng.stderr())
        self.assertEqual(eng.stop(), 0)
        for bad in ("2/2", "1", "x/2", "0/0", "-1/2", "0/2/3", "0/2000"):
            code, _, err = lt.run("livetrade-engine", "--strategy",
                                  "strategies/sma_cross.lua", "--shard", bad)
            self.assertEqual(code, 2, bad)
            self.assertIn("--shard must be I/N", err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)


if __name__ == "__main__":
    unittest.main()
