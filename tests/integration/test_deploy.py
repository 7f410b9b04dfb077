"""Deployment files in deploy/.

- deploy/supervisord.conf, as shipped, under Debian's supervisord (started
  through deploy/run-with-env with a .env file that moves ports, binaries,
  logs, state and supervisor's socket into a private directory): the five
  programs run; an engine and then the file sink are killed with SIGKILL
  and supervisor starts them again; the file sink ends up with every
  signal of both engines once, in order per engine, equal to the SMA
  crossovers re-derived from the feeder's bars and to the engines'
  journals; deploy/healthcheck.c answers for the feeder and the engines;
  nothing is left running after supervisorctl shutdown.
- deploy/docker-compose.yml, resolved by docker-compose config with a .env
  made from deploy/.env.example: the services, ports on 127.0.0.1 only,
  health checks, env_file, restart policies and volumes.
- deploy/Dockerfile builds with the same make steps as the tests."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import lt

DEPLOY = os.path.join(lt.ROOT, "deploy")
CONF = os.path.join(DEPLOY, "supervisord.conf")
WRAP = os.path.join(DEPLOY, "run-with-env")
SYMS = ["AAPL", "MSFT", "GOOG", "NVDA", "META", "QQQ"]
START = 1767225600000
HISTORY = 300
COUNT = 1200
PROGRAMS = ["feeder", "engine-0", "engine-1", "sink-console", "sink-file"]


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


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


@unittest.skipUnless(shutil.which("supervisord") and
                     shutil.which("supervisorctl"),
                     "supervisord not installed (make deps installs it)")
class Supervisor(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lt-deploy-")
        self.pids = set()
        self.sup = None
        ports = free_ports(6)
        self.ep = {
            name: "tcp://127.0.0.1:%d" % port for name, port in
            zip(("feeder-pub", "feeder-rep", "eng0-pub", "eng0-rep",
                 "eng1-pub", "eng1-rep"), ports)}
        self.state = os.path.join(self.dir, "state")
        self.logs = os.path.join(self.dir, "log")
        self.signals = os.path.join(self.dir, "out", "signals.jsonl")
        env_file = os.path.join(self.dir, "livetrade.env")
        with open(env_file, "w") as f:
            f.write("# made by test_deploy.py\n"
                    "LIVETRADE_BIN=%s\n" % os.path.abspath(lt.BIN) +
                    "LIVETRADE_STRATEGY=%s\n"
                    % os.path.join(lt.STRATEGIES, "sma_cross.lua") +
                    "TRADING_SYMBOLS=%s\n" % ",".join(SYMS) +
                    "LIVETRADE_SOURCE=demo\n"
                    'LIVETRADE_FEEDER_ARGS="--seed 5 --start %d --history %d '
                    '--count %d --interval 0.02"\n' % (START, HISTORY, COUNT) +
                    # A sink without state starts from the first signal it
                    # sees: the engines wait for both sinks, so that even
                    # the first signals reach them (.env.example).
                    'LIVETRADE_ENGINE_ARGS="--wait-subscribers 2"\n' +
                    "LIVETRADE_HOST=127.0.0.1\n"
                    "LIVETRADE_FEEDER_PUB_PORT=%d\n"
                    "LIVETRADE_FEEDER_REP_PORT=%d\n"
                    "LIVETRADE_ENGINE0_PUB_PORT=%d\n"
                    "LIVETRADE_ENGINE0_REP_PORT=%d\n"
                    "LIVETRADE_ENGINE1_PUB_PORT=%d\n"
                    "LIVETRADE_ENGINE1_REP_PORT=%d\n" % tuple(ports) +
                    "XDG_STATE_HOME=%s\n" % self.state +
                    "LIVETRADE_SIGNALS_FILE=%s\n" % self.signals +
                    "LIVETRADE_LOG_DIR=%s\n" % self.logs +
                    "LIVETRADE_RUN_DIR=%s\n" % os.path.join(self.dir, "run") +
                    "LIVETRADE_STARTRETRIES=5\n"
                    "LIVETRADE_STOPWAITSECS=20\n")
        # Everything comes from the file: drop what the test runner or lt
        # set in this process's environment (the environment would win).
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("LIVETRADE_") and
                    k not in ("XDG_STATE_HOME", "TRADING_SYMBOLS")}
        self.env["LIVETRADE_ENV_FILE"] = env_file

    def tearDown(self):
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
        if os.environ.get("LT_KEEP"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def ctl(self, *args):
        r = subprocess.run([WRAP, "supervisorctl", "-c", CONF] + list(args),
                           env=self.env, capture_output=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        return r.stdout.decode()

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
        pid = self.running(name)
        self.assertTrue(pid, name + " is running")
        os.kill(pid, signal.SIGKILL)
        new = lt.wait_until(lambda: self.running(name, other_than=pid), 30,
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
        log = open(os.path.join(self.dir, "supervisord.out"), "wb")
        self.sup = subprocess.Popen(
            [WRAP, "supervisord", "-n", "-c", CONF], env=self.env,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=self.dir)
        log.close()
        lt.wait_until(lambda: all(self.running(n) for n in PROGRAMS), 30,
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
                os.path.join(self.state, "livetrade", "journal") + "/"),
                st["journal"])
        lt.wait_until(lambda: lt.read_jsonl(self.signals), 30,
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
        lt.wait_until(lambda: len(lt.read_jsonl(self.signals)) >= total, 30,
                      "the file sink to hold all %d signals" % total)
        got = lt.read_jsonl(self.signals)
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

        # The container health check, against the live endpoints.
        self.check_healthcheck()

        # Logs in the log directory; the console sink's signals too.
        for name in ("feeder.log", "engine-0.log", "engine-1.log",
                     "sink-file.log", "sink-console.log", "signals.log",
                     "supervisord.log"):
            self.assertTrue(os.path.exists(os.path.join(self.logs, name)),
                            name)
        with open(os.path.join(self.logs, "signals.log")) as f:
            shown = [x for x in f.read().splitlines() if x.startswith("#")]
        self.assertEqual(len(shown), total, "the console sink's lines")
        with open(os.path.join(self.logs, "sink-file.log")) as f:
            self.assertIn("resuming after their last signals", f.read())
        with open(os.path.join(self.logs, "engine-0.log")) as f:
            self.assertIn("caught up from the journal's mark", f.read())

        # Shutdown: supervisord stops every program (SIGTERM) and exits.
        pids = {n: self.running(n) for n in PROGRAMS}
        self.assertTrue(all(pids.values()), pids)
        self.ctl("shutdown")
        self.assertEqual(self.sup.wait(60), 0)
        for name, pid in pids.items():
            lt.wait_until(lambda pid=pid: not alive(pid), 10,
                          name + " to be gone")
        with open(os.path.join(self.logs, "supervisord.log")) as f:
            log = f.read()
        for name in PROGRAMS:
            self.assertIn("stopped: %s (exit status 0)" % name, log)
        with open(os.path.join(self.logs, "engine-1.log")) as f:
            self.assertNotIn("ERROR", f.read())

    def check_healthcheck(self):
        cc = shutil.which("cc")
        if not cc:
            return
        exe = os.path.join(self.dir, "livetrade-healthcheck")
        flags = subprocess.run(
            ["pkg-config", "--cflags", "--libs", "libzmq", "msgpack"],
            capture_output=True, check=True).stdout.decode().split()
        subprocess.run([cc, "-std=c11", "-D_POSIX_C_SOURCE=200809L",
                        "-Wall", "-Wextra", "-Werror", "-O2", "-o", exe,
                        os.path.join(DEPLOY, "healthcheck.c")] + flags,
                       check=True, timeout=120)
        for name in ("feeder-rep", "eng0-rep", "eng1-rep"):
            r = subprocess.run([exe, self.ep[name], "3000"],
                               capture_output=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
        dead = "tcp://127.0.0.1:%d" % free_ports(1)[0]
        r = subprocess.run([exe, dead, "300"], capture_output=True,
                           timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"no reply", r.stderr)
        r = subprocess.run([exe], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 2)


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

    def test_config_resolves(self):
        import yaml
        cfg = self.config()
        svc = cfg["services"]
        self.assertEqual(sorted(svc), sorted(PROGRAMS))
        for name, s in svc.items():
            self.assertEqual(s["image"], "livetrade:latest", name)
            self.assertIn(s["restart"], ("always", "unless-stopped"), name)
            test = s["healthcheck"]["test"]
            self.assertIn("livetrade-healthcheck", " ".join(test), name)
            # env_file: .env is read: its settings reach the programs.
            self.assertEqual(s["environment"]["TRADING_SYMBOLS"],
                             "AAPL,MSFT,NVDA,META", name)
            self.assertEqual(s["environment"]["XDG_STATE_HOME"], "/var/lib")
            vols = [v["target"] if isinstance(v, dict) else
                    v.split(":")[1] for v in s["volumes"]]
            self.assertIn("/var/lib/livetrade", vols, name)
            for p in s.get("ports", []):
                ip = p.get("host_ip") if isinstance(p, dict) else \
                    p.split(":")[0]
                self.assertEqual(ip, "127.0.0.1", (name, p))
        self.assertEqual(
            sorted(str(p).split("/")[0] for n in ("feeder", "engine-0",
                                                  "engine-1")
                   for p in svc[n]["ports"]),
            ["127.0.0.1:%d:%d" % (p, p) for p in range(5555, 5561)])
        self.assertNotIn("ports", svc["sink-file"])
        self.assertIn("--shard 0/2", svc["engine-0"]["command"])
        self.assertIn("--shard 1/2", svc["engine-1"]["command"])
        self.assertIn("--seed 42 --interval 1", svc["feeder"]["command"])
        for sink in ("sink-console", "sink-file"):
            cmd = svc[sink]["command"]
            self.assertIn("--sub tcp://engine-0:5557,tcp://engine-1:5559",
                          cmd)
            self.assertIn("--replay tcp://engine-0:5558,tcp://engine-1:5560",
                          cmd)
        self.assertIn("signals", cfg["volumes"])
        self.assertEqual(svc["sink-file"]["volumes"][0]["source"]
                         if isinstance(svc["sink-file"]["volumes"][0], dict)
                         else svc["sink-file"]["volumes"][0].split(":")[0],
                         "signals")
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
        path = os.path.join(self.dir, "deploy", ".env")
        with open(path, "a") as f:
            f.write("LIVETRADE_ENGINE1_REP_PORT=16560\n"
                    'LIVETRADE_FEEDER_ARGS="--seed 7 --count 100"\n'
                    "LIVETRADE_ENGINE_ARGS=--param n1=5\n")
        svc = self.config()["services"]
        self.assertIn("127.0.0.1:16560:5560", " ".join(
            str(p) for p in svc["engine-1"]["ports"]))
        self.assertIn("--seed 7 --count 100", svc["feeder"]["command"])
        self.assertIn("--param n1=5", svc["engine-0"]["command"])
        self.assertEqual(svc["feeder"]["environment"]
                         ["LIVETRADE_FEEDER_ARGS"], "--seed 7 --count 100")

    def test_env_example_documents_every_setting(self):
        with open(os.path.join(DEPLOY, ".env.example")) as f:
            documented = set(re.findall(r"^#? ?(\w+)=", f.read(), re.M))
        missing = settings_used() - documented
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
        self.assertIn("livetrade-healthcheck", hc[0])
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
