"""What livetrade refuses or keeps private: engine ids that could name a
path outside the journal directory, files written through symbolic links,
signal and state files readable by others, overlong .env lines, secrets
on command lines or in the environment of exec children, and alert text
that could ping everyone."""
import os
import stat
import time
import unittest

import lt
from fake_engine import FakeEngine


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


class EngineIds(unittest.TestCase):
    def setUp(self):
        self.ws = lt.Workspace()

    def tearDown(self):
        self.ws.close()

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


class PrivateFiles(unittest.TestCase):
    def setUp(self):
        self.ws = lt.Workspace()

    def tearDown(self):
        self.ws.close()

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


class EnvFile(unittest.TestCase):
    def test_overlong_line_is_an_error_naming_it(self):
        ws = lt.Workspace()
        try:
            env = ws.path("long.env")
            with open(env, "w") as f:
                f.write("# settings\nLIVETRADE_LOG_LEVEL=info\n"
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
        finally:
            ws.close()


if __name__ == "__main__":
    unittest.main()
