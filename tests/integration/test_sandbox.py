"""A strategy cannot hold the engine: what Lua runs without its count
hook (a __gc finalizer, C library functions such as string.rep, a
backtracking pattern, table.move) is refused or stopped by the call's time
limit; that symbol's strategy is disabled with one line, the others go on
and the engine keeps answering status. And --memory-mb is shared among
the symbols."""
import lt

BAD = {
    "BADGC": "setmetatable({}, {__gc = function() while true do end end}) "
             "collectgarbage()",
    "BADREP": "local s = string.rep('', math.maxinteger)",
    "BADGROW": "local s = ('x'):rep(1e6):rep(1e4)",
    "BADFIND": "local s = ('a'):rep(3000):find('.-.-.-.-b')",
    "BADMOVE": "table.move({}, 1, 1e15, 1, {})",
    "BADLOOP": "local s = ('a'):rep(200) "
               "while true do s:find('.-.-b') end",
}
CAUSE = {
    "BADGC": "__gc (a finalizer) is not allowed",
    "BADREP": "string.rep:",
    "BADGROW": "string.rep:",
    "BADFIND": "string.find: pattern",
    "BADMOVE": "table.move: a range",
    "BADLOOP": "on BADLOOP: time limit of 5000 ms per call exceeded",
}


class Sandbox(lt.WorkspaceTest):
    def setUp(self):
        super().setUp()
        self.fake = lt.FakeFeeder(self.ws, {s: [] for s in
                                            ["GOOD"] + sorted(BAD)})

    def tearDown(self):
        self.fake.close()

    def test_hanging_strategy_disables_one_symbol_only(self):
        ws, fake = self.ws, self.fake
        syms = ["GOOD"] + sorted(BAD)
        path = ws.path("hang.lua")
        with open(path, "w") as f:
            f.write("local S = Strategy{}\nlocal bad = {\n")
            for sym in sorted(BAD):
                f.write("  %s = function() %s end,\n" % (sym, BAD[sym]))
            f.write("}\n"
                    "function S:next()\n"
                    "  if #self.data == 5 and bad[self.symbol] then\n"
                    "    bad[self.symbol]()\n"
                    "  end\n"
                    "  self:buy()\n"
                    "end\n"
                    "return S\n")
        eng = ws.start("engine", "livetrade-engine",
                       "--strategy", path, "--symbols", ",".join(syms),
                       "--sub", fake.bars_ep, "--history", fake.hist_ep,
                       "--pub", ws.ep("sig"), "--rep", ws.ep("rep"))
        fake.wait_subscribed(["bar|%s|" % s for s in syms])
        lt.wait_until(lambda: all(s["live"] for s in
                                  (lt.status(ws.ep("rep")) or
                                   {"symbols": [{"live": 0}]})["symbols"]),
                      what="the engine to go live")
        for i in range(10):
            for sym in syms:
                fake.send_bar(lt.make_bars(sym, 10)[i])
        st = lt.wait_until(
            lambda: (lambda s: s if s and all(x["bars"] == 10 for x in
                                              s["symbols"]) else None)(
                lt.status(ws.ep("rep"))), timeout=60, what="all bars taken")
        by = {x["sym"]: x for x in st["symbols"]}
        self.assertEqual(by["GOOD"]["signals"], 9)      # bars 1..9
        self.assertEqual(by["GOOD"]["error"], "")
        log = eng.stderr()
        for sym in BAD:
            self.assertEqual(by[sym]["signals"], 3, sym)     # bars 1..3
            self.assertIn(CAUSE[sym], by[sym]["error"], sym)
            line = [ln for ln in log.splitlines()
                    if sym + ": strategy disabled: " in ln]
            self.assertEqual(len(line), 1, log)
            self.assertIn(path + ":", line[0])
            self.assertIn(CAUSE[sym], line[0])
        self.assertTrue(eng.alive())
        self.assertEqual(eng.stop(), 0)
        self.assertNotIn("runtime error", eng.stderr())    # UBSan
        self.assertNotIn("Sanitizer", eng.stderr())


class MemoryShare(lt.WorkspaceTest):
    def test_pool_too_small_for_the_symbols(self):
        syms = ",".join("S%d" % i for i in range(40))
        rc, _, err = lt.run("livetrade-engine", "--strategy",
                            "strategies/sma_cross.lua", "--symbols", syms,
                            "--memory-mb", "32", "--sub", self.ws.ep("b"),
                            "--history", self.ws.ep("h"), "--pub",
                            self.ws.ep("s"), "--rep", self.ws.ep("r"))
        self.assertNotEqual(rc, 0)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 1, err)
        self.assertIn("--memory-mb 32 gives each of the 40 symbols 819 KiB",
                      lines[0])
