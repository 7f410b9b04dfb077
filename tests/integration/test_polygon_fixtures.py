"""livetrade-feeder --source polygon against the mock serving Polygon's own
recorded responses and frames (../shared/polygon_fixtures/), and the ways a
user hands it a key.
- The recorded 403 (plan not entitled) and 401 (no key) bodies end the
  feeder with one line that names the cause and quotes Polygon's message.
- The recorded `"results":null` body on a history request is taken as "no
  bars here": the window widens and the history is complete.
- The AM and A events of Polygon's spec reach the bus unchanged
  (--timeframe 60 and --timeframe 1).
- The key comes from POLYGON_API_KEY, MASSIVE_API_KEY or a .env file, and
  never shows in the log, even with --verbose.
- --feed delayed with a delayed server (REST status "DELAYED")."""
import json
import os
import subprocess
import sys
import unittest

import lt
from test_polygon_feeder import Bus, MockCase, fails_cleanly

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "polygon_mock"))
from mockctl import FIXTURES  # noqa: E402

KEY = "fixture-key-3d9a"
MIN = 60000
REST = os.path.join(FIXTURES, "rest")
WS = os.path.join(FIXTURES, "ws")
need_fixtures = unittest.skipUnless(
    os.path.isdir(FIXTURES),
    "skipped: ../shared/polygon_fixtures not found beside the clone")


