"""Custom sinks: `livetrade-sink lua` (a sandboxed script per signal),
`livetrade-sink exec` (a child process fed JSON Lines) and
examples/python_sink.py (a sink in another language, straight on the
bus), each against real processes: a demo feeder and an engine, or
signals published from Python."""
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import unittest

import msgpack
import zmq

import lt

SYMS = ["AAPL", "MSFT"]
START = 1767225600000           # 2026-01-01T00:00:00Z
PY_SINK = os.path.join(lt.ROOT, "examples", "python_sink.py")


class SignalPublisher:
    """An engine played by the test: an XPUB that publishes signals once
    the expected number of subscribers is there."""

    def __init__(self, ws):
        self.pub = lt.CTX.socket(zmq.XPUB)
        self.pub.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.pub.setsockopt(zmq.SNDHWM, 100000)
        self.ep = ws.ep("sig")
        self.pub.bind(self.ep)
        self.subs = 0
        # Ids differ between runs, so nothing a sink remembers from an
        # earlier test looks like a duplicate.
        self.base = random.randrange(1 << 40, 1 << 56)
        self.pubid = random.randrange(1, 1 << 50)

    def wait_subscribers(self, n, timeout=20):
        deadline = time.monotonic() + timeout
        while self.subs < n:
            left = deadline - time.monotonic()
            if left <= 0 or not self.pub.poll(int(left * 1000)):
                raise AssertionError("only %d of %d subscribers"
                                     % (self.subs, n))
            m = self.pub.recv()
            if m[:1] == b"\x01" and m[1:4] == b"sig":
                self.subs += 1

    def body(self, seq, **kw):
        d = {"ver": 1, "id": "%016x" % (self.base + seq), "eng": "e1",
             "strat": "s", "sym": "AAPL", "act": "buy",
             "t": START + seq * 60000, "ord": 0, "px": 100.0 + seq,
             "size": None, "conf": 0.75, "ind": {"a": 1.5},
             "seq": seq, "pub": self.pubid, "ts": 1}
        d.update(kw)
        return d

    def send(self, seq, **kw):
        d = self.body(seq, **kw)
        self.pub.send_multipart([("sig|%s|" % d["sym"]).encode(),
                                 msgpack.packb(d)])

    def close(self):
        self.pub.close(0)


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [x.rstrip("\n") for x in f if x.strip()]


def due_in_spool(path):
    """The seqs of the lines an exec sink's spool holds still due: lines
    for the child, less those a {"done": N} marker names (N: the line's
    number in the file) unless an {"again": N} came after it. Damaged
    lines are skipped, as the sink does."""
    seqs, done = {}, set()
    with open(path, "rb") as f:
        for no, raw in enumerate(f, 1):
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if "id" in rec:
                seqs[no] = rec["seq"]
            elif "done" in rec:
                done.add(rec["done"])
            elif "again" in rec:
                done.discard(rec["again"])
    return [seqs[no] for no in sorted(seqs) if no not in done]


def error_lines(text):
    return [x for x in text.splitlines() if " ERROR " in x]


class Base(lt.WorkspaceTest):
    def script(self, name, text):
        return self.ws.write(name, text)

    def file_sink(self, name, ep):
        return self.ws.start(name, "livetrade-sink", "file", "--path",
                             self.ws.path(name + ".jsonl"), "--sub", ep)

    def pipeline(self, subscribers, count=300,
                 strategy="strategies/sma_cross.lua", interval="0.005",
                 wait=True):
        """A demo feeder (fixed seed) and an engine (sma_cross unless
        told) that goes live once `subscribers` sinks listen. Returns the
        engine status once it has taken every bar, or with wait=False a
        function that waits for that and returns it."""
        ws = self.ws
        ws.start("engine", "livetrade-engine",
                 "--strategy", strategy,
                 "--symbols", ",".join(SYMS), "--sub", ws.ep("bars"),
                 "--history", ws.ep("hist"), "--pub", ws.ep("eng-sig"),
                 "--rep", ws.ep("eng-rep"),
                 "--wait-subscribers", str(subscribers))
        ws.start("feeder", "livetrade-feeder", "--source", "demo",
                 "--symbols", ",".join(SYMS), "--seed", "7",
                 "--start", str(START), "--history", "300",
                 "--count", str(count), "--interval", interval,
                 "--pub", ws.ep("bars"), "--rep", ws.ep("hist"))
        last_t = START + (300 + count - 1) * 60000

        def done():
            st = lt.status(ws.ep("eng-rep"))
            if st and st["symbols"] and all(
                    s["live"] and s["last_t"] == last_t
                    for s in st["symbols"]):
                return st
            return None

        def finished():
            return lt.wait_until(done, 90, "the engine to take every bar")
        return finished() if wait else finished


