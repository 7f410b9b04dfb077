"""The engine's signal journal and replay, and sinks that resume.

- A run with a fixed demo seed where the feeder is killed (SIGKILL) and
  restarted, one file sink is killed and restarted twice and the engine is
  killed and restarted: that sink's
  file, and the file of a sink left alone, hold exactly the signals of an
  undisturbed run (the SMA crossovers re-derived here from the feeder's
  bars, from the engine's first live bar on), once each, in order.
- Replay requests from a third party; bad replay requests.
- A journal with a damaged tail and a damaged sink state file are read up
  to their last good record, with one clear line each."""
import os
import signal
import unittest

import lt

SYMS = ["AAPL", "MSFT"]
START = 1767225600000           # 2026-01-01T00:00:00Z
HISTORY = 300
COUNT = 600


class Journal(unittest.TestCase):
    def setUp(self):
        self.ws = lt.Workspace()

    def tearDown(self):
        if os.environ.get("LT_KEEP"):
            print("kept", self.ws.dir)
            return
        self.ws.close()

    def feeder(self, count=COUNT, interval="0.03"):
        ws = self.ws
        return ws.start("feeder-%d" % len(ws.procs), "livetrade-feeder",
                        "--source", "demo",
                        "--symbols", ",".join(SYMS), "--seed", "11",
                        "--start", str(START), "--history", str(HISTORY),
                        "--count", str(count), "--interval", interval,
                        "--pub", ws.ep("bars"), "--rep", ws.ep("hist"))

    def engine(self, name="engine", *extra):
        ws = self.ws
        return ws.start(name, "livetrade-engine",
                        "--strategy", "strategies/sma_cross.lua",
                        "--symbols", ",".join(SYMS), "--sub", ws.ep("bars"),
                        "--history", ws.ep("hist"), "--pub", ws.ep("sig"),
                        "--rep", ws.ep("rep"), "--journal",
                        ws.path("journal"), *extra)

    def sink(self, name):
        """A file sink writing <name>.jsonl; "victim-2" is a restart of
        "victim" (the same file and state)."""
        ws = self.ws
        return ws.start(name, "livetrade-sink", "file", "--path",
                        ws.path(name.split("-")[0] + ".jsonl"),
                        "--sub", ws.ep("sig"), "--replay", ws.ep("rep"))

    def published(self):
        st = lt.status(self.ws.ep("hist")) or {}
        return st.get("bars_published", 0) // len(SYMS)

    def wait_bars(self, n, what):
        lt.wait_until(lambda: self.published() >= n, 60, what)

    def test_kill_sink_and_engine_nothing_lost_or_doubled(self):
        ws = self.ws
        calm = self.sink("calm")
        victim = self.sink("victim")
        eng = self.engine("engine", "--wait-subscribers", "2")
        feeder = self.feeder()
        self.wait_bars(80, "80 live bars")
        st = lt.status(ws.ep("rep"))
        first_live = {s["sym"]: s["first_live_t"] for s in st["symbols"]}
        self.assertTrue(all(t > 0 for t in first_live.values()), st)

        # The feeder dies and comes back: it sends its bars again from the
        # start of its live run (the engine skips those it has).
        feeder.p.send_signal(signal.SIGKILL)
        feeder.p.wait()
        feeder = self.feeder()
        self.wait_bars(140, "the restarted feeder past bar 140")
        victim.p.send_signal(signal.SIGKILL)
        victim.p.wait()
        self.wait_bars(200, "60 more bars with the sink down")
        victim = self.sink("victim-2")  # the same file and state
        self.wait_bars(260, "60 more bars")

        eng.p.send_signal(signal.SIGKILL)
        eng.p.wait()
        self.wait_bars(320, "60 more bars with the engine down")
        eng = self.engine("engine-2", "--wait-subscribers", "2")
        self.wait_bars(400, "80 more bars")
        victim.p.send_signal(signal.SIGKILL)
        victim.p.wait()
        self.wait_bars(460, "60 more bars with the sink down again")
        victim = self.sink("victim-3")

        last_t = START + (HISTORY + COUNT - 1) * 60000
        lt.wait_until(lambda: all(
            s["last_t"] == last_t for s in
            (lt.status(ws.ep("rep")) or {"symbols": [{"last_t": 0}]})
            ["symbols"]), 60, "the engine to take every bar")
        st = lt.status(ws.ep("rep"))
        total = st["signals"]
        self.assertGreater(st["caught_up"], 0, "signals of bars missed "
                           "while the engine was down")
        for name in ("calm", "victim"):
            lt.wait_until(lambda: len(lt.read_jsonl(
                ws.path(name + ".jsonl"))) >= total, 30,
                "%s to hold all %d signals" % (name, total))

        bars = {sym: lt.history(ws.ep("hist"), sym, 100000)["bars"]
                for sym in SYMS}
        files = {}
        for name in ("calm", "victim"):
            got = lt.read_jsonl(ws.path(name + ".jsonl"))
            files[name] = got
            self.assertEqual([x["seq"] for x in got],
                             list(range(1, total + 1)),
                             name + ": every signal once, in order")
            self.assertEqual(len({x["id"] for x in got}), len(got))
            for sym in SYMS:
                expected = {t: a for t, a in
                            lt.sma_cross_calls(bars[sym]).items()
                            if t >= first_live[sym]}
                actual = {x["bar_ts"]: x["action"] for x in got
                          if x["symbol"] == sym}
                self.assertEqual(actual, expected,
                                 "%s: the signals for %s" % (name, sym))
        self.assertEqual([x["id"] for x in files["calm"]],
                         [x["id"] for x in files["victim"]])

        log = "".join(p.stderr() for p in ws.procs
                      if p.name.startswith("victim"))
        self.assertIn("replayed engine", log)
        for p in (calm, victim, eng, feeder):
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])

    def test_replay_requests(self):
        ws = self.ws
        self.engine("engine")
        self.feeder(count=200, interval="0.01")
        lt.wait_until(lambda: (lt.status(ws.ep("rep")) or {}).get(
            "signals", 0) >= 6, 60, "six signals")
        r = lt.request(ws.ep("rep"), {"ver": 1, "type": "replay",
                                      "after": 2, "n": 3})
        self.assertEqual(r["type"], "replay")
        self.assertEqual(r["first"], 1)
        self.assertGreaterEqual(r["last"], 6)
        self.assertEqual([s["seq"] for s in r["signals"]], [3, 4, 5])
        for s in r["signals"]:
            self.assertIn(s["sym"], SYMS)
            self.assertEqual(len(s["id"]), 16)
        r = lt.request(ws.ep("rep"), {"ver": 1, "type": "replay",
                                      "after": r["last"]})
        self.assertEqual(r["signals"], [])
        for bad in ({"ver": 1, "type": "replay"},
                    {"ver": 1, "type": "replay", "after": -1},
                    {"ver": 1, "type": "replay", "after": "x"},
                    {"ver": 1, "type": "replay", "after": 0, "n": 0}):
            r = lt.request(ws.ep("rep"), bad)
            self.assertEqual(r["type"], "error", bad)
            self.assertIn("after", r["error"])
        self.assertIsNotNone(lt.status(ws.ep("rep")), "still serving")

    def test_damaged_journal_and_state_file(self):
        ws = self.ws
        eng = self.engine("engine")
        feeder = self.feeder(count=200, interval="0.01")
        sink = self.sink("out")
        lt.wait_until(lambda: (lt.status(ws.ep("rep")) or {}).get(
            "signals", 0) >= 5, 60, "five signals")
        lt.wait_until(lambda: len(lt.read_jsonl(ws.path("out.jsonl"))) >= 5,
                      30, "the sink to write them")
        self.assertEqual(sink.stop(), 0)
        self.assertEqual(eng.stop(), 0)
        kept = lt.read_jsonl(ws.path("out.jsonl"))
        last = max(x["seq"] for x in kept)

        # A torn record at the end of the journal (a crash mid-write).
        jdir = ws.path("journal")
        seg = sorted(f for f in os.listdir(jdir) if f.endswith(".jnl"))[-1]
        with open(os.path.join(jdir, seg), "ab") as f:
            f.write(b"\x40\x00\x00\x00\xde\xad\xbe\xefS\x81")
        # A state file whose second engine line is garbage.
        with open(ws.path("out.jsonl.state"), "a") as f:
            f.write("sma_cross-0000 12 00000000\n")
        eng = self.engine("engine-2")
        lt.wait_until(lambda: "recovered up to seq" in eng.stderr(), 10,
                      "the journal's recovery line")
        st = lt.wait_until(lambda: lt.status(ws.ep("rep")), 10, "status")
        self.assertGreaterEqual(st["signals"], last)
        sink = self.sink("out-2")
        lt.wait_until(lambda: "line 3 is damaged" in sink.stderr(), 10,
                      "the state file's recovery line")
        feeder_done = START + (HISTORY + 200 - 1) * 60000
        lt.wait_until(lambda: all(
            s["last_t"] == feeder_done for s in
            (lt.status(ws.ep("rep")) or {"symbols": [{"last_t": 0}]})
            ["symbols"]), 60, "the engine to take every bar")
        total = lt.status(ws.ep("rep"))["signals"]
        lt.wait_until(lambda: len(lt.read_jsonl(ws.path("out.jsonl")))
                      >= total, 30, "every signal in the file")
        got = lt.read_jsonl(ws.path("out.jsonl"))
        self.assertEqual([x["seq"] for x in got], list(range(1, total + 1)))
        jlog = eng.stderr()
        self.assertIn("a record cut short at offset", jlog)
        self.assertEqual(sum(1 for ln in jlog.splitlines()
                             if "recovered up to seq" in ln), 1)
        for p in (sink, eng, feeder):
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])

    def test_second_engine_on_one_journal_refused(self):
        ws = self.ws
        self.engine("engine")
        lt.wait_until(lambda: lt.status(ws.ep("rep")), 10, "the engine")
        code, _, err = lt.run("livetrade-engine", "--strategy",
                              "strategies/sma_cross.lua", "--journal",
                              ws.path("journal"), "--pub", ws.ep("sig2"),
                              "--rep", ws.ep("rep2"), "--sub", ws.ep("bars"))
        self.assertEqual(code, 1)
        self.assertIn("is in use by another engine", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        for flag, val in (("--fsync", "sometimes"),
                          ("--journal-max-mb", "0"),
                          ("--journal-max-days", "-1")):
            code, _, err = lt.run("livetrade-engine", "--strategy",
                                  "strategies/sma_cross.lua", flag, val)
            self.assertEqual(code, 2, err)
            self.assertIn(flag, err)


if __name__ == "__main__":
    unittest.main()


class NewSink(unittest.TestCase):
    """A sink with no state that subscribes after an engine already
    published: the signals published since the sink started come from the
    engine's journal (replay with since_ts), so none is lost."""

    def setUp(self):
        self.ws = lt.Workspace()

    def tearDown(self):
        self.ws.close()

    def test_signals_before_the_subscription_are_replayed(self):
        import threading
        import time
        import msgpack
        import zmq
        ws = self.ws
        sink = ws.start("sink", "livetrade-sink", "file", "--path",
                        ws.path("out.jsonl"), "--sub", ws.ep("sig"),
                        "--replay", ws.ep("rep"))
        lt.wait_until(lambda: "signals from" in sink.stderr(), 10,
                      "the sink to start")
        t_start = int(time.time() * 1000)

        def body(seq):
            return {"ver": 1, "id": "%016x" % (0xabc000 + seq), "eng": "e9",
                    "strat": "s", "sym": "AAPL", "act": "buy",
                    "t": START + seq * 60000, "ord": 0, "px": 100.0,
                    "size": None, "conf": 0.5, "ind": {}, "seq": seq,
                    "pub": 77, "ts": t_start + seq}
        journal = [body(k) for k in range(1, 7)]
        requests = []
        rep = lt.CTX.socket(zmq.ROUTER)
        rep.bind(ws.ep("rep"))
        stop = threading.Event()

        def serve():
            while not stop.is_set():
                if not rep.poll(50):
                    continue
                ident, empty, raw = rep.recv_multipart()
                req = msgpack.unpackb(raw, raw=False)
                requests.append(req)
                if req["type"] == "status":
                    reply = {"ver": 1, "type": "status", "id": "e9"}
                else:
                    since = req.get("since_ts")
                    after = req.get("after", 0)
                    sigs = [s for s in journal if
                            (s["ts"] >= since if since is not None
                             else s["seq"] > after)]
                    reply = {"ver": 1, "type": "replay", "eng": "e9",
                             "first": 1, "last": 6, "signals": sigs}
                rep.send_multipart([ident, empty, msgpack.packb(reply)])
        th = threading.Thread(target=serve, daemon=True)
        th.start()
        pub = lt.CTX.socket(zmq.XPUB)
        pub.setsockopt(zmq.XPUB_VERBOSE, 1)
        pub.bind(ws.ep("sig"))
        try:
            # 1..5 go out before the sink's subscription has arrived.
            for s in journal[:5]:
                pub.send_multipart([b"sig|AAPL|", msgpack.packb(s)])
            self.assertTrue(pub.poll(10000), "the sink's subscription")
            pub.recv()
            pub.send_multipart([b"sig|AAPL|", msgpack.packb(journal[5])])
            lt.wait_until(lambda: len(lt.read_jsonl(ws.path("out.jsonl")))
                          >= 6, 20, "all six signals")
            got = lt.read_jsonl(ws.path("out.jsonl"))
            self.assertEqual([x["seq"] for x in got], [1, 2, 3, 4, 5, 6])
            since = [r["since_ts"] for r in requests if "since_ts" in r]
            self.assertEqual(len(since), 1, requests)
            self.assertLessEqual(since[0], t_start)
            self.assertEqual(sink.stop(), 0)
        finally:
            stop.set()
            th.join()
            rep.close(0)
            pub.close(0)
