"""Stopping is bounded: after SIGTERM a program drains and exits 0; one
whose drain cannot finish (here an exec sink whose child never reads,
with --stop-ms far longer than the grace period) gives up after
LIVETRADE_STOP_GRACE_S seconds with one line and exit code 1, instead of
hanging a supervisor's stop."""
import os
import signal
import time
import unittest

import lt
from test_custom_sinks import SignalPublisher


class Graceful(unittest.TestCase):
    def setUp(self):
        self.ws = lt.Workspace()

    def tearDown(self):
        self.ws.close()

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


if __name__ == "__main__":
    unittest.main()
