"""livetrade-sink web: a demo feeder, an sma_cross engine and the web
sink, with the dashboard opened in headless Chromium (driven over the
Chrome DevTools Protocol). The charts must show every bar the feeder
published, a marker for every signal a test subscriber caught on the
engine's PUB, and the strategy's indicator lines with a point for every
bar the engine holds once each SMA has its window; a page opened late and
a sink started late show the same history; the token, bad flags, bad
browser messages and a client that stops reading are checked against the
real process."""
import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import msgpack
import websockets
import zmq

import lt

CHROMIUM = os.environ.get("LIVETRADE_CHROMIUM", "/usr/bin/chromium")
OUTPUT = os.path.join(lt.ROOT, "tests", "output")
SYMS = ["AAPL", "MSFT"]
START = 1767225600000           # 2026-01-01T00:00:00Z
HISTORY = 300
COUNT = 200
TOKEN = "s3cret-token-for-tests"


def wmem_max():
    """The largest send buffer TCP grows to, in bytes."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 << 20


def raw_request(port, path, host, origin=None, upgrade=False):
    """The status line's code of one request to 127.0.0.1:port that says
    Host: host (the name a browser puts there), as a WebSocket upgrade
    when upgrade."""
    lines = ["GET %s HTTP/1.1" % path, "Host: " + host]
    if origin:
        lines.append("Origin: " + origin)
    if upgrade:
        lines += ["Upgrade: websocket", "Connection: Upgrade",
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                  "Sec-WebSocket-Version: 13"]
    else:
        lines.append("Connection: close")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        got = b""
        while b"\r\n" not in got:
            more = s.recv(4096)
            if not more:
                break
            got += more
    return int(got.split(b" ", 2)[1])


class Chromium:
    """Headless Chromium on a private profile, driven over CDP: one
    browser-level WebSocket, one flattened session per page."""

    def __init__(self, workdir):
        self.profile = tempfile.mkdtemp(prefix="lt-chromium-")
        self.log = open(os.path.join(workdir, "chromium.log"), "wb")
        self.p = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run",
             "--no-default-browser-check", "--remote-debugging-port=0",
             "--remote-debugging-address=127.0.0.1",
             "--user-data-dir=" + self.profile, "--window-size=1280,1400",
             "about:blank"],
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL,
            start_new_session=True)     # its own group: closed as one
        self.loop = asyncio.new_event_loop()
        self.ws = None
        self.next_id = 0
        try:
            path = os.path.join(self.profile, "DevToolsActivePort")
            lines = lt.wait_until(
                lambda: self._port_file(path), 30,
                "Chromium to write DevToolsActivePort (see chromium.log)")
            self.url = "ws://127.0.0.1:%s%s" % (lines[0], lines[1])

            async def connect():
                return await websockets.connect(self.url, max_size=None)
            self.ws = self.run(connect())
        except BaseException:
            self.close()
            raise

    def _port_file(self, path):
        if self.p.poll() is not None:
            raise AssertionError("Chromium exited with %s" % self.p.returncode)
        try:
            with open(path) as f:
                lines = f.read().split()
        except OSError:
            return None
        return lines if len(lines) >= 2 else None

    def run(self, coro, timeout=30):
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    async def _call(self, method, params=None, session=None):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        await self.ws.send(json.dumps(msg))
        while True:
            r = json.loads(await self.ws.recv())
            if r.get("id") == mid:
                if "error" in r:
                    raise AssertionError("%s: %s" % (method, r["error"]))
                return r.get("result", {})

    def call(self, method, params=None, session=None, timeout=30):
        return self.run(self._call(method, params, session), timeout)

    def open(self, url):
        """A new page at url; returns its session id."""
        target = self.call("Target.createTarget",
                           {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=session)
        self.call("Page.navigate", {"url": url}, session=session)
        return session

    def eval(self, session, expr):
        r = self.call("Runtime.evaluate",
                      {"expression": expr, "returnByValue": True},
                      session=session)
        if "exceptionDetails" in r:
            return None
        return r["result"].get("value")

    def state(self, session):
        return self.eval(session, "window.ltDashboard ? "
                         "window.ltDashboard.state() : null")

    def screenshot(self, session, path):
        r = self.call("Page.captureScreenshot", {"format": "png"},
                      session=session)
        data = base64.b64decode(r["data"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return data

    def close(self):
        if self.ws:
            try:
                self.run(self.ws.close(), 5)
            except Exception:
                pass
        self.loop.close()
        # The browser and its helper processes (renderers, GPU, ...).
        try:
            os.killpg(self.p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.p.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


class SignalCatcher:
    """A test subscriber on the engine's PUB (a thread)."""

    def __init__(self, endpoint):
        self.sock = lt.CTX.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"sig|")
        self.sock.connect(endpoint)
        self.signals = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            if self.sock.poll(50):
                topic, body = self.sock.recv_multipart()
                self.signals.append(msgpack.unpackb(body, raw=False))

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


