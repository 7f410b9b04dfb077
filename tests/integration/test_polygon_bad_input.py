"""livetrade-feeder --source polygon and bad input: malformed JSON, unknown
events, missing fields, wrong types, prices <= 0 or not finite, bars out
of order, oversized and truncated frames over the WebSocket; malformed
bodies and null results over REST. Each is skipped (and logged, with a rate
limit), the feeder keeps running and publishes the next good bars, and no
bar on the bus differs from the bar the mock serves for its minute."""
import json
import math
import os
import subprocess
import sys
import time
import unittest
import urllib.request

import msgpack
import zmq

import lt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "polygon_mock"))
from mockctl import MockPolygon  # noqa: E402

KEY = "test-key-bad-input"
MIN = 60000
SYM = "AAPL"
ONE = {"bars": {"ev": "AM", "count": 1}}
WAIT_SUB = {"wait_subscribed": ["AM.%s" % SYM], "timeout_ms": 8000}


def rest_bars(m, t0, t1):
    url = ("%s/v2/aggs/ticker/%s/range/1/minute/%d/%d?limit=50000&apiKey=%s"
           % (m.rest_url, SYM, t0, t1, KEY))
    with urllib.request.urlopen(url, timeout=5) as r:
        return {b["t"]: b for b in json.loads(r.read()).get("results") or []}


def event(r, **over):
    """The AM event of REST bar r, with keys overridden (None: removed)."""
    e = {"ev": "AM", "sym": SYM, "v": r["v"], "av": r["v"] * 10,
         "op": r["o"], "vw": r["vw"], "o": r["o"], "c": r["c"], "h": r["h"],
         "l": r["l"], "a": r["vw"], "z": 10, "s": r["t"],
         "e": r["t"] + MIN}
    for k, v in over.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return e


def frame(*events):
    return {"frame": list(events)}


class Bus:
    """A SUB socket on the feeder's bars."""

    def __init__(self, endpoint):
        self.s = lt.CTX.socket(zmq.SUB)
        self.s.setsockopt(zmq.LINGER, 0)
        self.s.connect(endpoint)
        self.s.setsockopt(zmq.SUBSCRIBE, b"bar|")
        self.s.setsockopt(zmq.SUBSCRIBE, b"hb|")
        self.bars = []
        self.hb = 0

    def pump(self, timeout_ms=50):
        while self.s.poll(timeout_ms):
            topic, body = self.s.recv_multipart()
            if topic == b"hb|":
                self.hb += 1
            else:
                self.bars.append(msgpack.unpackb(body, raw=False))
            timeout_ms = 0
        return self

    def close(self):
        self.s.close()


