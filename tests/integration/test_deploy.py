"""Deployment files in deploy/.

- deploy/supervisord.conf, as shipped, under Debian's supervisord (started
  through deploy/run-with-env with a .env file that moves ports, binaries,
  logs, state and supervisor's socket into a private directory): the five
  programs run; an engine and then the file sink are killed with SIGKILL
  and supervisor starts them again; the file sink ends up with every
  signal of both engines once, in order per engine, equal to the SMA
  crossovers re-derived from the feeder's bars and to the engines'
  journals; each program's --metrics page counts what flowed; `livetrade
  status` through run-with-env shows all five, and its --quiet form (the
  container health check) answers for each; nothing is left running
  after supervisorctl shutdown.
- The same files over two "hosts" with CURVE, as README.md's two-host
  example has it: one supervisord starts only the feeder and the engines,
  another (with its own client key) only the sinks.
- The container health check with CURVE, against a feeder, an engine and
  a sink started as processes.
- deploy/docker-compose.yml, resolved by docker-compose config with a .env
  made from deploy/.env.example: the services, ports on 127.0.0.1 only,
  metrics, health checks, env_file, restart policies, volumes, and the
  CURVE key directory mounted read-only once LIVETRADE_CURVE is set.
- deploy/.env.example documents every setting of the deploy files and
  every one the programs read that a deployment may set.
- deploy/Dockerfile builds with the same make steps as the tests."""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

import lt
import test_metrics as tm

DEPLOY = os.path.join(lt.ROOT, "deploy")
CONF = os.path.join(DEPLOY, "supervisord.conf")
WRAP = os.path.join(DEPLOY, "run-with-env")
SYMS = ["AAPL", "MSFT", "GOOG", "NVDA", "META", "QQQ"]
START = 1767225600000
HISTORY = 300
COUNT = 1200
PROGRAMS = ["feeder", "engine-0", "engine-1", "sink-console", "sink-file"]
PIPELINE, SINKS = PROGRAMS[:3], PROGRAMS[3:]
# The .env names of the bus ports and of each program's metrics port.
BUS_PORTS = {"feeder-pub": "LIVETRADE_FEEDER_PUB_PORT",
             "feeder-rep": "LIVETRADE_FEEDER_REP_PORT",
             "eng0-pub": "LIVETRADE_ENGINE0_PUB_PORT",
             "eng0-rep": "LIVETRADE_ENGINE0_REP_PORT",
             "eng1-pub": "LIVETRADE_ENGINE1_PUB_PORT",
             "eng1-rep": "LIVETRADE_ENGINE1_REP_PORT"}
METRICS_PORTS = {"feeder": "LIVETRADE_FEEDER_METRICS_PORT",
                 "engine-0": "LIVETRADE_ENGINE0_METRICS_PORT",
                 "engine-1": "LIVETRADE_ENGINE1_METRICS_PORT",
                 "sink-console": "LIVETRADE_CONSOLE_METRICS_PORT",
                 "sink-file": "LIVETRADE_FILE_METRICS_PORT"}
REQUEST_EPS = ("feeder-rep", "eng0-rep", "eng1-rep")


def deployment_ports():
    """Free ports for a deployment: ({bus endpoint name: port},
    {program: metrics port})."""
    ports = lt.free_ports(len(BUS_PORTS) + len(METRICS_PORTS))
    return (dict(zip(BUS_PORTS, ports)),
            dict(zip(METRICS_PORTS, ports[len(BUS_PORTS):])))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def keygen(*args):
    code, out, err = lt.run("livetrade", "keygen", *args)
    assert code == 0, err


def health(ep, *flags, env=None):
    """The containers' health check: (exit code, stdout)."""
    r = subprocess.run([os.path.join(lt.BIN, "livetrade"), "status",
                        "--quiet", "--timeout", "3000", "--endpoints", ep] +
                       list(flags), env=env, capture_output=True,
                       timeout=30, stdin=subprocess.DEVNULL, cwd=lt.ROOT)
    return r.returncode, r.stdout.decode()


