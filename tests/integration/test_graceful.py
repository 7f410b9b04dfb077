"""Stopping is bounded: after SIGTERM a program drains and exits 0; one
whose drain cannot finish (here an exec sink whose child never reads,
with --stop-ms far longer than the grace period) gives up after
LIVETRADE_STOP_GRACE_S seconds with one line and exit code 1, instead of
hanging a supervisor's stop. SIGTERM in the middle of a stream loses
nothing: what the engine or a sink had taken in is finished first.
SIGUSR1 ends a demo feeder's live feed; it goes on serving history."""
import os
import signal
import time
import unittest

import lt
from test_custom_sinks import SignalPublisher


class Graceful(lt.WorkspaceTest):
    def test_stuck_drain_is_cut_off(self):
        ws = self.ws
        pub = SignalPublisher(ws)
        os.environ["LIVETRADE_STOP_GRACE_S"] = "1"
        try:
            sink = ws.start("sink", "livetrade-sink", "exec", "--sub",
                            pub.ep, "--replay", "", "--stop-ms", "60000",
                            "--", "/bin/sleep", "600")
        finally:
            del os.environ["LIVETRADE_STOP_GRACE_S"]
        pub.wait_subscribers(1)
        for seq in range(1, 51):
            pub.send(seq)
        lt.wait_until(lambda: "child" in sink.stderr() or
                      "started" in sink.stderr(), 10, "the child")
        t0 = time.monotonic()
        sink.p.send_signal(signal.SIGTERM)
        code = sink.p.wait(15)
        took = time.monotonic() - t0
        self.assertEqual(code, 1, sink.stderr()[-2000:])
        self.assertLess(took, 10)
        self.assertIn("still draining after the stop signal's grace period",
                      sink.stderr())
        pub.close()

    def test_programs_exit_0_on_sigterm(self):
        ws = self.ws
        feeder = ws.start("feeder", "livetrade-feeder", "--source", "demo",
                          "--symbols", "AAPL,MSFT", "--interval", "0.01",
                          "--pub", ws.ep("bars"), "--rep", ws.ep("hist"))
        eng = ws.start("engine", "livetrade-engine", "--strategy",
                       "strategies/sma_cross.lua", "--symbols", "AAPL,MSFT",
                       "--sub", ws.ep("bars"), "--history", ws.ep("hist"),
                       "--pub", ws.ep("sig"), "--rep", ws.ep("rep"))
        sink = ws.start("sink", "livetrade-sink", "file", "--path",
                        ws.path("out.jsonl"), "--sub", ws.ep("sig"),
                        "--replay", ws.ep("rep"))
        lt.wait_until(lambda: len(lt.read_jsonl(ws.path("out.jsonl"))) >= 3,
                      60, "signals")
        for p in (feeder, eng, sink):
            t0 = time.monotonic()
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])
            self.assertLess(time.monotonic() - t0, 10, p.name)

    def test_sigterm_mid_stream_loses_nothing(self):
        """SIGTERM while bars pour in: the engine still processes the bars
        it has received, journals and publishes their signals and exits 0;
        every signal its last line counts reaches the sink that stays up,
        and none more. Then the sink is stopped mid-stream the same way:
        its file holds every signal it counts as written, and a new start
        brings the rest, once each."""
        import re
        ws = self.ws
        syms = "AAPL,MSFT"
        feeder = ws.start("feeder", "livetrade-feeder", "--source", "demo",
                          "--symbols", syms, "--seed", "5", "--history",
                          "200", "--count", "3000", "--interval", "0.003",
                          "--wait-subscribers", "1", "--pub", ws.ep("bars"),
                          "--rep", ws.ep("hist"))

        def engine(name):
            return ws.start(name, "livetrade-engine", "--strategy",
                            "strategies/sma_cross.lua", "--symbols", syms,
                            "--sub", ws.ep("bars"), "--history",
                            ws.ep("hist"), "--pub", ws.ep("sig"), "--rep",
                            ws.ep("rep"), "--journal", ws.path("journal"),
                            "--wait-subscribers", "1")

        def sink(name):
            return ws.start(name, "livetrade-sink", "file", "--path",
                            ws.path("out.jsonl"), "--sub", ws.ep("sig"),
                            "--replay", ws.ep("rep"))

        def seqs():
            return [x["seq"] for x in lt.read_jsonl(ws.path("out.jsonl"))]
        out = sink("sink")
        eng = engine("engine")
        lt.wait_until(lambda: len(seqs()) >= 20, 60, "signals flowing")
        first_live = {x["sym"]: x["first_live_t"] for x in
                      lt.status(ws.ep("rep"))["symbols"]}
        self.assertEqual(eng.stop(), 0, eng.stderr()[-2000:])
        m = re.search(r"stopping: (\d+) bars in .*?, (\d+) signals",
                      eng.stderr())
        self.assertIsNotNone(m, eng.stderr()[-2000:])
        n = int(m.group(2))
        lt.wait_until(lambda: len(seqs()) >= n, 20,
                      "the %d signals of the stopped engine" % n)
        self.assertEqual(seqs(), list(range(1, n + 1)))

        # The engine again (it catches up on the bars it missed); the sink
        # is stopped while signals flow and started again.
        eng = engine("engine-2")
        lt.wait_until(lambda: len(seqs()) >= n + 20, 60,
                      "the restarted engine's signals")
        self.assertEqual(out.stop(), 0, out.stderr()[-2000:])
        w = int(re.search(r"written (\d+)", out.stderr()).group(1))
        self.assertEqual(len(seqs()), w)
        out = sink("sink-2")
        last_t = lambda: max(s["last_t"] for s in  # noqa: E731
                             (lt.status(ws.ep("rep")) or {"symbols": [
                                 {"last_t": 0}]})["symbols"])
        lt.wait_until(lambda: all(s["live"] == 3000 for s in (
            lt.status(ws.ep("hist")) or {"symbols": [{"live": 0}]})["symbols"]),
            120, "the feeder's last bar")
        feeder_last = max(s["last_t"] for s in
                          lt.status(ws.ep("hist"))["symbols"])
        lt.wait_until(lambda: last_t() >= feeder_last, 60,
                      "the engine to take every bar")
        total = lt.status(ws.ep("rep"))["signals"]
        lt.wait_until(lambda: len(seqs()) >= total, 30,
                      "all %d signals in the file" % total)
        got = lt.read_jsonl(ws.path("out.jsonl"))
        self.assertEqual([x["seq"] for x in got], list(range(1, total + 1)))
        self.assertEqual(len({x["id"] for x in got}), total)
        for sym in syms.split(","):
            bars = lt.history(ws.ep("hist"), sym, 100000)["bars"]
            expected = {t: a for t, a in lt.sma_cross_calls(bars).items()
                        if t >= first_live[sym]}
            self.assertEqual({x["bar_ts"]: x["action"] for x in got
                              if x["symbol"] == sym}, expected, sym)
        for p in (out, eng, feeder):
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])

    def test_sigusr1_ends_the_feed_and_keeps_serving(self):
        ws = self.ws
        feeder = ws.start("feeder", "livetrade-feeder", "--source", "demo",
                          "--symbols", "AAPL,MSFT", "--interval", "0.01",
                          "--history", "50", "--pub", ws.ep("bars"),
                          "--rep", ws.ep("hist"))
        lt.wait_until(lambda: (lt.status(ws.ep("hist")) or {}).get(
            "bars_published", 0) >= 20, 20, "live bars")
        feeder.p.send_signal(signal.SIGUSR1)
        lt.wait_until(lambda: "SIGUSR1: ending the live feed" in
                      feeder.stderr(), 10, "the feed to end")
        n = lt.status(ws.ep("hist"))["bars_published"]
        lt.wait_until(lambda: "every symbol is done" in feeder.stderr(), 10,
                      "every symbol done")
        time.sleep(0.3)             # would have published ~60 more bars
        self.assertEqual(lt.status(ws.ep("hist"))["bars_published"], n)
        st = lt.status(ws.ep("hist"))
        self.assertEqual(sum(x["live"] for x in st["symbols"]), n)
        for x in st["symbols"]:        # still serving every bar it has
            hist = lt.history(ws.ep("hist"), x["sym"], 100000)["bars"]
            self.assertEqual(len(hist), 50 + x["live"])
        self.assertEqual(feeder.stop(), 0, feeder.stderr()[-2000:])


if __name__ == "__main__":
    unittest.main()