class Web(lt.WorkspaceTest):
    def setUp(self):
        super().setUp()
        self.browser = None
        self.catcher = None

    def tearDown(self):
        if self.browser:
            self.browser.close()
        if self.catcher:
            self.catcher.close()

    def need_chromium(self):
        if not os.access(CHROMIUM, os.X_OK):
            self.fail("%s is missing: the dashboard tests need Chromium; "
                      "'make deps' (tools/deps.sh) installs it" % CHROMIUM)
        self.browser = Chromium(self.ws.dir)

    # -- the pipeline ---------------------------------------------------

    def feeder(self, *extra):
        ws = self.ws
        return ws.start("feeder", "livetrade-feeder", "--source", "demo",
                        "--symbols", ",".join(SYMS), "--seed", "7",
                        "--start", str(START), "--history", str(HISTORY),
                        "--pub", ws.ep("bars"), "--rep", ws.ep("hist"),
                        *extra)

    def engine(self, *extra):
        ws = self.ws
        return ws.start("engine", "livetrade-engine",
                        "--strategy", "strategies/sma_cross.lua",
                        "--symbols", ",".join(SYMS),
                        "--sub", ws.ep("bars"), "--history", ws.ep("hist"),
                        "--pub", ws.ep("sig"), "--rep", ws.ep("eng"), *extra)

    def web(self, port, *extra, name="web"):
        ws = self.ws
        return ws.start(name, "livetrade-sink", "web",
                        "--listen", "127.0.0.1:%d" % port,
                        "--sub", ws.ep("sig"), "--bars", ws.ep("bars"),
                        "--history", ws.ep("hist"), "--status", ws.ep("eng"),
                        *extra)

    def engine_done(self):
        last_t = START + (HISTORY + COUNT - 1) * 60000
        st = lt.status(self.ws.ep("eng"))
        if st and all(s["live"] and s["last_t"] == last_t
                      for s in st["symbols"]):
            return st
        return None

    def wait_http(self, port, proc):
        def up():
            self.assertTrue(proc.alive(), proc.stderr())
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/style.css" % port,
                                       timeout=2).read()
                return True
            except urllib.error.HTTPError:
                return True
            except OSError:
                return False
        lt.wait_until(up, 30, "the dashboard to listen")

    def feed_bars(self):
        """The feeder's bars per symbol (its history service)."""
        out = {}
        for sym in SYMS:
            h = lt.history(self.ws.ep("hist"), sym, 100000)
            self.assertEqual(h["type"], "history")
            out[sym] = h["bars"]
        return out

    def chart_matches(self, session, bars, signals):
        """The page's state once every candle and marker is shown."""
        st = self.browser.state(session)
        self.last_state = st
        if not st or not st["connected"]:
            return None
        for sym in SYMS:
            y = st["symbols"].get(sym)
            if not y or y["candles"] != len(bars[sym]):
                return None
            want = {s["id"] for s in signals if s["sym"] == sym}
            if set(y["markerIds"]) != want:
                return None
        return st

    def lines_match(self, session, bars, engine):
        """The page's state once each symbol's sma1 and sma2 lines have a
        point for every candle from the engine's first bar with a value
        (its n-th) on; engine: the engine's status."""
        st = self.browser.state(session)
        self.last_state = st
        if not st:
            return None
        held = {s["sym"]: s["first_t"] for s in engine["symbols"]}
        for sym in SYMS:
            y = st["symbols"].get(sym)
            if not y or not y["linesPerBar"]:
                return None
            for name, n in (("sma1", 10), ("sma2", 20)):
                want = [b["t"] // 1000 for b in bars[sym]
                        if b["t"] >= held[sym] + (n - 1) * 60000]
                if (y["lines"].get(name) != len(want) or
                        y["lineRanges"][name] != [want[0], want[-1]]):
                    return None
        return st

    # -- tests ----------------------------------------------------------

    def test_dashboard_live_and_late(self):
        self.need_chromium()
        ws, port = self.ws, lt.free_port()
        web = self.web(port)
        self.wait_http(port, web)
        page = self.browser.open("http://127.0.0.1:%d/" % port)
        lt.wait_until(lambda: (self.browser.state(page) or {}).get(
            "connected"), 30, "the page to connect")

        self.catcher = SignalCatcher(ws.ep("sig"))
        # Live once the web sink and the test subscriber listen.
        self.engine("--wait-subscribers", "2")
        self.feeder("--count", str(COUNT), "--interval", "0.02")
        st = lt.wait_until(self.engine_done, 90, "the engine to take "
                           "every bar")
        lt.wait_until(lambda: len(self.catcher.signals) >= st["signals"],
                      30, "the test subscriber to see every signal")
        signals = self.catcher.signals
        self.assertEqual(len(signals), st["signals"])
        self.assertGreater(len(signals), 2)
        bars = self.feed_bars()
        self.assertEqual(len(bars["AAPL"]), HISTORY + COUNT)

        # Opened before the first bar: history and live updates fill it.
        try:
            got = lt.wait_until(
                lambda: self.chart_matches(page, bars, signals), 60,
                "the live page to show every candle and marker")
        except AssertionError:
            print("page:", json.dumps(self.last_state)[:3000])
            print("signals:", [(s["sym"], s["id"]) for s in signals])
            raise
        self.assertEqual(got["signals"], len(signals))
        self.assertEqual(got["components"], 2)
        # sma_cross's indicators: a point per bar, not one per signal --
        # the engine warmed up on ~21 bars, then took most of the 200
        # live (those the feeder published before its warm-up came from
        # history).
        try:
            got = lt.wait_until(lambda: self.lines_match(page, bars, st),
                                30, "the indicator lines to have a point "
                                "per bar")
        except AssertionError:
            print("page:", json.dumps(self.last_state)[:3000])
            print("engine:", st["symbols"])
            raise
        for sym in SYMS:
            n = len([s for s in signals if s["sym"] == sym])
            self.assertGreater(got["symbols"][sym]["lines"]["sma2"],
                               max(COUNT // 2, 3 * n))
        rows = self.browser.eval(
            page, "Array.from(document.querySelectorAll('#signals tbody "
            "tr')).map(r => r.dataset.id)")
        self.assertEqual(sorted(rows), sorted(s["id"] for s in signals))
        status = lt.wait_until(lambda: self.browser.eval(
            page, "(() => { const t = document.querySelector('#status "
            "tbody').innerText; return t.includes('feeder (demo)') && "
            "t.includes('engine ') && t; })()"), 30,
            "the components table")
        self.assertIn("connected", status)
        # Each component's last bar and lag: the engine's newest bar (every
        # bar was taken), and a lag in seconds to days behind it.
        newest = max(x["last_t"] for x in st["symbols"])
        want = time.strftime("%Y-%m-%d %H:%M:%S",
                             time.gmtime(newest // 1000))
        cells = lt.wait_until(lambda: (lambda r: r if r and r[3] == want
                                       else None)(self.browser.eval(
            page, "(() => { const r = Array.from(document.querySelectorAll("
            "'#status tbody tr')).find(r => r.cells[0].innerText."
            "startsWith('engine ')); return r && Array.from(r.cells)."
            "map(c => c.innerText); })()")), 30,
            "the engine's row to show its last bar")
        self.assertIn("connected", cells[2])
        self.assertRegex(cells[4], r"^\d+ (s|min|h|d)$")
        self.assertIn("%d signals" % st["signals"], cells[5])
        png = self.browser.screenshot(
            page, os.path.join(OUTPUT, "web-dashboard.png"))
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        self.assertGreater(len(png), 10000)

        # A page opened after the signals gets the same from the snapshot.
        late = self.browser.open("http://127.0.0.1:%d/" % port)
        got = lt.wait_until(lambda: self.chart_matches(late, bars, signals),
                            60, "the late page to show every candle and "
                            "marker")
        self.assertEqual(got["connects"], 1)
        lt.wait_until(lambda: self.lines_match(late, bars, st), 30,
                      "the late page's indicator lines")
        self.assertEqual(web.stop(), 0)
        self.assertNotIn("ERROR", web.stderr())

    def test_sink_started_late_shows_history(self):
        self.need_chromium()
        port = lt.free_port()
        self.engine()
        self.feeder("--count", str(COUNT), "--interval", "0")
        st = lt.wait_until(self.engine_done, 90, "the engine to take every "
                           "bar")
        bars = self.feed_bars()
        # Started after the feed ended: no bar comes on the bus any more;
        # the engine's status names its symbols, and their charts come
        # from the feeder's history service.
        web = self.web(port)
        self.wait_http(port, web)
        page = self.browser.open("http://127.0.0.1:%d/" % port)

        def charted():
            st = self.browser.state(page) or {}
            ok = all(st.get("symbols", {}).get(s, {}).get("candles") ==
                     len(bars[s]) for s in SYMS)
            return ok and st
        lt.wait_until(charted, 60, "the history candles")
        # ... and the indicator lines from the engine's "indicators".
        lt.wait_until(lambda: self.lines_match(page, bars, st), 30,
                      "the indicator lines from the engine's history")
        png = self.browser.screenshot(
            page, os.path.join(OUTPUT, "web-history.png"))
        self.assertGreater(len(png), 10000)
        self.assertEqual(web.stop(), 0)

    def test_host_loopback_only(self):
        # Without a token, only loopback names on the listening port: a
        # site whose name resolves to 127.0.0.1 (DNS rebinding) sends its
        # own name in Host and Origin and must not read the dashboard.
        port, other = lt.free_port(), lt.free_port()
        web = self.web(port)
        self.wait_http(port, web)
        evil = "evil.example:%d" % port
        self.assertEqual(raw_request(port, "/ws", evil, "http://" + evil,
                                     upgrade=True), 403)
        self.assertEqual(raw_request(port, "/", evil), 403)
        self.assertEqual(raw_request(port, "/app.js", evil), 403)
        self.assertEqual(raw_request(port, "/", "127.0.0.1:%d" % other), 403)
        self.assertEqual(raw_request(port, "/", "127.0.0.1"), 403)
        self.assertEqual(raw_request(port, "/", "127.0.0.2:%d" % port), 403)
        self.assertEqual(raw_request(port, "/", "localhost.evil.example:%d"
                                     % port), 403)
        for name in ("127.0.0.1", "localhost", "LocalHost", "[::1]"):
            host = "%s:%d" % (name, port)
            self.assertEqual(raw_request(port, "/", host), 200, host)
            self.assertEqual(raw_request(port, "/ws", host, "http://" + host,
                                         upgrade=True), 101, host)
        self.assertEqual(raw_request(port, "/ws", "[::1]:%d" % port,
                                     upgrade=True), 101)

        async def refusals():
            url = "ws://127.0.0.1:%d/ws" % port
            async with websockets.connect(url) as c:
                m = json.loads(await asyncio.wait_for(c.recv(), 10))
                self.assertEqual(m["type"], "status")
                return m["sink"]["bad_host"]
        self.assertEqual(asyncio.run(refusals()), 7)
        self.assertIn("Host 'evil.example:%d' was refused" % port,
                      web.stderr())
        self.assertEqual(web.stop(), 0)

    def test_token_and_flags(self):
        port = lt.free_port()
        # Not loopback without a token: one line, exit 2, nothing bound.
        for args in (["--listen", "0.0.0.0:%d" % port],
                     ["--listen", "192.0.2.1:%d" % port],
                     ["--listen", "nonsense"],
                     ["--listen", "127.0.0.1:99999"],
                     ["--token", "short"],
                     ["--max-bars", "0"],
                     ["--assets", self.ws.path("nowhere")],
                     ["--bogus"]):
            code, out, err = lt.run("livetrade-sink", "web", *args,
                                    timeout=30)
            self.assertEqual(code, 2, (args, err))
            self.assertEqual(len(err.strip().splitlines()), 1, (args, err))
        code, out, err = lt.run("livetrade-sink", "web", "--listen",
                                "0.0.0.0:%d" % port)
        self.assertIn("--token", err)

        web = self.web(port, "--token", TOKEN)
        self.wait_http(port, web)
        base = "http://127.0.0.1:%d" % port
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + "/", timeout=5)
        self.assertEqual(e.exception.code, 401)
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + "/app.js?token=wrong-token-x",
                                   timeout=5)
        self.assertEqual(e.exception.code, 401)
        r = urllib.request.urlopen(base + "/?token=" + TOKEN, timeout=5)
        self.assertEqual(r.status, 200)
        self.assertIn(b"livetrade", r.read())
        cookie = r.headers["Set-Cookie"]
        self.assertIn("lt_token=" + TOKEN, cookie)
        self.assertIn("HttpOnly", cookie)
        req = urllib.request.Request(base + "/app.js", headers={
            "Cookie": "other=1; lt_token=" + TOKEN})
        self.assertEqual(urllib.request.urlopen(req, timeout=5).status, 200)
        req = urllib.request.Request(base + "/style.css", headers={
            "Authorization": "Bearer " + TOKEN})
        self.assertEqual(urllib.request.urlopen(req, timeout=5).status, 200)
        # The token guards: any Host then (a name behind a proxy).
        self.assertEqual(raw_request(port, "/?token=" + TOKEN,
                                     "dash.example.com"), 200)
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + "/../../etc/passwd?token=" + TOKEN,
                                   timeout=5)
        self.assertEqual(e.exception.code, 404)

        async def ws_checks():
            url = "ws://127.0.0.1:%d/ws" % port
            with self.assertRaises(websockets.InvalidStatusCode) as e:
                async with websockets.connect(url):
                    pass
            self.assertEqual(e.exception.status_code, 401)
            with self.assertRaises(websockets.InvalidStatusCode) as e:
                async with websockets.connect(url + "?token=" + TOKEN,
                                              origin="http://evil.example"):
                    pass
            self.assertEqual(e.exception.status_code, 403)
            async with websockets.connect(url + "?token=" + TOKEN) as c:
                m = json.loads(await asyncio.wait_for(c.recv(), 10))
                self.assertEqual(m["type"], "status")
        asyncio.run(ws_checks())

        # In a browser: the page opened with ?token= loads its files (the
        # cookie) and opens its WebSocket.
        self.need_chromium()
        page = self.browser.open(base + "/?token=" + TOKEN)
        lt.wait_until(lambda: (self.browser.state(page) or {}).get(
            "connected"), 30, "the page to connect with the token")
        self.assertEqual(web.stop(), 0)

    def test_bad_messages_and_stalled_client(self):
        ws, port = self.ws, lt.free_port()
        # Large charts: one snapshot (two symbols, ~65 bytes a bar) is
        # more than the kernel buffers of a client that does not read hold.
        keep = max(50000, wmem_max() * 3 // (2 * 2 * 60))
        web = self.web(port, "--status", "", "--max-bars", str(keep))
        self.wait_http(port, web)
        url = "ws://127.0.0.1:%d/ws" % port

        async def status(c, cond):
            # 30 s without progress in the bars taken (a sanitizer build
            # on a busy machine takes a while over 100,000 bars), 300 s
            # in all.
            end = time.monotonic() + 300
            deadline, seen = time.monotonic() + 30, -1
            while time.monotonic() < min(deadline, end):
                m = json.loads(await asyncio.wait_for(c.recv(), 30))
                if m["type"] != "status":
                    continue
                if cond(m["sink"]):
                    return m["sink"]
                if m["sink"]["bars"] > seen:
                    seen = m["sink"]["bars"]
                    deadline = time.monotonic() + 30
            raise AssertionError("no status with the expected counters "
                                 "(bars taken: %d)" % seen)

        async def bad_messages():
            async with websockets.connect(url, max_size=None) as c:
                await c.send("not json")
                await c.send(b"\x00\x01binary")
                await c.send(json.dumps({"type": "nonsense"}))
                await c.send("[1,2,3]")
                await c.send(json.dumps({"type": "ping",
                                         "pad": "x" * 10000}))
                await c.send(json.dumps({"type": "ping"}))
                while json.loads(await asyncio.wait_for(c.recv(), 10))[
                        "type"] != "pong":
                    pass
                await status(c, lambda k: k["ws_bad"] == 5)
        asyncio.run(bad_messages())

        # A client that stops reading: a raw handshake, then silence, on a
        # small receive buffer, while a burst of bars comes in. It falls
        # behind, is sent a fresh snapshot, reads none of it, and is
        # dropped; the sink takes every bar meanwhile.
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", port))
        stalled.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n" % port).encode())
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 4096:
            part = stalled.recv(1)
            self.assertTrue(part, "the handshake was cut")
            head += part
        self.assertTrue(head.startswith(b"HTTP/1.1 101 "), head)
        lt.wait_until(lambda: web.stderr().count("connected (1 now)") >= 2,
                      10, "the stalled client to be accepted")
        count = keep + 10000
        self.feeder("--count", str(count), "--interval", "0",
                    "--wait-subscribers", "1")
        lt.wait_until(lambda: "dropping it" in web.stderr(), 60,
                      "the stalled client to be dropped")

        async def still_serving():
            async with websockets.connect(url, max_size=None) as c:
                k = await status(c, lambda k: k["bars"] == 2 * count)
                self.assertGreaterEqual(k["clients_dropped"], 1)
                syms = set()
                while syms != set(SYMS):
                    m = json.loads(await asyncio.wait_for(c.recv(), 10))
                    if m["type"] == "symbol":
                        self.assertEqual(len(m["bars"]), keep)
                        syms.add(m["sym"])
                await c.send(json.dumps({"type": "ping"}))
                while json.loads(await asyncio.wait_for(c.recv(), 10))[
                        "type"] != "pong":
                    pass
        asyncio.run(still_serving())
        stalled.close()
        self.assertIn("ignored a message", web.stderr())
        self.assertEqual(web.stop(), 0)


if __name__ == "__main__":
    unittest.main()
