"""The engine's signal journal and replay, and sinks that resume.

- A run with a fixed demo seed where the feeder is killed (SIGKILL) and
  restarted, one file sink is killed and restarted twice and the engine is
  killed and restarted: that sink's
  file, and the file of a sink left alone, hold exactly the signals of an
  undisturbed run (the SMA crossovers re-derived here from the feeder's
  bars, from the engine's first live bar on), once each, in order.
- Replay requests from a third party; bad replay requests.
- A sink that subscribes late, or misses signals mid-stream (a gap, a lost
  tail that a heartbeat shows), fetches them from the journal, in order.
- A journal with a damaged tail and a damaged sink state file are read up
  to their last good record, with one clear line each."""
import os
import signal
import unittest

import lt
from fake_engine import FakeEngine

SYMS = ["AAPL", "MSFT"]
START = 1767225600000           # 2026-01-01T00:00:00Z
HISTORY = 300
COUNT = 600


class Journal(lt.WorkspaceTest):
    def feeder(self, count=COUNT, interval="0.03", wait=0):
        """wait: hold the live bars until that many subscribers."""
        ws = self.ws
        return ws.start("feeder-%d" % len(ws.procs), "livetrade-feeder",
                        "--source", "demo",
                        "--symbols", ",".join(SYMS), "--seed", "11",
                        "--start", str(START), "--history", str(HISTORY),
                        "--count", str(count), "--interval", interval,
                        "--wait-subscribers", str(wait),
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
        feeder = self.feeder(wait=1)
        self.wait_bars(80, "80 live bars")
        st = lt.status(ws.ep("rep"))
        first_live = {s["sym"]: s["first_live_t"] for s in st["symbols"]}
        # The feeder waited for the engine: its first live bar is the
        # engine's, as in an undisturbed run, whose signals are then the
        # crossovers of every bar from there on.
        self.assertEqual(set(first_live.values()),
                         {START + HISTORY * 60000}, st)

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
        lt.wait_engine_took(ws.ep("rep"), last_t, 60)
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

    def test_killed_lua_sink_writes_each_signal_once(self):
        """A Lua sink (an output that cannot read back what it wrote) killed
        twice mid-stream: its state is on disk after every signal, so its
        output holds every signal once, in order, like an undisturbed file
        sink's."""
        ws = self.ws
        with open(ws.path("ids.lua"), "w") as f:
            f.write('function on_signal(sig)\n'
                    '  sink.write(sig.seq, " ", sig.id, "\\n")\n'
                    'end\n')

        def lua(name):
            return ws.start(name, "livetrade-sink", "lua", "--script",
                            ws.path("ids.lua"), "--output", ws.path("lua.txt"),
                            "--state", ws.path("lua.state"),
                            "--sub", ws.ep("sig"), "--replay", ws.ep("rep"))

        def lines():
            try:
                with open(ws.path("lua.txt")) as f:
                    return [ln.split() for ln in f.read().splitlines()]
            except FileNotFoundError:
                return []
        calm = self.sink("calm")
        victim = lua("lua")
        eng = self.engine("engine", "--wait-subscribers", "2")
        feeder = self.feeder(count=360, interval="0.01")
        for k, at in enumerate((100, 220)):
            lt.wait_until(lambda: len(lines()) >= 4 * (k + 1), 60,
                          "signals in the Lua sink's output")
            self.wait_bars(at, "bar %d" % at)
            victim.p.send_signal(signal.SIGKILL)
            victim.p.wait()
            self.wait_bars(at + 40, "40 bars with the Lua sink down")
            victim = lua("lua-%d" % (k + 2))
        last_t = START + (HISTORY + 360 - 1) * 60000
        lt.wait_engine_took(ws.ep("rep"), last_t, 60)
        total = lt.status(ws.ep("rep"))["signals"]
        lt.wait_until(lambda: len(lines()) >= total and len(
            lt.read_jsonl(ws.path("calm.jsonl"))) >= total, 30,
            "both sinks to hold all %d signals" % total)
        calm_ids = [x["id"] for x in lt.read_jsonl(ws.path("calm.jsonl"))]
        got = lines()
        self.assertEqual([int(x[0]) for x in got], list(range(1, total + 1)))
        self.assertEqual([x[1] for x in got], calm_ids)
        log = "".join(p.stderr() for p in ws.procs
                      if p.name.startswith("lua"))
        self.assertIn("replayed engine", log)
        for p in (calm, victim, eng, feeder):
            self.assertEqual(p.stop(), 0, p.stderr())

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
        # Started together (as supervisor and compose start them), the
        # sink may come up after the engine's first signals: it still
        # writes every signal of the run (--since run, the default).
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
        lt.wait_until(lambda: "recovered up to seq" in eng.stderr(), 30,
                      "the journal's recovery line")
        st = lt.wait_until(lambda: lt.status(ws.ep("rep")), 30, "status")
        self.assertGreaterEqual(st["signals"], last)
        sink = self.sink("out-2")
        lt.wait_until(lambda: "line 3 is damaged" in sink.stderr(), 30,
                      "the state file's recovery line")
        feeder_done = START + (HISTORY + 200 - 1) * 60000
        lt.wait_engine_took(ws.ep("rep"), feeder_done, 60)
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


class NewSink(lt.WorkspaceTest):
    """A sink with no state that subscribes after an engine already
    published: the signals published since the sink started come from the
    engine's journal (replay with since_ts), so none is lost. A sink that
    misses signals mid-stream (a gap in the sequence numbers, or a lost
    tail that a heartbeat shows) fetches them before going on, in order."""

    def file_sink(self):
        ws = self.ws
        sink = ws.start("sink", "livetrade-sink", "file", "--path",
                        ws.path("out.jsonl"), "--sub", ws.ep("sig"),
                        "--replay", ws.ep("rep"))
        lt.wait_until(lambda: "signals from" in sink.stderr(), 10,
                      "the sink to start")
        return sink

    def wait_seqs(self, n):
        lt.wait_until(lambda: len(lt.read_jsonl(self.ws.path("out.jsonl")))
                      >= n, 20, "%d signals" % n)
        return [x["seq"] for x in lt.read_jsonl(self.ws.path("out.jsonl"))]

    def test_signals_before_the_subscription_are_replayed(self):
        import time
        sink = self.file_sink()
        t_start = int(time.time() * 1000)
        # Stopped, the sink cannot connect: 1..5 go out before its
        # subscription has arrived.
        os.kill(sink.p.pid, signal.SIGSTOP)
        eng = FakeEngine(self.ws)
        try:
            sigs = [eng.signal(k, t_start + k) for k in range(1, 7)]
            for s in sigs[:5]:
                eng.send(s)
            os.kill(sink.p.pid, signal.SIGCONT)
            eng.wait_subscriptions()
            eng.send(sigs[5])
            self.assertEqual(self.wait_seqs(6), [1, 2, 3, 4, 5, 6])
            since = [r["since_ts"] for r in eng.requests
                     if "since_ts" in r]
            self.assertEqual(len(since), 1, eng.requests)
            self.assertLessEqual(since[0], t_start)
            self.assertEqual(sink.stop(), 0)
        finally:
            eng.close()

    def test_gap_mid_stream_is_replayed_in_order(self):
        import time
        eng = FakeEngine(self.ws)
        sink = self.file_sink()
        try:
            eng.wait_subscriptions()
            now = int(time.time() * 1000)
            sigs = [eng.signal(k, now + k) for k in range(1, 10)]
            eng.send(sigs[0])
            eng.send(sigs[1])
            self.assertEqual(self.wait_seqs(2), [1, 2])
            # 3 and 4 are lost on the way: 5 shows the gap.
            eng.send(sigs[4])
            self.assertEqual(self.wait_seqs(5), [1, 2, 3, 4, 5])
            afters = [r["after"] for r in eng.requests if "after" in r]
            self.assertEqual(afters, [2])
            # The tail is lost (6..9 never arrive); a heartbeat tells the
            # engine's last seq and the sink fetches them.
            eng.heartbeat(9, now + 100)
            self.assertEqual(self.wait_seqs(9), list(range(1, 10)))
            # A signal sent again live after its replay is not written
            # twice (10, sent after it, shows it was handled).
            eng.send(sigs[8])
            eng.send(eng.signal(10, now + 300))
            self.assertEqual(self.wait_seqs(10), list(range(1, 11)))
            self.assertEqual(sink.stop(), 0)
            err = sink.stderr()
            # Missing on the bus: 3-4, then 6-8 (before 9 came again).
            self.assertIn("duplicates 1,", err)
            self.assertIn("gaps 2 (5 missed)", err)
            self.assertIn("replays 2 (6 signals), lost 0", err)
            self.assertIn("replayed engine e9's signals 3..4", err)
            self.assertIn("replayed engine e9's signals 6..9", err)
        finally:
            eng.close()


if __name__ == "__main__":
    unittest.main()
