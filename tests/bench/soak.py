#!/usr/bin/python3
"""Soak run: 1,000 symbols at the highest rate the demo feeders publish,
for a few minutes, through one engine (sma_cross) into a file sink.

    4 demo feeders (250 symbols each, --interval 0) -> engine -> file sink

Every --sample seconds it prints each process's resident memory, the bars
it holds and the counters; at the end it ends the feed (SIGUSR1: the
feeders stop publishing and keep serving history), lets the engine and the
sink finish, stops every program (each must exit 0 on SIGTERM) and checks
the accounting:

  - the engine's datasets have no holes: a bar the engine missed (left
    behind by a feeder while it was not reading) came back through its gap
    fill once a later bar of the symbol showed it missing; only the last
    bars of a stream, which no later bar shows missing, may lack, and only
    if the feeders reported leaving a subscriber behind;
  - every signal the engine published is in the sink's file, once.

Memory: the run has the bound on (--keep-bars: the engine holds 200 bars
per symbol, the feeders 400), so the memory of the engine and of the
feeders must stay flat however many bars go through: the resident memory
at the last sample may exceed that at the first sample at or after a
quarter of the run by at most 10% + 16 MB (without the bound the engine
alone would grow by some 80 bytes per bar taken meanwhile). It also
works out the bytes per bar taken (growth of resident memory over growth
of bars taken) over the first and the second half of the run; a leak shows as a growing figure, and the run counts as
broken if the second half's figure is more than half as large again as
the first's (plus 64 bytes for the noise of a short run). The sink holds
nothing per signal: its memory must stay flat outright (it may not grow by
more than 16 MB from the first sample to the last).

Warm-up: the engine warms each symbol from its feeder's history while
the feeders already publish at full speed, so on a small machine the
last symbols go live minutes in; the feed runs on past --minutes until
every symbol is live (--warm-max, default 10 more minutes), since the
accounting needs every symbol's dataset.

Bounded: --minutes (default 3) of feed, a memory ceiling (--max-rss-gb,
default 8, over all processes: the run ends early if it is reached), and
every wait has a timeout. Prints figures; exits 1 only if something broke
(a process died or did not exit 0, an accounting check failed, memory per
bar held grew or the sink's memory did not stay flat). `make soak` runs it
(SOAK_MINUTES=3)."""
import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pipeline import (BIN, STRATEGY, Broken, LineCounter, Proc,  # noqa
                      Requester, groups)

PAGE = os.sysconf("SC_PAGE_SIZE")
HISTORY = 100                   # bars each feeder holds before live ones


def rss_bytes(proc):
    try:
        with open("/proc/%d/statm" % proc.p.pid) as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--symbols", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=0.0,
                    help="feeder interval (0: as fast as the pipeline takes "
                    "them)")
    ap.add_argument("--sample", type=float, default=15.0)
    ap.add_argument("--keep-bars", type=int, default=200,
                    help="the engine's --keep-bars")
    ap.add_argument("--feeder-keep-bars", type=int, default=400,
                    help="the feeders' --keep-bars")
    ap.add_argument("--max-rss-gb", type=float, default=8.0)
    ap.add_argument("--warm-max", type=float, default=10.0,
                    help="minutes the feed may run on past --minutes while "
                    "symbols are still warming up")
    a = ap.parse_args()
    # A timeout's SIGTERM still stops the programs started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    work = tempfile.mkdtemp(prefix="lt-soak-")
    procs = []
    try:
        return run(a, work, procs)
    except Broken as e:
        print("soak: BROKEN: %s (logs in %s)" % (e, work))
        for p in procs:
            if p.alive():
                p.p.kill()
        return 1
    finally:
        for p in procs:
            if p.alive():
                p.p.kill()
                p.p.wait()


