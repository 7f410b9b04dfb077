"""Polygon parity: an engine warmed up from the polygon feeder's history,
then fed live bars over the WebSocket, publishes the same signals as
`livetrade backtest` over the same bars (the feeder's whole store). And
`livetrade run --data-source polygon` against the mock."""
import os
import subprocess
import sys
import unittest

import lt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "polygon_mock"))
from mockctl import MockPolygon  # noqa: E402

KEY = "test-key-parity"
MIN = 60000
SYM = "AAPL"
HISTORY = 300
LIVE = 100
KEYS = ("id", "action", "bar_ts", "ordinal", "size", "limit", "stop", "sl",
        "tp", "tag", "confidence")


def key(sig):
    return tuple(repr(sig.get(k)) for k in KEYS)


def env_with_key(key):
    env = {k: v for k, v in os.environ.items()
           if k not in ("POLYGON_API_KEY", "MASSIVE_API_KEY")}
    if key is not None:
        env["POLYGON_API_KEY"] = key
    return env


class PolygonParity(lt.WorkspaceTest):
    def mock(self, minutes_back):
        m = MockPolygon(script={
            "api_keys": [KEY],
            "dataset": {"symbols": {SYM: 180.0},
                        "start": "now-%dm" % minutes_back,
                        "end": "now+%dm" % (LIVE + 60)},
            "ws": {"live_start": "now",
                   "sessions": [{"name": "s", "steps": [
                       {"wait_subscribed": ["AM.%s" % SYM],
                        "timeout_ms": 8000}]}]}})
        self.addCleanup(m.stop)
        return m

    def test_engine_live_equals_backtest(self):
        ws = self.ws
        m = self.mock(HISTORY + 60)
        strategy = "strategies/sma_cross_close.lua"
        flog = open(ws.path("feeder.log"), "wb")
        self.addCleanup(flog.close)
        feeder = subprocess.Popen(
            [os.path.join(lt.BIN, "livetrade-feeder"), "--source", "polygon",
             "--symbols", SYM, "--timeframe", "60", "--rest-url", m.rest_url,
             "--ws-url", m.ws_url + "/stocks", "--history", str(HISTORY),
             "--pub", ws.ep("bars"), "--rep", ws.ep("hist")],
            env=env_with_key(KEY), cwd=ws.dir, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=flog)
        self.addCleanup(lambda: feeder.poll() is None and
                        (feeder.kill(), feeder.wait()))
        # The feeder answers history once REST history is in.
        lt.wait_until(lambda: feeder.poll() is not None or
                      lt.history(ws.ep("hist"), SYM, 1, ) is not None, 30,
                      "the feeder's history")
        self.assertIsNone(feeder.poll())
        sink = ws.start("sink", "livetrade-sink", "file", "--path",
                        ws.path("live.jsonl"), "--sub", ws.ep("sig"))
        eng = ws.start("engine", "livetrade-engine", "--strategy", strategy,
                       "--symbols", SYM, "--sub", ws.ep("bars"),
                       "--history", ws.ep("hist"), "--pub", ws.ep("sig"),
                       "--rep", ws.ep("eng"), "--lookback", "100000",
                       "--wait-subscribers", "1")

        def eng_sym():
            st = lt.status(ws.ep("eng"))
            return st["symbols"][0] if st else None
        lt.wait_until(lambda: (eng_sym() or {}).get("bars", 0) >= HISTORY,
                      30, "the engine's warm-up")
        lt.wait_until(lambda: any(e.get("action") == "subscribe"
                                  for e in m.log()["ws"]), 20,
                      "the WebSocket subscription")
        live_t = m.live_t
        m.steps([{"bars": {"ev": "AM", "count": LIVE, "per_frame": 10}}])
        last = live_t + (LIVE - 1) * MIN
        hist = lt.wait_until(lambda: (lambda h: h if h and h["bars"] and
                                      h["bars"][-1]["t"] >= last else None)(
            lt.history(ws.ep("hist"), SYM, 100000)), 30,
            "the feeder to publish every live bar")
        bars = hist["bars"]
        self.assertEqual(len(bars), len({b["t"] for b in bars}))
        lt.wait_until(lambda: (eng_sym() or {}).get("bars", 0) >= len(bars),
                      30, "the engine to take every bar")
        est = lt.status(ws.ep("eng"))
        self.assertEqual(est["gaps"], 0)
        first_live = est["symbols"][0]["first_live_t"]
        self.assertGreater(first_live, bars[0]["t"])
        self.assertLessEqual(first_live, live_t)
        lt.wait_until(lambda: len(lt.read_jsonl(ws.path("live.jsonl")))
                      >= est["signals"], 30, "the sink to write every signal")
        feeder.terminate()
        self.assertEqual(feeder.wait(10), 0)
        for p in (eng, sink):
            self.assertEqual(p.stop(), 0, p.stderr())
        live = lt.read_jsonl(ws.path("live.jsonl"))

        csv = ws.path("bars.csv")
        with open(csv, "w") as f:
            f.write("time,open,high,low,close,volume\n")
            for b in bars:
                f.write("%d,%r,%r,%r,%r,%r\n" % (b["t"], b["o"], b["h"],
                                                 b["l"], b["c"], b["vol"]))
        sig = ws.path("bt.jsonl")
        rc, _, err = lt.run("livetrade", "backtest", "--strategy", strategy,
                            "--data", csv, "--symbol", SYM, "--signals", sig,
                            timeout=60)
        self.assertEqual(rc, 0, err)
        bt = [s for s in lt.read_jsonl(sig) if s["bar_ts"] >= first_live]
        self.assertGreaterEqual(len(bt), 3, "too few crossovers to compare")
        self.assertEqual([key(s) for s in live], [key(s) for s in bt])

    def test_livetrade_run_polygon(self):
        m = self.mock(120)
        args = [os.path.join(lt.BIN, "livetrade"), "run", "--data-source",
                "polygon", "--symbols", SYM, "--strategy",
                "strategies/sma_cross_close.lua", "--rest-url", m.rest_url,
                "--ws-url", m.ws_url + "/stocks", "--history", "60",
                "--rate", "600", "--duration", "0.25", "--json"]
        p = subprocess.Popen(args, env=env_with_key(KEY), cwd=lt.ROOT,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        lt.wait_until(lambda: p.poll() is not None or any(
            e.get("action") == "subscribe" for e in m.log()["ws"]), 30,
            "the feeder's WebSocket subscription")
        m.steps([{"bars": {"ev": "AM", "count": 40, "per_frame": 10}}])
        out, err = p.communicate(timeout=60)
        err = err.decode(errors="replace")
        self.assertEqual(p.returncode, 0, err)
        self.assertNotIn(KEY, err)
        self.assertIn("polygon data", err)
        rest = [e for e in m.log()["rest"] if "/v2/aggs/" in e["path"]]
        self.assertTrue(rest and all(e["key_ok"] for e in rest))
        self.assertRegex(err, r"polygon: live [1-9]")

    def test_livetrade_run_polygon_without_key(self):
        r = subprocess.run([os.path.join(lt.BIN, "livetrade"), "run",
                            "--data-source", "polygon", "--strategy",
                            os.path.join(lt.STRATEGIES, "sma_cross.lua"),
                            "--duration", "0.2"],
                           env=env_with_key(None), cwd=self.ws.dir,
                           capture_output=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        err = r.stderr.decode()
        self.assertNotEqual(r.returncode, 0, err)
        self.assertIn("POLYGON_API_KEY", err)


if __name__ == "__main__":
    unittest.main()