class PolygonBadInput(lt.WorkspaceTest):
    extra = []

    def start(self, script, history=3):
        m = MockPolygon(script=script)
        self.addCleanup(m.stop)
        env = {k: v for k, v in os.environ.items()
               if k not in ("POLYGON_API_KEY", "MASSIVE_API_KEY")}
        env["POLYGON_API_KEY"] = KEY
        args = [os.path.join(lt.BIN, "livetrade-feeder"), "--source",
                "polygon", "--symbols", SYM, "--timeframe", "60",
                "--rest-url", m.rest_url, "--ws-url", m.ws_url + "/stocks",
                "--pub", self.ws.ep("pub"), "--rep", self.ws.ep("rep"),
                "--history", str(history)] + self.extra
        self.err_path = self.ws.path("feeder.err")
        self.err_f = open(self.err_path, "wb")
        self.addCleanup(self.err_f.close)
        p = subprocess.Popen(args, env=env, cwd=self.ws.dir,
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=self.err_f)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        bus = Bus(self.ws.ep("pub"))
        self.addCleanup(bus.close)
        lt.wait_until(lambda: bus.pump().hb > 0 or p.poll() is not None, 20,
                      "a heartbeat")
        self.assertIsNone(p.poll(), self.stderr())
        return m, p, bus

    def stderr(self):
        self.err_f.flush()
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def subscribes(self, m):
        return sum(1 for e in m.log()["ws"] if e["event"] == "action" and
                   e.get("action") == "subscribe")

    def wait_bar(self, bus, p, t, what):
        lt.wait_until(lambda: p.poll() is not None or any(
            b["t"] >= t for b in bus.pump().bars), 30, what)
        self.assertIsNone(p.poll(), "feeder exited: " + self.stderr())

    def stop(self, p):
        p.terminate()
        p.wait(10)
        err = self.stderr()
        self.assertEqual(p.returncode, 0, err)
        self.assertNotIn(KEY, err)
        return err

    def check_bus(self, m, bus, first, last):
        """Every bar on the bus is valid and equals the mock's bar of its
        minute; live bars are exactly first..last, once, in order."""
        served = rest_bars(m, first - 10 * MIN, last)
        live = [b for b in bus.bars if b["t"] >= first]
        self.assertEqual([b["t"] for b in live],
                         list(range(first, last + MIN, MIN)),
                         "one bar per minute, once, in order")
        for b in bus.bars:
            self.assertEqual(b["sym"], SYM)
            for k in ("o", "h", "l", "c"):
                self.assertTrue(math.isfinite(b[k]) and b[k] > 0, b)
            self.assertGreaterEqual(b["h"], max(b["o"], b["c"], b["l"]))
            self.assertLessEqual(b["l"], min(b["o"], b["c"]))
            self.assertGreaterEqual(b["vol"], 0)
            r = served.get(b["t"])
            self.assertIsNotNone(r, "bar at %d not served" % b["t"])
            for kb, kr in (("o", "o"), ("h", "h"), ("l", "l"), ("c", "c"),
                           ("vol", "v")):
                self.assertAlmostEqual(b[kb], r[kr], places=6,
                                       msg="%s at %d" % (kb, b["t"]))
        hist = lt.history(self.ws.ep("rep"), SYM, 1000)
        self.assertIsNotNone(hist)
        self.assertEqual([b["t"] for b in hist["bars"]][-len(live):],
                         [b["t"] for b in live], "the store equals the bus")

    def test_bad_websocket_events(self):
        """Each kind of bad event, alone or beside a good one in a batch,
        right before the good bar of the same minute: the good bar is the
        one published. Then an older bar after a newer one, and NaN."""
        m, p, bus = self.start({
            "api_keys": [KEY],
            "dataset": {"symbols": {SYM: 180.0}, "start": "now-240m",
                        "end": "now+240m"},
            "ws": {"live_start": "now+5m",
                   "sessions": [{"name": "s", "steps": [WAIT_SUB]}]}})
        lt.wait_until(lambda: self.subscribes(m), 20, "the subscription")
        t0 = m.live_t
        served = rest_bars(m, t0, t0 + 20 * MIN)
        r = [served[t0 + k * MIN] for k in range(12)]
        bad_frames = 0
        steps = []

        def bad(*items):
            nonlocal bad_frames
            for it in items:
                steps.append(it)
                bad_frames += 1

        def good(k):
            steps.append(frame(event(r[k])))

        # minute 0: not JSON, cut JSON, NaN, a number too large for a double
        bad({"malformed": True}, {"frame": "this is not json"},
            {"frame": json.dumps([event(r[0])]).replace(
                str(r[0]["c"]), "NaN", 1)},
            {"frame": json.dumps([event(r[0])]).replace(
                '"h": %s' % json.dumps(r[0]["h"]), '"h": 1e999', 1)})
        good(0)
        # minute 1: unknown events, no "ev", not objects, not an array
        bad({"unknown_event": True},
            frame({"ev": "XQ", "sym": SYM, "s": r[1]["t"], "c": 1.0}),
            frame(event(r[1], ev=None, c=r[1]["c"] * 2)),
            frame(42, "AM", [event(r[1], c=r[1]["c"] * 2)]),
            {"frame": json.dumps("AM")})
        good(1)
        # minute 2: missing fields
        for k in ("c", "o", "h", "l", "s", "sym", "v"):
            bad(frame(event(r[2], **{k: None})))
        good(2)
        # minute 3: wrong types
        for k, v in (("c", str(r[3]["c"])), ("o", None), ("s", str(r[3]["t"])),
                     ("v", "lots"), ("sym", 7), ("h", [r[3]["h"]]),
                     ("l", {"x": 1})):
            bad(frame(event(r[3], **{k: v if v is not None else "null"})))
        bad({"frame": json.dumps([event(r[3])]).replace(
            '"o": %s' % json.dumps(r[3]["o"]), '"o": null', 1)})
        good(3)
        # minute 4: prices <= 0, high < low, negative volume
        for over in ({"c": 0}, {"o": -1.5}, {"l": -r[4]["l"]}, {"h": 0.0},
                     {"h": r[4]["l"] / 2}, {"v": -100}, {"c": -1e308}):
            bad(frame(event(r[4], **over)))
        good(4)
        # minute 5: bad events in the same batch as the good one
        bad(frame(event(r[5], c=-1), {"ev": "XQ"}, event(r[5], s=None),
                  event(r[5]), event(r[5], c="1")))
        good(6)
        # out of order: an older bar (changed) after newer ones
        bad(frame(event(r[4], c=r[4]["c"] * 1.5, h=r[4]["h"] * 1.5)),
            frame(event(r[2], c=r[2]["c"] * 0.9, l=r[2]["l"] * 0.9)))
        good(7)
        bad(frame(event(r[5], c=r[5]["c"] + 1, h=r[5]["h"] + 1)))
        good(8)
        m.steps(steps)
        self.wait_bar(bus, p, r[8]["t"], "the last good bar")
        bus.pump(300)
        self.check_bus(m, bus, t0, r[8]["t"])
        err = self.stop(p)
        warns = [ln for ln in err.splitlines() if "bad event" in ln]
        self.assertGreaterEqual(len(warns), 1, err)
        # rate-limited: far fewer lines than bad frames
        self.assertLess(len(warns), bad_frames // 2, err)
        self.assertIn("live 9 ", err)
        # the older bars are reported as out of order, and counted
        self.assertIn("older than the last published", err)
        self.assertRegex(err, r"out_of_order [1-9]")
        # the skipped events are counted by kind
        for kind in ("bad_json", "bad_unknown_ev", "bad_missing",
                     "bad_type", "bad_value"):
            self.assertRegex(err, kind + r" [1-9]")

    def test_truncated_frame(self):
        """A truncated frame (its header promises more than arrives before
        the connection ends): the feeder reconnects and goes on from the
        next bar, and the cut bar is never published."""
        m, p, bus = self.start({
            "api_keys": [KEY],
            "dataset": {"symbols": {SYM: 180.0}, "start": "now-240m",
                        "end": "now+240m"},
            "ws": {"live_start": "now+5m", "sessions": [
                {"name": "first", "steps": [WAIT_SUB]},
                {"name": "second", "steps": [WAIT_SUB]}]}})
        lt.wait_until(lambda: self.subscribes(m), 20, "the subscription")
        live = m.live_t
        m.steps([ONE, ONE])
        self.wait_bar(bus, p, live + MIN, "the first live bars")
        m.steps([{"truncated_frame": True}])
        lt.wait_until(lambda: self.subscribes(m) >= 2, 30, "a resubscribe")
        m.steps([ONE, ONE])
        self.wait_bar(bus, p, live + 3 * MIN, "the bars after the reconnect")
        bus.pump(300)
        self.check_bus(m, bus, live, live + 3 * MIN)
        err = self.stop(p)
        self.assertIn("reconnects 1", err)
        self.assertIn("duplicates 0", err)

    def test_oversized_frame(self):
        """A frame over the feeder's cap (POLYGON_WS_FRAME_MAX, 8 MiB) is
        skipped whole -- the bar inside it is not published -- and the
        bars after it on the same connection are."""
        now = int(time.time() * 1000) // MIN * MIN
        live = now + 5 * MIN
        # The big frame goes in the script (the control API takes at most
        # 4 MiB): a status with a long message, then a bar of the second
        # live minute with made-up (valid) prices.
        bogus = {"ev": "AM", "sym": SYM, "v": 1, "av": 1, "op": 1.0,
                 "vw": 1.0, "o": 1.0, "c": 1.0, "h": 1.0, "l": 1.0,
                 "a": 1.0, "z": 1, "s": live + MIN, "e": live + 2 * MIN}
        big = ('[{"ev":"status","status":"success","message":"%s"},%s]'
               % ("x" * ((8 << 20) + 4096), json.dumps(bogus)))
        m, p, bus = self.start({
            "api_keys": [KEY],
            "dataset": {"symbols": {SYM: 180.0}, "start": now - 240 * MIN,
                        "end": now + 240 * MIN},
            "ws": {"live_start": live, "sessions": [
                {"name": "first", "steps": [WAIT_SUB]},
                {"name": "second", "steps": [WAIT_SUB, ONE, {"frame": big},
                                             ONE, ONE]}]}})
        lt.wait_until(lambda: self.subscribes(m), 20, "the subscription")
        m.steps([{"drop": True}])
        self.wait_bar(bus, p, live + 2 * MIN,
                      "the bars after the oversized frame")
        bus.pump(300)
        self.check_bus(m, bus, live, live + 2 * MIN)
        err = self.stop(p)
        self.assertIn("reconnects 1", err)
        # skipped whole, logged and counted, on the same connection
        self.assertRegex(err, r"bad event\(s\) in a frame of \d{7,} bytes "
                         r"\(.*too large")
        self.assertIn("bad_too_large 1 ", err)

    def test_rest_malformed_and_null_results(self):
        """The first history request gets null results (the feeder widens
        the window and asks again); the backfill after a reconnect gets
        null results, and after the next one a malformed body. The feeder keeps running and every bar on the bus is a
        bar the mock serves."""
        m, p, bus = self.start({
            "api_keys": [KEY],
            "dataset": {"symbols": {SYM: 180.0}, "start": "now-240m",
                        "end": "now+240m"},
            "rest_faults": [{"kind": "results_null", "count": 1}],
            "ws": {"live_start": "now+5m", "sessions": [
                {"name": "first", "steps": [WAIT_SUB]},
                {"name": "second", "steps": [WAIT_SUB]},
                {"name": "third", "steps": [WAIT_SUB]}]}})
        lt.wait_until(lambda: self.subscribes(m), 20, "the subscription")
        t0 = m.live_t
        served = rest_bars(m, t0, t0 + 20 * MIN)
        r = [served[t0 + k * MIN] for k in range(12)]
        m.steps([frame(event(r[0])), frame(event(r[1]))])
        self.wait_bar(bus, p, r[1]["t"], "the first live bars")
        # backfill of minutes 2-3 gets null results
        m.fault({"kind": "results_null", "count": 1})
        m.steps([{"drop": True}])
        lt.wait_until(lambda: self.subscribes(m) >= 2, 30, "a resubscribe")
        m.steps([frame(event(r[4])), frame(event(r[5]))])
        self.wait_bar(bus, p, r[5]["t"], "the bars after null results")
        # backfill of minutes 6-7 gets a body cut in half
        m.fault({"kind": "malformed", "count": 1})
        m.steps([{"drop": True}])
        lt.wait_until(lambda: self.subscribes(m) >= 3, 30, "a resubscribe")
        m.steps([frame(event(r[8])), frame(event(r[9]))])
        self.wait_bar(bus, p, r[9]["t"], "the bars after a malformed body")
        bus.pump(300)
        log = m.log()["rest"]
        self.assertIn("results_null", [e.get("fault") for e in log])
        self.assertIn("malformed", [e.get("fault") for e in log])
        got = [b["t"] for b in bus.bars if b["t"] >= t0]
        self.assertEqual(got, sorted(set(got)), "once, in order")
        for k in (0, 1, 4, 5, 8, 9):
            self.assertIn(r[k]["t"], got)
        # the page that came back cut in half was asked for again, so the
        # gap before minute 8 was filled all the same
        for k in (6, 7):
            self.assertIn(r[k]["t"], got)
        # every bar is the mock's bar of its minute (check_bus minus the
        # completeness: what a failed backfill could not fetch is missing)
        allb = rest_bars(m, t0 - 10 * MIN, r[9]["t"])
        for b in bus.bars:
            self.assertAlmostEqual(b["c"], allb[b["t"]]["c"], places=6)
        err = self.stop(p)
        self.assertIn("reconnects 2", err)

    def test_rest_malformed_history(self):
        """A history page whose body is cut short is asked for again: the
        feeder starts with its full history and keeps running."""
        m, p, bus = self.start({
            "api_keys": [KEY],
            "dataset": {"symbols": {SYM: 180.0}, "start": "now-240m",
                        "end": "now+240m"},
            "rest_faults": [{"kind": "malformed", "count": 1}],
            "ws": {"live_start": "now+5m", "sessions": [
                {"name": "first", "steps": [WAIT_SUB]}]}}, history=5)
        hist = lt.history(self.ws.ep("rep"), SYM, 1000)
        self.assertEqual(len(hist["bars"]), 5)
        self.assertIn("malformed", [e.get("fault") for e in m.log()["rest"]])
        self.assertIn("asking again", self.stderr())
        self.stop(p)


if __name__ == "__main__":
    unittest.main()
