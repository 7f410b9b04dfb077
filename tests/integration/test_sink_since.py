"""Sinks that lose nothing at start (--since), and closes that changed
nothing (--flat-closes).

- Two file sinks on one engine, one started with it and one after it has
  published, write the same file: every signal of the engine's run, as its
  journal holds them.
- A sink started after an engine published and went quiet gets those
  signals at once; so does a sink that was up before an engine that
  published before the subscription reached it and then went quiet (its
  heartbeat is enough).
- --since run, start, all, a duration and a time take what they say from
  an engine the sink holds no state for; a bad value is one clear line.
- A strategy that closes on every bar, mostly while flat: the console
  leaves those closes out (counted) unless --flat-closes; the file keeps
  every signal."""
import time
import unittest

import lt
from fake_engine import FakeEngine

SYMS = ["AAPL", "MSFT"]
START = 1767225600000           # 2026-01-01T00:00:00Z
HISTORY = 100

# Buys every fifth bar and closes on every bar: most closes find no
# position (the buy fills at the next bar's open).
FLAT_LUA = """
local Flat = Strategy { every = 5 }

function Flat:next()
  if #self.data % self.every == 0 then
    self:buy()
  end
  self.position:close()
end

return Flat
"""


class Pipeline(lt.WorkspaceTest):
    """A real demo feeder and engine with a journal."""

    def feeder(self, count, interval):
        ws = self.ws
        return ws.start("feeder", "livetrade-feeder", "--source", "demo",
                        "--symbols", ",".join(SYMS), "--seed", "11",
                        "--start", str(START), "--history", str(HISTORY),
                        "--count", str(count), "--interval", interval,
                        "--pub", ws.ep("bars"), "--rep", ws.ep("hist"))

    def engine(self, strategy="strategies/sma_cross.lua"):
        ws = self.ws
        return ws.start("engine", "livetrade-engine", "--strategy", strategy,
                        "--symbols", ",".join(SYMS), "--sub", ws.ep("bars"),
                        "--history", ws.ep("hist"), "--pub", ws.ep("sig"),
                        "--rep", ws.ep("rep"), "--journal",
                        ws.path("journal"))

    def sink(self, name, *extra, output="file"):
        ws = self.ws
        args = ["--path", ws.path(name + ".jsonl")] if output == "file" \
            else []
        return ws.start(name, "livetrade-sink", output, *args,
                        "--sub", ws.ep("sig"), "--replay", ws.ep("rep"),
                        "--state", ws.path(name + ".state"), *extra)

    def wait_done(self, count):
        """Until the engine took the feeder's last bar; its signals."""
        last_t = START + (HISTORY + count - 1) * 60000
        lt.wait_engine_took(self.ws.ep("rep"), last_t, 90)
        return self.journal()

    def journal(self):
        """Every signal in the engine's journal, oldest first."""
        out = []
        while True:
            r = lt.request(self.ws.ep("rep"), {"ver": 1, "type": "replay",
                                               "after": len(out)})
            self.assertIsNotNone(r, "a replay reply")
            out += r["signals"]
            if not r["signals"] or len(out) >= r["last"]:
                return out

    def wait_file(self, name, n):
        path = self.ws.path(name + ".jsonl")
        lt.wait_until(lambda: len(lt.read_jsonl(path)) >= n, 60,
                      "%s to hold %d signals" % (name, n))
        return lt.read_jsonl(path)

    def test_two_sinks_apart_write_every_signal_of_the_run(self):
        ws = self.ws
        eng = self.engine()
        feeder = self.feeder(300, "0.02")
        early = self.sink("early")
        lt.wait_until(lambda: (lt.status(ws.ep("rep")) or {}).get(
            "signals", 0) >= 5, 90, "five signals")
        late = self.sink("late")
        want = self.wait_done(300)
        self.assertGreater(len(want), 5)
        for name in ("early", "late"):
            got = self.wait_file(name, len(want))
            self.assertEqual([(x["seq"], x["id"]) for x in got],
                             [(s["seq"], s["id"]) for s in want], name)
        for p in (early, late, eng, feeder):
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])
        self.assertIn("lost 0", late.stderr())

    def test_sink_after_a_quiet_engine_gets_its_signals(self):
        eng = self.engine()
        feeder = self.feeder(60, "0.01")
        want = self.wait_done(60)
        self.assertGreater(len(want), 0)
        sink = self.sink("out")
        got = self.wait_file("out", len(want))
        self.assertEqual([x["id"] for x in got], [s["id"] for s in want])
        for p in (sink, eng, feeder):
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])

    def test_flat_closes_left_out_of_the_console_unless_asked(self):
        ws = self.ws
        with open(ws.path("flat.lua"), "w") as f:
            f.write(FLAT_LUA)
        quiet = self.sink("quiet", output="console")
        shown = self.sink("shown", "--flat-closes", output="console")
        out = self.sink("out", "--since", "all")
        eng = self.engine(ws.path("flat.lua"))
        feeder = self.feeder(40, "0.01")
        want = self.wait_done(40)
        got = self.wait_file("out", len(want))
        self.assertEqual([x["id"] for x in got], [s["id"] for s in want])
        flat = [x for x in got if x["action"] == "close" and
                x["position"] == 0]
        kept = [x for x in got if x not in flat]
        self.assertGreater(len(flat), 0)
        self.assertTrue(any(x["action"] == "close" for x in kept), kept)

        def lines(p, n):
            return lt.wait_until(lambda: (lambda ls: ls if len(ls) >= n
                                          else None)(
                p.stdout().splitlines()), 30, "%d console lines" % n)
        self.assertEqual(len(lines(shown, len(got))), len(got))
        q = lines(quiet, len(kept))
        for p in (quiet, shown, out, eng, feeder):
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])
        q = quiet.stdout().splitlines()
        self.assertEqual(len(q), len(kept))
        closes = [ln for ln in q if "CLOSE" in ln]
        self.assertEqual(len(closes), sum(x["action"] == "close"
                                          for x in kept))
        for ln in closes:
            self.assertRegex(ln, r"  pos [1-9]")
        self.assertIn("flat closes left out %d" % len(flat), quiet.stderr())
        self.assertIn("flat closes left out 0", shown.stderr())
        self.assertIn("flat closes left out 0", out.stderr())


