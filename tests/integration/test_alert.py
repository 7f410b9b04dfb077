"""livetrade-sink alert against a local webhook server
(tests/webhook_server.py): Slack, Discord, Telegram and generic webhook
formats, retries through 500s, 429s with Retry-After, hanging and
dropped connections, rate limits, a dead destination beside a healthy
one, the dead-letter file and its retry at the next start, the spool
across SIGKILL, filters, redaction of secrets, and bad flags."""
import json
import os
import select
import signal
import subprocess
import sys
import time
import unittest
import urllib.request

import msgpack
import zmq

import lt

SERVER = os.path.join(lt.ROOT, "tests", "webhook_server.py")


def _common_flags():
    """Flags that keep each sink to this test's endpoints: no replay
    requests to an engine's default endpoint when the sink has them."""
    _, out, _ = lt.run("livetrade-sink", "alert", "--help")
    return ["--replay", ""] if "--replay" in out else []


COMMON = _common_flags()


class Hooks:
    """The webhook server as a child process, and its control endpoints."""

    def __init__(self):
        self.p = subprocess.Popen([sys.executable, SERVER],
                                  stdout=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL)
        ready, _, _ = select.select([self.p.stdout], [], [], 10)
        if not ready:
            self.p.kill()
            raise AssertionError("webhook server did not start")
        self.port = json.loads(self.p.stdout.readline())["port"]
        self.base = "http://127.0.0.1:%d" % self.port

    def url(self, path):
        return self.base + path

    def _call(self, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        with urllib.request.urlopen(self.base + path, data=data,
                                    timeout=10) as r:
            return json.loads(r.read())

    def script(self, path, actions=(), then=None):
        self._call("/_ctl/script", {"path": path, "actions": list(actions),
                                    "then": then})

    def log(self, path=None):
        return [e for e in self._call("/_ctl/log")
                if path is None or e["path"] == path]

    def delivered(self, path):
        """Requests to path that were answered 2xx, oldest first."""
        def ok(a):
            if "status" in a:
                return 200 <= a["status"] < 300
            return bool(a.get("ok"))
        return [e for e in self.log(path) if ok(e["answer"])]

    def close(self):
        self.p.terminate()
        self.p.wait(10)
        self.p.stdout.close()


class Publisher:
    """An engine played by the test: signals on an XPUB socket."""

    def __init__(self, ws):
        self.sock = lt.CTX.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.ep = ws.ep("sig")
        self.sock.bind(self.ep)
        self.seq = 0

    def wait_subscribed(self, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                raise AssertionError("the sink never subscribed")
            if self.sock.recv().startswith(b"\x01sig|"):
                return

    def send(self, n, sym="AAPL", act="buy", conf=0.7, **kw):
        self.seq += 1
        d = {"ver": 1, "id": "%016x" % (0xa1e70000 + n), "eng": "e1",
             "strat": "sma_cross", "sym": sym, "act": act,
             "t": 1795620000000 + n * 60000, "ord": 0, "px": 100.0 + n,
             "size": None, "conf": conf, "ind": {"sma1": 99.5 + n},
             "seq": self.seq, "pub": 7, "ts": 1795620000000 + n}
        d.update(kw)
        self.sock.send_multipart([("sig|%s|" % sym).encode(),
                                  msgpack.packb(d)])
        return d["id"]

    def close(self):
        self.sock.close(0)


def sig_id(n):
    return "%016x" % (0xa1e70000 + n)


def body_id(entry):
    """The signal id a request carried, whatever its format."""
    b = json.loads(entry["body"])
    if "id" in b:
        return b["id"]
    text = b.get("text") or b.get("content") or ""
    return text.rsplit("id ", 1)[-1].strip()


def read_lines(path):
    return lt.read_jsonl(path)


class HooksCase(lt.WorkspaceTest):
    """A workspace, which holds the sink's own state (last signal per
    engine), and webhook receivers in self.hooks (no tests)."""

    def setUp(self):
        super().setUp()
        self.hooks = Hooks()
        self.addCleanup(self.hooks.close)


class AlertCase(HooksCase):
    """An alert sink on signals the test publishes (no tests)."""

    def setUp(self):
        super().setUp()
        self.pub = Publisher(self.ws)
        self.addCleanup(self.pub.close)
        self.spool = self.ws.path("spool.jsonl")
        self.dead = self.ws.path("dead.jsonl")

    def sink(self, *args, name="alert"):
        p = self.ws.start(name, "livetrade-sink", "alert", "--sub",
                          self.pub.ep, "--spool", self.spool,
                          "--dead-letter", self.dead, *(COMMON + list(args)))
        self.pub.wait_subscribed()
        return p

    def wait_delivered(self, path, ids, timeout=30):
        return lt.wait_until(
            lambda: (lambda d: d if sorted(body_id(e) for e in d)
                     == sorted(ids) else None)(self.hooks.delivered(path)),
            timeout=timeout, what="%s to get %s" % (path, ids))


class AlertTest(AlertCase):
    def assert_spacing(self, entries, n, window, what):
        """At most n requests in any `window` seconds (server clock, with
        slack for the scheduling of a busy machine: a limiter that does
        not hold back sends them milliseconds apart)."""
        ts = [e["t"] for e in entries]
        for i in range(len(ts) - n):
            self.assertGreaterEqual(ts[i + n] - ts[i], window * 0.7,
                                    "%s: %d requests in %.3f s" %
                                    (what, n + 1, ts[i + n] - ts[i]))

    def test_formats_faults_rate_limits_and_redaction(self):
        h = self.hooks
        slack = "/services/T0/B0/SECRETSLACK"
        discord = "/api/webhooks/42/SECRETDISCORD"
        token = "123456:SECRETTG"
        tg = "/bot%s/sendMessage" % token
        hook = "/hook?token=SECRETHOOK"
        h.script(slack, [{"status": 500},
                         {"status": 429, "retry_after": "1"}])
        h.script(discord, [{"status": 429, "body": {"retry_after": 0.5}},
                           {"close": True}])
        h.script(tg, [{"hang": 30}])
        # Retry-After longer than any backoff or rate limit here.
        h.script(hook, [{"status": 503}, {"status": 429, "retry_after": "2"}])
        tmpl = ('{"who":"{symbol}","what":"{ACTION} {symbol} @ {price}",'
                '"conf":{confidence},"id":"{id}","bar":{bar_ts},'
                '"sma1":{ind.sma1},"size":{size},"sig":{signal}}')
        sink = self.sink("--slack", h.url(slack), "--discord",
                         h.url(discord), "--telegram", token + ":-100200",
                         "--telegram-api", h.base, "--webhook", h.url(hook),
                         "--template", tmpl, "--timeout", "1",
                         "--backoff", "0.2", "--retries", "4", "--verbose")
        ids = [self.pub.send(i, act=("buy", "sell", "close")[(i - 1) % 3])
               for i in range(1, 7)]
        got = {p: self.wait_delivered(p, ids, timeout=40)
               for p in (slack, discord, tg, hook)}
        for p in (slack, discord, tg, hook):
            # Exactly once each, in order.
            self.assertEqual([body_id(e) for e in got[p]], ids, p)
        # Formats.
        first = json.loads(got[slack][0]["body"])
        self.assertEqual(list(first), ["text"])
        self.assertIn("BUY AAPL @ 101", first["text"])
        self.assertIn("sma1=100.5", first["text"])
        self.assertEqual(list(json.loads(got[discord][0]["body"])),
                         ["content", "allowed_mentions"])
        tgb = json.loads(got[tg][0]["body"])
        self.assertEqual(tgb["chat_id"], -100200)
        self.assertIn("BUY AAPL", tgb["text"])
        wb = json.loads(got[hook][1]["body"])
        self.assertEqual(wb["who"], "AAPL")
        self.assertEqual(wb["what"], "SELL AAPL @ 102")
        self.assertEqual(wb["conf"], 0.7)
        self.assertEqual(wb["bar"], 1795620000000 + 2 * 60000)
        self.assertEqual(wb["sma1"], 101.5)
        self.assertIsNone(wb["size"])
        self.assertEqual(wb["sig"]["id"], ids[1])
        self.assertEqual(wb["sig"]["action"], "sell")
        for p in (slack, discord, tg, hook):
            self.assertTrue(got[p][0]["headers"]["Content-Type"]
                            .startswith("application/json"))
        # Retries: the faults were answered and tried again.
        self.assertEqual([e["answer"].get("status") for e in
                          h.log(slack)[:3]], [500, 429, None])
        # Retry-After: 1 was honoured, and Discord's retry_after body.
        s = h.log(slack)
        self.assertGreaterEqual(s[2]["t"] - s[1]["t"], 0.95)
        d = h.log(discord)
        self.assertGreaterEqual(d[1]["t"] - d[0]["t"], 0.45)
        # The webhook's Retry-After: 2 held its retry for 2 s, beyond the
        # 0.2 s backoff and 5/s rate limit that would have sent it sooner.
        w = h.log(hook)
        self.assertEqual([e["answer"].get("status") for e in w[:3]],
                         [503, 429, None])
        self.assertGreaterEqual(w[2]["t"] - w[1]["t"], 1.95)
        # The hanging request timed out (1 s) and was tried again.
        t = h.log(tg)
        self.assertTrue(t[0]["answer"].get("hang"))
        self.assertGreaterEqual(t[1]["t"] - t[0]["t"], 1.0)
        # Rate limits, every request counted (failed ones too).
        self.assert_spacing(h.log(slack), 1, 1.0, "slack")
        self.assert_spacing(h.log(discord), 5, 2.0, "discord")
        self.assert_spacing(h.log(tg), 1, 1.0, "telegram")
        self.assert_spacing(h.log(hook), 5, 1.0, "webhook")
        self.assertEqual(sink.stop(), 0)
        err = sink.stderr()
        for secret in ("SECRETSLACK", "SECRETDISCORD", "SECRETTG",
                       "SECRETHOOK"):
            self.assertNotIn(secret, err)
        self.assertIn("slack %s/REDACTED: HTTP 500" % h.base, err)
        self.assertIn("telegram chat -100200", err)
        self.assertIn("no answer within 1.0 s", err)
        # Nothing given up.
        self.assertEqual(read_lines(self.dead), [])

    def test_dead_destination_does_not_delay_a_healthy_one(self):
        h = self.hooks
        h.script("/dead", then={"hang": 60})
        sink = self.sink("--webhook", h.url("/dead"), "--webhook",
                         h.url("/ok"), "--rate", "100", "--timeout", "30")
        ids = [self.pub.send(i) for i in range(1, 31)]
        self.wait_delivered("/ok", ids, timeout=25)
        # All 30 at the healthy destination while the dead one still
        # hangs on its first request, before its timeout (30 s).
        self.assertNotIn("no answer within", sink.stderr())
        self.assertEqual(len(h.log("/dead")), 1)
        self.assertTrue(sink.alive())
        t0 = time.monotonic()
        self.assertEqual(sink.stop(), 0)
        # The request in flight is given a short grace (2 s), not its
        # timeout.
        self.assertLess(time.monotonic() - t0, 15)
        # What the dead one did not get waits in the spool: at the next
        # start it gets all of it, and the healthy one nothing again.
        h.script("/dead", then={"ok": True})
        sink = self.sink("--webhook", h.url("/dead"), "--webhook",
                         h.url("/ok"), "--rate", "100", name="alert2")
        self.wait_delivered("/dead", ids)
        self.assertEqual(sink.stop(), 0)
        self.assertEqual([body_id(e) for e in h.delivered("/dead")], ids)
        self.assertEqual([body_id(e) for e in h.delivered("/ok")], ids)
        self.assertIn("30 signals queued again", sink.stderr())

    def test_dead_letter_and_retry_at_next_start(self):
        h = self.hooks
        h.script("/flaky", then={"status": 500})
        h.script("/gone", then={"status": 404})
        args = ("--webhook", h.url("/flaky"), "--webhook", h.url("/gone"),
                "--retries", "2", "--backoff", "0.1", "--rate", "50")
        sink = self.sink(*args)
        ids = [self.pub.send(i) for i in range(1, 4)]
        dead = lt.wait_until(lambda: (lambda d: d if len(d) == 6 else None)(
            read_lines(self.dead)), what="six dead letters")
        name = "webhook %s/REDACTED" % h.base
        self.assertTrue(all(x["destination"] == name for x in dead), dead)
        self.assertEqual(len(set(x["to"] for x in dead)), 2)
        self.assertEqual(sorted(x["signal"]["id"] for x in dead),
                         sorted(ids * 2))
        errors = [(x["error"], x["tries"]) for x in dead]
        self.assertEqual(sum("HTTP 404" in e and "not retried" in e and
                             n == 1 for e, n in errors), 3, errors)
        self.assertEqual(sum("HTTP 500" in e and "given up after 3 tries"
                             in e and n == 3 for e, n in errors), 3, errors)
        self.assertEqual(len(h.log("/flaky")), 9)       # 3 tries each
        self.assertEqual(len(h.log("/gone")), 3)        # no retries
        self.assertEqual(sink.stop(), 0)
        # Next start, both destinations healthy: the dead letters go out
        # and leave the file.
        h.script("/flaky", then={"ok": True})
        h.script("/gone", then={"ok": True})
        sink = self.sink(*args, name="alert2")
        self.wait_delivered("/flaky", ids)
        self.wait_delivered("/gone", ids)
        lt.wait_until(lambda: read_lines(self.dead) == [],
                      what="the dead-letter file to empty")
        self.assertEqual(sink.stop(), 0)
        self.assertIn("6 signals queued again", sink.stderr())

    def test_destination_removed_and_given_again(self):
        h = self.hooks
        h.script("/b", then={"close": True})
        both = ("--webhook", h.url("/a"), "--webhook", h.url("/b"),
                "--rate", "50", "--backoff", "5")
        sink = self.sink(*both)
        ids = [self.pub.send(i) for i in range(1, 3)]
        self.wait_delivered("/a", ids)
        self.assertEqual(sink.stop(), 0)
        # Started without /b: what /b still had due goes to the dead
        # letters, under /b's key.
        sink = self.sink("--webhook", h.url("/a"), name="alert2")
        dead = lt.wait_until(lambda: (lambda d: d if len(d) == 2 else None)(
            read_lines(self.dead)), what="two dead letters")
        self.assertEqual([x["signal"]["id"] for x in dead], ids)
        self.assertTrue(all(x["error"] == "destination no longer "
                            "configured" and x["to"].startswith("webhook-")
                            for x in dead), dead)
        self.assertEqual(sink.stop(), 0)
        # /b back and healthy: it gets them; /a nothing twice.
        h.script("/b", then={"ok": True})
        sink = self.sink(*both, name="alert3")
        self.wait_delivered("/b", ids)
        lt.wait_until(lambda: read_lines(self.dead) == [],
                      what="the dead-letter file to empty")
        self.assertEqual(sink.stop(), 0)
        self.assertEqual([body_id(e) for e in h.delivered("/a")], ids)
        self.assertEqual([body_id(e) for e in h.delivered("/b")], ids)

    def test_spool_survives_sigkill_and_nothing_is_sent_twice(self):
        h = self.hooks
        args = ("--webhook", h.url("/w"), "--rate", "50",
                "--backoff", "0.1", "--retries", "100")
        sink = self.sink(*args)
        first = [self.pub.send(i) for i in range(1, 4)]
        self.wait_delivered("/w", first)
        lt.wait_until(lambda: sum("done" in x for x in read_lines(
            self.spool)) == 3, what="three done marks")
        # The destination goes down; three more are accepted (in the
        # spool), then the sink is killed.
        h.script("/w", then={"close": True})
        second = [self.pub.send(i) for i in range(4, 7)]
        lt.wait_until(lambda: sum("add" in x for x in read_lines(
            self.spool)) == 6, what="three more in the spool")
        lt.wait_until(lambda: len(h.log("/w")) >= 5,
                      what="failing tries")
        sink.p.send_signal(signal.SIGKILL)
        sink.p.wait(10)
        # As if it had been killed in the middle of writing a line.
        with open(self.spool, "a") as f:
            f.write('{"add":{"ver":1,"id":"00000000')
        h.script("/w", then={"ok": True})
        sink = self.sink(*args, name="alert2")
        self.wait_delivered("/w", first + second)
        # After a crash the engine may hand every signal over again.
        for i in range(1, 7):
            self.pub.send(i)
        last = self.pub.send(7)
        got = self.wait_delivered("/w", first + second + [last])
        self.assertEqual([body_id(e) for e in got], first + second + [last])
        self.assertEqual(sink.stop(), 0)
        self.assertIn("3 signals queued again", sink.stderr())
        self.assertIn("1 unreadable lines skipped", sink.stderr())

    def test_max_queue_sends_the_overflow_to_dead_letters(self):
        h = self.hooks
        h.script("/slow", then={"hang": 60})
        sink = self.sink("--webhook", h.url("/slow"), "--max-queue", "2",
                         "--timeout", "30")
        ids = [self.pub.send(i) for i in range(1, 6)]
        dead = lt.wait_until(lambda: (lambda d: d if len(d) == 3 else None)(
            read_lines(self.dead)), what="three dead letters")
        self.assertEqual([x["signal"]["id"] for x in dead], ids[2:])
        self.assertTrue(all("already waiting (--max-queue)" in x["error"]
                            for x in dead))
        self.assertEqual(sink.stop(), 0)

    def test_filters(self):
        h = self.hooks
        tmpl = self.ws.path("tmpl.json")
        with open(tmpl, "w") as f:
            f.write('{\n  "id": "{id}",\n  "a": "{action}"\n}\n')
        sink = self.sink("--webhook", h.url("/f"), "--rate", "100",
                         "--template", "@" + tmpl,
                         "--actions", "buy,close", "--min-confidence", "0.6",
                         "--symbols", "AAPL")
        want = [
            self.pub.send(1, act="buy", conf=0.9),
            self.pub.send(4, act="close", conf=0.6),
        ]
        self.pub.send(2, act="sell", conf=0.9)       # action
        self.pub.send(3, act="buy", conf=0.59)       # confidence
        self.pub.send(5, sym="MSFT", act="buy", conf=0.9)   # symbol
        want.append(self.pub.send(6, act="buy", conf=1.0))  # marker
        got = self.wait_delivered("/f", want)
        self.assertEqual([body_id(e) for e in got], want)
        self.assertEqual([json.loads(e["body"])["a"] for e in got],
                         ["buy", "close", "buy"])
        self.assertEqual(sink.stop(), 0)
        self.assertIn("filtered out 2", sink.stderr())

    def test_flat_closes_left_out_unless_asked(self):
        h = self.hooks
        sink = self.sink("--webhook", h.url("/q"), "--rate", "100")
        want = [self.pub.send(1, act="buy", pos=0.0),
                self.pub.send(2, act="close", pos=1.0)]
        self.pub.send(3, act="close", pos=0.0)      # changed nothing
        want.append(self.pub.send(4, act="close"))  # position not known
        got = self.wait_delivered("/q", want)
        self.assertEqual([body_id(e) for e in got], want)
        self.assertEqual(sink.stop(), 0)
        self.assertIn("flat closes left out 1", sink.stderr())
        sink = self.sink("--webhook", h.url("/all"), "--rate", "100",
                         "--flat-closes", name="alert-2")
        want = [self.pub.send(5, act="close", pos=0.0),
                self.pub.send(6, act="buy", pos=0.0)]
        got = self.wait_delivered("/all", want)
        self.assertEqual([body_id(e) for e in got], want)
        self.assertEqual(sink.stop(), 0)
        self.assertIn("flat closes left out 0", sink.stderr())

    def test_spool_in_use(self):
        h = self.hooks
        sink = self.sink("--webhook", h.url("/x"))
        rc, _, err = lt.run("livetrade-sink", "alert", "--sub",
                            self.pub.ep, "--spool", self.spool,
                            "--dead-letter", self.dead, "--webhook",
                            h.url("/x"))
        self.assertEqual(rc, 1)
        self.assertIn("in use by another", err)
        self.assertEqual(sink.stop(), 0)


class AlertPipeline(HooksCase):
    """A real feeder and engine: the webhook gets, once each, exactly the
    signals the file sink writes, as the same JSON objects."""

    def test_feeder_engine_alert(self):
        ws, h = self.ws, self.hooks
        syms, start, history, count = "AAPL,MSFT", 1767225600000, 100, 150
        fsink = ws.start("file", "livetrade-sink", "file", "--path",
                         ws.path("sig.jsonl"), "--sub", ws.ep("sig"),
                         *COMMON)
        asink = ws.start("alert", "livetrade-sink", "alert", "--sub",
                         ws.ep("sig"), "--webhook", h.url("/all"),
                         "--slack", h.url("/slack/T/B/SECRET"),
                         "--rate", "100", "--spool", ws.path("spool"),
                         "--dead-letter", ws.path("dead"), *COMMON)
        eng = ws.start("engine", "livetrade-engine", "--strategy",
                       "strategies/sma_cross.lua", "--symbols", syms,
                       "--sub", ws.ep("bars"), "--history", ws.ep("hist"),
                       "--pub", ws.ep("sig"), "--rep", ws.ep("rep"),
                       "--param", "n1=3", "--param", "n2=7",
                       "--wait-subscribers", "2")
        feeder = ws.start("feeder", "livetrade-feeder", "--source", "demo",
                          "--symbols", syms, "--seed", "11", "--start",
                          str(start), "--history", str(history), "--count",
                          str(count), "--interval", "0.01", "--pub",
                          ws.ep("bars"), "--rep", ws.ep("hist"))
        last = start + (history + count - 1) * 60000

        def done():
            st = lt.status(ws.ep("rep"))
            if st and all(x["live"] and x["last_t"] == last
                          for x in st["symbols"]):
                return st
            return None
        st = lt.wait_until(done, 60, "the engine to take every bar")
        self.assertGreater(st["signals"], 3)
        want = lt.wait_until(
            lambda: (lambda r: r if len(r) == st["signals"] else None)(
                lt.read_jsonl(ws.path("sig.jsonl"))),
            what="the file sink to write every signal")
        got = self.wait_all(h, "/all", len(want))
        self.assertEqual([json.loads(e["body"]) for e in got], want)
        # Slack, 1 per second: the first three are enough to compare.
        slack = self.wait_all(h, "/slack/T/B/SECRET", 3, exact=False)
        self.assertEqual([body_id(e) for e in slack[:3]],
                         [x["id"] for x in want[:3]])
        for p in (feeder, eng, fsink, asink):
            self.assertEqual(p.stop(), 0, p.name)
        # Nothing more arrived meanwhile: each signal exactly once.
        self.assertEqual([json.loads(e["body"]) for e in
                          h.delivered("/all")], want)
        self.assertNotIn("SECRET", asink.stderr())

    def wait_all(self, h, path, n, exact=True):
        got = lt.wait_until(lambda: (lambda d: d if len(d) >= n else None)(
            h.delivered(path)), 30, "%d requests at %s" % (n, path))
        if exact:
            self.assertEqual(len(got), n)
        return got


class AlertBadFlags(unittest.TestCase):
    def test_bad_flags_exit_2_with_one_line(self):
        secret = "http://127.0.0.1:9/services/SECRETX"
        cases = [
            ([], "at least one destination"),
            (["--slack", "ftp://example.com/SECRETX"], "http://"),
            (["--discord", "SECRETX"], "http://"),
            (["--telegram", "SECRETX"], "TOKEN:CHAT_ID"),
            (["--telegram", "123456:SECRETX"], "TOKEN:CHAT_ID"),
            (["--telegram", "12:SECRETX:bad chat"], "chat id"),
            (["--webhook", secret, "--template", "{nope}"],
             "unknown field {nope}"),
            (["--webhook", secret, "--template", '{"a": {symbol}}'],
             "does not give JSON"),
            (["--webhook", secret, "--template", "{}", "--template", "1"],
             "2 --template for 1 --webhook"),
            (["--template", "{id}"], "--template applies to --webhook"),
            (["--webhook", secret, "--template", "@/nonexistent/t.json"],
             "cannot read /nonexistent/t.json"),
            (["--webhook", secret, "--actions", "buy,hold"], "'hold'"),
            (["--webhook", secret, "--min-confidence", "2"],
             "--min-confidence"),
            (["--webhook", secret, "--timeout", "0"], "--timeout"),
            (["--webhook", secret, "--retries", "-1"], "--retries"),
            (["--webhook", secret, "--rate", "0"], "--rate"),
            (["--slack", secret, "--slack", secret], "given twice"),
            (["--webhook", secret, "--bogus"], "--bogus"),
        ]
        with lt.Workspace() as ws:
            for args, text in cases:
                rc, _, err = lt.run("livetrade-sink", "alert", "--spool",
                                    ws.path("s"), "--dead-letter",
                                    ws.path("d"), *args)
                self.assertEqual(rc, 2, "%s: %s" % (args, err))
                lines = [x for x in err.splitlines() if x.strip()]
                self.assertEqual(len(lines), 1, err)
                self.assertIn(text, lines[0], args)
                self.assertNotIn("SECRETX", lines[0], args)

    def test_help(self):
        rc, out, _ = lt.run("livetrade-sink", "alert", "--help")
        self.assertEqual(rc, 0)
        for flag in ("--slack", "--discord", "--telegram", "--webhook",
                     "--template", "--dead-letter", "--spool", "--actions",
                     "--min-confidence", "--timeout", "--retries", "--rate"):
            self.assertIn(flag, out)


if __name__ == "__main__":
    unittest.main()
