"""SIGHUP makes the engine load its strategy file again: a file that does
not load leaves the running strategy in place (one ERROR line); a good one
takes over after the newest bar, warmed up on the bars the engine holds,
and no bar is lost or taken twice: signals up to the reload are those of
the old strategy, after it those of the new one."""
import os
import re
import shutil
import signal
import unittest

import lt

START = 1767225600000
HISTORY = 300
COUNT = 500


class Reload(lt.WorkspaceTest):
    def test_reload_on_sighup(self):
        ws = self.ws
        strat = ws.path("strat.lua")
        shutil.copy(os.path.join(lt.STRATEGIES, "sma_cross.lua"), strat)
        with open(strat) as f:
            original = f.read()
        sink = ws.start("sink", "livetrade-sink", "file", "--path",
                        ws.path("out.jsonl"), "--sub", ws.ep("sig"),
                        "--replay", ws.ep("rep"))
        eng = ws.start("engine", "livetrade-engine", "--strategy", strat,
                       "--symbols", "AAPL", "--sub", ws.ep("bars"),
                       "--history", ws.ep("hist"), "--pub", ws.ep("sig"),
                       "--rep", ws.ep("rep"), "--wait-subscribers", "1")
        feeder = ws.start("feeder", "livetrade-feeder", "--source", "demo",
                          "--symbols", "AAPL", "--seed", "3", "--start",
                          str(START), "--history", str(HISTORY), "--count",
                          str(COUNT), "--interval", "0.02", "--pub",
                          ws.ep("bars"), "--rep", ws.ep("hist"))

        def status():
            return lt.status(ws.ep("rep")) or {}

        lt.wait_until(lambda: status().get("bars_in", 0) >= 100, 30,
                      "100 live bars")
        with open(strat, "w") as f:
            f.write("local S = Strategy { n1 = 5 }\nfunction S:next(\n")
        eng.p.send_signal(signal.SIGHUP)
        lt.wait_until(lambda: status().get("reload_errors") == 1, 10,
                      "the failed reload")
        self.assertIn("the running strategy goes on", eng.stderr())
        self.assertIn("strat.lua:3: <name> or", eng.stderr())
        n_before = status()["bars_in"]
        lt.wait_until(lambda: status().get("bars_in", 0) >= n_before + 50,
                      30, "50 more bars on the old strategy")

        with open(strat, "w") as f:
            f.write(original.replace("n1 = 10, n2 = 20", "n1 = 5, n2 = 12"))
        eng.p.send_signal(signal.SIGHUP)
        lt.wait_until(lambda: status().get("reloads") == 1, 10,
                      "the reload")
        m = re.search(r"parameters n1=5,n2=12\): 1 symbol\(s\) warmed up "
                      r"again on the (\d+) bars held; it takes over after "
                      r"the bar at (\d+)", eng.stderr())
        self.assertIsNotNone(m, eng.stderr()[-3000:])
        switch = int(m.group(2))

        last_t = START + (HISTORY + COUNT - 1) * 60000
        st = lt.wait_until(lambda: status()["symbols"][0]["last_t"] ==
                           last_t and status(), 60, "every bar")
        s = st["symbols"][0]
        bars = lt.history(ws.ep("hist"), "AAPL", 100000)["bars"]
        held = [b for b in bars if b["t"] >= s["first_t"]]
        self.assertEqual(s["bars"], len(held), "no bar lost or doubled")
        lt.wait_until(lambda: len(lt.read_jsonl(ws.path("out.jsonl")))
                      >= st["signals"], 30, "the sink")
        got = lt.read_jsonl(ws.path("out.jsonl"))
        old = {t: a for t, a in lt.sma_cross_calls(bars, 10, 20).items()
               if s["first_live_t"] <= t <= switch}
        new = {t: a for t, a in lt.sma_cross_calls(bars, 5, 12).items()
               if t > switch}
        self.assertTrue(old and new, (len(old), len(new)))
        self.assertEqual({x["bar_ts"]: x["action"] for x in got
                          if x["bar_ts"] <= switch}, old)
        self.assertEqual({x["bar_ts"]: x["action"] for x in got
                          if x["bar_ts"] > switch}, new)
        self.assertEqual([x["seq"] for x in got],
                         list(range(1, len(got) + 1)))
        for p in (sink, eng, feeder):
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])


if __name__ == "__main__":
    unittest.main()
