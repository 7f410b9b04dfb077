"""The mock Polygon.io server (tests/polygon_mock/mock_polygon.py), driven
by plain Python clients. These tests pin down what the mock does, so that the
polygon feeder's tests can rely on it."""
import asyncio
import base64
import gzip
import json
import os
import ssl
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "polygon_mock"))
from mockctl import FIXTURES, MockPolygon  # noqa: E402
from mock_polygon import fixture_frames  # noqa: E402

try:
    import websockets
except ImportError:  # python3-websockets (tools/deps.sh installs it)
    websockets = None

KEY = "test-key"
MINUTE = 60000
MSG_NO_KEY = "API Key was not provided"
MSG_BAD_KEY = "Unknown API Key"
MSG_NOT_ENTITLED = ("You are not entitled to this data. Please upgrade your "
                    "plan at https://polygon.io/pricing")
MSG_RATE = ("You've exceeded the maximum requests per minute, please wait or "
            "upgrade your subscription to continue. https://polygon.io/pricing")


def get(url, headers=None, timeout=5):
    """(status, headers, body bytes) without raising on HTTP errors."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def get_json(url, **kw):
    code, hdrs, body = get(url, **kw)
    return code, hdrs, json.loads(body)


class RestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = MockPolygon(script={
            "api_keys": [KEY],
            "dataset": {"symbols": {"AAPL": 180.0, "MSFT": 400.0},
                        "start": "2024-01-02T14:30:00Z",
                        "end": "2024-01-02T21:00:00Z",
                        "gaps": {"MSFT": [1704206100000]}}})
        cls.t0 = 1704205800000  # 2024-01-02T14:30Z

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def setUp(self):
        self.m.reset()

    def url(self, path, **q):
        q.setdefault("apiKey", KEY)
        if q["apiKey"] is None:
            del q["apiKey"]
        return "%s%s?%s" % (self.m.rest_url, path, urllib.parse.urlencode(q))

    def aggs(self, sym="AAPL", mult=1, span="minute", frm=None, to=None,
             **q):
        frm = self.t0 if frm is None else frm
        to = self.t0 + 29 * MINUTE if to is None else to
        return self.url("/v2/aggs/ticker/%s/range/%d/%s/%s/%s"
                        % (sym, mult, span, frm, to), **q)

    def test_minute_bars_shape(self):
        code, hdrs, b = get_json(self.aggs())
        self.assertEqual(code, 200)
        for k in ("ticker", "queryCount", "resultsCount", "adjusted",
                  "results", "status", "request_id"):
            self.assertIn(k, b)
        self.assertEqual(b["ticker"], "AAPL")
        self.assertEqual(b["status"], "OK")
        self.assertTrue(b["adjusted"])
        self.assertRegex(b["request_id"], "^[0-9a-f]{32}$")
        self.assertEqual(hdrs["X-Request-ID"], b["request_id"])
        self.assertNotIn("next_url", b)
        self.assertEqual(b["resultsCount"], 30)
        ts = [r["t"] for r in b["results"]]
        self.assertEqual(ts, [self.t0 + i * MINUTE for i in range(30)])
        for r in b["results"]:
            self.assertEqual(set(r), {"v", "vw", "o", "c", "h", "l", "t",
                                      "n"})
            self.assertLessEqual(r["l"], min(r["o"], r["c"]))
            self.assertGreaterEqual(r["h"], max(r["o"], r["c"]))
            self.assertIsInstance(r["v"], float)
        # deterministic: the same request gives the same bars
        self.assertEqual(get_json(self.aggs())[2]["results"], b["results"])
        # a gap in the dataset is a missing bar, not a zero bar
        msft = get_json(self.aggs("MSFT"))[2]["results"]
        self.assertEqual(len(msft), 29)
        self.assertNotIn(1704206100000, [r["t"] for r in msft])

    def test_bearer_header_and_sort_desc(self):
        url = self.aggs(apiKey=None, sort="desc")
        code, _, b = get_json(url, headers={
            "Authorization": "Bearer " + KEY})
        self.assertEqual(code, 200)
        ts = [r["t"] for r in b["results"]]
        self.assertEqual(ts, sorted(ts, reverse=True))
        self.assertEqual(self.m.log()["rest"][-1]["auth"], "bearer")

    def test_five_minute_bars_aggregate_minutes(self):
        one = get_json(self.aggs())[2]["results"]
        five = get_json(self.aggs(mult=5))[2]["results"]
        self.assertEqual(len(five), 6)
        for i, f in enumerate(five):
            part = one[5 * i:5 * i + 5]
            self.assertEqual(f["t"], part[0]["t"])
            self.assertEqual(f["o"], part[0]["o"])
            self.assertEqual(f["c"], part[-1]["c"])
            self.assertEqual(f["h"], max(p["h"] for p in part))
            self.assertEqual(f["l"], min(p["l"] for p in part))

    def test_pagination_next_url(self):
        whole = get_json(self.aggs())[2]["results"]
        url, pages, got = self.aggs(limit=7), 0, []
        while url and pages < 20:
            code, _, b = get_json(url)
            self.assertEqual(code, 200)
            got += b["results"]
            pages += 1
            nxt = b.get("next_url")
            if nxt:
                u = urllib.parse.urlsplit(nxt)
                self.assertTrue(nxt.startswith(self.m.rest_url))
                self.assertNotIn("apiKey", nxt)
                cur = urllib.parse.parse_qs(u.query)["cursor"][0]
                self.assertEqual(base64.urlsafe_b64decode(
                    cur + "=" * (-len(cur) % 4)), b"limit=7&sort=asc")
                # from is rewritten to the ms start of the next bar
                self.assertEqual(int(u.path.split("/")[-2]),
                                 b["results"][-1]["t"] + MINUTE)
                url = nxt + "&apiKey=" + KEY
            else:
                url = None
        self.assertEqual(pages, 5)
        self.assertEqual(got, whole)
        # the log keeps the cursor but never the key
        log = self.m.log()["rest"]
        self.assertEqual(len(log), 6)
        self.assertTrue(all(e["query"].get("apiKey") == "REDACTED"
                            for e in log))
        self.assertNotIn(KEY, json.dumps(log))

    def test_limit_counts_base_bars_and_drops_partial(self):
        code, _, b = get_json(self.aggs(mult=5, limit=12))
        self.assertEqual(b["queryCount"], 12)
        self.assertEqual(b["resultsCount"], 2)
        self.assertIn("/range/5/minute/%d/" % (self.t0 + 10 * MINUTE),
                      b["next_url"])

    def test_dates_and_day_bars(self):
        code, _, b = get_json(self.aggs(span="day", frm="2024-01-02",
                                        to="2024-01-02"))
        self.assertEqual(code, 200)
        self.assertEqual(len(b["results"]), 1)
        # daily bars start at 00:00 America/New_York (05:00Z in January)
        self.assertEqual(b["results"][0]["t"], 1704171600000)
        self.assertEqual(b["queryCount"], 390)
        code, _, m = get_json(self.aggs(frm="2024-01-02", to="2024-01-02",
                                        limit=50000))
        self.assertEqual(m["resultsCount"], 390)
        self.assertEqual(m["results"][0]["t"], self.t0)

    def test_gzip(self):
        code, hdrs, body = get(self.aggs(), headers={
            "Accept-Encoding": "gzip"})
        self.assertEqual(code, 200)
        self.assertEqual(hdrs["Content-Encoding"], "gzip")
        b = json.loads(gzip.decompress(body))
        self.assertEqual(b["resultsCount"], 30)
        code, hdrs, body = get(self.aggs())
        self.assertIsNone(hdrs["Content-Encoding"])

    def test_auth_errors(self):
        code, _, b = get_json(self.aggs(apiKey=None))
        self.assertEqual(code, 401)
        self.assertEqual((b["status"], b["error"]), ("ERROR", MSG_NO_KEY))
        code, _, b = get_json(self.aggs(apiKey="wrong"))
        self.assertEqual(code, 401)
        self.assertEqual((b["status"], b["error"]), ("ERROR", MSG_BAD_KEY))
        self.assertRegex(b["request_id"], "^[0-9a-f]{32}$")
        self.m.fault({"kind": "forbidden"})
        code, _, b = get_json(self.aggs())
        self.assertEqual(code, 403)
        self.assertEqual(set(b), {"status", "request_id", "message"})
        self.assertEqual((b["status"], b["message"]),
                         ("NOT_AUTHORIZED", MSG_NOT_ENTITLED))
        self.assertEqual(get_json(self.aggs())[0], 200)  # count 1 used up
        self.m.config(entitled=["MSFT"])
        try:
            self.assertEqual(get_json(self.aggs("AAPL"))[0], 403)
            self.assertEqual(get_json(self.aggs("MSFT"))[0], 200)
        finally:
            self.m.config(entitled=None)
        log = self.m.log()["rest"]
        self.assertEqual([e["status"] for e in log],
                         [401, 401, 403, 200, 403, 200])
        self.assertEqual(log[1]["key_ok"], False)

    def test_rate_limit(self):
        self.m.fault({"kind": "rate_limit", "retry_after": 2},
                     {"kind": "rate_limit"})
        code, hdrs, b = get_json(self.aggs())
        self.assertEqual(code, 429)
        self.assertEqual(hdrs["Retry-After"], "2")
        self.assertEqual((b["status"], b["error"]), ("ERROR", MSG_RATE))
        code, hdrs, b = get_json(self.aggs())
        self.assertEqual(code, 429)
        self.assertIsNone(hdrs["Retry-After"])
        self.assertEqual(get_json(self.aggs())[0], 200)

    def test_server_error_burst(self):
        self.m.fault({"kind": "server_error", "count": 3},
                     {"kind": "server_error", "code": 504, "count": 1})
        codes = [get(self.aggs())[0] for _ in range(5)]
        self.assertEqual(codes, [500, 500, 500, 504, 200])

    def test_results_missing_null_empty_and_malformed(self):
        self.m.fault({"kind": "results_missing"}, {"kind": "results_null"},
                     {"kind": "results_empty"}, {"kind": "malformed"})
        _, _, b = get_json(self.aggs())
        self.assertNotIn("results", b)
        self.assertEqual(b["resultsCount"], 0)
        _, _, b = get_json(self.aggs())
        self.assertIn("results", b)
        self.assertIsNone(b["results"])
        _, _, b = get_json(self.aggs())
        self.assertEqual(b["results"], [])
        code, _, body = get(self.aggs())
        self.assertEqual(code, 200)
        with self.assertRaises(ValueError):
            json.loads(body)
        self.assertEqual(get_json(self.aggs())[2]["resultsCount"], 30)

    def test_next_url_loop(self):
        self.m.fault({"kind": "next_url_loop", "count": 3})
        _, _, b = get_json(self.aggs(limit=10))
        first = b["next_url"]
        self.assertNotIn("apiKey", first)
        _, _, b2 = get_json(first + "&apiKey=" + KEY)
        _, _, b3 = get_json(b2["next_url"] + "&apiKey=" + KEY)
        self.assertEqual(b2["next_url"], first)
        self.assertEqual(b3["next_url"], first)
        self.assertEqual(b2["results"], b3["results"])

    def test_fault_matches_ticker(self):
        self.m.fault({"kind": "server_error", "ticker": "MSFT"})
        self.assertEqual(get(self.aggs("AAPL"))[0], 200)
        self.assertEqual(get(self.aggs("MSFT"))[0], 500)
        self.assertEqual(get(self.aggs("MSFT"))[0], 200)

    def test_slow_response(self):
        self.m.fault({"kind": "slow", "delay_ms": 400})
        t = time.monotonic()
        self.assertEqual(get(self.aggs())[0], 200)
        self.assertGreaterEqual(time.monotonic() - t, 0.35)
        self.m.fault({"kind": "slow", "delay_ms": 800})
        with self.assertRaises(OSError):  # a client timeout fires
            get(self.aggs(), timeout=0.2)
        deadline = time.monotonic() + 3  # let the slow reply finish
        while len(self.m.log()["rest"]) < 2:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)

    def test_rate_limit_per_minute(self):
        self.m.config(rate_limit_per_minute=2)
        try:
            codes = [get(self.aggs())[0] for _ in range(3)]
        finally:
            self.m.config(rate_limit_per_minute=0)
        self.assertEqual(codes, [200, 200, 429])
        self.assertEqual(get(self.aggs())[0], 200)

    def test_delayed_status(self):
        self.m.config(status="DELAYED")
        try:
            self.assertEqual(get_json(self.aggs())[2]["status"], "DELAYED")
        finally:
            self.m.config(status="OK")

    def test_unknown_route(self):
        code, _, b = get_json(self.url("/v3/reference/tickers"))
        self.assertEqual(code, 404)


def ws_run(coro, timeout=4):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def recv_json(ws, timeout=2):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def handshake(ws, key=KEY, topics="AM.AAPL,AM.MSFT"):
    """connected -> auth -> subscribe; returns the frames received."""
    frames = [await recv_json(ws)]
    await ws.send(json.dumps({"action": "auth", "params": key}))
    frames.append(await recv_json(ws))
    if frames[-1][0]["status"] != "auth_success" or not topics:
        return frames
    await ws.send(json.dumps({"action": "subscribe", "params": topics}))
    for _ in topics.split(","):
        frames.append(await recv_json(ws))
    return frames


async def collect_events(ws, n, timeout=3):
    """Reads frames until n non-status events arrived: (events, frames)."""
    events, frames = [], []
    deadline = time.monotonic() + timeout
    while len(events) < n:
        f = await recv_json(ws, max(0.05, deadline - time.monotonic()))
        frames.append(f)
        events += [e for e in f if e["ev"] != "status"]
    return events, frames


@unittest.skipIf(websockets is None, "python3-websockets is not installed")
class WebSocketTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = MockPolygon(script={"api_keys": [KEY],
                                    "ws": {"enforce_max_connections": True}})

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def setUp(self):
        self.m.reset()

    def rest_bars(self, sym, t, n):
        url = "%s/v2/aggs/ticker/%s/range/1/minute/%d/%d?apiKey=%s" % (
            self.m.rest_url, sym, t, t + (n - 1) * MINUTE, KEY)
        return get_json(url)[2].get("results") or []

    def wait_conns(self, n):
        deadline = time.monotonic() + 2
        while len(self.m.state()["connections"]) < n:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        return self.m.state()["connections"]

    def test_sequence_and_batched_bars_match_rest(self):
        async def go():
            async with websockets.connect(self.m.ws_url + "/stocks") as ws:
                fr = await handshake(ws)
                self.assertEqual(fr[0], [{"ev": "status",
                                          "status": "connected",
                                          "message": "Connected Successfully"}])
                self.assertEqual(fr[1], [{"ev": "status",
                                          "status": "auth_success",
                                          "message": "authenticated"}])
                self.assertEqual(fr[2][0]["message"],
                                 "subscribed to: AM.AAPL")
                self.assertEqual(fr[3][0]["message"],
                                 "subscribed to: AM.MSFT")
                conn = self.wait_conns(1)[-1]
                t0 = self.m.state()["live_t"]
                self.m.steps([{"bars": {"count": 3, "per_frame": 4}}], conn)
                return t0, await collect_events(ws, 6)
        t0, (events, frames) = ws_run(go())
        self.assertEqual([len(f) for f in frames], [4, 2])
        self.assertEqual(self.m.state()["live_t"], t0 + 3 * MINUTE)
        for sym in ("AAPL", "MSFT"):
            mine = [e for e in events if e["sym"] == sym]
            self.assertEqual([e["s"] for e in mine],
                             [t0 + i * MINUTE for i in range(3)])
            for e, r in zip(mine, self.rest_bars(sym, t0, 3)):
                self.assertEqual(e["ev"], "AM")
                self.assertEqual(e["e"] - e["s"], MINUTE)
                self.assertEqual((e["o"], e["h"], e["l"], e["c"], e["v"],
                                  e["vw"], e["s"]),
                                 (r["o"], r["h"], r["l"], r["c"], r["v"],
                                  r["vw"], r["t"]))
        acts = [(e.get("action"), e.get("params")) for e in
                self.m.log()["ws"] if e["event"] == "action"]
        self.assertEqual(acts, [("auth", "REDACTED"),
                                ("subscribe", "AM.AAPL,AM.MSFT")])

    def test_only_subscribed_symbols_and_second_bars(self):
        async def go():
            async with websockets.connect(self.m.ws_url + "/delayed/stocks") \
                    as ws:
                await handshake(ws, topics="A.MSFT")
                conn = self.wait_conns(1)[-1]
                self.m.steps([{"bars": {"ev": "A", "count": 5,
                                        "t": self.m.live_t}}], conn)
                return await collect_events(ws, 5)
        events, _ = ws_run(go())
        self.assertEqual({e["sym"] for e in events}, {"MSFT"})
        self.assertTrue(all(e["ev"] == "A" and e["e"] - e["s"] == 1000
                            for e in events))

    def test_auth_failed_closes(self):
        async def go():
            async with websockets.connect(self.m.ws_url + "/stocks") as ws:
                fr = await handshake(ws, key="nope")
                with self.assertRaises(websockets.ConnectionClosed):
                    await recv_json(ws)
                return fr
        fr = ws_run(go())
        self.assertEqual(fr[1], [{"ev": "status", "status": "auth_failed",
                                  "message": "authentication failed"}])
        log = self.m.log()["ws"]
        self.assertIn({"auth": False}, [{"auth": e["key_ok"]} for e in log
                                        if e.get("action") == "auth"])

    def test_auth_before_connected_is_accepted(self):
        async def go():
            async with websockets.connect(self.m.ws_url + "/stocks") as ws:
                await ws.send(json.dumps({"action": "auth", "params": KEY}))
                a = await recv_json(ws)
                b = await recv_json(ws)
                return a, b
        a, b = ws_run(go())
        self.assertEqual(a[0]["status"], "connected")
        self.assertEqual(b[0]["status"], "auth_success")

    def test_max_connections_kicks_older(self):
        async def go():
            async with websockets.connect(self.m.ws_url + "/stocks") as ws1:
                await handshake(ws1)
                async with websockets.connect(self.m.ws_url + "/stocks") \
                        as ws2:
                    await handshake(ws2)
                    f = await recv_json(ws1)
                    with self.assertRaises(websockets.ConnectionClosed):
                        await recv_json(ws1)
                    return f, ws2.open
        f, open2 = ws_run(go())
        self.assertEqual(f, [{"ev": "status", "status": "max_connections",
                              "message": "Maximum number of connections "
                                         "exceeded."}])
        self.assertTrue(open2)

    def test_odd_frames(self):
        """A correction, a status mixed into a batch, an unknown event type
        and a malformed frame; then a truncated frame ends the link."""
        async def go():
            async with websockets.connect(self.m.ws_url + "/stocks") as ws:
                await handshake(ws, topics="AM.AAPL")
                conn = self.wait_conns(1)[-1]
                self.m.steps([
                    {"bars": {"count": 2, "per_frame": 5,
                              "with_status": "hello"}},
                    {"correction": {"sym": "AAPL", "delta": 0.5}},
                    {"unknown_event": True},
                    {"malformed": True},
                    {"truncated_frame": True}], conn)
                out = [await recv_json(ws) for _ in range(3)]
                out.append(await asyncio.wait_for(ws.recv(), 2))
                with self.assertRaises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 2)
                return out
        batch, corr, unknown, malformed = ws_run(go())
        self.assertEqual([e["ev"] for e in batch], ["AM", "status", "AM"])
        self.assertEqual(len(corr), 1)
        self.assertEqual(corr[0]["s"], batch[2]["s"])
        self.assertAlmostEqual(corr[0]["c"], batch[2]["c"] + 0.5, places=4)
        self.assertGreater(corr[0]["v"], batch[2]["v"])
        # REST now serves the corrected bar
        r = self.rest_bars("AAPL", corr[0]["s"], 1)[0]
        self.assertEqual((r["c"], r["v"]), (corr[0]["c"], corr[0]["v"]))
        self.assertEqual([e["ev"] for e in unknown], ["XQ", "status"])
        with self.assertRaises(ValueError):
            json.loads(malformed)

    def test_scripted_drop_then_resubscribe_and_backfill(self):
        self.m.session(
            {"name": "first", "steps": [
                {"wait_subscribed": ["AM.AAPL"]},
                {"bars": {"count": 2}}, {"skip": 3}, {"drop": True}]},
            {"name": "second", "steps": [
                {"wait_subscribed": ["AM.AAPL"]}, {"bars": {"count": 1}}]})
        t0 = self.m.state()["live_t"]

        async def client():
            """Reconnects like the official clients: auth + resubscribe."""
            got = []
            for attempt in range(3):
                try:
                    async with websockets.connect(self.m.ws_url + "/stocks") \
                            as ws:
                        await handshake(ws, topics="AM.AAPL")
                        while len(got) < 3:
                            f = await recv_json(ws)
                            got += [e for e in f if e["ev"] == "AM"]
                        return got, attempt
                except websockets.ConnectionClosed:
                    continue
            return got, attempt
        got, attempt = ws_run(client())
        self.assertEqual(attempt, 1)
        self.assertEqual([e["s"] for e in got],
                         [t0, t0 + MINUTE, t0 + 5 * MINUTE])
        # the three minutes skipped while offline come from REST
        gap = self.rest_bars("AAPL", t0 + 2 * MINUTE, 3)
        self.assertEqual([r["t"] for r in gap],
                         [t0 + i * MINUTE for i in (2, 3, 4)])
        log = self.m.log()["ws"]
        by_conn = {}
        for e in log:
            if e["event"] == "action":
                by_conn.setdefault(e["conn"], []).append(e["action"])
        self.assertEqual(list(by_conn.values()),
                         [["auth", "subscribe"], ["auth", "subscribe"]])
        self.assertIn("drop", [e["event"] for e in log])

    def test_disconnect_statuses(self):
        for status in ("force_disconnect", "slow_consumer"):
            async def go():
                async with websockets.connect(self.m.ws_url + "/stocks") \
                        as ws:
                    await handshake(ws, topics="AM.AAPL")
                    conn = self.wait_conns(1)[-1]
                    self.m.steps([{"disconnect": status}], conn)
                    f = await recv_json(ws)
                    with self.assertRaises(websockets.ConnectionClosed):
                        await recv_json(ws)
                    return f
            f = ws_run(go())
            self.assertEqual(f[0]["status"], status)
            time.sleep(0.05)

    def test_drop_after_frames(self):
        self.m.session({"drop_after_frames": 3})

        async def go():
            async with websockets.connect(self.m.ws_url + "/stocks") as ws:
                fr = await handshake(ws, topics="AM.AAPL,AM.MSFT")
                return fr
        with self.assertRaises(websockets.ConnectionClosed):
            ws_run(go())

    @unittest.skipUnless(os.path.isdir(FIXTURES), "skipped: "
                         "../shared/polygon_fixtures not found beside the "
                         "clone")
    def test_status_frames_equal_the_recorded_transcript(self):
        """Every status frame of a production client's recorded session
        (connected, auth, three subscriptions; auth_failed, auth_timeout,
        max_connections) is what the mock sends, byte for byte."""
        rec = fixture_frames(os.path.join(
            FIXTURES, "ws", "alpacahq-marketstore__contrib_polygon_"
            "streaming_client.go__ws_transcript.txt"))
        self.assertEqual(len(rec), 8)
        self.m.session({"name": "a"}, {"name": "b"}, {"name": "c"},
                       {"name": "d", "auth_timeout_ms": 300})

        async def go():
            got = []
            async with websockets.connect(self.m.ws_url + "/stocks") as ws:
                got.append(await ws.recv())
                await ws.send(json.dumps({"action": "auth", "params": KEY}))
                got.append(await ws.recv())
                await ws.send(json.dumps({"action": "subscribe",
                                          "params": "T.*,Q.*,AM.*"}))
                for _ in range(3):
                    got.append(await ws.recv())
                async with websockets.connect(self.m.ws_url + "/stocks") \
                        as ws2:            # same key: ws is kicked off
                    await ws2.recv()
                    await ws2.send(json.dumps({"action": "auth",
                                               "params": KEY}))
                    kicked = await ws.recv()
            async with websockets.connect(self.m.ws_url + "/stocks") as ws:
                await ws.recv()
                await ws.send(json.dumps({"action": "auth",
                                          "params": "nope"}))
                got.append(await ws.recv())
            async with websockets.connect(self.m.ws_url + "/stocks") as ws:
                await ws.recv()
                got.append(await ws.recv())     # nothing sent: timeout
            got.append(kicked)
            return got
        self.assertEqual(ws_run(go(), timeout=8), rec)

    def test_auth_timeout(self):
        self.m.session({"auth_timeout_ms": 300})

        async def go():
            async with websockets.connect(self.m.ws_url + "/stocks") as ws:
                a = await recv_json(ws)
                b = await recv_json(ws)
                with self.assertRaises(websockets.ConnectionClosed):
                    await recv_json(ws)
                return a, b
        a, b = ws_run(go())
        self.assertEqual(a[0]["status"], "connected")
        self.assertEqual(b, [{"ev": "status", "status": "auth_timeout",
                              "message": "No authentication request "
                                         "received."}])

    def test_unknown_path_rejected(self):
        # Markets the mock does not play, and a delayed feed Polygon does
        # not have.
        for path in ("/options", "/delayed/forex"):
            async def go():
                async with websockets.connect(self.m.ws_url + path):
                    pass
            with self.assertRaises(websockets.InvalidStatusCode):
                ws_run(go())


@unittest.skipIf(websockets is None, "python3-websockets is not installed")
class TlsTest(unittest.TestCase):
    def test_wss_and_https_with_generated_cert(self):
        script = {"rest_faults": [{"kind": "server_error", "code": 503}]}
        with MockPolygon(script=script, tls=True, rest_tls=True) as m:
            self.assertTrue(m.ws_url.startswith("wss://127.0.0.1:"))
            self.assertTrue(os.path.exists(m.cert))
            ctx = ssl.create_default_context(cafile=m.cert)

            async def go():
                async with websockets.connect(m.ws_url + "/stocks",
                                              ssl=ctx) as ws:
                    fr = await handshake(ws, topics="AM.AAPL")
                    m.steps([{"bars": {"count": 2}}])
                    ev, _ = await collect_events(ws, 2)
                    return fr, ev
            fr, ev = ws_run(go())
            self.assertEqual(fr[1][0]["status"], "auth_success")
            self.assertEqual(len(ev), 2)

            async def untrusted():
                async with websockets.connect(
                        m.ws_url + "/stocks",
                        ssl=ssl.create_default_context()):
                    pass
            with self.assertRaises(ssl.SSLError):
                ws_run(untrusted())
            url = ("%s/v2/aggs/ticker/AAPL/range/1/minute/%d/%d?apiKey=%s"
                   % (m.rest_url, m.live_t, m.live_t + 4 * MINUTE, KEY))
            self.assertTrue(url.startswith("https://127.0.0.1:"))
            codes = []
            for _ in range(2):
                try:
                    with urllib.request.urlopen(url, timeout=3,
                                                context=ctx) as r:
                        codes.append((r.status, len(json.load(r)["results"])))
                except urllib.error.HTTPError as e:
                    codes.append((e.code, None))
            self.assertEqual(codes, [(503, None), (200, 5)])


if __name__ == "__main__":
    unittest.main()
