"""The engine's indicator values per bar (README: "Wire protocol"): a
demo feeder and an sma_cross engine; a subscriber to ind|AAPL| gets a
message for every live bar, whose sma1/sma2 are the SMAs re-derived here
from the feeder's own bars; nothing is published on ind| while nobody
subscribes (before, and again after the subscriber leaves); signals keep
their sequence numbers and journal, and a file sink never sees an ind|
message; the "indicators" request answers from the engine's arrays and
refuses bad requests."""
import math
import unittest

import msgpack
import zmq

import lt

SYMS = ["AAPL", "MSFT"]
START = 1767225600000           # 2026-01-01T00:00:00Z
HISTORY = 300
COUNT = 400


class IndTopic(lt.WorkspaceTest):
    def setUp(self):
        super().setUp()
        self.sub = None

    def tearDown(self):
        if self.sub:
            self.sub.close(0)

    def status(self):
        return lt.status(self.ws.ep("eng")) or {}

    def expect_sma(self, got, cl, n, i, j, what):
        """got: the engine's SMA(n) at feeder bar i, its j-th bar held."""
        if j < n - 1:
            self.assertTrue(math.isnan(got), "%s: %r, want NaN" % (what, got))
        else:
            self.assertAlmostEqual(got, lt.sma(cl, n, i), places=9, msg=what)

    def test_ind_topic_and_request(self):
        ws = self.ws
        last_t = START + (HISTORY + COUNT - 1) * 60000
        sink = ws.start("sink", "livetrade-sink", "file",
                        "--path", ws.path("sink.jsonl"), "--sub", ws.ep("sig"),
                        "--replay", ws.ep("eng"))
        # Live once the file sink listens (a subscription to sig| only).
        engine = ws.start("engine", "livetrade-engine",
                          "--strategy", "strategies/sma_cross.lua",
                          "--symbols", ",".join(SYMS), "--sub", ws.ep("bars"),
                          "--history", ws.ep("hist"), "--pub", ws.ep("sig"),
                          "--rep", ws.ep("eng"), "--wait-subscribers", "1")
        feeder = ws.start("feeder", "livetrade-feeder", "--source", "demo",
                          "--symbols", ",".join(SYMS), "--seed", "7",
                          "--start", str(START), "--history", str(HISTORY),
                          "--count", str(COUNT), "--interval", "0.02",
                          "--pub", ws.ep("bars"), "--rep", ws.ep("hist"))

        # Bars go through live while nobody subscribes to ind|: none sent.
        st = lt.wait_until(lambda: (lambda s: s.get("symbols") and all(
            y["live"] for y in s["symbols"]) and s["bars_in"] >= 2 * 60 and
            s)(self.status()), 60, "60 live bars per symbol")
        self.assertEqual(st["ind_subs"], 0)
        self.assertEqual(st["ind_sent"], 0)

        self.sub = lt.CTX.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"ind|AAPL|")
        self.sub.connect(ws.ep("sig"))
        lt.wait_until(lambda: self.status().get("ind_subs") == 1, 10,
                      "the engine to count the subscription")
        got = []
        while len(got) < 60:
            self.assertTrue(self.sub.poll(10000), "no ind| message")
            topic, body = self.sub.recv_multipart()
            self.assertEqual(topic, b"ind|AAPL|")
            got.append(msgpack.unpackb(body, raw=False))
        # The subscriber leaves without unsubscribing: nothing more is
        # sent, though bars keep coming.
        self.sub.close(0)
        self.sub = None
        lt.wait_until(lambda: self.status().get("ind_subs") == 0, 10,
                      "the engine to see the subscriber go")
        sent = self.status()["ind_sent"]
        self.assertGreaterEqual(sent, len(got))
        st = lt.wait_until(lambda: (lambda s: s.get("symbols") and all(
            y["last_t"] == last_t for y in s["symbols"]) and s)(
            self.status()), 60, "the engine to take every bar")
        self.assertEqual(st["ind_sent"], sent)
        self.assertLess(got[-1]["t"], last_t - 60 * 60000)

        bars = lt.history(ws.ep("hist"), "AAPL", 100000)["bars"]
        self.assertEqual(len(bars), HISTORY + COUNT)
        cl = [b["c"] for b in bars]
        idx = {b["t"]: i for i, b in enumerate(bars)}
        aapl = [y for y in st["symbols"] if y["sym"] == "AAPL"][0]
        first = idx[aapl["first_t"]]

        # One message per live bar, consecutive, with the signal's values.
        for k, m in enumerate(got):
            self.assertEqual((m["ver"], m["type"], m["eng"], m["sym"]),
                             (1, "ind", st["id"], "AAPL"))
            self.assertEqual(sorted(m["ind"]), ["sma1", "sma2"])
            self.assertGreaterEqual(m["t"], aapl["first_live_t"])
            if k:
                self.assertEqual(m["t"], got[k - 1]["t"] + 60000)
            i = idx[m["t"]]
            self.expect_sma(m["ind"]["sma1"], cl, 10, i, i - first, "sma1")
            self.expect_sma(m["ind"]["sma2"], cl, 20, i, i - first, "sma2")

        # Signals: sequence 1..N, all journaled, all written by the sink,
        # which saw no message but signals and heartbeats.
        lt.wait_until(lambda: len(lt.read_jsonl(ws.path("sink.jsonl"))) >=
                      st["signals"], 30, "the sink to write every signal")
        written = lt.read_jsonl(ws.path("sink.jsonl"))
        self.assertGreater(len(written), 5)
        self.assertEqual([s["seq"] for s in written],
                         list(range(1, st["signals"] + 1)))
        rp = lt.request(ws.ep("eng"), {"ver": 1, "type": "replay",
                                       "after": 0})
        self.assertEqual([s["id"] for s in rp["signals"]],
                         [s["id"] for s in written])
        self.assertEqual(sink.stop(), 0)
        self.assertIn("bad 0", sink.stderr())
        self.assertNotIn("dropped a message", sink.stderr())

        # "indicators": every bar held (n is cut to 5000), oldest first,
        # NaN before each SMA has its window.
        r = lt.request(ws.ep("eng"), {"ver": 1, "type": "indicators",
                                      "sym": "AAPL", "n": 100000})
        self.assertEqual((r["type"], r["eng"], r["sym"]),
                         ("indicators", st["id"], "AAPL"))
        pts = r["points"]
        self.assertEqual(len(pts), aapl["bars"])
        self.assertEqual(pts[0]["t"], aapl["first_t"])
        self.assertEqual(pts[-1]["t"], last_t)
        for j, p in enumerate(pts):
            i = idx[p["t"]]
            self.assertEqual(i, first + j)
            self.expect_sma(p["ind"]["sma1"], cl, 10, i, j, "sma1 at %d" % j)
            self.expect_sma(p["ind"]["sma2"], cl, 20, i, j, "sma2 at %d" % j)
        # The live messages carried the same values.
        at = {p["t"]: p["ind"] for p in pts}
        for m in got:
            self.assertEqual(m["ind"], at[m["t"]])
        r = lt.request(ws.ep("eng"), {"ver": 1, "type": "indicators",
                                      "sym": "MSFT", "n": 10})
        self.assertEqual([p["t"] for p in r["points"]],
                         [last_t - (9 - k) * 60000 for k in range(10)])

        for bad, why in (({"sym": "ZZZ", "n": 10}, "unknown symbol 'ZZZ'"),
                         ({"sym": "AAPL", "n": 0}, "'n'"),
                         ({"sym": "AAPL", "n": 1.5}, "'n'"),
                         ({"sym": "AAPL"}, "'n'"),
                         ({"sym": "AA|PL", "n": 10}, "'sym'"),
                         ({"n": 10}, "'sym'")):
            r = lt.request(ws.ep("eng"), dict(ver=1, type="indicators",
                                              **bad))
            self.assertEqual(r["type"], "error", bad)
            self.assertIn(why, r["error"], bad)

        for p in (feeder, engine):
            self.assertEqual(p.stop(), 0, p.name + ":\n" + p.stderr())


if __name__ == "__main__":
    unittest.main()