class Host:
    """One supervisord on deploy/supervisord.conf, started through
    deploy/run-with-env with a .env file of its own in top/name (ports,
    binaries, logs, state and supervisor's socket in that directory)."""

    def __init__(self, top, name, ports, metrics, **settings):
        self.dir = os.path.join(top, name)
        self.state = os.path.join(self.dir, "state")
        self.logs = os.path.join(self.dir, "log")
        self.signals = os.path.join(self.dir, "out", "signals.jsonl")
        self.ep = {k: "tcp://127.0.0.1:%d" % p for k, p in ports.items()}
        self.metrics = metrics
        self.sup = None
        self.pids = set()
        values = {
            "LIVETRADE_BIN": os.path.abspath(lt.BIN),
            "LIVETRADE_STRATEGY": os.path.join(lt.STRATEGIES,
                                               "sma_cross.lua"),
            "TRADING_SYMBOLS": ",".join(SYMS),
            "LIVETRADE_SOURCE": "demo",
            "LIVETRADE_HOST": "127.0.0.1",
            "XDG_STATE_HOME": self.state,
            "LIVETRADE_SIGNALS_FILE": self.signals,
            "LIVETRADE_LOG_DIR": self.logs,
            "LIVETRADE_RUN_DIR": os.path.join(self.dir, "run"),
            "LIVETRADE_STARTRETRIES": "5",
            "LIVETRADE_STOPWAITSECS": "20",
        }
        values.update({BUS_PORTS[k]: str(p) for k, p in ports.items()})
        values.update({METRICS_PORTS[k]: str(p)
                       for k, p in metrics.items()})
        values.update(settings)
        os.makedirs(self.dir)
        env_file = os.path.join(self.dir, "livetrade.env")
        with open(env_file, "w") as f:
            f.write("# made by test_deploy.py\n")
            for k, v in values.items():
                f.write('%s="%s"\n' % (k, v) if " " in v else
                        "%s=%s\n" % (k, v))
        # Everything comes from the file: drop what the test runner or lt
        # set in this process's environment (the environment would win).
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("LIVETRADE_") and
                    k not in ("XDG_STATE_HOME", "TRADING_SYMBOLS")}
        self.env["LIVETRADE_ENV_FILE"] = env_file

    def start(self):
        with open(os.path.join(self.dir, "supervisord.out"), "wb") as log:
            self.sup = subprocess.Popen(
                [WRAP, "supervisord", "-n", "-c", CONF], env=self.env,
                stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=self.dir)

    def close(self):
        if self.sup and self.sup.poll() is None:
            self.ctl("shutdown")
            try:
                self.sup.wait(30)
            except subprocess.TimeoutExpired:
                self.sup.kill()
                self.sup.wait()
        for pid in self.pids:         # only programs this test saw started
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

    def run(self, *args):
        """A command through run-with-env: (exit code, stdout, stderr)."""
        r = subprocess.run([WRAP] + list(args), env=self.env,
                           capture_output=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def ctl(self, *args):
        return self.run("supervisorctl", "-c", CONF, *args)[1]

    def status(self, *flags):
        """`livetrade status` with the deployment's settings."""
        return self.run(os.path.join(lt.BIN, "livetrade"), "status", *flags)

    def states(self):
        """{program: (state, pid)} from supervisorctl status."""
        out = {}
        for line in self.ctl("status").splitlines():
            m = re.match(r"livetrade:(\S+)\s+(\S+)(?:\s+pid (\d+))?", line)
            if m:
                out[m.group(1)] = (m.group(2), int(m.group(3) or 0))
        return out

    def running(self, name, other_than=0):
        st = self.states().get(name)
        if st and st[0] == "RUNNING" and st[1] != other_than:
            self.pids.add(st[1])
            return st[1]
        return 0


@unittest.skipUnless(shutil.which("supervisord") and
                     shutil.which("supervisorctl"),
                     "supervisord not installed (make deps installs it)")
class Supervisor(unittest.TestCase):
    def setUp(self):
        self.top = tempfile.mkdtemp(prefix="lt-deploy-")
        ports, metrics = deployment_ports()
        self.h = Host(
            self.top, "host", ports, metrics,
            LIVETRADE_FEEDER_ARGS="--seed 5 --start %d --history %d "
            "--count %d --interval 0.02" % (START, HISTORY, COUNT),
            # A sink without state starts from the first signal it sees:
            # the engines wait for both sinks, so that even the first
            # signals reach them (.env.example).
            LIVETRADE_ENGINE_ARGS="--wait-subscribers 2")
        self.ep = self.h.ep

    def tearDown(self):
        self.h.close()
        if os.environ.get("LT_KEEP"):
            print("kept", self.top)
        else:
            shutil.rmtree(self.top, ignore_errors=True)

    def feeder_bars(self):
        st = lt.status(self.ep["feeder-rep"]) or {}
        return st.get("bars_published", 0) // len(SYMS)

    def engines_live(self, rep):
        st = lt.status(rep)
        if st and st["symbols"] and all(s["live"] and s["first_live_t"] > 0
                                        for s in st["symbols"]):
            return st
        return None

    def kill_and_wait_restart(self, name):
        h = self.h
        pid = h.running(name)
        self.assertTrue(pid, name + " is running")
        os.kill(pid, signal.SIGKILL)
        new = lt.wait_until(lambda: h.running(name, other_than=pid), 30,
                            "supervisor to start %s again" % name)
        self.assertNotEqual(new, pid)
        lt.wait_until(lambda: not alive(pid), 10, "the killed " + name)
        return new

    def replay_all(self, rep):
        """Every signal of an engine's journal, through replay requests."""
        out, after = [], 0
        while True:
            r = lt.request(rep, {"ver": 1, "type": "replay", "after": after})
            self.assertEqual(r["type"], "replay", r)
            if not r["signals"]:
                return out
            out += r["signals"]
            after = r["signals"][-1]["seq"]

    def test_supervised_pipeline_restarts_and_loses_nothing(self):
        h = self.h
        h.start()
        lt.wait_until(lambda: all(h.running(n) for n in PROGRAMS), 30,
                      "every program RUNNING under supervisor")
        st0 = lt.wait_until(lambda: self.engines_live(self.ep["eng0-rep"]),
                            30, "engine-0 live")
        st1 = lt.wait_until(lambda: self.engines_live(self.ep["eng1-rep"]),
                            30, "engine-1 live")
        first_live = {s["sym"]: s["first_live_t"]
                      for s in st0["symbols"] + st1["symbols"]}
        self.assertEqual(sorted(first_live), sorted(SYMS))
        self.assertNotEqual(st0["id"], st1["id"])
        for st in (st0, st1):
            self.assertTrue(st["journal"].startswith(
                os.path.join(h.state, "livetrade", "journal") + "/"),
                st["journal"])
        lt.wait_until(lambda: lt.read_jsonl(h.signals), 30,
                      "a signal in the file sink's file")

        # An engine dies: supervisor starts it again, it catches up from
        # its journal and the sinks replay what they missed.
        lt.wait_until(lambda: self.feeder_bars() >= 300, 60, "300 live bars")
        self.kill_and_wait_restart("engine-0")
        lt.wait_until(lambda: lt.status(self.ep["eng0-rep"]), 30,
                      "the restarted engine-0 to answer")
        # The file sink dies: started again, it resumes from its state file.
        lt.wait_until(lambda: self.feeder_bars() >= 600, 60, "600 live bars")
        self.kill_and_wait_restart("sink-file")

        last_t = START + (HISTORY + COUNT - 1) * 60000
        ends = {}
        for name in ("eng0-rep", "eng1-rep"):
            ends[name] = lt.wait_until(lambda name=name: (lambda st: st if st
                and all(s["last_t"] == last_t for s in st["symbols"])
                else None)(lt.status(self.ep[name])), 90,
                name + " to take every bar")
        total = ends["eng0-rep"]["signals"] + ends["eng1-rep"]["signals"]
        lt.wait_until(lambda: len(lt.read_jsonl(h.signals)) >= total, 30,
                      "the file sink to hold all %d signals" % total)
        got = lt.read_jsonl(h.signals)
        self.assertEqual(len(got), total)
        self.assertEqual(len({x["id"] for x in got}), total)
        self.assertGreater(total, 20)

        # Each engine's signals once, in order, as its journal holds them.
        for name in ("eng0-rep", "eng1-rep"):
            st = ends[name]
            mine = [x for x in got if x["engine"] == st["id"]]
            self.assertEqual([x["seq"] for x in mine],
                             list(range(1, st["signals"] + 1)), name)
            journal = self.replay_all(self.ep[name])
            self.assertEqual([(s["seq"], s["id"]) for s in journal],
                             [(x["seq"], x["id"]) for x in mine], name)

        # And they are the SMA crossovers of the feeder's bars.
        for sym in SYMS:
            bars = lt.history(self.ep["feeder-rep"], sym, 100000)["bars"]
            expected = {t: a for t, a in lt.sma_cross_calls(bars).items()
                        if t >= first_live[sym]}
            actual = {x["bar_ts"]: x["action"] for x in got
                      if x["symbol"] == sym}
            self.assertEqual(actual, expected, sym)

        self.check_metrics(total, ends["eng1-rep"]["signals"])
        self.check_status(ends)
        self.check_health()

        # Logs in the log directory; the console sink's signals too.
        for name in ("feeder.log", "engine-0.log", "engine-1.log",
                     "sink-file.log", "sink-console.log", "signals.log",
                     "supervisord.log"):
            self.assertTrue(os.path.exists(os.path.join(h.logs, name)),
                            name)
        with open(os.path.join(h.logs, "signals.log")) as f:
            shown = [x for x in f.read().splitlines() if x.startswith("#")]
        self.assertEqual(len(shown), total, "the console sink's lines")
        with open(os.path.join(h.logs, "sink-file.log")) as f:
            self.assertIn("resuming after their last signals", f.read())
        with open(os.path.join(h.logs, "engine-0.log")) as f:
            self.assertIn("caught up from the journal's mark", f.read())

        # Shutdown: supervisord stops every program (SIGTERM) and exits.
        pids = {n: h.running(n) for n in PROGRAMS}
        self.assertTrue(all(pids.values()), pids)
        h.ctl("shutdown")
        self.assertEqual(h.sup.wait(60), 0)
        for name, pid in pids.items():
            lt.wait_until(lambda pid=pid: not alive(pid), 10,
                          name + " to be gone")
        with open(os.path.join(h.logs, "supervisord.log")) as f:
            log = f.read()
        for name in PROGRAMS:
            self.assertIn("stopped: %s (exit status 0)" % name, log)
        with open(os.path.join(h.logs, "engine-1.log")) as f:
            self.assertNotIn("ERROR", f.read())

    def check_metrics(self, total, eng1_signals):
        """Every program's --metrics page, on 127.0.0.1, counts what went
        through it."""
        page = {}
        for name, port in self.h.metrics.items():
            code, _, text = tm.scrape(port)
            self.assertEqual(code, 200, name)
            page[name] = tm.parse(text)
        feeder = lt.status(self.ep["feeder-rep"])
        self.assertEqual(tm.value(page["feeder"],
                                  "livetrade_feeder_bars_published_total"),
                         feeder["bars_published"])
        self.assertEqual(feeder["bars_published"], COUNT * len(SYMS))
        # engine-1 ran throughout; engine-0 counts since its restart.
        self.assertEqual(tm.value(page["engine-1"],
                                  "livetrade_engine_signals_total"),
                         eng1_signals)
        self.assertGreater(tm.value(page["engine-0"],
                                    "livetrade_engine_bars_total"), 0)
        # The console sink ran throughout; the file sink since its restart.
        self.assertEqual(tm.value(page["sink-console"],
                                  "livetrade_sink_signals_written_total"),
                         total)
        self.assertGreater(tm.value(page["sink-file"],
                                    "livetrade_sink_signals_written_total"),
                           0)
        self.assertEqual(tm.value(page["sink-file"], "livetrade_sink_info",
                                  output="file"), 1)

    def check_status(self, ends):
        """`livetrade status` with the deployment's settings (no flags):
        both engines, the feeder and both sinks, up."""
        rc, out, err = self.h.status()
        self.assertEqual(rc, 0, out + err)
        self.assertIn("5 of 5 component(s) up", out)
        for name in REQUEST_EPS:
            self.assertRegex(out, re.escape(self.ep[name]) +
                             r" +up +livetrade-(feeder|engine) ")
        for name in ("eng0-rep", "eng1-rep"):
            self.assertIn(ends[name]["id"], out)
        for name, output in (("sink-console", "console"),
                             ("sink-file", "file")):
            self.assertRegex(out, r"http://127\.0\.0\.1:%d +up +"
                             r"livetrade-sink %s \(metrics\)\n +signals \d+"
                             % (self.h.metrics[name], output))
        rc, out, err = self.h.status("--json")
        doc = json.loads(out)
        self.assertTrue(doc["ok"], doc)
        self.assertEqual([c["up"] for c in doc["components"]], [True] * 5)
        self.assertEqual(doc["components"][4]["output"], "file")
        self.assertGreater(doc["components"][4]["metrics"]
                           ["livetrade_sink_signals_written_total"], 0)

    def check_health(self):
        """The container health check answers for each program, says
        nothing then, and fails for a port nobody listens on."""
        eps = [self.ep[n] for n in REQUEST_EPS] + [
            "http://127.0.0.1:%d" % self.h.metrics[n] for n in SINKS]
        for ep in eps:
            self.assertEqual(health(ep), (0, ""), ep)
        dead = lt.free_ports(2)
        rc, out = health("tcp://127.0.0.1:%d,http://127.0.0.1:%d" % (
            dead[0], dead[1]), "--timeout", "300")
        self.assertEqual(rc, 1)
        self.assertEqual(out.count(" DOWN "), 2, out)
        self.assertIn("no reply within 300 ms", out)
        self.assertNotIn("component(s) up", out)


@unittest.skipUnless(shutil.which("supervisord") and
                     shutil.which("supervisorctl"),
                     "supervisord not installed (make deps installs it)")
class TwoHosts(unittest.TestCase):
    """README.md's two-host example on one machine: "host A" runs the
    feeder and both engines, "host B" the sinks, each a supervisord of its
    own with the shipped files, CURVE on, host B with its own client
    key."""

    def setUp(self):
        self.top = tempfile.mkdtemp(prefix="lt-2hosts-")
        self.hosts = []

    def tearDown(self):
        for h in self.hosts:
            h.close()
        if os.environ.get("LT_KEEP"):
            print("kept", self.top)
        else:
            shutil.rmtree(self.top, ignore_errors=True)

    def test_sinks_on_another_host_with_curve(self):
        keys_a = os.path.join(self.top, "a-keys")
        keys_b = os.path.join(self.top, "b-keys")
        keygen(keys_a)
        # B connects only: its key may read signals, replay and status,
        # and B holds the public keys only, no feeder.key or engine.key
        # (it cannot stand in for A).
        keygen(keys_a, "--name", "hostb", "--allow",
               "feeder-rep,engine-pub,engine-rep")
        os.mkdir(keys_b, 0o700)
        for name in ("feeder.pub", "engine.pub"):
            shutil.copy(os.path.join(keys_a, name), keys_b)
        os.replace(os.path.join(keys_a, "hostb.key"),
                   os.path.join(keys_b, "client.key"))
        ports, metrics = deployment_ports()
        common = {
            "LIVETRADE_FEEDER_ARGS": "--seed 3 --start %d --history 100 "
                                     "--count 300 --interval 0.01" % START,
            "LIVETRADE_ENGINE_ARGS": "--wait-subscribers 2"}
        a = Host(self.top, "a", ports, metrics, LIVETRADE_CURVE=keys_a,
                 LIVETRADE_AUTOSTART_SINKS="false", **common)
        b = Host(self.top, "b", ports, metrics, LIVETRADE_CURVE=keys_b,
                 LIVETRADE_AUTOSTART_PIPELINE="false", **common)
        self.hosts = [a, b]
        a.start()
        b.start()
        lt.wait_until(lambda: all(a.running(n) for n in PIPELINE) and
                      all(b.running(n) for n in SINKS), 30,
                      "the feeder and engines on A, the sinks on B")

        last_t = START + (100 + 300 - 1) * 60000

        def done():
            rc, out, _ = b.status("--json")
            comps = json.loads(out)["components"] if out else []
            engines = [c["status"] for c in comps if c.get("status", {})
                       .get("prog") == "livetrade-engine"]
            if rc != 0 or len(engines) != 2 or not all(
                    s["last_t"] == last_t for e in engines
                    for s in e["symbols"]):
                return None
            total = sum(e["signals"] for e in engines)
            return total if len(lt.read_jsonl(b.signals)) == total else None
        total = lt.wait_until(done, 60, "every signal in B's file sink")
        self.assertGreater(total, 5)
        got = lt.read_jsonl(b.signals)
        self.assertEqual(len({x["id"] for x in got}), total)
        # Each host started only its own programs.
        self.assertEqual({n: s[0] for n, s in a.states().items()
                          if n in SINKS}, dict.fromkeys(SINKS, "STOPPED"))
        self.assertEqual({n: s[0] for n, s in b.states().items()
                          if n in PIPELINE},
                         dict.fromkeys(PIPELINE, "STOPPED"))
        # B's status (with B's key) sees all five; without CURVE, nothing
        # on the bus answers.
        rc, out, err = b.status()
        self.assertEqual(rc, 0, out + err)
        self.assertIn("5 of 5 component(s) up", out)
        self.assertIsNone(lt.request(a.ep["feeder-rep"],
                                     {"ver": 1, "type": "status"}, 300))
        # B's key directory cannot bind a feeder, nor an engine.
        rc, _, err = lt.run("livetrade-feeder", "--source", "demo",
                            "--pub", "tcp://127.0.0.1:%d" % lt.free_port(),
                            "--curve", keys_b)
        self.assertEqual(rc, 2, err)
        self.assertIn("has no feeder.key", err)
        rc, _, err = lt.run("livetrade-engine", "--strategy",
                            "strategies/sma_cross.lua", "--pub",
                            "tcp://127.0.0.1:%d" % lt.free_port(),
                            "--curve", keys_b)
        self.assertEqual(rc, 2, err)
        self.assertIn("has no engine.key", err)
        for h in self.hosts:
            with open(os.path.join(h.logs, "supervisord.log")) as f:
                self.assertNotIn("FATAL", f.read())


class HealthCheck(lt.WorkspaceTest):
    """The containers' health check (livetrade status --quiet) with CURVE:
    the key directory from LIVETRADE_CURVE (as docker-compose passes it)
    or --curve, against a feeder, an engine and a sink run as processes."""

    def test_curve(self):
        ws = self.ws
        keys, other = ws.path("keys"), ws.path("other")
        keygen(keys)
        keygen(other)
        p = lt.free_ports(5)
        tcp = ["tcp://127.0.0.1:%d" % port for port in p[:4]]
        procs = [
            ws.start("feeder", "livetrade-feeder", "--source", "demo",
                     "--symbols", "AAPL", "--pub", tcp[0], "--rep", tcp[1],
                     "--curve", keys),
            ws.start("engine", "livetrade-engine", "--strategy",
                     "strategies/sma_cross.lua", "--symbols", "AAPL",
                     "--sub", tcp[0], "--history", tcp[1], "--pub", tcp[2],
                     "--rep", tcp[3], "--curve", keys),
            ws.start("sink", "livetrade-sink", "file", "--path",
                     ws.path("out.jsonl"), "--sub", tcp[2], "--replay",
                     tcp[3], "--metrics", "127.0.0.1:%d" % p[4],
                     "--curve", keys)]
        env = dict(os.environ, LIVETRADE_CURVE=keys)
        for ep in (tcp[1], tcp[3], "http://127.0.0.1:%d" % p[4]):
            lt.wait_until(lambda ep=ep: health(ep, env=env) == (0, ""), 30,
                          "the health check of " + ep)
        self.assertEqual(health(tcp[3], "--curve", keys), (0, ""))
        # As docker-compose.yml asks: each role's key only.
        self.assertEqual(health(tcp[1], "--role", "feeder", "--curve",
                                keys), (0, ""))
        self.assertEqual(health(tcp[3], "--role", "engine", "--curve",
                                keys), (0, ""))
        # Without CURVE, or with keys the bus does not know: unhealthy.
        for flags in ((), ("--curve", other)):
            rc, out = health(tcp[1], "--timeout", "500", *flags)
            self.assertEqual(rc, 1, flags)
            self.assertRegex(out, re.escape(tcp[1]) + " +DOWN", flags)
        for proc in procs:
            self.assertEqual(proc.stop(), 0, proc.stderr()[-2000:])


def settings_used():
    """Every setting that deploy/ reads: %(ENV_X)s in supervisord.conf,
    ${X} in docker-compose.yml, the defaults in run-with-env."""
    names = set()
    with open(CONF) as f:
        names |= set(re.findall(r"%\(ENV_(\w+)\)s", f.read()))
    with open(os.path.join(DEPLOY, "docker-compose.yml")) as f:
        names |= set(re.findall(r"\$\{(\w+)", f.read()))
    with open(WRAP) as f:
        names |= set(re.findall(r'^: "\$\{(\w+):?=', f.read(), re.M))
    return names


def settings_read_by_programs():
    """Every setting the programs read from the environment (or .env):
    getenv(), config_env() and its wrappers, the env column of the flag
    tables (struct opt) and the flags skeleton's env fields
    (.symbols_env = "...")."""
    names = set()
    for path in glob.glob(os.path.join(lt.ROOT, "*", "*.c")):
        with open(path) as f:
            text = f.read()
        for args in re.findall(r'\b(?:getenv|config_env|s_env_\w+)\('
                               r'([^;]*?)\)', text):
            names |= set(re.findall(r'"(\w+)"', args))
        names |= set(re.findall(r'OPT_\w+,\s*&[^,]+,\s*"(\w+)"', text))
        names |= set(re.findall(r'\.\w+_env\s*=\s*"(\w+)"', text))
    return names


# Read by a program, but nothing a deployment sets.
NOT_DEPLOYMENT_SETTINGS = {
    "HOME", "PATH", "TMPDIR",       # the system's
    "LIVETRADE_BIN_DIR",            # `livetrade run` finds its programs
    "LIVETRADE_SHARD",              # the deploy files pass --shard
    "LIVETRADE_SETTINGS_CHECKED",   # `livetrade run` tells its programs
    "LIVETRADE_POLYGON_HOURS_AT_MS",  # the clock feed health goes by, for
                                      # tests of market hours
}


def mounts(service):
    """(source, target, read-only) of each volume of a resolved service,
    in either form docker-compose writes."""
    out = []
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            out.append((v.get("source"), v["target"],
                        bool(v.get("read_only"))))
        else:
            parts = v.split(":")
            out.append((parts[0], parts[1], len(parts) > 2 and
                        "ro" in parts[2].split(",")))
    return out


@unittest.skipUnless(shutil.which("docker-compose"),
                     "docker-compose not installed (make deps installs it)")
class Compose(unittest.TestCase):
    """docker-compose config resolves deploy/docker-compose.yml (linked
    into a private directory, beside a .env made from .env.example)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lt-compose-")
        os.mkdir(os.path.join(self.dir, "deploy"))
        for name in ("docker-compose.yml", "Dockerfile"):
            os.symlink(os.path.join(DEPLOY, name),
                       os.path.join(self.dir, "deploy", name))
        shutil.copy(os.path.join(DEPLOY, ".env.example"),
                    os.path.join(self.dir, "deploy", ".env"))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def config(self):
        import yaml
        env = {k: v for k, v in os.environ.items()
               if k not in settings_used() and k != "COMPOSE_FILE"}
        r = subprocess.run(["docker-compose", "-f",
                            "deploy/docker-compose.yml", "config"],
                           cwd=self.dir, env=env, capture_output=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        return yaml.safe_load(r.stdout)

    def append_env(self, text):
        with open(os.path.join(self.dir, "deploy", ".env"), "a") as f:
            f.write(text)

    def test_config_resolves(self):
        import yaml
        cfg = self.config()
        svc = cfg["services"]
        self.assertEqual(sorted(svc), sorted(PROGRAMS))
        request = {"feeder": "tcp://127.0.0.1:5556",
                   "engine-0": "tcp://127.0.0.1:5558",
                   "engine-1": "tcp://127.0.0.1:5560",
                   "sink-console": "http://127.0.0.1:9104",
                   "sink-file": "http://127.0.0.1:9105"}
        for (name, s), port in zip(sorted(svc.items(), key=lambda x:
                                          PROGRAMS.index(x[0])),
                                   range(9101, 9106)):
            self.assertEqual(s["image"], "livetrade:latest", name)
            self.assertIn(s["restart"], ("always", "unless-stopped"), name)
            # The health check: livetrade status on the program's request
            # endpoint, or (a sink) its metrics page.
            role = {"feeder": ["--role", "feeder"],
                    "engine-0": ["--role", "engine"],
                    "engine-1": ["--role", "engine"]}.get(name, [])
            self.assertEqual(s["healthcheck"]["test"][1:], [
                "livetrade", "status", "--quiet", "--timeout", "5000",
                "--endpoints", request[name]] + role, name)
            # env_file: .env is read: its settings reach the programs.
            self.assertEqual(s["environment"]["TRADING_SYMBOLS"],
                             "AAPL,MSFT,NVDA,META", name)
            self.assertEqual(s["environment"]["XDG_STATE_HOME"], "/var/lib")
            self.assertEqual(s["environment"]["LIVETRADE_STATUS"],
                             ",".join(request.values()))
            vols = mounts(s)
            self.assertIn("/var/lib/livetrade", [v[1] for v in vols], name)
            # No CURVE in .env: an empty volume where the keys would be.
            self.assertIn(("curve-off", "/etc/livetrade/curve", True), vols,
                          name)
            for p in s.get("ports", []):
                ip = p.get("host_ip") if isinstance(p, dict) else \
                    p.split(":")[0]
                self.assertEqual(ip, "127.0.0.1", (name, p))
            # Metrics: every interface of the container, published on the
            # host's loopback only.
            self.assertIn("--metrics 0.0.0.0:%d" % port, s["command"])
            self.assertIn("127.0.0.1:%d:%d" % (port, port),
                          [str(p).split("/")[0] for p in s["ports"]])
        self.assertEqual(
            sorted(str(p).split("/")[0] for s in svc.values()
                   for p in s["ports"]),
            ["127.0.0.1:%d:%d" % (p, p) for p in range(5555, 5561)] +
            ["127.0.0.1:%d:%d" % (p, p) for p in range(9101, 9106)])
        self.assertIn("--shard 0/2", svc["engine-0"]["command"])
        self.assertIn("--shard 1/2", svc["engine-1"]["command"])
        self.assertIn("--seed 42 --interval 1", svc["feeder"]["command"])
        for sink in SINKS:
            cmd = svc[sink]["command"]
            self.assertIn("--sub tcp://engine-0:5557,tcp://engine-1:5559",
                          cmd)
            self.assertIn("--replay tcp://engine-0:5558,tcp://engine-1:5560",
                          cmd)
        self.assertIn("signals", cfg["volumes"])
        self.assertEqual(mounts(svc["sink-file"])[0][0], "signals")
        self.assertEqual(svc["engine-0"]["depends_on"]["feeder"]
                         ["condition"], "service_healthy")
        self.assertEqual(os.path.basename(svc["feeder"]["build"]
                                          ["dockerfile"]), "Dockerfile")
        # The file as written: env_file .env on every service.
        with open(os.path.join(DEPLOY, "docker-compose.yml")) as f:
            raw = yaml.safe_load(f)
        for name, s in raw["services"].items():
            self.assertEqual(s["env_file"], ".env", name)

    def test_settings_from_env_file(self):
        self.append_env("LIVETRADE_ENGINE1_REP_PORT=16560\n"
                        'LIVETRADE_FEEDER_ARGS="--seed 7 --count 100"\n'
                        "LIVETRADE_ENGINE_ARGS=--param n1=5\n"
                        "LIVETRADE_FILE_METRICS_PORT=19105\n")
        svc = self.config()["services"]
        self.assertIn("127.0.0.1:16560:5560", " ".join(
            str(p) for p in svc["engine-1"]["ports"]))
        self.assertIn("127.0.0.1:19105:9105", " ".join(
            str(p) for p in svc["sink-file"]["ports"]))
        self.assertIn("--seed 7 --count 100", svc["feeder"]["command"])
        self.assertIn("--param n1=5", svc["engine-0"]["command"])
        self.assertEqual(svc["feeder"]["environment"]
                         ["LIVETRADE_FEEDER_ARGS"], "--seed 7 --count 100")

    def test_curve_keys_mounted(self):
        keys = os.path.join(self.dir, "curve")
        self.append_env("LIVETRADE_CURVE=%s\n" % keys)
        svc = self.config()["services"]
        for name, s in svc.items():
            # The host's key directory, read-only, at the same path: the
            # programs and the health check find it from LIVETRADE_CURVE.
            self.assertIn((keys, keys, True), mounts(s), name)
            self.assertNotIn("curve-off", [v[0] for v in mounts(s)], name)
            self.assertEqual(s["environment"]["LIVETRADE_CURVE"], keys)
            self.assertIn("livetrade", s["healthcheck"]["test"])

    def test_env_example_documents_every_setting(self):
        with open(os.path.join(DEPLOY, ".env.example")) as f:
            documented = set(re.findall(r"^#? ?(\w+)=", f.read(), re.M))
        programs = settings_read_by_programs()
        # The scan finds what it should (a changed idiom would empty it).
        self.assertLessEqual({"LIVETRADE_CURVE", "LIVETRADE_STOP_GRACE_S",
                              "LIVETRADE_ENV_FILE", "TRADING_SYMBOLS",
                              "POLYGON_API_KEY", "LIVETRADE_STATUS",
                              "LIVETRADE_POLYGON_READ_TIMEOUT_MS",
                              "XDG_CACHE_HOME"}, programs)
        missing = (settings_used() | programs) - NOT_DEPLOYMENT_SETTINGS - \
            documented
        self.assertEqual(missing, set())


class Dockerfile(unittest.TestCase):
    """The image builds with the steps a fresh machine and the tests use,
    and its runtime stage has the libraries the programs link."""

    def setUp(self):
        with open(os.path.join(DEPLOY, "Dockerfile")) as f:
            text = re.sub(r"\\\n", " ", f.read())
        self.stages = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            word, _, rest = line.partition(" ")
            if word.upper() == "FROM":
                self.stages.append([])
            self.stages[-1].append((word.upper(), " ".join(rest.split())))

    def lines(self, stage, word):
        return [rest for w, rest in self.stages[stage] if w == word]

    def test_build_stage_runs_the_make_steps(self):
        self.assertEqual(len(self.stages), 2)
        self.assertEqual(self.lines(0, "FROM"),
                         ["debian:bookworm-slim AS build"])
        runs = self.lines(0, "RUN")
        self.assertIn("make deps", runs)
        self.assertTrue(any(re.fullmatch(r'make( -j"?\$\(nproc\)"?)?', r)
                            for r in runs), runs)
        self.assertIn("make install PREFIX=/usr/local DESTDIR=/out", runs)
        self.assertLess(runs.index("make deps"),
                        runs.index("make install PREFIX=/usr/local "
                                   "DESTDIR=/out"))
        with open(os.path.join(lt.ROOT, "Makefile")) as f:
            mk = f.read()
        self.assertRegex(mk, r"(?m)^deps:\s*\n\s*@?sh tools/deps.sh")
        self.assertRegex(mk, r"(?m)^install:")

    def test_runtime_stage(self):
        self.assertEqual(self.lines(1, "FROM"), ["debian:bookworm-slim"])
        self.assertTrue(any(c.startswith("--from=build ")
                            for c in self.lines(1, "COPY")))
        users = self.lines(1, "USER")
        self.assertEqual(len(users), 1)
        self.assertNotIn(users[0], ("root", "0"))
        self.assertTrue(self.lines(1, "WORKDIR"))
        hc = self.lines(1, "HEALTHCHECK")
        self.assertEqual(len(hc), 1)
        self.assertIn("livetrade status --quiet", hc[0])
        install = " ".join(self.lines(1, "RUN"))
        self.assertNotRegex(install, r"-dev\b")
        pkgs = set(install.split())
        for p in ("libzmq5", "libmsgpackc2", "liblua5.4-0", "libjansson4",
                  "libcurl4", "libwebsockets17"):
            self.assertIn(p, pkgs)
        # The Debian packages of every library the built programs link
        # (the normal build, which make install installs) are installed,
        # or come with one that is.
        if not (shutil.which("readelf") and shutil.which("dpkg-query")):
            return
        allowed = set(pkgs)
        for p in pkgs:
            r = subprocess.run(["dpkg-query", "-W", "-f=${Depends}", p],
                               capture_output=True)
            allowed |= set(re.findall(r"(?:^|, |\| )([\w.+-]+)",
                                      r.stdout.decode()))
        bindir = os.path.join(lt.ROOT, "bin")
        progs = [os.path.join(bindir, p) for p in ("livetrade",
                 "livetrade-feeder", "livetrade-engine", "livetrade-sink")]
        progs = [p for p in progs if os.access(p, os.X_OK)]
        for prog in progs:
            out = subprocess.run(["readelf", "-d", prog], capture_output=True,
                                 check=True).stdout.decode()
            ldd = subprocess.run(["ldd", prog], capture_output=True,
                                 check=True).stdout.decode()
            for so in re.findall(r"\(NEEDED\).*\[(.+)\]", out):
                if so.startswith(("libc.so", "libm.so")):
                    continue
                path = re.search(re.escape(so) + r" => (\S+)", ldd).group(1)
                r = subprocess.run(["dpkg", "-S", os.path.realpath(path)],
                                   capture_output=True)
                pkg = r.stdout.decode().split(":")[0]
                self.assertIn(pkg, allowed, "%s needs %s" % (prog, so))


if __name__ == "__main__":
    unittest.main()
