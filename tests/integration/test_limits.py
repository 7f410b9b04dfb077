"""Size limits on the request endpoints, with real processes.

- A 38 MB request to a feeder closes that client's connection before it
  is read: the feeder's peak memory barely moves and it still answers.
- A history reply is cut to its byte budget and says more:true; asking on
  with `since` gets the rest.
- A client that floods a feeder (history) or an engine (status) with
  requests and never reads the replies leaves the server's peak memory
  bounded; its replies past a few are dropped and counted, and another
  client is served at once meanwhile."""
import os
import re
import time
import unittest
import urllib.request

import msgpack
import zmq

import lt

SYM = "AAPL"
START = 1767225600000           # 2026-01-01T00:00:00Z
REPLY_BARS = (4 << 20) // 200   # HISTORY_REPLY_BARS
HELD = 30000                    # bars a feeder holds: more than one reply
MB = 1 << 20


def mem_kb(proc, field):
    """VmRSS or VmHWM (peak) of a running program, in kB."""
    with open("/proc/%d/status" % proc.p.pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for %s" % (field, proc.name))


def counter(port, name):
    """A counter of a program's metrics page (0 while it is absent)."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=10) as r:
        m = re.search(r"^%s (\S+)$" % name, r.read().decode(), re.M)
    return float(m.group(1)) if m else 0


def flooder(endpoint):
    """A DEALER that sends without limit and holds at most one unread
    reply: a client that never reads."""
    s = lt.CTX.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDHWM, 0)
    s.setsockopt(zmq.RCVHWM, 1)
    s.setsockopt(zmq.RCVBUF, 4096)
    s.connect(endpoint)
    return s


class Limits(lt.WorkspaceTest):

    def setUp(self):
        # Under AddressSanitizer freed memory is held back for a while:
        # without that the peak measures what is held, as without it.
        self.asan = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = ":".join(filter(None, [
            self.asan, "quarantine_size_mb=0",
            "thread_local_quarantine_size_kb=0"]))
        super().setUp()
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()
        if self.asan is None:
            del os.environ["ASAN_OPTIONS"]
        else:
            os.environ["ASAN_OPTIONS"] = self.asan

    def feeder(self):
        ws = self.ws
        f = ws.start("feeder", "livetrade-feeder", "--source", "demo",
                     "--symbols", SYM, "--seed", "3", "--start", str(START),
                     "--history", str(HELD), "--count", "1",
                     "--interval", "3600", "--pub", ws.ep("bars"),
                     "--rep", ws.ep("hist"))
        lt.wait_until(lambda: lt.status(ws.ep("hist")), 60,
                      "the feeder's status")
        return f

    def served_promptly(self, endpoint):
        """Another client's status is answered within a few seconds."""
        t0 = time.monotonic()
        st = lt.request(endpoint, {"ver": 1, "type": "status"},
                        timeout_ms=10000)
        self.assertIsNotNone(st, "status not answered during the flood")
        self.assertLess(time.monotonic() - t0, 10.0)
        return st

    def test_oversized_request_refused(self):
        """38 MB to the feeder's request endpoint: the connection closes
        unread, no reply, no memory growth; the feeder answers on."""
        f = self.feeder()
        ep = self.ws.ep("hist")
        peak0 = mem_kb(f, "VmHWM")
        s = lt.CTX.socket(zmq.DEALER)
        self.socks.append(s)
        s.setsockopt(zmq.LINGER, 0)
        mon = s.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        self.socks.append(mon)
        s.connect(ep)
        s.send_multipart([b"", b"\x81" + b"x" * (38 * MB)])
        poller = zmq.Poller()
        poller.register(s, zmq.POLLIN)
        poller.register(mon, zmq.POLLIN)
        events = dict(poller.poll(120000))
        self.assertNotIn(s, events, "the oversized request was answered")
        self.assertIn(mon, events, "the connection stayed open")
        grown = (mem_kb(f, "VmHWM") - peak0) * 1024
        self.assertLess(grown, 16 * MB, "feeder peak memory grew %d MB"
                        % (grown // MB))
        st = self.served_promptly(ep)
        self.assertEqual(st["type"], "status")
        self.assertTrue(f.alive())

    def test_history_reply_cut_and_paged(self):
        """n beyond the budget: the oldest REPLY_BARS of those asked for,
        more:true; since = the last one's t gets the rest, contiguous."""
        self.feeder()
        ep = self.ws.ep("hist")
        r = lt.request(ep, {"ver": 1, "type": "history", "sym": SYM,
                            "n": 300000}, timeout_ms=30000)
        self.assertEqual(r["type"], "history")
        self.assertIs(r.get("more"), True)
        bars = r["bars"]
        self.assertEqual(len(bars), REPLY_BARS)
        for page in range(10):
            if not r.get("more"):
                break
            r = lt.request(ep, {"ver": 1, "type": "history", "sym": SYM,
                                "n": 300000 - len(bars),
                                "since": bars[-1]["t"]}, timeout_ms=30000)
            bars += r["bars"]
        self.assertNotIn("more", r)
        self.assertGreaterEqual(len(bars), HELD)
        ts = [b["t"] for b in bars]
        self.assertEqual(ts, sorted(set(ts)))
        self.assertEqual(ts[0], START)
        # Within the budget: whole, no "more".
        r = lt.history(ep, SYM, 500)
        self.assertEqual(len(r["bars"]), 500)
        self.assertNotIn("more", r)

    def test_feeder_history_flood(self):
        """100 long history requests from a client that never reads: the
        feeder's peak memory stays bounded, replies past a few are
        dropped and counted, another client is served meanwhile."""
        f = self.feeder()
        ep = self.ws.ep("hist")
        peak0 = mem_kb(f, "VmHWM")
        base = self.served_promptly(ep)["requests"]
        s = flooder(ep)
        self.socks.append(s)
        req = msgpack.packb({"ver": 1, "type": "history", "sym": SYM,
                             "n": 300000})
        n = 100
        for _ in range(n):
            s.send_multipart([b"", req])
        # Each status request counts as one request too.
        lt.wait_until(lambda: self.served_promptly(ep)["requests"]
                      >= base + n, 120, "the feeder to take every request",
                      interval=0.2)
        grown = (mem_kb(f, "VmHWM") - peak0) * 1024
        self.assertLess(grown, 64 * MB, "feeder peak memory grew %d MB"
                        % (grown // MB))
        st = self.served_promptly(ep)
        self.assertGreater(st.get("replies_dropped", 0), 0)
        r = lt.history(ep, SYM, 1000)
        self.assertEqual(len(r["bars"]), 1000)
        self.assertIn("reply dropped", f.stderr())

    def test_engine_request_flood(self):
        """2,000 status requests of an engine with 300 symbols from a
        client that never reads: peak memory bounded, replies dropped and
        counted, another client served meanwhile; replay answers."""
        ws = self.ws
        syms = ",".join("S%03d" % i for i in range(300))
        port = lt.free_port()
        e = ws.start("engine", "livetrade-engine", "--strategy",
                     "strategies/sma_cross.lua", "--symbols", syms,
                     "--sub", ws.ep("bars"), "--history", "",
                     "--pub", ws.ep("sig"), "--rep", ws.ep("rep"),
                     "--journal", ws.path("journal"), "--metrics",
                     "127.0.0.1:%d" % port)
        ep = ws.ep("rep")
        st = lt.wait_until(lambda: lt.status(ep), 60, "the engine's status")
        self.assertGreater(len(msgpack.packb(st)), 20000)
        peak0 = mem_kb(e, "VmHWM")
        s = flooder(ep)
        self.socks.append(s)
        req = msgpack.packb({"ver": 1, "type": "status"})
        n = 2000
        for _ in range(n):
            s.send_multipart([b"", req])
        lt.wait_until(lambda: self.served_promptly(ep) and
                      counter(port, "livetrade_engine_requests_total")
                      >= n, 120, "the engine to take every request",
                      interval=0.2)
        grown = (mem_kb(e, "VmHWM") - peak0) * 1024
        self.assertLess(grown, 16 * MB, "engine peak memory grew %d MB"
                        % (grown // MB))
        # All but what socket buffers can hold.
        self.assertGreater(counter(port,
                                   "livetrade_engine_replies_dropped_total"),
                           n - 200)
        self.assertGreater(self.served_promptly(ep)["replies_dropped"],
                           n - 200)
        r = lt.request(ep, {"ver": 1, "type": "replay", "after": 0},
                       timeout_ms=10000)
        self.assertEqual(r["type"], "replay")
        self.assertIn("reply dropped", e.stderr())


if __name__ == "__main__":
    unittest.main()
