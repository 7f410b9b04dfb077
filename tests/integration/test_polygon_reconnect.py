"""livetrade-feeder --source polygon against the mock Polygon server: every
way Polygon ends a connection, and the bus still carries every bar once, in
order, equal to REST.
- force_disconnect, slow_consumer and max_connections one after the other,
  with minutes missed in between: three reconnects, three backfills;
  after max_connections the feeder waits the long delay first.
- The server crashes (SIGKILL) and comes back on the same ports: the
  feeder retries until it answers and backfills what it missed.
- The server hangs (no pongs, no frames): the read deadline ends the link
  and the feeder reconnects."""
import unittest

import lt
import test_polygon_feeder as tpf
from test_polygon_gaps import GapsBase

KEY = tpf.KEY
MIN = tpf.MIN
SYMS = tpf.SYMS
TOPICS = tpf.TOPICS
WAIT_BOTH = {"wait_subscribed": TOPICS, "timeout_ms": 8000}
DATASET = {"symbols": {"AAPL": 180.0, "MSFT": 400.0},
           "start": "now-240m", "end": "now+240m"}


def script(live_start="now+5m"):
    return {"api_keys": [KEY], "dataset": DATASET,
            "ws": {"live_start": live_start, "sessions": [
                {"name": "first", "steps": [WAIT_BOTH]}]}}


def link(name, skip, bars, then=None):
    """A session: wait for both subscriptions, miss `skip` minutes, send
    `bars` minutes, then optionally end with a disconnect status."""
    steps = [WAIT_BOTH, {"skip": skip},
             {"bars": {"ev": "AM", "count": bars, "per_frame": 4}}]
    if then:
        steps.append({"disconnect": then})
    return {"name": name, "steps": steps}


class PolygonReconnect(GapsBase):
    def wait_last(self, bus, last, timeout=60):
        lt.wait_until(lambda: all(
            bus.pump().bars[s] and bus.bars[s][-1]["t"] >= last
            for s in SYMS), timeout, "the bar at %d of every symbol" % last)
        bus.pump(300)

    def check_all(self, m, bus, last):
        for sym in SYMS:
            first = bus.bars[sym][0]["t"]
            self.check_bus(m, bus, sym, list(range(first, last + MIN, MIN)))

    def test_disconnect_statuses_reconnect_and_backfill(self):
        m = self.mock(script())
        kicked_ms = 2000
        p, bus, live_t = self.start(m, [
            link("after_force", 2, 2, "slow_consumer"),
            link("after_slow", 1, 2, "max_connections"),
            link("after_kick", 2, 2)],
            env_extra={"LIVETRADE_POLYGON_KICKED_WAIT_MS": str(kicked_ms)})
        try:
            st0 = lt.status(self.ws.ep("rep"))
            m.steps([{"disconnect": "force_disconnect"}])
            last = live_t + 13 * MIN
            self.wait_last(bus, last)
            self.check_all(m, bus, last)
            st = lt.status(self.ws.ep("rep"))
            self.assertEqual(st["reconnects"], 3)
            # 3 gaps x 2 symbols, of 2 + 1 + 2 minutes
            self.assertEqual(st["backfills"] - st0["backfills"], 6)
            self.assertEqual(st["backfill_bars"] - st0["backfill_bars"], 10)
            self.assertEqual(st["ws_kicked"], 1)
            self.assertEqual(st["duplicates"], 0)
            ws = m.log()["ws"]
            conns = [e for e in ws if e["event"] == "connect"]
            self.assertEqual([c["session"] for c in conns],
                             ["first", "after_force", "after_slow",
                              "after_kick"])
            sent = [e["status"] for e in ws if e["event"] == "sent_status"]
            for s in ("force_disconnect", "slow_consumer", "max_connections"):
                self.assertIn(s, sent)
            # After max_connections the next try waits the long delay.
            kick = [e["ts"] for e in ws if e["event"] == "close" and
                    e["conn"] == conns[2]["conn"]][0]
            self.assertGreaterEqual(conns[3]["ts"] - kick, kicked_ms)
            auths = [e for e in ws if e.get("action") == "auth"]
            self.assertEqual(len(auths), 4)
            self.assertTrue(all(e["key_ok"] for e in auths))
            bus.close()
        finally:
            err = self.stop(p)
        self.assertIn("another client is connected with this key", err)
        self.assertIn("reconnecting in", err)

    def test_server_crash_and_restart(self):
        m = self.mock(script())
        p, bus, live_t = self.start(m, [])
        try:
            st0 = lt.status(self.ws.ep("rep"))
            rest_port, ws_port = m.rest_port, m.ws_port
            m.kill()
            # The feeder loses the link and its reconnects are refused.
            lt.wait_until(lambda: lt.status(self.ws.ep("rep"))[
                "ws_connects"] >= 3, 20, "two refused reconnects")
            # The same server comes back two minutes on: the feeder
            # reconnects and fetches those minutes from the new REST.
            s2 = script(live_start=live_t + 5 * MIN)
            s2["ws"]["sessions"] = [
                {"name": "back", "steps": [
                    WAIT_BOTH,
                    {"bars": {"ev": "AM", "count": 3, "per_frame": 4}}]}]
            m2 = self.mock(s2, rest_port=rest_port, ws_port=ws_port)
            last = live_t + 7 * MIN
            self.wait_last(bus, last)
            self.check_all(m2, bus, last)
            st = lt.status(self.ws.ep("rep"))
            self.assertEqual(st["reconnects"], 1)
            self.assertEqual(st["backfill_bars"] - st0["backfill_bars"], 4)
            fills = [e for e in m2.log()["rest"] if "/range/" in e["path"]
                     and "adjusted=" in e["query_string"]]   # not ours
            self.assertEqual(len(fills), 2, "one backfill per symbol")
            bus.close()
        finally:
            err = self.stop(p)
        self.assertIn("gap filled through REST: 2 bars", err)

    def test_hung_server_read_deadline(self):
        m = self.mock(script())
        p, bus, live_t = self.start(
            m, [link("after_hang", 2, 2)],
            env_extra={"LIVETRADE_POLYGON_READ_TIMEOUT_MS": "3000"})
        try:
            m.steps([{"mute": True}])
            last = live_t + 6 * MIN
            self.wait_last(bus, last)
            self.check_all(m, bus, last)
            ws = m.log()["ws"]
            first = [e["conn"] for e in ws if e["event"] == "connect"][0]
            ignored = [e for e in ws if e["event"] == "ping_ignored"
                       and e["conn"] == first]
            self.assertGreaterEqual(len(ignored), 1, "pings went out")
            st = lt.status(self.ws.ep("rep"))
            self.assertEqual(st["ws_timeouts"], 1)
            self.assertEqual(st["reconnects"], 1)
            bus.close()
        finally:
            err = self.stop(p)
        self.assertIn("no frame or pong within the read timeout", err)


if __name__ == "__main__":
    unittest.main()
