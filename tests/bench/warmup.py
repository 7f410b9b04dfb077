#!/usr/bin/python3
"""Polygon warm-up: how long livetrade-feeder --source polygon takes to
have the history (--history 500 bars) of every one of N symbols, fetched
through REST from the mock Polygon server (tests/polygon_mock), with
--history-concurrency C and no cache.

The time runs from the feeder's start until its status reply says every
history is done (polled every 50 ms); the figure printed is that time,
the symbols per second and, at that pace, the time for 11,000 symbols
(the target: every symbol live within 10 s). The mock is a Python server
that computes every bar: on these machines it, not the feeder, usually
sets the pace (the feeder's own CPU time is printed beside it).

    LIVETRADE_BIN=$PWD/bin /usr/bin/python3 tests/bench/warmup.py \\
        [--symbols 500] [--bars 500] [--concurrency 1 4 8] [--runs 1]

Prints figures; exits 1 only if something broke (the feeder died, or a
history failed or did not finish within --timeout), never because of
time. Every wait is bounded."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("LIVETRADE_BIN") or os.path.join(ROOT, "bin")
sys.path.insert(0, os.path.join(ROOT, "tests", "polygon_mock"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from mockctl import MockPolygon  # noqa: E402
import lt  # noqa: E402

KEY = "bench-key"
TARGET = 11000


def cpu_s(pid):
    """User + system CPU seconds of a live process (from /proc)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf(
            "SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def run(m, names, bars, conc, timeout, tmp):
    env = {k: v for k, v in os.environ.items()
           if k not in ("POLYGON_API_KEY", "MASSIVE_API_KEY",
                        "LIVETRADE_ENV_FILE")}
    env["POLYGON_API_KEY"] = KEY
    rep = "ipc://%s/rep" % tmp
    args = [os.path.join(BIN, "livetrade-feeder"), "--source", "polygon",
            "--symbols", ",".join(names), "--timeframe", "60",
            "--history", str(bars), "--cache-dir", "",
            "--history-concurrency", str(conc), "--market-hours", "always",
            "--rest-url", m.rest_url, "--ws-url", m.ws_url + "/stocks",
            "--pub", "ipc://%s/pub" % tmp, "--rep", rep]
    log = open(os.path.join(tmp, "feeder-%d.err" % conc), "wb")
    t0 = time.monotonic()
    p = subprocess.Popen(args, env=env, cwd=tmp, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=log)
    st = None
    try:
        while time.monotonic() - t0 < timeout and p.poll() is None:
            st = lt.request(rep, {"ver": 1, "type": "status"}, 500)
            if st and st.get("history_done") == len(names):
                break
            time.sleep(0.05)
        took = time.monotonic() - t0
        cpu = cpu_s(p.pid)
    finally:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()
    if not st or st.get("history_done") != len(names):
        print("warmup: %d symbols not done within %.0f s (status %s)"
              % (len(names), timeout, st and st.get("history_done")))
        return None
    if st.get("history_failed"):
        print("warmup: %d histories failed" % st["history_failed"])
        return None
    return took, cpu, st.get("rest_requests", 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--bars", type=int, default=500)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=100)
    a = ap.parse_args()
    names = ["W%05d" % k for k in range(a.symbols)]
    tmp = tempfile.mkdtemp(prefix="lt-warmbench-")
    broke = False
    try:
        m = MockPolygon(script={
            "api_keys": [KEY],
            "dataset": {"symbols": names,
                        "start": "now-%dm" % (a.bars + 120),
                        "end": "now+60m"}}, max_lifetime=600)
        try:
            print("warm-up of %d symbols x %d bars through REST from the "
                  "mock (no cache)" % (a.symbols, a.bars))
            for conc in a.concurrency:
                best = None
                for _ in range(a.runs):
                    r = run(m, names, a.bars, conc, a.timeout, tmp)
                    if r is None:
                        broke = True
                        break
                    best = r if best is None or r[0] < best[0] else best
                    m.reset()
                if best is None:
                    continue
                took, cpu, reqs = best
                rate = a.symbols / took
                print("  concurrency %2d: %6.2f s, %5.0f symbols/s, %d "
                      "requests; %d symbols at this pace: about %.0f s "
                      "(target 10 s)" % (conc, took, rate, reqs, TARGET,
                                         TARGET / rate))
                print("                  feeder CPU %.2f s, %.2f ms a "
                      "symbol: %d symbols need %.1f s of feeder CPU"
                      % (cpu, 1000 * cpu / a.symbols, TARGET,
                         TARGET * cpu / a.symbols))
        finally:
            m.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if broke else 0


if __name__ == "__main__":
    sys.exit(main())
