"""Monitoring: --metrics on the feeder, the engine and a file sink, scraped
over HTTP and read with a small parser of the text format 0.0.4; the
figures agree with the status replies and with the sink's file. A feed
that stops makes the engine report its symbols stale, once. `livetrade
status` shows every component (sinks through their metrics pages), and
fails when one is down. Bad --metrics values are usage errors."""
import http.server
import json
import math
import os
import re
import socket
import subprocess
import threading
import unittest
import urllib.error
import urllib.request

import lt
import zmq

SYMS = ["AAPL", "MSFT"]
START = 1767225600000           # 2026-01-01T00:00:00Z
COUNT = 200

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """The text format: {name: {"type": t, "help": h, "samples":
    {(labels...): value}}}, samples of a histogram under its family."""
    fams = {}
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            fams.setdefault(name, {"samples": {}})["help"] = help_
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert typ in ("counter", "gauge", "histogram"), line
            fams.setdefault(name, {"samples": {}})["type"] = typ
            continue
        assert not line.startswith("#"), line
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.group(1), m.group(3), m.group(4)
        key = tuple(sorted(LABEL.findall(labels or "")))
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[:-len(suffix)] in fams and \
                    fams[name[:-len(suffix)]].get("type") == "histogram":
                fam = name[:-len(suffix)]
        assert fam in fams and "type" in fams[fam], \
            "sample before its TYPE line: %r" % line
        v = float(value.replace("+Inf", "inf"))
        fams[fam]["samples"][(name,) + key] = v
    return fams


def value(fams, name, **labels):
    key = (name,) + tuple(sorted(labels.items()))
    base = name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[:-len(suffix)] in fams:
            base = name[:-len(suffix)]
    return fams[base]["samples"][key]


