"""`livetrade run`: the whole demo pipeline in one command."""
import os
import re
import signal
import subprocess
import time
import unittest

import lt


def livetrade(*args, env=None):
    return subprocess.Popen([os.path.join(lt.BIN, "livetrade"), "run",
                             *args], cwd=lt.ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=env)


class Run(unittest.TestCase):
    def test_random_strategy_shows_both_symbols(self):
        t0 = time.monotonic()
        p = livetrade("--strategy", "strategies/random.lua", "--symbols",
                      "AAPL,MSFT", "--data-source", "demo", "--duration",
                      "0.1", "--interval", "0.05", "--param", "p=0.2")
        out, err = p.communicate(timeout=60)
        took = time.monotonic() - t0
        self.assertEqual(p.returncode, 0, err)
        self.assertGreater(took, 5.5)
        lines = [l for l in out.splitlines() if l.startswith("#")]
        syms = {l.split()[3] for l in lines}
        self.assertEqual(syms, {"AAPL", "MSFT"}, out)
        # Numbered 1.. in order, with an action, a price and a confidence.
        for n, l in enumerate(lines, 1):
            self.assertRegex(l, r"^#%d\s+\S+ \S+\s+\S+\s+(📈 BUY|📉 SELL)"
                             r"\s+@ [0-9.]+\s+conf \d+%%" % n)

    def test_sma_cross_json(self):
        p = livetrade("--symbols", "AAPL,MSFT", "--duration", "0.1",
                      "--interval", "0.02", "--json")
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        import json
        sigs = [json.loads(l) for l in out.splitlines()]
        self.assertGreater(len(sigs), 0, err)
        self.assertTrue(all(s["strategy"] == "sma_cross" for s in sigs))
        self.assertEqual([s["seq"] for s in sigs],
                         list(range(1, len(sigs) + 1)))

    def test_ctrl_c_stops_cleanly(self):
        p = livetrade("--duration", "1", "--interval", "0.05")
        # Wait for the engine's live line, then interrupt.
        lt.wait_until(lambda: p.poll() is not None or
                      self._engine_live(p), what="the engine to go live")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)

    def _engine_live(self, p):
        # Reads stderr lines as they come until the engine says "live".
        line = p.stderr.readline()
        return "live after" in line

    def test_child_failure_is_reported(self):
        ws = lt.Workspace()
        try:
            for prog in ("livetrade-feeder", "livetrade-sink"):
                os.symlink(os.path.join(os.path.abspath(lt.BIN), prog),
                           os.path.join(ws.dir, prog))
            fake = os.path.join(ws.dir, "livetrade-engine")
            with open(fake, "w") as f:
                f.write("#!/bin/sh\necho 'engine: simulated crash' >&2\n"
                        "exit 3\n")
            os.chmod(fake, 0o755)
            env = dict(os.environ, LIVETRADE_BIN_DIR=ws.dir)
            p = livetrade("--duration", "1", env=env)
            out, err = p.communicate(timeout=60)
            self.assertNotEqual(p.returncode, 0)
            self.assertRegex(err, r"engine exited with status 3")
        finally:
            ws.close()


if __name__ == "__main__":
    unittest.main()
