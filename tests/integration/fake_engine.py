"""An engine as sinks see it, for sink tests: an XPUB for signals and
heartbeats and a ROUTER answering status and replay requests from
`journal` (every signal it has "published", whether or not it was sent).

seq0=None answers status as an engine that does not report where its run
began (`seq0`), as engines before that key did. `prefix` names its
endpoints (prefix + "rep", prefix + "sig"), for several in one workspace;
sndhwm, if given, is the signal socket's queue per sink (a burst);
before_reply(req), if set, is called before each reply is sent (a test
that holds a reply back)."""
import threading
import time

import msgpack
import zmq

import lt

START = 1767225600000           # 2026-01-01T00:00:00Z


class FakeEngine:
    def __init__(self, ws, eng="e9", pub=77, seq0=None, id_base=0xabc000,
                 pos=None, prefix="", sndhwm=None):
        self.eng, self.pub_id, self.seq0 = eng, pub, seq0
        self.before_reply = None
        self.id_base, self.pos = id_base, pos
        self.journal, self.requests = [], []
        self.rep = lt.CTX.socket(zmq.ROUTER)
        self.rep.bind(ws.ep(prefix + "rep"))
        self.pub = lt.CTX.socket(zmq.XPUB)
        self.pub.setsockopt(zmq.XPUB_VERBOSE, 1)
        if sndhwm is not None:      # before the bind, which copies it
            self.pub.setsockopt(zmq.SNDHWM, sndhwm)
        self.pub.bind(ws.ep(prefix + "sig"))
        self.stop = threading.Event()
        self.th = threading.Thread(target=self.serve, daemon=True)
        self.th.start()

    def signal(self, seq, ts):
        """Journals signal number seq (a buy of AAPL) and returns it."""
        s = {"ver": 1, "id": "%016x" % (self.id_base + seq), "eng": self.eng,
             "strat": "s", "sym": "AAPL", "act": "buy",
             "t": START + seq * 60000, "ord": 0, "px": 100.0,
             "size": None, "conf": 0.5, "ind": {}, "seq": seq,
             "pub": self.pub_id, "ts": ts}
        if self.pos is not None:
            s["pos"] = self.pos
        self.journal.append(s)
        return s

    def serve(self):
        while not self.stop.is_set():
            if not self.rep.poll(50):
                continue
            ident, empty, raw = self.rep.recv_multipart()
            req = msgpack.unpackb(raw, raw=False)
            self.requests.append(req)
            if req["type"] == "status":
                reply = {"ver": 1, "type": "status", "id": self.eng}
                if self.seq0 is not None:
                    reply.update({"pub": self.pub_id, "started": 0,
                                  "seq0": self.seq0,
                                  "signals": len(self.journal)})
            else:
                since = req.get("since_ts")
                after = req.get("after", 0)
                sigs = [s for s in self.journal if
                        (s["ts"] >= since if since is not None
                         else s["seq"] > after)]
                reply = {"ver": 1, "type": "replay", "eng": self.eng,
                         "first": 1, "last": len(self.journal),
                         "signals": sigs}
            if self.before_reply:
                self.before_reply(req)
            self.rep.send_multipart([ident, empty, msgpack.packb(reply)])

    def send(self, s):
        self.pub.send_multipart([b"sig|AAPL|", msgpack.packb(s)])

    def heartbeat(self, seq=None, ts=None):
        """A heartbeat saying the newest signal is seq (default: the
        journal's last)."""
        self.pub.send_multipart([b"hb|", msgpack.packb(
            {"ver": 1, "type": "hb", "src": self.eng, "pub": self.pub_id,
             "seq": len(self.journal) if seq is None else seq,
             "ts": int(time.time() * 1000) if ts is None else ts})])

    def wait_subscriptions(self, n=1):
        """Until n sinks subscribed to signals."""
        seen = 0
        while seen < n:
            assert self.pub.poll(20000), "the sinks' subscriptions"
            if self.pub.recv().startswith(b"\x01sig|"):
                seen += 1

    def close(self):
        self.stop.set()
        self.th.join()
        self.rep.close(0)
        self.pub.close(0)
