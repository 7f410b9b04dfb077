"""What livetrade refuses or keeps private: engine ids that could name a
path outside the journal directory, files written through symbolic links,
signal and state files readable by others, overlong .env lines, secrets
on command lines or in the environment of exec children, and alert text
that could ping everyone."""
import json
import os
import stat
import time
import unittest

import lt
from fake_engine import FakeEngine
import test_alert


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


class EngineIds(lt.WorkspaceTest):
    def engine(self, *args):
        ws = self.ws
        return lt.run("livetrade-engine", "--symbols", "AAPL", "--sub",
                      ws.ep("b"), "--history", ws.ep("h"), "--pub",
                      ws.ep("s"), "--rep", ws.ep("r"), *args)

    def one_line(self, err):
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, err)
        return lines[0]

    def test_bad_id_flag_is_refused(self):
        for bad in ("../x", "a/b", "..", "a b", "x" * 64):
            rc, _, err = self.engine("--strategy", "strategies/sma_cross.lua",
                                     "--id", bad)
            self.assertEqual(rc, 2, err)
            self.assertIn("--id", self.one_line(err))
        self.assertFalse(os.path.exists(self.ws.path("x")))

    def test_strategy_name_cannot_escape_the_journal_directory(self):
        strat = self.ws.path("evil.lua")
        with open(strat, "w") as f:
            f.write('local S = Strategy { }\nS.name = "../../x"\n'
                    'function S:next() end\nreturn S\n')
        rc, _, err = self.engine("--strategy", strat)
        self.assertEqual(rc, 2, err)
        line = self.one_line(err)
        self.assertIn("../../x", line)
        self.assertIn("--id", line)
        # XDG_STATE_HOME is DIR/state: the journal would be DIR/state/x-...
        self.assertEqual([n for n in os.listdir(self.ws.path("state"))
                          if n != "livetrade"]
                         if os.path.exists(self.ws.path("state")) else [],
                         [])

    def test_good_ids_still_run(self):
        ws = self.ws
        ws.start("engine", "livetrade-engine", "--symbols", "AAPL",
                 "--sub", ws.ep("b"), "--history", ws.ep("h"), "--pub",
                 ws.ep("s"), "--rep", ws.ep("r"), "--strategy",
                 "strategies/sma_cross.lua", "--id", "A-z_0.9")
        st = lt.wait_until(lambda: lt.status(ws.ep("r")), 30,
                           "the engine's status")
        self.assertEqual(st["id"], "A-z_0.9")


class PrivateFiles(lt.WorkspaceTest):
    def test_file_sink_refuses_a_symlink_and_leaves_its_target(self):
        ws = self.ws
        target = ws.path("precious.txt")
        with open(target, "w") as f:
            f.write("line one\nno newline at the end")
        os.symlink(target, ws.path("sig.jsonl"))
        sink = ws.start("sink", "livetrade-sink", "file", "--path",
                        ws.path("sig.jsonl"), "--sub", ws.ep("sig"))
        lt.wait_until(lambda: not sink.alive(), 20, "the sink to refuse")
        self.assertNotEqual(sink.p.returncode, 0)
        self.assertIn("symbolic link", sink.stderr())
        with open(target) as f:
            self.assertEqual(f.read(), "line one\nno newline at the end")

    def test_signal_and_state_files_are_private(self):
        ws = self.ws
        old = os.umask(0o022)
        try:
            eng = FakeEngine(ws, eng="e5", seq0=1)
            try:
                sink = ws.start("sink", "livetrade-sink", "file", "--path",
                                ws.path("sig.jsonl"), "--sub", ws.ep("sig"),
                                "--replay", ws.ep("rep"))
                eng.wait_subscriptions()
                eng.send(eng.signal(1, int(time.time() * 1000)))
                lt.wait_until(lambda: lt.read_jsonl(ws.path("sig.jsonl")),
                              30, "the signal in the file")
                self.assertEqual(sink.stop(), 0)
            finally:
                eng.close()
        finally:
            os.umask(old)
        self.assertEqual(mode(ws.path("sig.jsonl")), 0o600)
        self.assertTrue(os.path.exists(ws.path("sig.jsonl.state")))
        self.assertEqual(mode(ws.path("sig.jsonl.state")), 0o600)
        self.assertEqual(sorted(os.listdir(ws.dir)),
                         sorted(n for n in os.listdir(ws.dir)
                                if ".tmp" not in n and "XXXX" not in n))