def scrape(port, path="/metrics"):
    """(status, content type, body) of one GET."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), \
                r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


class Metrics(lt.WorkspaceTest):
    def setUp(self):
        super().setUp()
        self.gate = None

    def tearDown(self):
        if self.gate is not None:
            self.gate.close(0)

    def start_pipeline(self):
        ws = self.ws
        self.ports = {k: lt.free_port() for k in ("feeder", "engine", "sink")}
        self.sig_path = ws.path("signals.jsonl")
        self.sink = ws.start("sink", "livetrade-sink", "file",
                             "--path", self.sig_path,
                             "--sub", ws.ep("sig"), "--replay", "",
                             "--metrics",
                             "127.0.0.1:%d" % self.ports["sink"])
        self.engine = ws.start("engine", "livetrade-engine",
                               "--strategy", "strategies/sma_cross.lua",
                               "--symbols", ",".join(SYMS),
                               "--sub", ws.ep("bars"),
                               "--history", ws.ep("hist"),
                               "--pub", ws.ep("sig"), "--rep", ws.ep("eng"),
                               "--wait-subscribers", "1",
                               "--stale-after", "1",
                               "--metrics",
                               "127.0.0.1:%d" % self.ports["engine"])
        # The feeder holds its live bars until the engine's two
        # subscriptions and the test's own (the gate) have arrived, so
        # every live bar reaches a live engine.
        self.feeder = ws.start("feeder", "livetrade-feeder",
                               "--source", "demo",
                               "--symbols", ",".join(SYMS), "--seed", "7",
                               "--start", str(START), "--history", "300",
                               "--count", str(COUNT), "--interval", "0.005",
                               "--wait-subscribers", "3",
                               "--pub", ws.ep("bars"), "--rep", ws.ep("hist"),
                               "--metrics",
                               "127.0.0.1:%d" % self.ports["feeder"])
        lt.wait_until(lambda: all(
            s["live"] for s in (lt.status(ws.ep("eng")) or
                                {"symbols": [{"live": False}]})["symbols"]),
            what="the engine to go live")
        self.gate = lt.CTX.socket(zmq.SUB)
        self.gate.connect(ws.ep("bars"))
        self.gate.setsockopt(zmq.SUBSCRIBE, b"bar|")

    def wait_done(self):
        ws = self.ws
        fst = lt.wait_until(
            lambda: (lambda s: s if s and s["bars_published"] ==
                     COUNT * len(SYMS) else None)(lt.status(ws.ep("hist"))),
            what="the feeder to publish every bar")
        last = {s["sym"]: s["last_t"] for s in fst["symbols"]}

        def engine_done():
            st = lt.status(ws.ep("eng"))
            if st and all(s["last_t"] == last[s["sym"]]
                          for s in st["symbols"]):
                return st
            return None
        est = lt.wait_until(engine_done, what="the engine to take every bar")
        lt.wait_until(lambda: len(lt.read_jsonl(self.sig_path)) ==
                      est["signals"], what="the sink to write every signal")
        return fst, est

    def test_metrics_match_status_and_file(self):
        self.start_pipeline()
        fst, est = self.wait_done()
        lines = lt.read_jsonl(self.sig_path)
        self.assertGreater(len(lines), 0)

        code, ctype, text = scrape(self.ports["feeder"])
        self.assertEqual(code, 200)
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        f = parse(text)
        self.assertEqual(f["livetrade_feeder_bars_published_total"]["type"],
                         "counter")
        self.assertEqual(value(f, "livetrade_feeder_bars_published_total"),
                         fst["bars_published"])
        self.assertEqual(value(f, "livetrade_feeder_symbols"), len(SYMS))
        self.assertEqual(value(f, "livetrade_feeder_bars_dropped_total"), 0)
        for sym in SYMS:
            self.assertGreaterEqual(value(
                f, "livetrade_feeder_last_bar_age_seconds", symbol=sym), 0)
        for name, fam in f.items():
            self.assertTrue(name.startswith("livetrade_feeder_"), name)
            self.assertTrue(fam.get("help"), name)
            if fam["type"] == "counter":
                self.assertTrue(name.endswith("_total"), name)

        code, ctype, text = scrape(self.ports["engine"])
        self.assertEqual(code, 200)
        e = parse(text)
        est = lt.status(self.ws.ep("eng"))
        self.assertEqual(value(e, "livetrade_engine_signals_total"),
                         len(lines))
        self.assertEqual(value(e, "livetrade_engine_signals_total"),
                         est["signals"])
        self.assertEqual(value(e, "livetrade_engine_bars_total"),
                         est["bars_in"])
        self.assertEqual(value(e, "livetrade_engine_gaps_total"),
                         est["gaps"])
        self.assertEqual(value(e, "livetrade_engine_symbols"), len(SYMS))
        self.assertEqual(value(e, "livetrade_engine_strategy_errors_total"),
                         0)
        # The histogram: cumulative buckets ending in +Inf = count, one
        # observation per signal.
        h = "livetrade_engine_bar_to_signal_seconds"
        self.assertEqual(e[h]["type"], "histogram")
        buckets = sorted(((float(dict(k[1:])["le"].replace("+Inf", "inf")),
                           v) for k, v in e[h]["samples"].items()
                          if k[0] == h + "_bucket"))
        self.assertGreater(len(buckets), 5)
        self.assertEqual(buckets[-1][0], math.inf)
        counts = [v for _, v in buckets]
        self.assertEqual(counts, sorted(counts), "buckets not cumulative")
        self.assertEqual(counts[-1], value(e, h + "_count"))
        self.assertEqual(value(e, h + "_count"), len(lines))
        self.assertGreaterEqual(value(e, h + "_sum"), 0)

        code, ctype, text = scrape(self.ports["sink"])
        s = parse(text)
        self.assertEqual(value(s, "livetrade_sink_signals_written_total"),
                         len(lines))
        self.assertEqual(value(s, "livetrade_sink_info", output="file"), 1)

        for port in self.ports.values():
            for path in ("/", "/metrics/x", "/favicon.ico"):
                self.assertEqual(scrape(port, path)[0], 404, path)
        self.assertEqual(self.feeder.stop(), 0)
        self.assertEqual(self.engine.stop(), 0)
        self.assertEqual(self.sink.stop(), 0)

    def test_stale_symbols_and_status(self):
        ws = self.ws
        self.start_pipeline()
        self.wait_done()
        # The feed has stopped (--count): after --stale-after 1 the
        # engine reports both symbols, once.
        est = lt.wait_until(
            lambda: (lambda s: s if s and s["stale"] == len(SYMS) else None)(
                lt.status(ws.ep("eng"))),
            what="the engine to report its symbols stale")
        self.assertTrue(all(y["stale"] for y in est["symbols"]))
        self.assertIn("stale after 1.0 s", self.engine.stderr())
        self.assertRegex(self.engine.stderr(), r"WARN .*no bar for")
        e = parse(scrape(self.ports["engine"])[2])
        self.assertEqual(value(e, "livetrade_engine_stale_symbols"),
                         len(SYMS))
        for sym in SYMS:
            self.assertEqual(value(e, "livetrade_engine_symbol_stale",
                                   symbol=sym), 1)
        total = value(e, "livetrade_engine_stale_total")
        self.assertGreaterEqual(total, len(SYMS))
        # It stays stale, and is not reported again.
        lt.wait_until(lambda: min(y["silent_ms"] for y in
                                  lt.status(ws.ep("eng"))["symbols"]) > 2500,
                      what="more silence")
        e = parse(scrape(self.ports["engine"])[2])
        self.assertEqual(value(e, "livetrade_engine_stale_symbols"),
                         len(SYMS))
        self.assertEqual(value(e, "livetrade_engine_stale_total"), total)
        for sym in SYMS:
            self.assertGreater(value(
                e, "livetrade_engine_last_bar_age_seconds", symbol=sym), 2.5)

        # livetrade status: both components, up, with the stale symbols.
        eps = "%s,%s" % (ws.ep("hist"), ws.ep("eng"))
        rc, out, err = lt.run("livetrade", "status", "--endpoints", eps)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("livetrade-feeder", out)
        self.assertIn("livetrade-engine", out)
        self.assertEqual(out.count(" up "), 2, out)
        self.assertIn("stale: AAPL, MSFT", out)
        self.assertIn("2 of 2 component(s) up", out)
        rc, out, err = lt.run("livetrade", "status", "--endpoints", eps,
                              "--json")
        self.assertEqual(rc, 0, out + err)
        doc = json.loads(out)
        self.assertTrue(doc["ok"])
        self.assertEqual([c["status"]["prog"] for c in doc["components"]],
                         ["livetrade-feeder", "livetrade-engine"])
        self.assertEqual(doc["components"][1]["status"]["stale"], 2)
        # One component down: exit 1, and it says which.
        rc, out, err = lt.run("livetrade", "status", "--endpoints", eps,
                              "--endpoints", ws.ep("nobody"),
                              "--timeout", "300")
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(out, r"nobody\.ipc +DOWN")
        self.assertIn("2 of 3 component(s) up", out)
        self.assertEqual(self.feeder.stop(), 0)
        rc, out, err = lt.run("livetrade", "status", "--endpoints", eps,
                              "--timeout", "300", "--json")
        self.assertEqual(rc, 1, out + err)
        doc = json.loads(out)
        self.assertFalse(doc["ok"])
        self.assertEqual([c["up"] for c in doc["components"]],
                         [False, True])
        self.assertEqual(self.engine.stop(), 0)
        self.assertEqual(self.sink.stop(), 0)

    def test_status_of_sinks(self):
        """`livetrade status` shows a sink through its --metrics page
        (http://HOST:PORT): up with its counters, DOWN when nothing or
        something else answers; LIVETRADE_STATUS (environment or .env)
        is the default list."""
        ws = self.ws
        port, dead = lt.free_port(), lt.free_port()
        sink = ws.start("sink", "livetrade-sink", "file", "--path",
                        ws.path("s.jsonl"), "--sub", ws.ep("sig"),
                        "--replay", "", "--state", "",
                        "--metrics", "127.0.0.1:%d" % port)
        lt.wait_until(lambda: "metrics on" in sink.stderr(),
                      what="the sink to listen")
        url = "http://127.0.0.1:%d" % port
        rc, out, err = lt.run("livetrade", "status", "--endpoints", url)
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out, re.escape(url) + r" +up +livetrade-sink file "
                         r"\(metrics\)\n +signals 0  written 0 ")
        rc, out, err = lt.run("livetrade", "status", "--timeout", "500",
                              "--endpoints", "%s,http://127.0.0.1:%d,%s/x"
                              % (url, dead, url))
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(out, r"127\.0\.0\.1:%d +DOWN +\S" % dead)
        self.assertRegex(out, re.escape(url) + r"/x +DOWN +HTTP 404")
        self.assertIn("1 of 3 component(s) up", out)
        rc, out, err = lt.run("livetrade", "status", "--endpoints", url,
                              "--json")
        doc = json.loads(out)
        self.assertEqual(doc["components"][0]["output"], "file")
        self.assertEqual(doc["components"][0]["metrics"]
                         ["livetrade_sink_signals_total"], 0)
        # The sink stops: DOWN, like a feeder or an engine that is down.
        self.assertEqual(sink.stop(), 0)
        rc, out, err = lt.run("livetrade", "status", "--timeout", "500",
                              "--endpoints", "%s,%s" % (url, ws.ep("x")),
                              "--json")
        self.assertEqual(rc, 1, out + err)
        doc = json.loads(out)
        self.assertFalse(doc["ok"])
        self.assertEqual([c["up"] for c in doc["components"]],
                         [False, False])
        self.assertTrue(doc["components"][0]["error"])
        # The default list: LIVETRADE_STATUS, from the environment or
        # from the .env file; --quiet shows only what is down.
        env_file = ws.path("deploy.env")
        with open(env_file, "w") as f:
            f.write("LIVETRADE_STATUS=%s,%s\n" % (url, ws.ep("nobody")))
        for env in ({"LIVETRADE_STATUS": "%s,%s" % (url, ws.ep("nobody"))},
                    {"LIVETRADE_ENV_FILE": env_file}):
            r = subprocess.run([os.path.join(lt.BIN, "livetrade"), "status",
                                "--quiet", "--timeout", "300"],
                               env=dict(os.environ, **env),
                               capture_output=True, timeout=30)
            out = r.stdout.decode()
            self.assertEqual(r.returncode, 1, out)
            self.assertRegex(out, "^%s +DOWN .*\n.*nobody\\.ipc +DOWN .*\n$"
                             % re.escape(url))

    def test_status_reads_any_page(self):
        """Pages it half understands, or not at all: shown, not fatal."""
        pages = {
            "/odd": "# HELP x\ngarbage\n{{}\n9bad 1\n"
                    "livetrade_sink_signals_total notanumber\n"
                    "livetrade_sink_written_total\n"
                    'livetrade_sink_info{output="exec"} 1\n'
                    "livetrade_sink_lost_total 3 1700000000\n"
                    "livetrade_sink_gaps_total +Inf",
            "/other": "node_load1 0.5\n",
        }

        class Page(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = pages[self.path].encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            base = "http://127.0.0.1:%d" % srv.server_address[1]
            rc, out, err = lt.run("livetrade", "status", "--endpoints",
                                  "%s/odd,%s/other" % (base, base))
        finally:
            srv.shutdown()
            srv.server_close()
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out, r"/odd +up +livetrade-sink exec \(metrics\)\n"
                         r" +lost 3\n")
        self.assertIn("/other", out)
        self.assertIn("answered, but not with livetrade metrics", out)

    def test_bad_metrics_flag(self):
        strat = ["--strategy", "strategies/sma_cross.lua"]
        progs = [("livetrade-feeder", []), ("livetrade-engine", strat),
                 ("livetrade-sink", ["file", "--path",
                                     self.ws.path("x.jsonl")])]
        for prog, args in progs:
            for bad in ("nonsense", "127.0.0.1", "127.0.0.1:0",
                        "127.0.0.1:70000", "host.example:9101", ""):
                rc, out, err = lt.run(prog, *args, "--metrics", bad)
                self.assertEqual(rc, 2, (prog, bad, err))
                self.assertEqual(len(err.strip().splitlines()), 1,
                                 (prog, bad, err))
                self.assertIn("--metrics", err)
        rc, out, err = lt.run("livetrade", "status", "--timeout", "0")
        self.assertEqual(rc, 2)
        rc, out, err = lt.run("livetrade", "status", "--endpoints", "x")
        self.assertEqual(rc, 2)
        rc, out, err = lt.run("livetrade", "status", "--endpoints",
                              "http://")
        self.assertEqual(rc, 2)

    def test_page_holds_no_secrets(self):
        # Every program's page, bound to every interface as docker-compose
        # does, while the bus runs CURVE and the sinks hold a dashboard
        # token and webhook URLs: only metric names, symbols, the sink's
        # output name and numbers; no key, token or URL.
        ws = self.ws
        keys = ws.path("keys")
        self.assertEqual(lt.run("livetrade", "keygen", keys)[0], 0)
        secrets = ["s3cret-dashboard-token", "SECRETHOOKPATH",
                   "SECRETSLACKPATH", "123456:SECRETBOT"]
        for f in os.listdir(keys):
            if not f.endswith(".key"):
                continue
            with open(os.path.join(keys, f)) as fh:
                secrets += re.findall(r'secret-key = "([^"]+)"', fh.read())
        self.assertGreaterEqual(len(secrets), 6)
        port = {k: lt.free_port() for k in ("feeder", "engine", "alert",
                                            "web", "dash", "sig", "rep",
                                            "bars", "hist")}
        tcp = {k: "tcp://127.0.0.1:%d" % v for k, v in port.items()}
        dead = "http://127.0.0.1:%d" % port["dash"]     # nothing there

        def metrics(name):
            return ["--metrics", "0.0.0.0:%d" % port[name], "--curve", keys]
        procs = [
            ws.start("alert", "livetrade-sink", "alert", "--sub", tcp["sig"],
                     "--replay", tcp["rep"], "--state", "",
                     "--spool", ws.path("spool.jsonl"),
                     "--dead-letter", ws.path("dead.jsonl"),
                     "--webhook", dead + "/SECRETHOOKPATH",
                     "--slack", dead + "/SECRETSLACKPATH",
                     "--telegram", "123456:SECRETBOT:-100",
                     "--telegram-api", dead, "--retries", "0",
                     *metrics("alert")),
            ws.start("web", "livetrade-sink", "web", "--listen",
                     "127.0.0.1:%d" % port["dash"], "--token",
                     "s3cret-dashboard-token", "--sub", tcp["sig"],
                     "--bars", tcp["bars"], "--history", tcp["hist"],
                     "--status", tcp["rep"], "--replay", tcp["rep"],
                     "--state", "", *metrics("web")),
            ws.start("engine", "livetrade-engine", "--strategy",
                     "strategies/sma_cross.lua", "--symbols",
                     ",".join(SYMS), "--sub", tcp["bars"], "--history",
                     tcp["hist"], "--pub", tcp["sig"], "--rep", tcp["rep"],
                     "--wait-subscribers", "2", *metrics("engine")),
            ws.start("feeder", "livetrade-feeder", "--source", "demo",
                     "--symbols", ",".join(SYMS), "--seed", "7", "--start",
                     str(START), "--history", "300", "--count", "100",
                     "--interval", "0.005", "--pub", tcp["bars"], "--rep",
                     tcp["hist"], *metrics("feeder"))]

        def signalled():
            for p in procs:
                self.assertTrue(p.alive(), p.stderr()[-2000:])
            try:
                code, _, text = scrape(port["alert"])
            except OSError:
                return False
            return code == 200 and value(parse(text),
                                         "livetrade_sink_signals_total") > 0
        lt.wait_until(signalled, 60, "a signal through the CURVE bus")
        for name in ("feeder", "engine", "alert", "web"):
            code, _, text = scrape(port[name])
            self.assertEqual(code, 200, name)
            for secret in secrets:
                self.assertNotIn(secret, text, name)
            self.assertNotIn("127.0.0.1", text, name)
            for fam in parse(text).values():
                for key in fam["samples"]:
                    for label, val in key[1:]:
                        self.assertIn(label, ("symbol", "output", "le"),
                                      (name, key))
                        if label == "symbol":
                            self.assertIn(val, SYMS, (name, key))
                        if label == "output":
                            self.assertEqual(val, name, (name, key))
            # Nothing else is served, and the request is not echoed.
            code, _, text = scrape(port[name], "/metrics/../SECRETHOOKPATH")
            self.assertEqual(code, 404, name)
            self.assertNotIn("SECRETHOOKPATH", text, name)
        for p in procs:
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])

    def test_port_in_use_and_public_address(self):
        ws = self.ws
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        try:
            rc, out, err = lt.run("livetrade-sink", "file", "--path",
                                  ws.path("x.jsonl"), "--sub", ws.ep("sig"),
                                  "--replay", "", "--state", "",
                                  "--metrics", "127.0.0.1:%d" %
                                  busy.getsockname()[1])
        finally:
            busy.close()
        self.assertEqual(rc, 1, err)
        self.assertIn("cannot listen on 127.0.0.1:", err)
        port = lt.free_port()
        sink = ws.start("sink", "livetrade-sink", "file",
                        "--path", ws.path("y.jsonl"), "--sub", ws.ep("sig"),
                        "--replay", "", "--state", "",
                        "--metrics", "0.0.0.0:%d" % port)
        lt.wait_until(lambda: "metrics on" in sink.stderr(),
                      what="the sink to listen")
        self.assertRegex(sink.stderr(), r"WARN .*not a loopback address")
        code, _, text = scrape(port)
        self.assertEqual(code, 200)
        self.assertIn("livetrade_sink_signals_total 0", text)
        self.assertEqual(sink.stop(), 0)


if __name__ == "__main__":
    unittest.main()