def run(a, work, procs):
    def ep(name):
        return "ipc://%s/%s.ipc" % (work, name)

    syms = ["S%04d" % i for i in range(a.symbols)]
    grp = groups(syms)
    feeders = []
    for k, g in enumerate(grp):
        feeders.append(Proc(work, "feeder%d" % k, [
            os.path.join(BIN, "livetrade-feeder"), "--source", "demo",
            "--symbols", ",".join(g), "--seed", "42",
            "--history", str(HISTORY),
            "--keep-bars", str(a.feeder_keep_bars),
            "--interval", str(a.interval), "--pub", ep("bars%d" % k),
            "--rep", ep("hist%d" % k)]))
    procs.extend(feeders)
    eng = Proc(work, "engine", [
        os.path.join(BIN, "livetrade-engine"), "--strategy", STRATEGY,
        "--symbols", ",".join(syms),
        "--sub", ",".join(ep("bars%d" % k) for k in range(len(grp))),
        "--history", ",".join(ep("hist%d" % k) for k in range(len(grp))),
        "--pub", ep("sig"), "--rep", ep("rep"),
        "--keep-bars", str(a.keep_bars),
        "--journal", os.path.join(work, "journal")])
    out = os.path.join(work, "signals.jsonl")
    sink = Proc(work, "sink", [
        os.path.join(BIN, "livetrade-sink"), "file", "--path", out,
        "--sub", ep("sig"), "--replay", ep("rep")])
    procs.extend([eng, sink])
    fq = [Requester(ep("hist%d" % k)) for k in range(len(grp))]
    eq = Requester(ep("rep"))
    lines = LineCounter(out)

    def check():
        for p in procs:
            if not p.alive():
                raise Broken("%s exited early with %s"
                             % (p.name, p.p.returncode))

    def engine_status():
        st, _ = eq.status(5000)
        return st

    def feeders_status():
        return [q.status(5000)[0] or {} for q in fq]

    print("soak: %d symbols, %d feeders, interval %g, %.1f min; logs in %s"
          % (a.symbols, len(grp), a.interval, a.minutes, work))
    t0 = time.monotonic()
    end = t0 + a.minutes * 60
    samples = []
    print("%7s %12s %12s %10s %9s %9s %9s %9s %8s" % (
        "t (s)", "published", "engine in", "signals", "feed MB",
        "eng MB", "sink MB", "eng B/bar", "dropped"))
    warm_logged = False
    warm_s = None                   # when every symbol was live
    while True:
        now = time.monotonic()
        if now >= end:
            # Every symbol must be live before the feed stops (the engine
            # warms them up from the feeders, which go away with it): the
            # feed runs on, bounded, until they are.
            st = engine_status() or {}
            warming = sum(1 for s in st.get("symbols", [])
                          if not s.get("live"))
            if not warming or now >= end + a.warm_max * 60:
                break
            if not warm_logged:
                warm_logged = True
                print("soak: %d symbols still warming up; the feed goes on "
                      "until they are live (at most %.0f min more)"
                      % (warming, a.warm_max))
        time.sleep(min(a.sample, max(1.0, end - now)))
        check()
        fs = feeders_status()
        st = engine_status() or {}
        pub = sum(f.get("bars_published", 0) for f in fs)
        held_eng = sum(s.get("bars", 0) for s in st.get("symbols", []))
        held_feed = sum(HISTORY + sy.get("live", 0)
                        for f in fs for sy in f.get("symbols", []))
        # The fewest bars a symbol has taken, in the engine and a feeder.
        least = (min([s.get("bars", 0) for s in st.get("symbols", [])] or
                     [0]),
                 min([HISTORY + sy.get("live", 0) for f in fs
                      for sy in f.get("symbols", [])] or [0]))
        rss = {"feed": sum(rss_bytes(f) for f in feeders),
               "eng": rss_bytes(eng), "sink": rss_bytes(sink)}
        dropped = sum(f.get("dropped", 0) for f in fs)
        samples.append((now - t0, {"eng": held_eng, "feed": held_feed},
                        rss, least))
        live = sum(1 for s in st.get("symbols", []) if s.get("live"))
        if live == a.symbols and warm_s is None:
            warm_s = now - t0
        print("%7.0f %12d %12d %10d %9.0f %9.0f %9.1f %9.0f %8d" % (
            now - t0, pub, st.get("bars_in", 0), st.get("signals", 0),
            rss["feed"] / 2**20, rss["eng"] / 2**20, rss["sink"] / 2**20,
            rss["eng"] / held_eng if held_eng else 0, dropped))
        sys.stdout.flush()
        if sum(rss.values()) > a.max_rss_gb * 2**30:
            print("soak: memory ceiling of %.1f GB reached; ending the feed "
                  "early" % a.max_rss_gb)
            break

    # End the feed, let the engine take what is queued, then account.
    # SIGUSR1: the feeders end their live feed and go on serving history
    # (the engine fills the bars they dropped from it).
    for f in feeders:
        f.p.send_signal(signal.SIGUSR1)
    prev = None
    for _ in range(60):             # the last bars out (bounded: 30 s)
        fs = feeders_status()
        key = [f.get("bars_published") for f in fs]
        if key == prev and None not in key:
            break
        prev = key
        time.sleep(0.5)
    last_t = {}
    for f in fs:
        for sy in f.get("symbols", []):
            last_t[sy["sym"]] = sy["last_t"]
    # Caught up: every symbol at least at the feeder's last bar seen
    # above, and nothing new for two seconds (bounded: two minutes).
    prev, still = None, 0
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        st = engine_status()
        if st and all(s["last_t"] >= last_t.get(s["sym"], 0)
                      for s in st["symbols"]):
            key = (st["bars_in"], st["signals"])
            still = still + 1 if key == prev else 0
            prev = key
            if still >= 20:
                break
        time.sleep(0.1)
    st = engine_status() or {}
    for _ in range(600):
        if lines.count() >= st.get("signals", 0):
            break
        time.sleep(0.1)
    for p in feeders + [eng, sink]:
        problem = p.stop(30)
        if problem:
            raise Broken(problem)

    published, dropped = 0, 0
    for f in feeders:
        for ln in f.log_lines():
            if "counters: bars_published" in ln:
                w = ln.split()
                published += int(w[w.index("bars_published") + 1])
                dropped += int(w[w.index("dropped") + 1])
    held = holes = behind = behind_bars = 0
    for s in st.get("symbols", []):
        span = (s["last_t"] - s["first_t"]) // 60000 + 1
        held += s["bars"]
        holes += span - s["bars"]
        lag = (last_t.get(s["sym"], 0) - s["last_t"]) // 60000
        if lag > 0:                 # the stream's last bars were dropped:
            behind += 1             # no later bar shows the gap
            behind_bars += lag
    signals = st.get("signals", 0)
    written = lines.count()
    print()
    print("feeders: %d bars published, a subscriber left behind %d times "
          "(the engine fills what it missed from history)"
          % (published, dropped))
    print("engine:  %d bars held, %d missing from its datasets, %d symbols "
          "behind their feeder by %d bars, %d gaps filled, %d signals"
          % (held, holes, behind, behind_bars, st.get("gaps", 0), signals))
    print("sink:    %d signals in the file" % written)
    print("warm-up: every symbol live %s" % ("after %.0f s" % warm_s
                                             if warm_s is not None else
                                             "NOT reached"))
    # No hole in any dataset; the last bars of a stream may lack only
    # where a feeder said it left a subscriber behind.
    print("accounting: the engine's datasets have %d holes and lack %d "
          "bars at their ends, the feeders left a subscriber behind %d "
          "times; the sink lacks %d signals" % (holes, behind_bars, dropped,
                                                signals - written))
    ok = (holes == 0 and (behind_bars == 0 or dropped > 0) and
          written == signals)
    if not ok:
        print("soak: bars or signals unaccounted for")
    if len(samples) >= 4:
        half = len(samples) // 2
        a0, a1 = samples[0], samples[half - 1]
        b0, b1 = samples[half], samples[-1]

        def slope(x, y, key):
            bars = y[1][key] - x[1][key]
            return (y[2][key] - x[2][key]) / bars if bars > 0 else 0.0
        for key, what in (("eng", "engine"), ("feed", "feeders")):
            s1, s2 = slope(a0, a1, key), slope(b0, b1, key)
            flat = s2 <= max(s1, 0) * 1.5 + 64
            print("%s memory per bar taken: %.0f B (first half), %.0f B "
                  "(second half)%s" % (what, s1, s2,
                                       "" if flat else ": GROWING"))
            ok = ok and flat
        # Flat with the bound on (--keep-bars): the last sample against
        # the first at or after a quarter of the run.
        span = samples[-1][0]
        ref = next(s for s in samples if s[0] >= span / 4)
        if ref is samples[-1]:
            print("soak: too short for the memory at the bound")
            ok = False
        else:
            print("at %.0f s the fewest bars a symbol had taken: %d in the "
                  "engine (bound %d), %d in a feeder (bound %d)"
                  % (ref[0], ref[3][0], a.keep_bars, ref[3][1],
                     a.feeder_keep_bars))
            for key, what in (("eng", "engine"), ("feed", "feeders")):
                r0, r1 = ref[2][key], samples[-1][2][key]
                flat = r1 - r0 <= r0 * 0.10 + 16 * 2**20
                print("%s memory with the bound: %.1f MB at %.0f s, %.1f MB "
                      "at the last sample (%.0f s)%s"
                      % (what, r0 / 2**20, ref[0], r1 / 2**20,
                         samples[-1][0], "" if flat else ": GROWING"))
                ok = ok and flat
        grew = samples[-1][2]["sink"] - samples[0][2]["sink"]
        print("sink memory: %.1f MB at the first sample, %.1f MB at the last"
              "%s" % (samples[0][2]["sink"] / 2**20,
                      samples[-1][2]["sink"] / 2**20,
                      "" if grew <= 16 * 2**20 else ": GROWING"))
        ok = ok and grew <= 16 * 2**20
    else:
        print("soak: too short for the memory figures (%d samples; "
              "--minutes or --sample)" % len(samples))
    print("soak: %s" % ("accounting and memory hold" if ok else "BROKEN"))
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
