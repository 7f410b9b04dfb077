"""A feeder slow to answer one symbol's history holds back that symbol
only: the engine's other symbols warm up and take their live bars, with
signals, while the slow history is still coming; then the slow symbol
warms up and goes live as well."""
import threading
import time
import unittest

import msgpack
import zmq

import lt

LOOKBACK = 500
PAGE_S = 0.8                    # between the slow feeder's pages


class SlowHistory:
    """A history endpoint that has SLOW and answers its history one bar a
    page (more: true), a page every PAGE_S, until the test releases it;
    then the rest at once. Its status names the symbol it has."""

    def __init__(self, ws, bars):
        self.rep = lt.CTX.socket(zmq.ROUTER)
        self.rep.bind(ws.ep("slow-hist"))
        self.ep = ws.ep("slow-hist")
        self.bars = bars
        self.pages = 0
        self.released = threading.Event()
        self.stop = False
        self.th = threading.Thread(target=self._serve, daemon=True)
        self.th.start()

    def _reply(self, req):
        if req.get("type") == "status":
            return {"ver": 1, "type": "status", "prog": "livetrade-feeder",
                    "symbols": [{"sym": "SLOW"}]}
        if req.get("sym") != "SLOW":
            return {"ver": 1, "type": "error",
                    "error": "unknown symbol '%s'" % req.get("sym")}
        sel = [b for b in self.bars if "since" not in req or
               b["t"] > req["since"]]
        sel = sel[:req["n"]] if "since" in req else sel[-req["n"]:]
        reply = {"ver": 1, "type": "history", "sym": "SLOW",
                 "seq": self.bars[-1]["seq"], "bars": sel}
        if not self.released.is_set() and len(sel) > 1:
            reply.update(bars=sel[:1], more=True)
        self.pages += 1
        return reply

    def _serve(self):
        held = None                 # (ident, request, when it came)
        while not self.stop:
            if self.rep.poll(20):
                frames = self.rep.recv_multipart()
                req = msgpack.unpackb(frames[-1], raw=False)
                if req.get("type") == "history" and req.get("sym") == "SLOW":
                    held = (frames[0], req, time.monotonic())
                else:
                    self.rep.send_multipart([frames[0], b"", msgpack.packb(
                        self._reply(req))])
            if held and (self.released.is_set() or
                         time.monotonic() - held[2] >= PAGE_S):
                self.rep.send_multipart([held[0], b"", msgpack.packb(
                    self._reply(held[1]))])
                held = None

    def close(self):
        self.stop = True
        self.th.join()
        self.rep.close(0)


class SlowHistoryTest(lt.WorkspaceTest):
    def setUp(self):
        super().setUp()
        self.hist = {s: lt.make_bars(s, 700, seed=i)
                     for i, s in enumerate(("FAST", "SLOW"))}
        self.fake = lt.FakeFeeder(self.ws, {
            "FAST": self.hist["FAST"][:600]})
        self.slow = SlowHistory(self.ws, self.hist["SLOW"][:600])
        self.sub = lt.CTX.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"sig|")

    def tearDown(self):
        self.sub.close()
        self.slow.close()
        self.fake.close()

    def signals(self, sym, timeout):
        """Signals of sym until there is one (others kept aside), within
        timeout s; [] if none came."""
        got, deadline = [], time.monotonic() + timeout
        while not got:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sub.poll(int(left * 1000)):
                return got
            topic, body = self.sub.recv_multipart()
            s = msgpack.unpackb(body, raw=False)
            self.seen.append(s)
            if s["sym"] == sym:
                got.append(s)
        return got

    def test_other_symbols_go_on_while_one_history_is_slow(self):
        ws, fake, slow = self.ws, self.fake, self.slow
        self.seen = []
        self.sub.connect(ws.ep("sig"))
        eng = ws.start("engine", "livetrade-engine", "--strategy",
                       "strategies/sma_cross.lua", "--symbols", "SLOW,FAST",
                       "--sub", fake.bars_ep, "--history",
                       fake.hist_ep + "," + slow.ep, "--pub", ws.ep("sig"),
                       "--rep", ws.ep("rep"), "--lookback", str(LOOKBACK),
                       "--wait-subscribers", "1")
        fake.wait_subscribed(["bar|FAST|", "bar|SLOW|"], timeout=30)
        # FAST's live bars: its signals come while SLOW's history is
        # still being paged out.
        for b in self.hist["FAST"][600:]:
            fake.send_bar(b)
        fast = self.signals("FAST", 30)
        self.assertTrue(fast, "no signal of FAST while SLOW's history was "
                        "slow: " + eng.stderr()[-3000:])
        self.assertFalse(slow.released.is_set())
        lt.wait_until(lambda: slow.pages >= 3, 20, "SLOW's history, page "
                      "by page")
        st = lt.wait_until(lambda: lt.status(ws.ep("rep")), 20, "status")
        live = {s["sym"]: s["live"] for s in st["symbols"]}
        self.assertEqual(live, {"FAST": True, "SLOW": False})
        expected = lt.sma_cross_calls(self.hist["FAST"])
        for s in fast:                  # live bars' signals, as expected
            self.assertGreaterEqual(s["t"], self.hist["FAST"][600]["t"])
            self.assertEqual(expected.get(s["t"]), s["act"], s)

        # Released: SLOW warms up on its history and goes live.
        slow.released.set()
        lt.wait_until(lambda: all(
            s["live"] for s in (lt.status(ws.ep("rep")) or
                                {"symbols": [{"live": 0}]})["symbols"]),
            30, "SLOW to go live")
        st = lt.status(ws.ep("rep"))
        warm = {s["sym"]: s["warm_bars"] for s in st["symbols"]}
        self.assertEqual(warm, {"FAST": LOOKBACK, "SLOW": LOOKBACK})
        for b in self.hist["SLOW"][600:]:
            fake.send_bar(b)
        self.assertTrue(self.signals("SLOW", 30), eng.stderr()[-3000:])
        self.assertEqual(eng.stop(), 0, eng.stderr()[-3000:])
        self.assertNotIn("ERROR", eng.stderr())


if __name__ == "__main__":
    unittest.main()
