"""An encrypted, authenticated bus: feeder, engine and file sink on TCP
with --curve and keys from `livetrade keygen`. Signals flow; a subscriber
whose key is not authorised (or that speaks no CURVE) gets nothing; a
publisher without the feeders' server key cannot inject a bar into the
engine; each role binds with its own server key, so a host holding one
role's secret cannot pass for the other; an older single server.key
still serves every role; a bad key directory is refused; binding beyond
loopback without --curve warns."""
import json
import os
import re
import shutil
import time
import unittest

import msgpack
import zmq

import lt

START = 1767225600000


def key(path, which):
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith(which + " = "):
                return line.split('"')[1].encode()
    raise AssertionError("no %s in %s" % (which, path))


class Curve(lt.WorkspaceTest):
    def sub(self, endpoint, client=None, server_pub=None):
        s = lt.CTX.socket(zmq.SUB)
        s.setsockopt(zmq.LINGER, 0)
        if client:
            s.curve_publickey = key(client, "public-key")
            s.curve_secretkey = key(client, "secret-key")
            s.curve_serverkey = server_pub
        s.setsockopt(zmq.SUBSCRIBE, b"sig|")
        s.connect(endpoint)
        return s

    def test_only_authorised_keys(self):
        ws = self.ws
        keys, other = ws.path("keys"), ws.path("other")
        for d in (keys, other):
            code, out, err = lt.run("livetrade", "keygen", d)
            self.assertEqual(code, 0, err)
        code, out, err = lt.run("livetrade", "keygen", keys, "--name",
                                "reader")
        self.assertEqual(code, 0, err)
        for role in ("feeder", "engine"):
            self.assertEqual(os.stat(os.path.join(keys, role + ".key"))
                             .st_mode & 0o777, 0o600)
        # Signals come from the engine: its server key.
        server_pub = key(os.path.join(keys, "engine.pub"), "public-key")

        p_bars, p_hist, p_sig, p_rep, p_evil = lt.free_ports(5)
        tcp = "tcp://127.0.0.1:%d"
        # Someone else's publisher, on an endpoint the engine also reads:
        # CURVE with another server key.
        evil = lt.CTX.socket(zmq.XPUB)
        evil.setsockopt(zmq.LINGER, 0)
        evil.curve_server = True
        evil.curve_secretkey = key(os.path.join(other, "feeder.key"),
                                   "secret-key")
        evil.bind(tcp % p_evil)

        sink = ws.start("sink", "livetrade-sink", "file", "--path",
                        ws.path("out.jsonl"), "--sub", tcp % p_sig,
                        "--replay", tcp % p_rep, "--curve", keys)
        eng = ws.start("engine", "livetrade-engine", "--strategy",
                       "strategies/sma_cross.lua", "--symbols", "AAPL,EVIL",
                       "--sub", "%s,%s" % (tcp % p_bars, tcp % p_evil),
                       "--history", tcp % p_hist, "--pub", tcp % p_sig,
                       "--rep", tcp % p_rep, "--wait-subscribers", "1",
                       "--curve", keys)
        feeder = ws.start("feeder", "livetrade-feeder", "--source", "demo",
                          "--symbols", "AAPL", "--seed", "9", "--start",
                          str(START), "--history", "300", "--count", "400",
                          "--interval", "0.01", "--pub", tcp % p_bars,
                          "--rep", tcp % p_hist, "--curve", keys)
        intruder = self.sub(tcp % p_sig, os.path.join(other, "client.key"),
                            server_pub)
        plain = self.sub(tcp % p_sig)
        reader = self.sub(tcp % p_sig, os.path.join(keys, "reader.key"),
                          server_pub)

        def engine_status():
            r = lt.CTX.socket(zmq.REQ)
            r.setsockopt(zmq.LINGER, 0)
            r.curve_publickey = key(os.path.join(keys, "client.key"),
                                    "public-key")
            r.curve_secretkey = key(os.path.join(keys, "client.key"),
                                    "secret-key")
            r.curve_serverkey = server_pub
            r.connect(tcp % p_rep)
            try:
                r.send(msgpack.packb({"ver": 1, "type": "status"}))
                if not r.poll(2000):
                    return None
                return msgpack.unpackb(r.recv(), raw=False)
            finally:
                r.close()

        lt.wait_until(lambda: len(lt.read_jsonl(ws.path("out.jsonl"))) >= 5,
                      60, "signals through the encrypted bus")
        # The intruder's publisher keeps sending EVIL bars meanwhile.
        for k in range(50):
            evil.send_multipart([b"bar|EVIL|", msgpack.packb({
                "ver": 1, "src": "evil", "sym": "EVIL",
                "t": START + k * 60000, "tf": 60, "o": 1.0, "h": 1.0,
                "l": 1.0, "c": 1.0, "vol": 1.0, "seq": k + 1, "pub": 7})])
        # While the authorised reader gets signals, the others get none.
        got = {reader: 0, intruder: 0, plain: 0}
        poller = zmq.Poller()
        for sock in got:
            poller.register(sock, zmq.POLLIN)
        deadline = time.monotonic() + 10
        while got[reader] < 3 and time.monotonic() < deadline:
            for sock, _ in poller.poll(200):
                sock.recv_multipart()
                got[sock] += 1
        self.assertGreaterEqual(got[reader], 3, "an authorised reader")
        self.assertEqual(got[intruder], 0, "unauthorised key")
        self.assertEqual(got[plain], 0, "no CURVE at all")
        st = engine_status()
        self.assertIsNotNone(st)
        evil_sym = [s for s in st["symbols"] if s["sym"] == "EVIL"][0]
        self.assertEqual(evil_sym["bars"], 0, "no bar injected")
        self.assertEqual(st["bad"], 0)
        aapl = [s for s in st["symbols"] if s["sym"] == "AAPL"][0]
        self.assertGreater(aapl["bars"], 0)
        # The plain status request helper speaks no CURVE: no answer.
        self.assertIsNone(lt.request(tcp % p_rep, {"ver": 1,
                                                   "type": "status"}, 500))
        self.assertIn("refused a client", eng.stderr())
        # livetrade status with role keys: the feeder and the engine.
        code, out, err = lt.run("livetrade", "status", "--endpoints",
                                "%s,%s" % (tcp % p_hist, tcp % p_rep),
                                "--timeout", "5000", "--curve", keys)
        self.assertEqual(code, 0, out + err)
        self.assertIn("2 of 2 component(s) up", out)
        # Told the role, it tries that key only: right, then wrong.
        code, out, err = lt.run("livetrade", "status", "--endpoints",
                                tcp % p_rep, "--role", "engine",
                                "--timeout", "5000", "--curve", keys)
        self.assertEqual(code, 0, out + err)
        code, out, err = lt.run("livetrade", "status", "--endpoints",
                                tcp % p_rep, "--role", "feeder",
                                "--timeout", "3000", "--curve", keys)
        self.assertEqual(code, 1, out + err)
        self.assertIn("DOWN  CURVE mismatch likely on %s: the server "
                      "closed the connection" % (tcp % p_rep), out)
        for s in (intruder, plain, reader, evil):
            s.close()
        for p in (sink, eng, feeder):
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])

    def test_bad_key_dirs_and_public_binds(self):
        ws = self.ws
        code, _, err = lt.run("livetrade-engine", "--strategy",
                              "strategies/sma_cross.lua", "--curve",
                              ws.path("missing"))
        self.assertEqual(code, 2)
        self.assertIn("--curve: CURVE key", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        keys = ws.path("keys")
        self.assertEqual(lt.run("livetrade", "keygen", keys)[0], 0)
        with open(os.path.join(keys, "client.key"), "w") as f:
            f.write("curve\n    public-key = \"short\"\n")
        code, _, err = lt.run("livetrade-sink", "console", "--curve", keys)
        self.assertEqual(code, 2)
        self.assertIn("client.key: no public-key line", err)
        code, _, err = lt.run("livetrade", "keygen")
        self.assertEqual(code, 2)
        code, _, err = lt.run("livetrade", "keygen", keys, "--name",
                              "server")
        self.assertEqual(code, 2)

        port = lt.free_port()
        feeder = ws.start("feeder", "livetrade-feeder", "--source", "demo",
                          "--symbols", "AAPL", "--pub",
                          "tcp://0.0.0.0:%d" % port, "--rep",
                          ws.ep("rep"))
        lt.wait_until(lambda: lt.status(ws.ep("rep")), 10, "the feeder")
        self.assertIn("is reachable beyond this machine and --curve is off",
                      feeder.stderr())
        self.assertEqual(feeder.stop(), 0)


class KeysTest(lt.WorkspaceTest):
    """A workspace with a key directory from `livetrade keygen` in
    self.keys."""

    def setUp(self):
        super().setUp()
        self.keys = self.ws.path("keys")
        self.assertEqual(lt.run("livetrade", "keygen", self.keys)[0], 0)


class Mismatch(KeysTest):
    """A program that talks to a CURVE endpoint without keys (or the
    reverse, or with other keys) says that a CURVE mismatch is the likely
    cause, naming the endpoint, instead of only timing out."""

    def feeder(self, *curve):
        p_bars, p_hist = lt.free_ports(2)
        self.bars = "tcp://127.0.0.1:%d" % p_bars
        self.hist = "tcp://127.0.0.1:%d" % p_hist
        f = self.ws.start("feeder", "livetrade-feeder", "--source", "demo",
                          "--symbols", "AAPL", "--interval", "0.05",
                          "--pub", self.bars, "--rep", self.hist, *curve)
        lt.wait_until(lambda: "source demo" in f.stderr() or not f.alive(),
                      30, "the feeder to bind")
        self.assertTrue(f.alive(), f.stderr())
        return f

    def status(self, *args):
        return lt.run("livetrade", "status", "--endpoints", self.hist,
                      "--timeout", "3000", *args)

    def test_plain_program_against_curve(self):
        f = self.feeder("--curve", self.keys)
        code, out, err = self.status()
        self.assertEqual(code, 1, out + err)
        self.assertIn("DOWN  CURVE mismatch likely on %s: the other side "
                      "uses --curve, this one does not" % self.hist, out)
        # A subscriber and a history request of an engine without keys.
        eng = self.ws.start("engine", "livetrade-engine", "--strategy",
                            "strategies/sma_cross.lua", "--symbols", "AAPL",
                            "--sub", self.bars, "--history", self.hist,
                            "--pub", self.ws.ep("sig"), "--rep",
                            self.ws.ep("rep"))
        want_sub = ("CURVE mismatch likely: the subscription to %s failed "
                    "the handshake: the other side uses --curve, this one "
                    "does not" % self.bars)
        want_hist = ("CURVE mismatch likely on %s: the other side uses "
                     "--curve, this one does not" % self.hist)
        lt.wait_until(lambda: want_sub in eng.stderr() and
                      want_hist in eng.stderr(), 60,
                      "the engine to name the mismatch")
        # Once a minute, not at every retry.
        self.assertEqual(eng.stderr().count(want_sub), 1, eng.stderr())
        # The feeder, as the server, names it too.
        lt.wait_until(lambda: "CURVE mismatch likely: a client of %s "
                      "failed the handshake" % self.hist in f.stderr(), 30,
                      "the feeder to name the mismatch")
        self.assertEqual(eng.stop(), 0, eng.stderr())
        self.assertEqual(f.stop(), 0, f.stderr())

    def test_curve_program_against_plain(self):
        f = self.feeder()
        code, out, err = self.status("--curve", self.keys)
        self.assertEqual(code, 1, out + err)
        # The plain side may hang up first: then this side only sees its
        # connection break during the handshake.
        self.assertRegex(out, "DOWN  CURVE mismatch likely on %s: (this "
                         "side uses --curve, the other does not|the server "
                         "closed the connection during the CURVE handshake"
                         ".*or does not use --curve)" % re.escape(self.hist))
        self.assertEqual(f.stop(), 0, f.stderr())

    def test_other_keys(self):
        f = self.feeder("--curve", self.keys)
        other = self.ws.path("other")
        self.assertEqual(lt.run("livetrade", "keygen", other)[0], 0)
        # Another deployment's server key: the server drops the handshake.
        code, out, err = self.status("--curve", other)
        self.assertEqual(code, 1, out + err)
        self.assertIn("DOWN  CURVE mismatch likely on %s: the server closed "
                      "the connection during the CURVE handshake" %
                      self.hist, out)
        # The right server key, but a client key it does not authorise.
        for name in ("feeder.key", "feeder.pub", "engine.key",
                     "engine.pub"):
            with open(os.path.join(self.keys, name)) as src, \
                    open(os.path.join(other, name), "w") as dst:
                dst.write(src.read())
        code, out, err = self.status("--curve", other)
        self.assertEqual(code, 1, out + err)
        self.assertIn("DOWN  CURVE mismatch likely on %s: the server "
                      "refused this program's client key" % self.hist, out)
        # With the right keys, it is up.
        code, out, err = self.status("--curve", self.keys)
        self.assertEqual(code, 0, out + err)
        self.assertEqual(f.stop(), 0, f.stderr())


def sink_dir(keys, name, dest):
    """A key directory for a host that only connects: feeder.pub,
    engine.pub and NAME.key from `keys` as client.key; no secret server
    key, no authorized/."""
    os.mkdir(dest, 0o700)
    for src, dst in (("feeder.pub", "feeder.pub"),
                     ("engine.pub", "engine.pub"),
                     (name + ".key", "client.key")):
        with open(os.path.join(keys, src)) as f, \
                open(os.path.join(dest, dst), "w") as g:
            g.write(f.read())
    return dest


class Roles(KeysTest):
    """A host that only connects holds no secret server key, so nothing
    there can bind as a feeder or an engine; an authorised key with an allow
    line may use only the endpoints it names, and a refusal names the
    key, the endpoint and the reason on both sides."""

    def test_sink_only_dir_cannot_bind(self):
        ws = self.ws
        code, _, err = lt.run("livetrade", "keygen", self.keys, "--name",
                              "reader")
        self.assertEqual(code, 0, err)
        only = sink_dir(self.keys, "reader", ws.path("reader"))
        for prog, args in (
                ("livetrade-feeder", ["--source", "demo", "--symbols",
                                      "AAPL", "--pub", ws.ep("b"),
                                      "--rep", ws.ep("h")]),
                ("livetrade-engine", ["--strategy",
                                      "strategies/sma_cross.lua",
                                      "--symbols", "AAPL", "--pub",
                                      ws.ep("s"), "--rep", ws.ep("r")])):
            code, _, err = lt.run(prog, *args, "--curve", only, timeout=30)
            self.assertEqual(code, 2, (prog, err))
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            role = prog.split("-")[1]
            self.assertIn("has no %s.key (nor an older server.key): it "
                          "can only connect" % role, err)
        # No server key at all: one line saying what is missing.
        os.remove(os.path.join(only, "feeder.pub"))
        os.remove(os.path.join(only, "engine.pub"))
        code, _, err = lt.run("livetrade-sink", "console", "--curve", only)
        self.assertEqual(code, 2, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("has no server key: neither feeder.pub nor "
                      "engine.pub", err)
        # Bad allow lists: refused by keygen, and in a key file.
        code, _, err = lt.run("livetrade", "keygen", self.keys, "--name",
                              "x", "--allow", "engine-pub,bars")
        self.assertEqual(code, 2, err)
        self.assertIn("'bars' is not an endpoint name", err)
        self.assertFalse(os.path.exists(os.path.join(self.keys, "x.key")))
        with open(os.path.join(self.keys, "authorized", "reader.pub"),
                  "a") as f:
            f.write('    allow = "engine-sub"\n')
        code, _, err = lt.run("livetrade-engine", "--strategy",
                              "strategies/sma_cross.lua", "--curve",
                              self.keys)
        self.assertEqual(code, 2, err)
        self.assertIn("reader.pub: allow: 'engine-sub' is not an endpoint",
                      err)

    def test_allow_list(self):
        ws = self.ws
        code, _, err = lt.run("livetrade", "keygen", self.keys, "--name",
                              "reader", "--allow", "engine-pub")
        self.assertEqual(code, 0, err)
        reader = sink_dir(self.keys, "reader", ws.path("reader"))
        p_bars, p_hist, p_sig, p_rep = lt.free_ports(4)
        tcp = "tcp://127.0.0.1:%d"
        eng = ws.start("engine", "livetrade-engine", "--strategy",
                       "strategies/sma_cross.lua", "--symbols", "AAPL",
                       "--sub", tcp % p_bars, "--history", tcp % p_hist,
                       "--pub", tcp % p_sig, "--rep", tcp % p_rep,
                       "--wait-subscribers", "1", "--curve", self.keys)
        feeder = ws.start("feeder", "livetrade-feeder", "--source", "demo",
                          "--symbols", "AAPL", "--seed", "9", "--start",
                          str(START), "--history", "300", "--count", "400",
                          "--interval", "0.01", "--pub", tcp % p_bars,
                          "--rep", tcp % p_hist, "--curve", self.keys)
        # The sink host's key, allowed engine-pub: signals flow to it.
        sink = ws.start("sink", "livetrade-sink", "file", "--path",
                        ws.path("out.jsonl"), "--sub", tcp % p_sig,
                        "--replay", "", "--state", "", "--curve", reader)
        lt.wait_until(lambda: len(lt.read_jsonl(ws.path("out.jsonl"))) >= 3,
                      60, "signals to the reader's sink")
        # Its key on the engine's request endpoint: refused, named by the
        # client and by the engine.
        code, out, err = lt.run("livetrade", "status", "--endpoints",
                                tcp % p_rep, "--timeout", "3000",
                                "--curve", reader)
        self.assertEqual(code, 1, out + err)
        self.assertIn("DOWN  CURVE mismatch likely on %s: the server "
                      "refused this program's client key (ZAP status 400): "
                      "not in its authorized/, or its allow line leaves "
                      "out this endpoint" % (tcp % p_rep), out)
        lt.wait_until(lambda: "CURVE: refused a client (reader) from "
                      "127.0.0.1 on engine-rep: authorized/reader.pub "
                      "allows it only engine-pub" in eng.stderr(), 30,
                      "the engine to name the refusal")
        # And on the feeder's: its name there is feeder-pub.
        s = lt.CTX.socket(zmq.SUB)
        s.setsockopt(zmq.LINGER, 0)
        s.curve_publickey = key(os.path.join(reader, "client.key"),
                                "public-key")
        s.curve_secretkey = key(os.path.join(reader, "client.key"),
                                "secret-key")
        s.curve_serverkey = key(os.path.join(reader, "feeder.pub"),
                                "public-key")
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect(tcp % p_bars)
        lt.wait_until(lambda: "refused a client (reader) from 127.0.0.1 on "
                      "feeder-pub" in feeder.stderr(), 30,
                      "the feeder to name the refusal")
        self.assertFalse(s.poll(200), "no bar for a refused key")
        s.close()
        # The deployment's own client key may use every endpoint.
        code, out, err = lt.run("livetrade", "status", "--endpoints",
                                "%s,%s" % (tcp % p_rep, tcp % p_hist),
                                "--timeout", "3000", "--curve", self.keys)
        self.assertEqual(code, 0, out + err)
        for p in (sink, feeder, eng):
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])


