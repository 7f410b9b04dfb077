"""One subscriber that stops reading slows no other subscriber.

A demo feeder (20 symbols, a round each millisecond) feeds two engines and
a counter of bars; engine "calm"'s signals go to the counter and to file
sink "victim". Engine "frozen" (a subscriber of bars) and sink "victim" (a
subscriber of signals) are stopped (SIGSTOP) until each publisher has left
them behind: the counter's rates of bars and of signals stay at 90% or
more of their rates before, measured in the same run (the better of two
windows each). Once resumed (SIGCONT), "frozen" fills its gaps from the
feeder's history (it has taken every bar once) and "victim" from the
journal (its file holds every signal once)."""
import json
import os
import signal
import threading
import time
import unittest

import zmq

import lt

NSYM = 20
SYMS = ["S%02d" % i for i in range(NSYM)]
START = 1767225600000           # 2026-01-01T00:00:00Z
HISTORY = 100
COUNT = 400000                  # live bars per symbol at most (the feed
                                # is ended once the test is through)
WINDOW = 2.0                    # seconds per rate window
HWM = 50000                     # messages a publisher queues for one
                                # subscriber (BUS_HWM)


def kernel_bytes():
    """What the kernel may buffer on one loopback TCP connection whose
    reader has stopped: the sender's and the receiver's buffers at their
    largest (net.ipv4.tcp_wmem and tcp_rmem, autotuned up to the third
    figure)."""
    total = 0
    for name in ("tcp_wmem", "tcp_rmem"):
        with open("/proc/sys/net/ipv4/" + name) as f:
            total += int(f.read().split()[2])
    return total


class Counter(threading.Thread):
    """Counts bars and signals on the given publishers, keeping
    (time, bars, signals) samples."""

    def __init__(self, bars_ep, sigs_ep):
        super().__init__(daemon=True)
        self.bars = self.sigs = 0
        self.smallest = [None, None]    # bytes of the smallest bar and
                                        # the smallest signal seen
        self.samples = []
        self.stop = False
        self.socks = []
        for ep, topic in ((bars_ep, b"bar|"), (sigs_ep, b"sig|")):
            s = lt.CTX.socket(zmq.SUB)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.RCVHWM, 200000)
            s.connect(ep)
            s.setsockopt(zmq.SUBSCRIBE, topic)
            self.socks.append(s)

    def run(self):
        poller = zmq.Poller()
        for s in self.socks:
            poller.register(s, zmq.POLLIN)
        last = 0.0
        while not self.stop:
            for s, _ in poller.poll(50):
                n = 0
                while n < 1000:
                    try:
                        m = s.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    n += 1
                    k = self.socks.index(s)
                    size = sum(len(f) for f in m)
                    if self.smallest[k] is None or size < self.smallest[k]:
                        self.smallest[k] = size
                if s is self.socks[0]:
                    self.bars += n
                else:
                    self.sigs += n
            now = time.monotonic()
            if now - last >= 0.05:
                self.samples.append((now, self.bars, self.sigs))
                last = now
        for s in self.socks:
            s.close()

    def mark(self):
        return time.monotonic()

    def rates(self, t0, t1):
        """(bars/s, signals/s) between the samples nearest t0 and t1."""
        a = min(self.samples, key=lambda x: abs(x[0] - t0))
        b = min(self.samples, key=lambda x: abs(x[0] - t1))
        dt = b[0] - a[0]
        return (b[1] - a[1]) / dt, (b[2] - a[2]) / dt

    def best_of_two(self, t0):
        """The better of two WINDOW-long windows from t0, per kind, once
        both have passed."""
        lt.wait_until(lambda: time.monotonic() > t0 + 2 * WINDOW + 0.2,
                      3 * WINDOW + 5, "two windows")
        r1 = self.rates(t0, t0 + WINDOW)
        r2 = self.rates(t0 + WINDOW, t0 + 2 * WINDOW)
        return max(r1[0], r2[0]), max(r1[1], r2[1])


class Case(lt.WorkspaceTest):
    """The programs of these tests: engines running random.lua on SYMS, a
    demo feeder of SYMS, file sinks."""

    def engine(self, name):
        """Engine `name`: signals on NAME-sig, requests on NAME-rep."""
        ws = self.ws
        return ws.start(name, "livetrade-engine",
                        "--strategy", "strategies/random.lua",
                        "--param", "p=0.25", "--id", name,
                        "--symbols", ",".join(SYMS), "--sub", ws.ep("bars"),
                        "--history", ws.ep("hist"),
                        "--pub", ws.ep(name + "-sig"),
                        "--rep", ws.ep(name + "-rep"),
                        "--journal", ws.path(name + "-journal"),
                        "--journal-max-mb", "4096", "--summary", "0")

    def feeder(self, count, interval, subscribers):
        ws = self.ws
        return ws.start("feeder", "livetrade-feeder", "--source", "demo",
                        "--symbols", ",".join(SYMS), "--seed", "5",
                        "--start", str(START), "--history", str(HISTORY),
                        "--count", str(count), "--interval", interval,
                        "--wait-subscribers", str(subscribers),
                        "--pub", ws.ep("bars"), "--rep", ws.ep("hist"))

    def sink(self, name, engine):
        ws = self.ws
        return ws.start(name, "livetrade-sink", "file", "--path",
                        ws.path(name + ".jsonl"),
                        "--sub", ws.ep(engine + "-sig"),
                        "--replay", ws.ep(engine + "-rep"),
                        "--state", ws.path(name + ".state"),
                        "--since", "all")


    def count(self, name):
        path = self.ws.path(name + ".jsonl")
        if not os.path.exists(path):
            return 0
        with open(path, "rb") as f:
            return sum(chunk.count(b"\n")
                       for chunk in iter(lambda: f.read(1 << 20), b""))

    def seqs(self, name):
        with open(self.ws.path(name + ".jsonl")) as f:
            return [json.loads(x)["seq"] for x in f if x.endswith("\n")]


