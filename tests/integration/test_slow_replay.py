"""A sink reading two engines, one of which answers its replay requests
slowly: the other engine's signals reach the output while that answer is
awaited, and the slow engine's signals come once each and in order when it
answers (a live one it published meanwhile waits for its replay).
An engine that publishes more than a sink holds back while its journal is
read (4096 messages) loses nothing either: the rest comes from its journal.

The slow engine holds its replay reply until the fast engine's signals are
in the file, or HOLD_S at most; what let the reply go decides. A sink that
waits for one engine's reply before it reads anything else lets it go by
the deadline only."""
import threading
import time
import unittest

import lt
from fake_engine import FakeEngine

HOLD_S = 4.0                    # below the sink's replay timeout (5 s)


class SlowReplay(lt.WorkspaceTest):
    def test_other_engine_flows_while_one_replays_slowly(self):
        ws = self.ws
        now = int(time.time() * 1000)
        slow = FakeEngine(ws, eng="slow", seq0=0, id_base=0x51000,
                          prefix="slow-")
        self.addCleanup(slow.close)
        fast = FakeEngine(ws, eng="fast", seq0=0, id_base=0xfa000,
                          prefix="fast-")
        self.addCleanup(fast.close)
        asked, release, let_go = threading.Event(), threading.Event(), []

        def hold(req):
            if req["type"] == "replay" and not let_go:
                asked.set()
                let_go.append("test" if release.wait(HOLD_S)
                              else "deadline")
        slow.before_reply = hold
        slow.signal(1, now + 1)         # journaled before the sink starts
        fast.signal(1, now + 1)
        path = ws.path("out.jsonl")
        sink = ws.start("sink", "livetrade-sink", "file", "--path", path,
                        "--sub", ws.ep("slow-sig") + "," + ws.ep("fast-sig"),
                        "--replay",
                        ws.ep("slow-rep") + "," + ws.ep("fast-rep"),
                        "--state", ws.path("sink.state"))
        lt.wait_until(asked.is_set, 30,
                      "the sink to ask the slow engine for its journal")
        slow.wait_subscriptions(1)
        fast.wait_subscriptions(1)
        # While the slow engine's reply is held: a live signal of its own,
        # and two of the fast engine's.
        slow.send(slow.signal(2, now + 2))
        for k in (2, 3):
            fast.send(fast.signal(k, now + k))

        def seqs(eng):
            return [x["seq"] for x in lt.read_jsonl(path)
                    if x["engine"] == eng]
        lt.wait_until(lambda: seqs("fast") == [1, 2, 3], 30,
                      "the fast engine's signals in the file")
        release.set()
        lt.wait_until(lambda: len(seqs("slow")) >= 2, 30,
                      "the slow engine's signals in the file")
        self.assertEqual(let_go, ["test"], "the slow reply was let go by "
                         "its deadline: the sink waited for it before it "
                         "wrote the fast engine's signals")
        rows = [(x["engine"], x["seq"]) for x in lt.read_jsonl(path)]
        self.assertEqual(rows, [("fast", 1), ("fast", 2), ("fast", 3),
                                ("slow", 1), ("slow", 2)])
        self.assertEqual(sink.stop(), 0)
        self.assertIn("lost 0", sink.stderr())


    def test_more_than_held_back_comes_from_the_journal(self):
        ws = self.ws
        now = int(time.time() * 1000)
        n = 5000                        # live while the replay is held
        eng = FakeEngine(ws, eng="e5", seq0=0, id_base=0x5e000,
                         sndhwm=4 * n)  # the whole burst, none dropped
        self.addCleanup(eng.close)
        release, let_go = threading.Event(), []

        def hold(req):
            if req["type"] == "replay" and req.get("after") == 1 and \
                    not let_go:
                let_go.append(release.wait(30))
        eng.before_reply = hold
        path = ws.path("out.jsonl")
        sink = ws.start("sink", "livetrade-sink", "file", "--path", path,
                        "--sub", ws.ep("sig"), "--replay", ws.ep("rep"),
                        "--state", ws.path("sink.state"))
        eng.wait_subscriptions(1)

        def seqs():
            return [x["seq"] for x in lt.read_jsonl(path)]
        eng.send(eng.signal(1, now + 1))
        lt.wait_until(lambda: seqs() == [1], 30, "signal 1 in the file")
        eng.signal(2, now + 2)          # lost on the way: 3 shows the gap
        for k in range(3, n + 3):
            eng.send(eng.signal(k, now + k))
        lt.wait_until(lambda: "more than 4096 live messages" in
                      sink.stderr(), 30, "the sink to hold back its most")
        release.set()
        lt.wait_until(lambda: len(seqs()) >= n + 2, 60,
                      "every signal in the file")
        self.assertEqual(let_go, [True])
        self.assertEqual(seqs(), list(range(1, n + 3)))
        self.assertEqual(sink.stop(), 0)
        self.assertIn("lost 0", sink.stderr())


if __name__ == "__main__":
    unittest.main()