class LuaSink(Base):
    def test_lines_match_the_engine(self):
        ws = self.ws
        script = self.script("out.lua", """
local n = 0
function on_start() sink.print("BEGIN") end
function on_signal(sig)
  n = n + 1
  sink.print(sink.json(sig))
  sink.write(sig.id, ",", sig.symbol, ",", sig.action, ",", sig.bar_ts,
             ",", string.format("%.6f", sig.indicators.sma1), "\\n")
end
function on_stop() sink.print("END " .. n) end
""")
        out = ws.path("lua.out")
        self.file_sink("file", ws.ep("eng-sig"))
        sink = ws.start("lua", "livetrade-sink", "lua", "--script", script,
                        "--output", out, "--sub", ws.ep("eng-sig"))
        st = self.pipeline(2)
        self.assertGreater(st["signals"], 5)
        lt.wait_until(lambda: len(lt.read_jsonl(ws.path("file.jsonl")))
                      >= st["signals"], what="the file sink")
        lt.wait_until(lambda: len(lines(out)) >= 1 + 2 * st["signals"],
                      what="the lua sink")
        self.assertEqual(sink.stop(), 0)
        got = lines(out)
        want = lines(ws.path("file.jsonl"))
        self.assertEqual(len(want), st["signals"])
        self.assertEqual(got[0], "BEGIN")
        self.assertEqual(got[-1], "END %d" % len(want))
        body = got[1:-1]
        # sink.json(sig) is the file output's line, byte for byte.
        self.assertEqual(body[0::2], want)
        for line, js in zip(body[1::2], lt.read_jsonl(ws.path("file.jsonl"))):
            self.assertEqual(line, "%s,%s,%s,%d,%.6f" % (
                js["id"], js["symbol"], js["action"], js["bar_ts"],
                js["indicators"]["sma1"]))
        self.assertIn("%d signals handed to on_signal, 0 errors"
                      % len(want), sink.stderr())

    def test_errors_and_endless_loops_do_not_stop_it(self):
        ws = self.ws
        script = self.script("flaky.lua", """
function on_signal(sig)
  if sig.seq % 3 == 0 then
    error("cannot handle " .. sig.seq)
  elseif sig.seq == 5 then
    while true do end
  elseif sig.seq == 7 then
    while true do pcall(function() while true do end end) end
  end
  sink.print(sig.seq)
end
""")
        out = ws.path("flaky.out")
        pub = SignalPublisher(ws)
        try:
            sink = ws.start("lua", "livetrade-sink", "lua", "--script",
                            script, "--output", out, "--budget", "2000000",
                            "--sub", pub.ep)
            pub.wait_subscribers(1)
            for seq in range(1, 11):
                pub.send(seq)
            lt.wait_until(lambda: "10" in lines(out), what="signal 10")
            self.assertTrue(sink.alive())
            self.assertEqual(lines(out), ["1", "2", "4", "8", "10"])
            self.assertEqual(sink.stop(), 0)
        finally:
            pub.close()
        log = sink.stderr()
        self.assertIn("flaky.lua:4: cannot handle 3", log)
        self.assertRegex(log, r"flaky\.lua:6: instruction budget of 2000000"
                         r" exceeded")
        self.assertIn("10 signals handed to on_signal, 5 errors (2 over the "
                      "instruction budget)", log)
        # Rate-limited: one line per kind within 5 s, not one per error.
        self.assertLessEqual(len([x for x in error_lines(log)
                                  if "on_signal failed" in x]), 3)

    def test_sandbox(self):
        ws = self.ws
        script = self.script("sandbox.lua", """
local names = {}
for _, k in ipairs({"io", "os", "debug", "package", "require", "load",
                    "loadfile", "dofile"}) do
  if _G[k] ~= nil then names[#names + 1] = k end
end
if string.dump ~= nil then names[#names + 1] = "string.dump" end
function on_start() sink.print("visible: " .. table.concat(names, ",")) end
function on_signal(sig)
  if sig.seq == 1 then io.open(sink.output .. ".x", "w") end
  if sig.seq == 2 then os.execute("touch " .. sink.output .. ".y") end
  sink.print("ok " .. sig.seq)
end
""")
        out = ws.path("sandbox.out")
        pub = SignalPublisher(ws)
        try:
            sink = ws.start("lua", "livetrade-sink", "lua", "--script",
                            script, "--output", out, "--sub", pub.ep)
            pub.wait_subscribers(1)
            for seq in (1, 2, 3):
                pub.send(seq)
            lt.wait_until(lambda: "ok 3" in lines(out), what="signal 3")
            self.assertEqual(sink.stop(), 0)
        finally:
            pub.close()
        self.assertEqual(lines(out), ["visible: ", "ok 3"])
        self.assertFalse(os.path.exists(out + ".x"))
        self.assertFalse(os.path.exists(out + ".y"))
        log = sink.stderr()
        self.assertIn("sandbox.lua:10: attempt to index a nil value "
                      "(global 'io')", log)
        # The second error falls in the same 5 s: counted, not logged.
        self.assertIn("3 signals handed to on_signal, 2 errors", log)

        # At start, the same call stops the sink with one line.
        bad = self.script("os.lua", "function on_signal(s) end\n"
                          "function on_start()\n"
                          "  os.execute('touch x')\nend\n")
        rc, _, err = lt.run("livetrade-sink", "lua", "--script", bad,
                            "--sub", ws.ep("nothing"))
        self.assertEqual(rc, 1, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("os.lua:3: attempt to index a nil value (global 'os')",
                      err)
        # Bytecode is refused.
        rc, _, err = lt.run("livetrade-sink", "lua", "--script",
                            self.script("bc.lua", "\x1bLua"), "--sub",
                            ws.ep("nothing"))
        self.assertEqual(rc, 1, err)
        self.assertIn("attempt to load a binary chunk", err)

    def test_load_errors(self):
        ws = self.ws
        cases = [
            ("syntax.lua", "function on_signal(sig)\n  if then\nend\n",
             1, "syntax.lua:2:"),
            ("runtime.lua", "local x = nil\nx.y = 1\n", 1, "runtime.lua:2:"),
            ("nosig.lua", "function on_start() end\n", 1,
             "defines no function on_signal"),
            ("start.lua", "function on_signal() end\n"
             "function on_start() error('no config') end\n", 1,
             "start.lua:2: no config"),
        ]
        for name, text, code, needle in cases:
            path = self.script(name, text)
            rc, out, err = lt.run("livetrade-sink", "lua", "--script", path,
                                  "--sub", ws.ep("nothing"))
            self.assertEqual(rc, code, name + ": " + err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn(needle, err)
        rc, _, err = lt.run("livetrade-sink", "lua", "--script",
                            ws.path("missing.lua"))
        self.assertEqual(rc, 2, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("missing.lua", err)


CHILD = r"""
import sys
# Unbuffered, line by line: what this child has not read stays in the
# pipe, and the sink sends it again to the next child if this one dies.
out = open(sys.argv[1], "a")
limit = int(sys.argv[2])
stall = len(sys.argv) > 3
sys.stderr.write("child reading\n")
sys.stderr.flush()
n = 0
for line in iter(sys.stdin.buffer.raw.readline, b""):
    out.write(line.decode())
    out.flush()
    n += 1
    if n == limit:
        if stall:
            out.write("stalled\n")
            out.flush()
            import time
            time.sleep(3600)
        sys.exit(3)
"""

# Tags each line with its pid, so the lines of two children (one left
# over from a killed sink) can be told apart. After `stall` lines it waits
# for the file `go` before reading on; it ends at the end of its input
# (or once the test's directory is gone).
TAGGING_CHILD = r"""
import os, sys, time
out, stall, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
n = 0
with open(out, "a") as f:
    for line in iter(sys.stdin.buffer.raw.readline, b""):
        if not line.endswith(b"\n"):
            line = b"partial\n"
        f.write("%d %s" % (os.getpid(), line.decode()))
        f.flush()
        n += 1
        while n == stall and not os.path.exists(go):
            if not os.path.isdir(os.path.dirname(out)):
                sys.exit(0)
            time.sleep(0.01)
"""

# A signal on every bar: more lines than a pipe holds.
EVERY_BAR = """local S = Strategy{}
function S:next()
  self:buy()
end
return S
"""


def tagged(path):
    """Each child's lines, by pid, in the order the children started."""
    out = {}
    for x in lines(path):
        pid, line = x.split(" ", 1)
        out.setdefault(pid, []).append(line)
    return list(out.values())


class ExecSink(Base):
    def child(self):
        return self.script("child.py", CHILD)

    def next_run(self, pub, spool, got, seqs, want, *flags):
        """A second exec sink on `spool`, whose child reads everything:
        publishes `seqs` once it listens and stops it once `got` has
        `want` lines. Returns it, stopped."""
        sink = self.ws.start("exec2", "livetrade-sink", "exec", "--spool",
                             spool, *flags, "--sub", pub.ep, "--",
                             sys.executable, self.child(), got, "0")
        pub.wait_subscribers(2)
        for seq in seqs:
            pub.send(seq)
        lt.wait_until(lambda: len(lines(got)) >= want, what="the child")
        self.assertEqual(sink.stop(), 0)
        return sink

    def test_every_signal_once_in_order(self):
        ws = self.ws
        got = ws.path("child.out")
        pub = SignalPublisher(ws)
        try:
            self.file_sink("file", pub.ep)
            sink = ws.start("exec", "livetrade-sink", "exec", "--sub",
                            pub.ep, "--", sys.executable, self.child(),
                            got, "0")
            pub.wait_subscribers(2)
            for seq in range(1, 301):
                pub.send(seq, sym=SYMS[seq % 2],
                         act=["buy", "sell", "close"][seq % 3])
            want = ws.path("file.jsonl")
            lt.wait_until(lambda: len(lines(want)) == 300, what="file sink")
            lt.wait_until(lambda: len(lines(got)) >= 300, what="the child")
            self.assertEqual(sink.stop(), 0)
        finally:
            pub.close()
        self.assertEqual(lines(got), lines(want))
        log = sink.stderr()
        self.assertIn("300 lines delivered", log)
        self.assertIn("exited with status 0", log)
        # The child's stderr is the sink's.
        self.assertEqual(log.count("child reading"), 1)

    def test_restarted_child_loses_nothing(self):
        ws = self.ws
        got = ws.path("child.out")
        pub = SignalPublisher(ws)
        try:
            sink = ws.start("exec", "livetrade-sink", "exec",
                            "--backoff-ms", "20", "--backoff-max-ms", "160",
                            "--sub", pub.ep, "--", sys.executable,
                            self.child(), got, "7")
            pub.wait_subscribers(1)
            for seq in range(1, 61):
                pub.send(seq)

            def seqs():
                return [json.loads(x)["seq"] for x in lines(got)]
            lt.wait_until(lambda: set(seqs()) >= set(range(1, 61)), 60,
                          "every signal to reach a child")
            self.assertEqual(sink.stop(), 0)
        finally:
            pub.close()
        s = seqs()
        # Read unbuffered, every line is read exactly once, in order.
        self.assertEqual(s, list(range(1, 61)))
        log = sink.stderr()
        self.assertGreaterEqual(log.count("exited with status 3"), 8)
        for ms in (20, 40, 80, 160):
            self.assertIn("restarting in %d ms" % ms, log)
        self.assertNotIn("restarting in 320 ms", log)
        self.assertIn("60 lines delivered", log)

    def test_stalled_child_does_not_block(self):
        ws = self.ws
        got = ws.path("child.out")
        pub = SignalPublisher(ws)
        try:
            self.file_sink("file", pub.ep)
            sink = ws.start("exec", "livetrade-sink", "exec", "--queue",
                            "20", "--stop-ms", "300", "--sub", pub.ep,
                            "--", sys.executable, self.child(), got, "3",
                            "stall")
            pub.wait_subscribers(2)
            for seq in range(1, 301):
                pub.send(seq)
            lt.wait_until(lambda: len(lines(ws.path("file.jsonl"))) == 300,
                          what="the file sink")
            lt.wait_until(lambda: "stalled" in lines(got), what="the child")
            lt.wait_until(lambda: "dropping new signals" in sink.stderr(),
                          what="the queue to fill")
            t0 = time.monotonic()
            self.assertEqual(sink.stop(), 0)
            self.assertLess(time.monotonic() - t0, 5)
        finally:
            pub.close()
        self.assertEqual([json.loads(x)["seq"] for x in lines(got)[:3]],
                         [1, 2, 3])
        log = sink.stderr()
        self.assertIn("received 300 messages", log)
        self.assertIn("the child is not keeping up", log)
        self.assertIn("queue full", log)
        m = re.search(r"written (\d+), duplicates \d+, bad \d+, failed (\d+)",
                      log)
        written, failed = int(m.group(1)), int(m.group(2))
        self.assertEqual(written + failed, 300)
        self.assertTrue(20 <= written <= 23, log)
        self.assertIn("%d dropped (queue full)" % failed, log)
        self.assertIn("sending SIGTERM", log)
        self.assertIn("killed by signal 15", log)

    def test_spool_keeps_undelivered_lines_across_a_stop(self):
        ws = self.ws
        got, spool = ws.path("child.out"), ws.path("exec.spool")
        pub = SignalPublisher(ws)
        try:
            sink = ws.start("exec1", "livetrade-sink", "exec", "--spool",
                            spool, "--stop-ms", "200", "--sub", pub.ep,
                            "--", sys.executable, self.child(), got, "3",
                            "stall")
            pub.wait_subscribers(1)
            for seq in range(1, 11):
                pub.send(seq)
            lt.wait_until(lambda: "stalled" in lines(got), what="the child")
            self.assertEqual(sink.stop(), 0)
            self.assertIn("7 lines the child had not read are saved",
                          sink.stderr())
            self.assertEqual(due_in_spool(spool), list(range(4, 11)))
            sink2 = self.next_run(pub, spool, got, range(11, 16), 16)
        finally:
            pub.close()
        out = lines(got)
        self.assertEqual(out[3], "stalled")
        self.assertEqual([json.loads(x)["seq"] for x in out[:3] + out[4:]],
                         list(range(1, 16)))
        self.assertEqual(due_in_spool(spool), [])
        self.assertIn("7 lines saved by the last run", sink2.stderr())

    def test_killed_sink_loses_nothing_and_repeats_nothing(self):
        """SIGKILL mid-stream while the child lags: the lines queued
        behind its pipe are in the spool (the default one) and go to the
        next run's child; those already in the pipe are read by the old
        child and not sent again."""
        ws = self.ws
        got, go = ws.path("children.out"), ws.path("go")
        child = self.script("tagging_child.py", TAGGING_CHILD)
        strategy = self.script("every_bar.lua", EVERY_BAR)

        def exec_sink(name, stall):
            return ws.start(name, "livetrade-sink", "exec", "--sub",
                            ws.ep("eng-sig"), "--replay", ws.ep("eng-rep"),
                            "--", sys.executable, child, got, str(stall),
                            go)
        self.file_sink("file", ws.ep("eng-sig"))
        sink1 = exec_sink("exec1", 20)
        finished = self.pipeline(2, count=500, strategy=strategy,
                                 interval="0.01", wait=False)
        ref = ws.path("file.jsonl")
        lt.wait_until(lambda: len(lines(ref)) >= 500, 60,
                      "half of the signals")
        sink1.p.kill()
        sink1.p.wait()
        at_kill = len(lines(ref))
        open(go, "w").close()       # the first child reads its pipe out
        sink2 = exec_sink("exec2", 0)
        total = finished()["signals"]
        lt.wait_until(lambda: len(lines(ref)) == total, what="the file sink")
        lt.wait_until(lambda: sum(map(len, tagged(got))) >= total, 60,
                      "every signal to reach a child")
        self.assertEqual(sink2.stop(), 0)

        want = [(x["id"], x["seq"]) for x in map(json.loads, lines(ref))]
        children = [[(x["id"], x["seq"]) for x in map(json.loads, c)]
                    for c in tagged(got)]
        self.assertEqual(len(children), 2, [len(c) for c in children])
        first, second = children
        # The first child: 20 lines, then what its pipe held at the kill.
        self.assertGreater(len(first), 20)
        self.assertLess(len(first), at_kill)
        # Every signal once, in order: nothing lost with the killed sink,
        # nothing its child already had sent again.
        self.assertEqual(first + second, want)
        self.assertLess(at_kill, total, "the kill was not mid-stream")
        m = re.search(r"(\d+) lines saved by the last run \((.*?)\)",
                      sink2.stderr())
        self.assertIsNotNone(m, sink2.stderr())
        self.assertGreater(int(m.group(1)), 0)
        self.assertEqual(m.group(2), os.path.join(
            ws.dir, "state", "livetrade", "exec-spool.jsonl"))
        self.assertEqual(error_lines(sink2.stderr()), [])

    def test_damaged_spool_tail(self):
        """A spool whose last line a crash cut short is read up to the
        line before it, with one WARN line, and rewritten whole."""
        ws = self.ws
        got, spool = ws.path("child.out"), ws.path("exec.spool")
        pub = SignalPublisher(ws)
        try:
            # The child exits at once and is restarted only after 100 s:
            # every line stays queued.
            sink = ws.start("exec1", "livetrade-sink", "exec", "--spool",
                            spool, "--replay", "", "--backoff-ms", "100000",
                            "--backoff-max-ms", "100000", "--sub", pub.ep,
                            "--", sys.executable, "-c",
                            "import sys; sys.exit(3)")
            pub.wait_subscribers(1)
            for seq in range(1, 11):
                pub.send(seq)
            lt.wait_until(lambda: due_in_spool(spool) == list(range(1, 11)),
                          what="the lines in the spool")
            sink.p.kill()
            sink.p.wait()
            # As if it had been killed while appending the next line.
            with open(spool, "rb") as f:
                whole = f.read().splitlines()
            last = [x for x in whole if b'"id"' in x][-1]
            with open(spool, "ab") as f:
                f.write(last[:len(last) // 2])
            sink2 = self.next_run(pub, spool, got, range(11, 13), 12,
                                  "--replay", "")
        finally:
            pub.close()
        self.assertEqual([json.loads(x)["seq"] for x in lines(got)],
                         list(range(1, 13)))
        log = sink2.stderr()
        warn = [x for x in log.splitlines() if "damaged" in x]
        self.assertEqual(len(warn), 1, log)
        self.assertIn("WARN", warn[0])
        self.assertIn("spool %s: its last line (line %d) is damaged, cut "
                      "short by a crash; using the %d lines before it"
                      % (spool, len(whole) + 1, len(whole)), warn[0])
        self.assertIn("10 lines saved by the last run", log)
        for x in lines(spool):      # rewritten: every line whole
            json.loads(x)
        self.assertEqual(due_in_spool(spool), [])


class PythonSink(Base):
    def test_readme_shows_the_whole_file(self):
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "..", "..")
        with open(os.path.join(root, "examples", "python_sink.py")) as f:
            code = f.read()
        with open(os.path.join(root, "README.md")) as f:
            self.assertIn("```python\n" + code + "```", f.read(),
                          "README shows examples/python_sink.py as it is")

    def test_decodes_every_signal(self):
        ws = self.ws
        self.file_sink("file", ws.ep("eng-sig"))
        outs = []
        procs = []
        for name, extra in (("py", []), ("py5", ["--count", "5"])):
            f = open(ws.path(name + ".out"), "w")
            outs.append(f)
            procs.append(subprocess.Popen(
                [sys.executable, PY_SINK, ws.ep("eng-sig")] + extra,
                stdout=f, stderr=subprocess.PIPE, text=True))
        try:
            st = self.pipeline(3)
            lt.wait_until(lambda: len(lines(ws.path("file.jsonl")))
                          >= st["signals"], what="the file sink")
            lt.wait_until(lambda: len(lines(ws.path("py.out")))
                          >= st["signals"], what="the python sink")
            self.assertEqual(procs[1].wait(30), 0)
            procs[0].send_signal(signal.SIGTERM)
            self.assertEqual(procs[0].wait(30), 0)
            self.assertEqual(procs[0].stderr.read(), "")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                p.stderr.close()
            for f in outs:
                f.close()
        want = lt.read_jsonl(ws.path("file.jsonl"))
        got = lines(ws.path("py.out"))
        self.assertEqual(len(want), st["signals"])
        self.assertEqual([x.split(" id ")[1] for x in got],
                         [w["id"] for w in want])
        for line, w in zip(got, want):
            self.assertTrue(line.startswith("#%d %s " % (w["seq"],
                                                         w["engine"])))
            self.assertIn(" %s %s @ %.2f " % (w["symbol"], w["action"],
                                              w["price"]), line)
        self.assertEqual(lines(ws.path("py5.out")), got[:5])

    def py_sink(self, args, publish):
        """The example sink with args on a publisher of its own, to which
        publish(pub) sends once the sink has subscribed: its (stdout,
        stderr), after it exited with status 0."""
        pub = SignalPublisher(self.ws)
        p = subprocess.Popen([sys.executable, PY_SINK, pub.ep] + args,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            pub.wait_subscribers(1)
            publish(pub)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
            pub.close()
        self.assertEqual(p.returncode, 0)
        return out, err

    def test_notices_gaps_and_restarts(self):
        def gaps_and_restart(pub):
            pub.send(1)
            pub.send(2, sym="MSFT")
            pub.send(5)
            pub.send(6)
            pub.send(1, pub=pub.pubid + 1, id="%016x" % (pub.base + 99))
        out, err = self.py_sink(["--count", "5"], gaps_and_restart)
        self.assertEqual([x.split()[0] for x in out.splitlines()],
                         ["#1", "#2", "#5", "#6", "#1"])
        self.assertIn("gap: missed 2 signals from e1 (seq 3..4)", err)
        self.assertIn("engine e1 restarted", err)

        # With symbols given, the engine's seq also counts the others.
        def other_symbol(pub):
            pub.send(1)
            pub.send(2, sym="MSFT")
            pub.send(3)
        out, err = self.py_sink(["AAPL", "--count", "2"], other_symbol)
        self.assertEqual([x.split()[0] for x in out.splitlines()],
                         ["#1", "#3"])
        self.assertEqual(err, "")


class BadFlags(unittest.TestCase):
    def test_bad_flags_exit_2_with_one_line(self):
        cases = [
            (["lua"], "--script is required"),
            (["lua", "--script", "x.lua", "--budget", "many"], "--budget"),
            (["lua", "--script", "x.lua", "--budget", "10"], "--budget"),
            (["lua", "--script", "x.lua", "--bogus"], "--bogus"),
            (["exec"], "missing the command"),
            (["exec", "--"], "missing the command"),
            (["exec", "--queue", "0", "--", "cat"], "--queue"),
            (["exec", "--bogus", "--", "cat"], "--bogus"),
            (["exec", "--", "/nonexistent/cmd"], "/nonexistent/cmd"),
            (["exec", "--", "no-such-command-here"], "no-such-command-here"),
        ]
        for args, needle in cases:
            rc, _, err = lt.run("livetrade-sink", *args)
            self.assertEqual(rc, 2, "%s: %s" % (args, err))
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn(needle, err, args)

    def test_help_lists_the_flags(self):
        rc, out, _ = lt.run("livetrade-sink", "exec", "--help")
        self.assertEqual(rc, 0)
        self.assertIn("-- CMD [ARGS...]", out)
        self.assertIn("--queue N", out)
        rc, out, _ = lt.run("livetrade-sink", "lua", "--help")
        self.assertEqual(rc, 0)
        self.assertIn("--script FILE", out)
        # Flags after -- belong to the child.
        rc, out, err = lt.run("livetrade-sink", "exec", "--sub",
                              "bad-endpoint", "--", "cat", "--help")
        self.assertEqual(rc, 2, err)
        self.assertIn("bad-endpoint", err)


if __name__ == "__main__":
    unittest.main()