class Since(lt.WorkspaceTest):
    def sink(self, name, *extra):
        ws = self.ws
        return ws.start(name, "livetrade-sink", "file", "--path",
                        ws.path(name + ".jsonl"), "--sub", ws.ep("sig"),
                        "--replay", ws.ep("rep"), *extra)

    def seqs(self, name, n):
        path = self.ws.path(name + ".jsonl")
        lt.wait_until(lambda: len(lt.read_jsonl(path)) >= n, 30,
                      "%s to hold %d signals" % (name, n))
        return [x["seq"] for x in lt.read_jsonl(path)]

    def test_since_takes_what_it_says(self):
        now = int(time.time() * 1000)
        eng = FakeEngine(self.ws, eng="e7", seq0=1, id_base=0xbee000,
                         pos=0.0)
        try:
            # 1 from an earlier run of the engine (seq0 1), 2 and 3 from
            # this one; published 30, 20 and 10 minutes ago.
            for k, ago in ((1, 30), (2, 20), (3, 10)):
                eng.signal(k, now - ago * 60000)
            t25 = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                time.gmtime(now / 1000 - 25 * 60))
            cases = [("dflt", (), [2, 3]), ("run", ("--since", "run"), [2, 3]),
                     ("all", ("--since", "all"), [1, 2, 3]),
                     ("dur", ("--since", "15m"), [3]),
                     ("time", ("--since", t25), [2, 3]),
                     ("ms", ("--since", str(now - 25 * 60000)), [2, 3]),
                     ("start", ("--since", "start"), [])]
            sinks = {name: self.sink(name, *args) for name, args, _ in cases}
            # Each gets what it asked for at start, with no live signal.
            for name, _, want in cases:
                if want:
                    self.assertEqual(self.seqs(name, len(want)), want, name)
            eng.wait_subscriptions(len(cases))
            eng.send(eng.signal(4, int(time.time() * 1000)))
            for name, _, want in cases:
                self.assertEqual(self.seqs(name, len(want) + 1), want + [4],
                                 name)
            for name, p in sinks.items():
                self.assertEqual(p.stop(), 0, name)
                self.assertIn("lost 0", p.stderr(), name)
        finally:
            eng.close()

    def test_engine_heard_by_heartbeat_only(self):
        """The sink is up before the engine, which publishes before the
        subscription reaches it and then only sends heartbeats."""
        sink = self.sink("out")
        lt.wait_until(lambda: "asked again" in sink.stderr(), 30,
                      "the sink to find no engine at start")
        eng = FakeEngine(self.ws, eng="e7", seq0=0, id_base=0xbee000,
                         pos=0.0)
        try:
            now = int(time.time() * 1000)
            for k in (1, 2, 3):
                eng.signal(k, now + k)
            eng.wait_subscriptions(1)
            eng.heartbeat()
            self.assertEqual(self.seqs("out", 3), [1, 2, 3])
            eng.send(eng.signal(4, now + 4))
            self.assertEqual(self.seqs("out", 4), [1, 2, 3, 4])
            self.assertEqual(sink.stop(), 0)
        finally:
            eng.close()

    def test_bad_since(self):
        for bad in ("yesterday", "15", "-5m", "15x", "2026-13-01T00:00Z",
                    ""):
            code, _, err = lt.run("livetrade-sink", "file", "--path",
                                  self.ws.path("x.jsonl"), "--since", bad)
            self.assertEqual(code, 2, (bad, err))
            self.assertIn("--since", err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)


if __name__ == "__main__":
    unittest.main()