class Stall(Case):
    def last_t(self, engine):
        return {s["sym"]: s["last_t"]
                for s in self.status(engine)["symbols"]}

    def offsets(self, engine):
        """Per symbol, bars since the epoch less bars taken: unchanged
        while every bar is taken once (demo bars are a minute apart)."""
        st = self.status(engine)
        return {s["sym"]: s["last_t"] // 60000 - s["bars"]
                for s in st["symbols"]}

    def status(self, engine):
        """The engine's status (a busy engine may take a few tries)."""
        return lt.wait_until(lambda: lt.status(self.ws.ep(engine + "-rep")),
                             60, "%s's status" % engine)

    def all_live(self, engine):
        st = lt.status(self.ws.ep(engine + "-rep")) or {}
        syms = st.get("symbols", [])
        return len(syms) == NSYM and all(s["first_live_t"] > 0
                                         for s in syms)

    def published(self):
        """Live bars the feeder published so far."""
        return lt.wait_until(lambda: lt.status(self.ws.ep("hist")), 60,
                             "the feeder's status")["bars_published"]

    def left_behind(self, proc):
        return "left behind" in proc.stderr()

    def test_stopped_subscribers_slow_no_one_and_catch_up(self):
        ws = self.ws
        calm = self.engine("calm")
        frozen = self.engine("frozen")
        victim = self.sink("victim", "calm")
        counter = Counter(ws.ep("bars"), ws.ep("calm-sig"))
        counter.start()
        # Live bars wait for both engines' subscriptions and the counter's.
        feeder = self.feeder(COUNT, "0.001", 2 * NSYM + 1)
        try:
            # Rates are compared once every symbol of both engines is live.
            lt.wait_until(lambda: self.all_live("calm") and
                          self.all_live("frozen"), 120, "every symbol live")
            undisturbed = counter.best_of_two(counter.mark())

            offsets = self.offsets("frozen")
            os.kill(frozen.p.pid, signal.SIGSTOP)
            os.kill(victim.p.pid, signal.SIGSTOP)
            # Past what can be queued for a stopped subscriber (the
            # publisher's queue and the kernel's buffers of its
            # connection, counted at the publishers: the counter may
            # still be reading its own backlog), both publishers have
            # left them behind.
            b0 = self.published()
            s0 = self.status("calm")["signals"]
            bars = HWM + kernel_bytes() // counter.smallest[0]
            sigs = HWM + kernel_bytes() // counter.smallest[1]
            lt.wait_until(lambda: self.published() > b0 + bars and
                          self.status("calm")["signals"] > s0 + sigs and
                          self.left_behind(feeder) and
                          self.left_behind(calm), 300,
                          "%d bars and %d signals with subscribers "
                          "stopped" % (bars, sigs))
            disturbed = counter.best_of_two(counter.mark())
            self.assertGreaterEqual(
                disturbed[0], 0.9 * undisturbed[0],
                "bars/s, stopped subscribers vs none (%r vs %r)"
                % (disturbed, undisturbed))
            self.assertGreaterEqual(
                disturbed[1], 0.9 * undisturbed[1],
                "signals/s, stopped subscribers vs none (%r vs %r)"
                % (disturbed, undisturbed))

            # Resumed while bars still flow: "frozen" sees the gap in each
            # symbol's seq in its next bar and fills it from history.
            before = self.last_t("calm")
            n = self.status("calm")["signals"]
            os.kill(frozen.p.pid, signal.SIGCONT)
            os.kill(victim.p.pid, signal.SIGCONT)
            lt.wait_until(
                lambda: (lambda now: len(now) == NSYM and all(
                    now[s] > before[s] for s in SYMS))(self.last_t("frozen")),
                180, "the resumed engine past its gaps")
            self.assertEqual(self.offsets("frozen"), offsets,
                             "the resumed engine's bars, each once")
            self.assertGreater(self.status("frozen")["gaps"], 0)
            lt.wait_until(lambda: self.count("victim") >= n, 180,
                          "the resumed sink at signal %d" % n)
            seqs = self.seqs("victim")
            self.assertEqual(set(range(1, n + 1)) - set(seqs), set(),
                             "signals the resumed sink lost")
            self.assertEqual(len(seqs), len(set(seqs)),
                             "signals the resumed sink wrote twice")
            # Left behind, it saw the gap and took what it missed from the
            # journal (as a rule). ZeroMQ counts a subscriber's queue in
            # steps of half of it, and on a loaded machine it has been
            # seen to keep the whole stop's signals for the victim; every
            # signal once, checked above, holds either way.
            if "gap in calm" in victim.stderr():
                self.assertIn("replayed engine calm's signals",
                              victim.stderr(), "the gap filled")
        finally:
            counter.stop = True
            for p in (frozen, victim):
                if p.alive():
                    os.kill(p.p.pid, signal.SIGCONT)
            feeder.p.send_signal(signal.SIGUSR1)  # the live feed ends