class ExecEnvironment(unittest.TestCase):
    SECRETS = {"POLYGON_API_KEY": "pk1", "MASSIVE_API_KEY": "mk2",
               "APCA_API_SECRET_KEY": "ak3", "SLACK_WEBHOOK_URL": "sw4",
               "DISCORD_WEBHOOK_URL": "dw5", "LIVETRADE_WEB_TOKEN": "wt6"}

    def test_children_get_no_secrets_unless_passed(self):
        ws = lt.Workspace()
        saved = dict(os.environ)
        try:
            os.environ.update(self.SECRETS, LT_TEST_PLAIN="plain")
            out = ws.path("env.txt")
            sink = ws.start("exec", "livetrade-sink", "exec", "--sub",
                            ws.ep("sig"), "--spool", ws.path("spool.jsonl"),
                            "--pass-env", "MASSIVE_API_KEY,LT_NONE",
                            "--", "/bin/sh", "-c",
                            'env > "$0.tmp" && mv "$0.tmp" "$0"; '
                            'exec cat > /dev/null', out)
            os.environ.clear()
            os.environ.update(saved)
            lt.wait_until(lambda: os.path.exists(out), 30,
                          "the child's environment")
            with open(out) as f:
                env = dict(l.rstrip("\n").split("=", 1) for l in f
                           if "=" in l)
            self.assertEqual(sink.stop(), 0)
            self.assertEqual(env.get("LT_TEST_PLAIN"), "plain")
            self.assertEqual(env.get("MASSIVE_API_KEY"), "mk2")
            for name in self.SECRETS:
                if name != "MASSIVE_API_KEY":
                    self.assertNotIn(name, env)
            self.assertEqual(mode(ws.path("spool.jsonl")), 0o600)
        finally:
            os.environ.clear()
            os.environ.update(saved)
            ws.close()


class EnvFile(unittest.TestCase):
    def test_overlong_line_is_an_error_naming_it(self):
        with lt.Workspace() as ws:
            env = ws.write("long.env", "# settings\nLIVETRADE_LOG_LEVEL=info\n"
                           "LIVETRADE_LOG_LEVEL=" + "x" * 1100 + "\n")
            os.environ["LIVETRADE_ENV_FILE"] = env
            try:
                rc, _, err = lt.run("livetrade-sink", "file", "--path",
                                    ws.path("sig.jsonl"), "--sub",
                                    ws.ep("sig"),
                                    timeout=20)
            finally:
                del os.environ["LIVETRADE_ENV_FILE"]
            lines = [l for l in err.splitlines() if l.strip()]
            self.assertEqual(rc, 2, err)
            self.assertEqual(len(lines), 1, err)
            self.assertIn("long.env:3: line longer than", lines[0])


class AlertSecrets(test_alert.AlertCase):
    def test_secrets_from_env_and_files_and_discord_pings_nobody(self):
        h, ws = self.hooks, self.ws
        slack = "/services/T0/B0/SECRETSLACK"
        discord = "/api/webhooks/42/SECRETDISCORD"
        token = "123456:SECRETTG"
        tg = "/bot%s/sendMessage" % token
        with open(ws.path("slack.url"), "w") as f:
            f.write(h.url(slack) + "\n")
        with open(ws.path("tg.token"), "w") as f:
            f.write(token + ":-100200\n")
        os.environ["LT_TEST_DISCORD_URL"] = h.url(discord)
        try:
            sink = self.sink("--slack", "file:" + ws.path("slack.url"),
                             "--discord", "env:LT_TEST_DISCORD_URL",
                             "--telegram", "file:" + ws.path("tg.token"),
                             "--telegram-api", h.base)
        finally:
            del os.environ["LT_TEST_DISCORD_URL"]
        ids = [self.pub.send(1, strat="@everyone")]
        got = {p: self.wait_delivered(p, ids) for p in (slack, discord, tg)}
        body = json.loads(got[discord][0]["body"])
        self.assertEqual(body["allowed_mentions"], {"parse": []})
        self.assertEqual(sink.stop(), 0)
        for secret in ("SECRETSLACK", "SECRETDISCORD", "SECRETTG"):
            self.assertNotIn(secret, sink.stderr())

    def test_unset_or_missing_secret_is_one_clear_line(self):
        for args, want in ((["--discord", "env:LT_TEST_UNSET_X"],
                            "LT_TEST_UNSET_X is not set"),
                           (["--slack", "file:/nonexistent/x"],
                            "/nonexistent/x")):
            rc, _, err = lt.run("livetrade-sink", "alert", "--sub",
                                self.pub.ep, "--spool", self.spool, *args)
            lines = [l for l in err.splitlines() if l.strip()]
            self.assertNotEqual(rc, 0, err)
            self.assertEqual(len(lines), 1, err)
            self.assertIn(want, lines[0])

    def test_spool_holds_any_id_as_json(self):
        h = self.hooks
        odd = 'q"\\x{}'
        sink = self.sink("--webhook", h.url("/hook"))
        self.pub.send(1, id=odd)
        lt.wait_until(lambda: h.delivered("/hook"), 30, "the delivery")
        self.assertEqual(sink.stop(), 0)
        # The next start rewrites the spool from what it read back.
        sink = self.sink("--webhook", h.url("/hook"), name="alert2")
        self.assertEqual(sink.stop(), 0)
        with open(self.spool) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        self.assertIn(odd, [l.get("done") for l in lines])
        self.assertEqual(mode(self.spool), 0o600)


if __name__ == "__main__":
    unittest.main()
