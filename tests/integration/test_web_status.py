"""The dashboard's components table: an engine's row shows the signals
this run published, and the journal's sequence number beside them when
earlier runs count in it (a restarted engine). The engine is played by
the test (its status replies); the web sink and the page are real."""
import os
import threading
import unittest
import urllib.request

import msgpack
import zmq

import lt
from test_web import CHROMIUM, Chromium

ENGINE = {"ver": 1, "type": "status", "prog": "livetrade-engine",
          "id": "sma_cross-0000abcd", "strategy": "sma_cross", "pub": 7,
          "seq0": 9, "bars_in": 500, "signals": 12, "published": 3,
          "bad": 0, "symbols": [{"sym": "AAPL", "bars": 521,
                                 "last_t": 1767225600000, "live": True,
                                 "signals": 3, "error": ""}]}


class FakeEngine:
    """A request endpoint that answers every request with ENGINE."""

    def __init__(self, ws):
        self.sock = lt.CTX.socket(zmq.ROUTER)
        self.sock.bind(ws.ep("eng"))
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            if not self.sock.poll(50):
                continue
            frames = self.sock.recv_multipart()
            self.sock.send_multipart([frames[0], b"",
                                      msgpack.packb(ENGINE)])

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close(0)


class WebEngineRow(lt.WorkspaceTest):
    def setUp(self):
        super().setUp()
        self.engine = FakeEngine(self.ws)
        self.addCleanup(self.engine.close)

    def test_engine_row_shows_this_runs_signals(self):
        if not os.access(CHROMIUM, os.X_OK):
            self.fail("%s is missing: the dashboard tests need Chromium; "
                      "'make deps' (tools/deps.sh) installs it" % CHROMIUM)
        ws, port = self.ws, lt.free_port()
        web = ws.start("web", "livetrade-sink", "web", "--listen",
                       "127.0.0.1:%d" % port, "--sub", ws.ep("sig"),
                       "--bars", ws.ep("bars"), "--history", ws.ep("hist"),
                       "--status", ws.ep("eng"))

        def up():
            self.assertTrue(web.alive(), web.stderr())
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/style.css"
                                       % port, timeout=2).read()
                return True
            except OSError:
                return False
        lt.wait_until(up, 30, "the dashboard to listen")
        browser = Chromium(ws.dir)
        self.addCleanup(browser.close)
        page = browser.open("http://127.0.0.1:%d/" % port)

        def cell(want):
            c = browser.eval(
                page, "(() => { const r = Array.from(document."
                "querySelectorAll('#status tbody tr')).find(r => r.cells[0]"
                ".innerText.startsWith('engine ')); return r && r.cells[5]"
                ".innerText; })()")
            return c if c and want in c else None
        got = lt.wait_until(lambda: cell("bars in"), 30, "the engine's row")
        self.assertEqual(got, "3 signals published (journal seq 12), "
                         "500 bars in")
        # An engine's first run: the two are the same, said once.
        ENGINE["published"] = 12
        got = lt.wait_until(lambda: cell("12 signals"), 30,
                            "the engine's row of a first run")
        self.assertEqual(got, "12 signals published, 500 bars in")

if __name__ == "__main__":
    unittest.main()