if __name__ == "__main__":
    unittest.main()


class CatchUp(Case):
    """A sink that starts while its engine publishes reads the journal to
    its end while live signals queue up behind: those it already took from
    the journal are not written again, however many they are (more than
    the ids a sink remembers)."""

    def test_catch_up_over_queued_signals_writes_each_once(self):
        ws = self.ws
        self.engine("calm")
        feeder = self.feeder(COUNT, "0.001", NSYM)

        def signals():
            return (lt.status(ws.ep("calm-rep")) or {}).get("signals", 0)
        try:
            lt.wait_until(lambda: signals() >= 60000, 180,
                          "60000 signals in the journal")
            sink = self.sink("out", "calm")
            # Subscribed, and reading the journal: stopped there while
            # the engine publishes on, so the live queue and the journal
            # overlap by thousands.
            lt.wait_until(lambda: "replay endpoint" in sink.stderr(), 60,
                          "the sink asking the engine")
            os.kill(sink.p.pid, signal.SIGSTOP)
            n0 = signals()
            try:
                lt.wait_until(lambda: signals() >= n0 + 15000, 120,
                              "15000 more signals")
            finally:
                os.kill(sink.p.pid, signal.SIGCONT)
            feeder.p.send_signal(signal.SIGUSR1)    # the live feed ends
            lt.wait_until(lambda: "every symbol is done" in feeder.stderr(),
                          60, "the end of the feed")
            n = lt.wait_until(lambda: (lambda a, b: a if a == b else None)(
                signals(), signals()), 60, "the engine at rest")
            lt.wait_until(lambda: self.count("out") >= n, 120,
                          "the sink at signal %d" % n)
            seqs = self.seqs("out")
            self.assertEqual(set(range(1, n + 1)) - set(seqs), set(),
                             "signals the sink lost")
            self.assertEqual(len(seqs), len(set(seqs)),
                             "signals the sink wrote twice")
        finally:
            feeder.p.send_signal(signal.SIGUSR1)


class SlowReader(threading.Thread):
    """A subscriber of every bar that reads one message each 5 ms (200
    a second): slower than any replay."""

    def __init__(self, ep):
        super().__init__(daemon=True)
        self.n = 0
        self.stop = False
        self.sock = lt.CTX.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 1000)
        self.sock.connect(ep)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"bar|")

    def run(self):
        while not self.stop:
            if self.sock.poll(50):
                self.sock.recv_multipart()
                self.n += 1
                time.sleep(0.005)   # the slowness itself, not a wait
        self.sock.close()


class Pacing(Case):
    """A demo feeder at full speed paces itself to its engine, and to no
    other subscriber: a slow reader of its bars is left behind instead of
    holding the replay to its pace."""

    def test_full_speed_replay_paces_to_the_engine_only(self):
        ws = self.ws
        count = 15000               # more than a reader's queues hold
        self.engine("eng")
        slow = SlowReader(ws.ep("bars"))
        slow.start()
        feeder = self.feeder(count, "0", NSYM + 1)
        try:
            # At the slow reader's pace the feed would take 1500 s.
            lt.wait_until(lambda: "every symbol is done" in feeder.stderr(),
                          120, "the feed at full speed")
            self.assertIn("left behind", feeder.stderr())

            last = {s["sym"]: s["last_t"]
                    for s in lt.status(ws.ep("hist"))["symbols"]}

            def done():
                st = lt.status(ws.ep("eng-rep")) or {}
                syms = st.get("symbols", [])
                return st if len(syms) == NSYM and all(
                    s["last_t"] == last[s["sym"]] for s in syms) else None
            st = lt.wait_until(done, 120, "the engine at the last bar")
            for s in st["symbols"]:     # every bar from the first, once
                self.assertEqual(
                    s["bars"], (s["last_t"] - s["first_t"]) // 60000 + 1)
            # Paced to, never left behind: no gap to fill.
            self.assertEqual(st["gaps"], 0)
            self.assertLess(slow.n, NSYM * count)
        finally:
            slow.stop = True