class PolygonFixtures(MockCase):
    def feeder(self, m, syms, *extra, key_env=None, ws_path="/stocks"):
        env = {k: v for k, v in os.environ.items()
               if k not in ("POLYGON_API_KEY", "MASSIVE_API_KEY",
                            "LIVETRADE_ENV_FILE")}
        env.update({"POLYGON_API_KEY": KEY} if key_env is None else key_env)
        args = [os.path.join(lt.BIN, "livetrade-feeder"), "--source",
                "polygon", "--symbols", syms, "--rest-url", m.rest_url,
                "--ws-url", m.ws_url + ws_path, "--pub", self.ws.ep("pub"),
                "--rep", self.ws.ep("rep"), "--cache-dir", ""]
        return subprocess.Popen(args + list(extra), env=env,
                                cwd=self.ws.dir, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)

    def fails_with(self, p):
        return fails_cleanly(self, p, KEY, code=1)

    def stop(self, p):
        p.terminate()
        _, err = p.communicate(timeout=10)
        err = err.decode(errors="replace")
        self.assertEqual(p.returncode, 0, err)
        return err

    @need_fixtures
    def test_recorded_403_not_entitled(self):
        m = self.mock({"api_keys": [KEY], "rest_faults": [{
            "kind": "fixture", "code": 403, "file": os.path.join(
                REST, "maybe-finance-maybe_issue-152__403_not_authorized."
                "json")}]})
        line = self.fails_with(self.feeder(m, "AAPL", "--history", "5"))
        self.assertIn("plan not entitled (HTTP 403: You are not entitled "
                      "to this data", line)
        self.assertIn("AAPL", line)

    @need_fixtures
    def test_recorded_401_no_key(self):
        m = self.mock({"api_keys": [KEY], "rest_faults": [{
            "kind": "fixture", "code": 401, "file": os.path.join(
                REST, "polygon-io-issues_issue-219__error_api_key_not_"
                "provided.json")}]})
        line = self.fails_with(self.feeder(m, "AAPL", "--history", "5"))
        self.assertIn("bad API key (HTTP 401: API Key was not provided)",
                      line)

    @need_fixtures
    def test_recorded_results_null_widens_the_window(self):
        m = self.mock({"api_keys": [KEY], "rest_faults": [{
            "kind": "fixture", "code": 200, "count": 1, "file": os.path.join(
                REST, "polygon-io-issues_issue-2__200_results_null.json")}],
            "dataset": {"symbols": {"AAPL": 180.0}, "start": "now-3d",
                        "end": "now+60m"},
            "ws": {"live_start": "now+5m"}})
        p = self.feeder(m, "AAPL", "--history", "50")
        try:
            bus = Bus(self.ws.ep("pub"), ["AAPL"])
            lt.wait_until(lambda: bus.pump().hb > 0, 20, "a heartbeat")
            hist = lt.history(self.ws.ep("rep"), "AAPL", 100)
            ts = [b["t"] for b in hist["bars"]]
            self.assertEqual(len(ts), 50)
            self.assertEqual(ts, list(range(ts[0], ts[0] + 50 * MIN, MIN)))
            rest = [e for e in m.log()["rest"] if "/range/" in e["path"]]
            self.assertEqual(rest[0]["fault"], "fixture")
            self.assertGreaterEqual(len(rest), 2, "asked again, wider")
            bus.close()
        finally:
            self.stop(p)

    def stream_fixture(self, sym, ev, name, *extra):
        with open(os.path.join(WS, name)) as f:
            want = json.load(f)
        m = self.mock({"api_keys": [KEY],
                       "dataset": {"symbols": {sym: want["o"]}},
                       "ws": {"sessions": [{"name": "fixture", "steps": [
                           {"wait_subscribed": ["%s.%s" % (ev, sym)]}]}]}})
        p = self.feeder(m, sym, "--history", "0", *extra)
        try:
            # The bus reader is subscribed (a heartbeat came) and so is the
            # feeder (the mock saw it) before the recorded frame goes out.
            bus = Bus(self.ws.ep("pub"), [sym])
            lt.wait_until(lambda: bus.pump().hb > 0, 20, "a heartbeat")
            lt.wait_until(lambda: any(
                e.get("step") == "wait_subscribed" and e.get("ok")
                for e in m.log()["ws"]), 20, "the subscription")
            m.steps([{"fixture": os.path.join(WS, name)}])
            lt.wait_until(lambda: bus.pump().bars[sym], 20,
                          "the fixture's bar")
            bus.pump(200)
            bus.close()
        finally:
            self.stop(p)
        self.assertEqual(len(bus.bars[sym]), 1, bus.bars)
        b = bus.bars[sym][0]
        self.assertEqual((b["sym"], b["t"]), (sym, want["s"]))
        self.assertEqual(b["tf"], (want["e"] - want["s"]) // 1000)
        for k_bus, k_ev in (("o", "o"), ("h", "h"), ("l", "l"), ("c", "c"),
                            ("vol", "v"), ("vw", "vw")):
            self.assertAlmostEqual(b[k_bus], want[k_ev], places=9, msg=k_bus)
        subs = [e["params"] for e in m.log()["ws"]
                if e.get("action") == "subscribe"]
        self.assertEqual(subs, ["%s.%s" % (ev, sym)])

    @need_fixtures
    def test_spec_minute_aggregate(self):
        self.stream_fixture("GTE", "AM", "client-python__polygon-websocket-"
                            "spec__stocks_AM_example.json",
                            "--timeframe", "60")

    @need_fixtures
    def test_spec_second_aggregate(self):
        self.stream_fixture("SPCE", "A", "client-python__polygon-websocket-"
                            "spec__stocks_A_example.json",
                            "--timeframe", "1")

    def key_reaches_mock(self, key_env, env_file=None, verbose=False):
        """Starts the feeder with the key given some way; checks that REST
        and the WebSocket saw the right key and the log never shows it."""
        m = self.mock({"api_keys": [KEY], "ws": {"live_start": "now+1m"}})
        if env_file is not None:
            with open(os.path.join(self.ws.dir, ".env"), "w") as f:
                f.write(env_file)
        extra = ["--verbose"] if verbose else []
        p = self.feeder(m, "AAPL", "--history", "3", *extra,
                        key_env=key_env)
        try:
            lt.wait_until(lambda: any(
                e.get("action") == "subscribe" for e in m.log()["ws"]), 20,
                "the subscription")
        finally:
            err = self.stop(p)
        log = m.log()
        self.assertTrue(log["rest"] and all(e["key_ok"]
                                            for e in log["rest"]))
        auths = [e for e in log["ws"] if e.get("action") == "auth"]
        self.assertTrue(auths and all(e["key_ok"] for e in auths))
        self.assertNotIn(KEY, err)
        return err

    def test_key_from_massive_api_key(self):
        self.key_reaches_mock({"MASSIVE_API_KEY": KEY})

    def test_key_from_env_file(self):
        self.key_reaches_mock({}, env_file="# keys\nPOLYGON_API_KEY=%s\n"
                              % KEY)

    def test_key_redacted_with_verbose(self):
        err = self.key_reaches_mock({"POLYGON_API_KEY": KEY}, verbose=True)
        self.assertIn("DEBUG", err)
        self.assertIn("apiKey=REDACTED", err)

    def test_delayed_feed(self):
        m = self.mock({"api_keys": [KEY], "status": "DELAYED",
                       "ws": {"live_start": "now+5m"}})
        p = self.feeder(m, "AAPL", "--history", "5", "--feed", "delayed",
                        ws_path="/delayed/stocks")
        try:
            bus = Bus(self.ws.ep("pub"), ["AAPL"])
            lt.wait_until(lambda: bus.pump().hb > 0, 20, "a heartbeat")
            lt.wait_until(lambda: any(
                e.get("action") == "subscribe" for e in m.log()["ws"]), 20,
                "the subscription")
            m.steps([{"bars": {"ev": "AM", "count": 2}}])
            lt.wait_until(lambda: len(bus.pump().bars["AAPL"]) >= 2, 20,
                          "two delayed bars")
            hist = lt.history(self.ws.ep("rep"), "AAPL", 100)
            self.assertGreaterEqual(len(hist["bars"]), 5 + 2)
            bus.close()
        finally:
            self.stop(p)
        conns = [e for e in m.log()["ws"] if e["event"] == "connect"]
        self.assertEqual(conns[0]["path"], "/delayed/stocks")


if __name__ == "__main__":
    unittest.main()