class RoleKeys(KeysTest):
    """Each role binds with its own server key pair: a feeder with
    feeder.key, an engine with engine.key, and connecting sockets expect
    the key of the role they connect to. A host holds only the secret of
    what it binds; one that holds another role's secret as its own cannot
    pass for that role. A directory of the older layout (server.key, one
    pair for every role) still works."""

    def copy_dir(self, name, files):
        """A key directory with `files` of self.keys ({dest: source}) and
        its authorized/."""
        d = self.ws.path(name)
        shutil.copytree(os.path.join(self.keys, "authorized"),
                        os.path.join(d, "authorized"))
        os.chmod(d, 0o700)
        for dst, src in files.items():
            shutil.copy(os.path.join(self.keys, src), os.path.join(d, dst))
        return d

    def pipeline(self, feeder_keys, engine_keys, sink_keys):
        """A feeder, an engine and a file sink on TCP, each with its own
        key directory: (feeder, engine, sink, endpoints)."""
        ws = self.ws
        p = dict(zip(("bars", "hist", "sig", "rep"), lt.free_ports(4)))
        ep = {k: "tcp://127.0.0.1:%d" % v for k, v in p.items()}
        feeder = ws.start("feeder", "livetrade-feeder", "--source", "demo",
                          "--symbols", "AAPL", "--seed", "9", "--start",
                          str(START), "--history", "300", "--count", "400",
                          "--interval", "0.01", "--pub", ep["bars"],
                          "--rep", ep["hist"], "--curve", feeder_keys)
        eng = ws.start("engine", "livetrade-engine", "--strategy",
                       "strategies/sma_cross.lua", "--symbols", "AAPL",
                       "--sub", ep["bars"], "--history", ep["hist"],
                       "--pub", ep["sig"], "--rep", ep["rep"],
                       "--curve", engine_keys)
        sink = ws.start("sink", "livetrade-sink", "file", "--path",
                        ws.path("out.jsonl"), "--sub", ep["sig"],
                        "--replay", ep["rep"], "--state", "",
                        "--curve", sink_keys)
        return feeder, eng, sink, ep

    def wait_signals(self, what):
        lt.wait_until(lambda: len(lt.read_jsonl(self.ws.path("out.jsonl")))
                      >= 3, 60, what)

    def assert_up(self, ep, keys):
        """`livetrade status` with the key directory keys finds the
        feeder and the engine of ep up."""
        code, out, err = lt.run("livetrade", "status", "--endpoints",
                                "%s,%s" % (ep["hist"], ep["rep"]),
                                "--timeout", "5000", "--curve", keys)
        self.assertEqual(code, 0, out + err)

    def stop(self, *procs):
        for p in procs:
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])

    def test_each_host_binds_only_its_role(self):
        common = {"client.key": "client.key", "feeder.pub": "feeder.pub",
                  "engine.pub": "engine.pub"}
        f_dir = self.copy_dir("f", dict(common, **{"feeder.key":
                                                   "feeder.key"}))
        e_dir = self.copy_dir("e", dict(common, **{"engine.key":
                                                   "engine.key"}))
        s_dir = self.copy_dir("s", common)
        ws = self.ws
        for prog, d, role, args in (
                ("livetrade-feeder", e_dir, "feeder",
                 ["--source", "demo", "--symbols", "AAPL", "--pub",
                  ws.ep("b"), "--rep", ws.ep("h")]),
                ("livetrade-engine", f_dir, "engine",
                 ["--strategy", "strategies/sma_cross.lua", "--symbols",
                  "AAPL", "--pub", ws.ep("s"), "--rep", ws.ep("r")])):
            code, _, err = lt.run(prog, *args, "--curve", d, timeout=30)
            self.assertEqual(code, 2, (prog, err))
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn("%s: --curve: CURVE: %s has no %s.key (nor an "
                          "older server.key): it can only connect, not "
                          "bind a %s's endpoints; give the %s a key "
                          "directory with %s.key" % (prog, d, role, role,
                                                     role, role), err)
        # Split that way, the pipeline runs: each host its own secret.
        feeder, eng, sink, ep = self.pipeline(f_dir, e_dir, s_dir)
        self.wait_signals("signals with one key pair per role")
        self.assert_up(ep, s_dir)
        self.assertNotIn("older single server key", eng.stderr())
        self.stop(sink, eng, feeder)

    def test_rogue_engine_gets_no_handshake(self):
        ws = self.ws
        # An engine host that holds the feeders' secret (as its
        # engine.key) and nothing of the engines'.
        rogue = self.copy_dir("rogue", {
            "client.key": "client.key", "feeder.pub": "feeder.pub",
            "engine.key": "feeder.key", "engine.pub": "feeder.pub"})
        feeder, eng, sink, ep = self.pipeline(self.keys, rogue, self.keys)

        def published():
            code, out, _ = lt.run("livetrade", "status", "--endpoints",
                                  ep["rep"], "--json", "--timeout", "3000",
                                  "--curve", rogue)
            comps = json.loads(out)["components"] if out else []
            st = comps[0].get("status", {}) if comps else {}
            return st.get("signals", 0) > 0 and st
        lt.wait_until(published, 60, "the rogue engine's signals")
        want = ("CURVE mismatch likely: the subscription to %s failed the "
                "handshake" % ep["sig"])
        lt.wait_until(lambda: want in sink.stderr(), 30,
                      "the sink to name the mismatch")
        self.assertEqual(lt.read_jsonl(ws.path("out.jsonl")), [],
                         "no signal from a rogue engine")
        self.stop(sink, eng, feeder)

    def test_older_server_key_dir(self):
        ws = self.ws
        old = self.copy_dir("old", {
            "client.key": "client.key", "server.key": "feeder.key",
            "server.pub": "feeder.pub"})
        # keygen keeps that layout: new role pairs would lock out the
        # hosts that hold its server.pub.
        code, out, err = lt.run("livetrade", "keygen", old, "--name", "h")
        self.assertEqual(code, 0, err)
        self.assertIn("kept: the older layout", out)
        self.assertEqual(sorted(f for f in os.listdir(old)
                                if f.startswith(("feeder", "engine"))), [])
        feeder, eng, sink, ep = self.pipeline(old, old, old)
        self.wait_signals("signals with the older server.key")
        for p in (feeder, eng):
            self.assertIn("holds the older single server key pair "
                          "(server.key, server.pub): it stands for both",
                          p.stderr())
        self.assert_up(ep, old)
        self.stop(sink, eng, feeder)
        # Role files win over it: with an engine.key added there, the
        # engine binds with that one.
        shutil.copy(os.path.join(self.keys, "engine.key"), old)
        p_sig, p_rep = lt.free_ports(2)
        rep = "tcp://127.0.0.1:%d" % p_rep
        eng = ws.start("engine2", "livetrade-engine", "--strategy",
                       "strategies/sma_cross.lua", "--symbols", "AAPL",
                       "--pub", "tcp://127.0.0.1:%d" % p_sig, "--rep", rep,
                       "--curve", old)
        code, out, err = lt.run("livetrade", "status", "--endpoints", rep,
                                "--role", "engine", "--timeout", "5000",
                                "--curve", self.keys)
        self.assertEqual(code, 0, out + err + eng.stderr())
        self.assertEqual(eng.stop(), 0, eng.stderr()[-2000:])


if __name__ == "__main__":
    unittest.main()
