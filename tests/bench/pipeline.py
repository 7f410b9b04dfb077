#!/usr/bin/python3
"""Pipeline throughput: real processes over ipc:// endpoints.

    history feeder(s) --history--> engine <--bars-- burst feeder(s)
                                     |
                                   signals --> file sink

The engine warms up from a feeder's history endpoint before it goes live,
and a burst feeder (--interval 0) starts once the engine has subscribed to
each of its symbols (--wait-subscribers). So that the burst meets a live
engine:

  1. "history" feeders (same seed, start and history as the burst feeders,
     a live interval of a day, so they publish nothing) are started and
     answer status;
  2. the engine is started with its bars subscribed to the burst feeders'
     endpoints (not bound yet) and its history from the history feeders;
     then the file sink; the engine's status is polled until every symbol
     is live;
  3. the burst feeders are started. Each one binds, generates its history
     (about a million bars, ~0.25 s) and waits for the engine's
     subscriptions before the first live bar. The bars are the same as the
     history feeders', so live bars continue the series.

The engine's status ("bars_in") is polled every --poll seconds. Throughput
is (bars - bars already in at the first poll that saw any) / (time from
that poll until the engine has every bar and the sink has written every
signal). Counts are checked afterwards: bars published by the feeders,
bars taken by the engine, gaps, drops, signals written by the sink. Each
case runs --runs times and the median rate is reported, with the CPU time
the engine and the sink spent on the burst (from /proc). On a 2-core
machine the feeders, the engine and the sink share the cores, so the rate
is that of the whole pipeline, not of the engine alone (bench_engine
measures the engine's strategy cost by itself).

Each figure is printed beside the physical limit measured in the same
run and the target: the raw two-frame PUB->SUB rate over ipc (bench_bus
--throughput) for the rate, the engine core alone (bench_engine --core)
for the engine's CPU per bar (all its threads, less its status replies to
the polls above). Then two latency cases, each beside the raw two hops of
the same run (bench_bus --latency): a steady 10,000 bars/s, and a
top-of-minute burst of one bar for each of 11,000 symbols into two engine
shards (steady_latency, burst_latency). --symbols 0, --latency-secs 0 and
--burst 0 leave cases out.

Prints figures; exits 1 only if something broke (a process died or did not
stop on SIGTERM, no bar or no signal arrived), never because of time.
Every wait is bounded."""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import msgpack
import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("LIVETRADE_BIN") or os.path.join(ROOT, "bin")
STRATEGY = os.path.join(ROOT, "strategies", "sma_cross.lua")

FEEDER_MAX_SYMBOLS = 250        # symbols per burst feeder
POLL_PROBES = 30                # status polls timed for their CPU cost
FEEDER_BARS = 1000000           # history bars generated per burst feeder
START_MS = 1600000000000        # first history bar (fixed: H and B agree)
SEED = 42
CTX = zmq.Context.instance()


class Broken(Exception):
    """Something is actually broken (not merely slow)."""


class Proc:
    """One livetrade program, its stderr in a log file."""

    def __init__(self, workdir, name, args):
        self.name = name
        self.log_path = os.path.join(workdir, name + ".log")
        with open(self.log_path, "wb") as log:
            self.p = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=log,
                                      cwd=ROOT)
        self.rc = None

    def alive(self):
        return self.p.poll() is None

    def log_lines(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return []

    def stop(self, timeout=10.0):
        """SIGTERM and wait; SIGKILL past the timeout. Returns a problem
        description or None."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                self.rc = self.p.returncode
                return "%s did not exit within %.0f s of SIGTERM (killed)" % (
                    self.name, timeout)
        self.rc = self.p.returncode
        if self.rc != 0:
            return "%s exited with %s" % (self.name, self.rc)
        return None


class Requester:
    """msgpack status requests to one endpoint, each on a fresh REQ socket
    so that a lost reply never wedges the next one."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.body = msgpack.packb({"ver": 1, "type": "status"})

    def status(self, timeout_ms=2000):
        """(reply map or None, monotonic time in the middle of the
        round trip)."""
        s = CTX.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDTIMEO, timeout_ms)
        try:
            s.connect(self.endpoint)
            t0 = time.monotonic()
            try:
                s.send(self.body)
            except zmq.Again:
                return None, time.monotonic()
            if not s.poll(timeout_ms):
                return None, time.monotonic()
            reply = msgpack.unpackb(s.recv(), raw=False)
            return reply, (t0 + time.monotonic()) / 2
        finally:
            s.close()


class LineCounter:
    """Counts the lines of a file that is being appended to."""

    def __init__(self, path):
        self.path = path
        self.off = 0
        self.lines = 0

    def count(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except OSError:
            return self.lines
        # Only whole lines count; a partial one is read again next time.
        end = data.rfind(b"\n") + 1
        self.lines += data.count(b"\n", 0, end)
        self.off += end
        return self.lines


TICK = os.sysconf("SC_CLK_TCK")


def io_cpu_seconds(proc):
    """CPU time of a running process's ZeroMQ I/O threads (schedstat),
    or None."""
    pid = proc.p.pid
    try:
        total = 0
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if not f.read().startswith("ZMQbg/IO"):
                    continue
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, IndexError, ValueError):
        return None


def cpu_seconds(proc):
    """CPU time of a running process, its threads (ZeroMQ's I/O thread)
    included: from each thread's schedstat (nanoseconds), else from
    /proc/PID/stat (clock ticks). None if it is gone."""
    pid = proc.p.pid
    try:
        total = 0
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, IndexError, ValueError):
        pass
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def check_alive(procs):
    for p in procs:
        if not p.alive():
            tail = p.log_lines()[-1:]
            raise Broken("%s exited early with %s%s"
                         % (p.name, p.p.returncode,
                            ": " + tail[0] if tail else ""))


def wait_for(what, timeout, fn, procs, interval=0.05):
    """Calls fn() until it returns something truthy; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        check_alive(procs)
        if time.monotonic() > deadline:
            raise Broken("timed out after %.0f s waiting for %s"
                         % (timeout, what))
        time.sleep(interval)


def published_by(st):
    """The signals an engine's status says this run published."""
    if "published" in st:
        return st["published"]
    return st.get("signals", 0) - st.get("seq0", 0)


def groups(syms):
    return [syms[i:i + FEEDER_MAX_SYMBOLS]
            for i in range(0, len(syms), FEEDER_MAX_SYMBOLS)]


def run_case(nsym, per_sym, poll, timeout):
    """One measurement. Returns a result dict; raises Broken."""
    work = tempfile.mkdtemp(prefix="lt-bench-")
    procs = []
    try:
        return _run_case(work, procs, nsym, per_sym, poll, timeout)
    except Broken:
        for p in procs:
            tail = [ln for ln in p.log_lines() if " WARN " in ln or
                    " ERROR " in ln][-5:]
            for ln in tail:
                print("    %s: %s" % (p.name, ln), file=sys.stderr)
        raise
    finally:
        problems = [p.stop() for p in reversed(procs)]
        problems = [x for x in problems if x]
        shutil.rmtree(work, ignore_errors=True)
        if problems and sys.exc_info()[0] is None:
            raise Broken("; ".join(problems))


def _run_case(work, procs, nsym, per_sym, poll, timeout):
    def ep(name):
        return "ipc://%s/%s" % (work, name)

    if nsym == 1:
        syms = ["BENCH"]
    else:
        syms = ["S%04d" % i for i in range(nsym)]
    grp = groups(syms)
    hist = max(100, FEEDER_BARS // len(grp[0]))
    expected = nsym * per_sym
    sink_path = os.path.join(work, "signals.jsonl")

    # 1. History feeders: same bars, nothing live for a day.
    for k, g in enumerate(grp):
        procs.append(Proc(work, "hist-feeder%d" % k, [
            os.path.join(BIN, "livetrade-feeder"), "--source", "demo",
            "--symbols", ",".join(g), "--seed", str(SEED),
            "--start", str(START_MS), "--history", str(hist),
            "--interval", "86400",
            "--pub", ep("h%d.pub" % k), "--rep", ep("h%d.rep" % k)]))
    for k in range(len(grp)):
        r = Requester(ep("h%d.rep" % k))
        wait_for("history feeder %d to answer" % k, 30,
                 lambda: r.status()[0], procs)

    # 2. Engine (bars from the burst feeders, not started yet), then sink.
    t_warm = time.monotonic()
    procs.append(Proc(work, "engine", [
        os.path.join(BIN, "livetrade-engine"), "--strategy", STRATEGY,
        "--symbols", ",".join(syms),
        "--sub", ",".join(ep("b%d.pub" % k) for k in range(len(grp))),
        "--history", ",".join(ep("h%d.rep" % k) for k in range(len(grp))),
        "--pub", ep("eng.pub"), "--rep", ep("eng.rep"),
        # Each run its own fresh journal: no state from an earlier run.
        "--journal", os.path.join(work, "journal")]))
    eng = Requester(ep("eng.rep"))
    wait_for("the engine to answer status", 30, lambda: eng.status()[0],
             procs)
    procs.append(Proc(work, "sink", [
        os.path.join(BIN, "livetrade-sink"), "file", "--path", sink_path,
        "--sub", ep("eng.pub"), "--replay", ep("eng.rep")]))

    def all_live():
        st, _ = eng.status()
        return st and all(y.get("live") for y in st.get("symbols", []))
    wait_for("every symbol to be live in the engine", 60, all_live, procs)
    t_warm = time.monotonic() - t_warm
    st0, _ = eng.status()
    if st0 is None:
        raise Broken("the engine stopped answering status")
    if st0.get("bars_in"):
        raise Broken("engine took %d bars before the burst feeders started"
                     % st0["bars_in"])

    # What a status poll costs the engine (its reply lists every symbol),
    # so that the polls can be taken out of its CPU per bar.
    engine, sink = procs[len(grp)], procs[len(grp) + 1]
    c0 = cpu_seconds(engine)
    for _ in range(POLL_PROBES):
        eng.status()
    c1 = cpu_seconds(engine)
    poll_cpu = (c1 - c0) / POLL_PROBES if c0 is not None and c1 else 0.0

    # 3. Burst feeders.
    cpu0 = {"engine": cpu_seconds(engine), "sink": cpu_seconds(sink),
            "engine_io": io_cpu_seconds(engine)}
    for k, g in enumerate(grp):
        procs.append(Proc(work, "burst-feeder%d" % k, [
            os.path.join(BIN, "livetrade-feeder"), "--source", "demo",
            "--symbols", ",".join(g), "--seed", str(SEED),
            "--start", str(START_MS), "--history", str(hist),
            "--interval", "0", "--count", str(per_sym),
            # The engine subscribes to each of its symbols on every
            # endpoint: the feeder is ready once all of them arrived.
            "--wait-subscribers", str(nsym),
            "--pub", ep("b%d.pub" % k), "--rep", ep("b%d.rep" % k)]))
    t_spawn = time.monotonic()
    bursts = procs[len(grp) + 2:]
    breqs = [Requester(ep("b%d.rep" % k)) for k in range(len(grp))]
    t_pub = None                # when the feeders had published every bar
    lines = LineCounter(sink_path)
    seen = []                   # (t, bars_in, signals, sink lines)
    first = None                # the first poll that saw bars
    done = None                 # the first poll that saw every bar
    last_change = time.monotonic()
    deadline = t_spawn + timeout
    st = None
    while time.monotonic() < deadline:
        check_alive(procs)
        reply, t = eng.status()
        if reply is None:
            continue
        st = reply
        n = st.get("bars_in", 0)
        if seen and n != seen[-1][1]:
            last_change = t
        seen.append((t, n, published_by(st), lines.count()))
        if first is None and n > 0:
            first = seen[-1]
        if first is not None and t_pub is None:
            pub = 0
            for r in breqs:
                fs, tf = r.status()
                pub += fs.get("bars_published", 0) if fs else 0
            if pub >= expected:
                t_pub = tf
        if n >= expected:
            done = seen[-1]
            break
        # Stalled short of the total: bars were lost; stop waiting once
        # nothing has moved for a while.
        if first is not None and time.monotonic() - last_change > 5.0:
            break
        time.sleep(poll)
    if first is None:
        raise Broken("no bar reached the engine within %.0f s" % timeout)

    # The sink: every signal the engine published written to the file
    # (the journal is this run's own, so that is every signal in it).
    signals = published_by(st)
    t_sink = None
    sink_deadline = time.monotonic() + 10.0
    for (t, n, s, ln) in seen:
        if done and t >= done[0] and ln >= signals:
            t_sink = t
            break
    while t_sink is None and time.monotonic() < sink_deadline:
        check_alive(procs)
        if lines.count() >= signals:
            t_sink = time.monotonic()
            break
        time.sleep(poll)
    wrote = lines.count()

    # CPU time each stage spent on the burst (the engine's includes
    # answering the status polls; the feeders' their history generation).
    cpu = {"engine": cpu_seconds(engine), "sink": cpu_seconds(sink),
           "feeders": sum(cpu_seconds(b) or 0 for b in bursts),
           "engine_io": io_cpu_seconds(engine)}
    for k in ("engine", "sink", "engine_io"):
        if cpu[k] is not None and cpu0[k] is not None:
            cpu[k] -= cpu0[k]

    # Final counters.
    fst = []
    for k in range(len(grp)):
        s, _ = breqs[k].status()
        if s is None:
            raise Broken("burst feeder %d does not answer status" % k)
        fst.append(s)
    published = sum(s.get("bars_published", 0) for s in fst)
    fdropped = sum(s.get("dropped", 0) for s in fst)
    est, _ = eng.status()
    if est is None:
        raise Broken("the engine does not answer status after the run")

    ids = set()
    dup = bad_json = 0
    with open(sink_path, "rb") as f:
        for ln in f:
            try:
                i = json.loads(ln)["id"]
            except (ValueError, KeyError, TypeError):
                bad_json += 1
                continue
            if i in ids:
                dup += 1
            ids.add(i)

    n_end = est.get("bars_in", 0)
    if done is not None:
        t_end = done[0] if t_sink is None else max(done[0], t_sink)
        timed = n_end - first[1]
        secs = t_end - first[0]
    else:
        # Incomplete (bars lost): up to the last poll that saw bars move.
        moved = [x for x in seen if x[1] == seen[-1][1]][0]
        t_end = moved[0]
        timed = moved[1] - first[1]
        secs = t_end - first[0]
    rate = timed / secs if secs > 0 and timed > 0 else float("nan")
    res = {
        "nsym": nsym, "expected": expected,
        "published": published, "fdropped": fdropped,
        "bars_in": n_end, "signals": published_by(est),
        "journaled": est.get("signals", 0),
        "gaps": est.get("gaps", 0), "bad": est.get("bad", 0),
        "old": est.get("old", 0), "edropped": est.get("dropped", 0),
        "wrote": wrote, "dup": dup, "bad_json": bad_json,
        "rate": rate, "timed": timed, "secs": secs,
        "first_in": first[1], "first_after": first[0] - t_spawn,
        "sink_lag": (t_sink - done[0]) if (t_sink and done) else None,
        "complete": done is not None, "warm": t_warm, "polls": len(seen),
        "pub_done": (t_pub - first[0]) if t_pub else None, "cpu": cpu,
        "poll_cpu": poll_cpu, "burst_polls": len(seen),
        "live_syms": sum(1 for y in est.get("symbols", [])
                         if y.get("live")),
        # Live bars the strategies actually took (bars_in counts receipt).
        "fed": sum(y.get("bars", 0) - y.get("warm_bars", 0)
                   for y in est.get("symbols", [])),
        "disabled": sum(1 for y in est.get("symbols", [])
                        if y.get("error")),
    }
    # Warnings and errors the programs logged during the run.
    res["logged"] = {}
    for p in procs:
        w = [ln for ln in p.log_lines() if " WARN " in ln or " ERROR " in ln]
        if w:
            res["logged"][p.name] = w
    return res


def problems_of(r):
    out = []
    loss = r["published"] - r["bars_in"]
    if r["published"] != r["expected"]:
        out.append("feeders published %d of %d bars"
                   % (r["published"], r["expected"]))
    if loss:
        out.append("%d bar(s) published but not taken by the engine" % loss)
    if r["fed"] != r["bars_in"]:
        out.append("engine received %d bars but its strategies took %d"
                   % (r["bars_in"], r["fed"]))
    if r["gaps"] or r["bad"] or r["old"]:
        out.append("engine saw %d gap(s), %d bad and %d old bar(s)"
                   % (r["gaps"], r["bad"], r["old"]))
    if r["fdropped"] or r["edropped"]:
        out.append("publishers dropped messages (feeders %d, engine %d)"
                   % (r["fdropped"], r["edropped"]))
    if r["journaled"] != r["signals"]:
        out.append("engine journal holds %d signals, %d published by this "
                   "run (not fresh)" % (r["journaled"], r["signals"]))
    if r["wrote"] != r["signals"]:
        out.append("sink wrote %d of %d signals" % (r["wrote"], r["signals"]))
    if r["dup"] or r["bad_json"]:
        out.append("sink file: %d duplicate id(s), %d unparsable line(s)"
                   % (r["dup"], r["bad_json"]))
    if r["disabled"]:
        out.append("strategy disabled on %d symbol(s)" % r["disabled"])
    return out


def report(runs):
    """The median run's figures, the spread over runs, then details."""
    rates = sorted(r["rate"] for r in runs if r["rate"] == r["rate"])
    name = "%d symbol%s" % (runs[0]["nsym"],
                            "" if runs[0]["nsym"] == 1 else "s")
    head = "pipeline (demo burst -> engine sma_cross -> file sink), %s: " % name
    if not rates:
        print(head + "no rate (too few bars timed)")
        sys.stdout.flush()
        return None
    med = rates[len(rates) // 2]
    r = [x for x in runs if x["rate"] == med][0]
    print(head + "%d bars in %.2f s = %s bars/s, %d signals"
          % (r["bars_in"], r["bars_in"] / med, "{:,.0f}".format(med),
             r["signals"]))
    print("    median of %d run(s): %s bars/s"
          % (len(runs), ", ".join("{:,.0f}".format(x) for x in rates)))
    print("    timed %d bars over %.3f s, from the first status poll that saw"
          " bars (%d in, %.2f s after the burst feeders started) to the last"
          " bar in the engine%s; %d polls"
          % (r["timed"], r["secs"], r["first_in"], r["first_after"],
             "" if r["sink_lag"] is None else
             " and the sink (%+.0f ms after the engine)"
             % (r["sink_lag"] * 1000), r["polls"]))
    if r["pub_done"] is not None:
        bound = ("engine-bound: the engine had a backlog"
                 if r["pub_done"] < 0.8 * r["secs"] else
                 "feeder-bound: the engine kept up")
        print("    feeders done publishing %.2f s into the timed span (%s)"
              % (r["pub_done"], bound))
    cpu = r["cpu"]
    per = max(r["bars_in"], 1)

    def us(x):
        return "n/a" if x is None else "%.2f s = %.2f us/bar" % (
            x, x * 1e6 / per)
    print("    CPU: engine %s, sink %s; burst feeders %.2f s (with %d history"
          " bars each); engine start + warm-up of %d symbol(s) %.2f s"
          % (us(cpu["engine"]), us(cpu["sink"]), cpu["feeders"],
             FEEDER_BARS, r["nsym"], r["warm"]))
    net = None
    if cpu["engine"] is not None:
        polls = r["poll_cpu"] * r["burst_polls"]
        net = max(cpu["engine"] - polls, 0.0) * 1e6 / per
        print("    engine CPU less its %d status replies (%.2f ms each): "
              "%.2f us/bar%s" % (r["burst_polls"], r["poll_cpu"] * 1e3, net,
                                 "" if cpu["engine_io"] is None else
                                 ", of which ZeroMQ's I/O thread %.2f"
                                 % (cpu["engine_io"] * 1e6 / per)))
    print("    counts: expected %d, feeders published %d, engine bars_in %d"
          " (lost %d), fed to strategies %d, gaps %d, bad %d, old %d;"
          " dropped: feeders %d, engine %d; signals %d, sink wrote %d"
          " (duplicate ids %d)"
          % (r["expected"], r["published"], r["bars_in"],
             r["published"] - r["bars_in"], r["fed"], r["gaps"], r["bad"],
             r["old"],
             r["fdropped"], r["edropped"], r["signals"], r["wrote"],
             r["dup"]))
    noted = False
    for k, x in enumerate(runs):
        for p in problems_of(x):
            print("    NOTE (run %d): %s" % (k + 1, p))
            noted = True
    logged = {}
    for x in runs:
        for pname, lines in x["logged"].items():
            logged.setdefault(pname, []).extend(lines)
    for pname, lines in sorted(logged.items()):
        print("    %s logged %d warning/error line(s), e.g.: %s"
              % (pname, len(lines), lines[0].split(" ", 2)[-1]))
    sys.stdout.flush()
    return {"rate": med, "engine_us": net, "noted": noted}


# {==================== the physical limits and the targets ==========

def bench_bin(name):
    """A benchmark program (tests/bench/run.sh says where they are)."""
    d = os.environ.get("BENCH_BIN_DIR") or os.path.join(
        ROOT, "build", "rel", "bench")
    path = os.path.join(d, name)
    return path if os.access(path, os.X_OK) else None


def figures(args, timeout):
    """Runs a benchmark mode that prints one line of "key=value" figures;
    the figures as a dict, or raises Broken."""
    try:
        out = subprocess.run(args, stdin=subprocess.DEVNULL,
                             capture_output=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        raise Broken("%s did not finish within %.0f s"
                     % (" ".join(args[:2]), timeout))
    if out.returncode != 0:
        raise Broken("%s: exit status %d: %s"
                     % (" ".join(args[:2]), out.returncode,
                        out.stderr.decode("utf-8", "replace").strip()[-300:]))
    res = {}
    for tok in out.stdout.decode("utf-8", "replace").split():
        k, eq, v = tok.partition("=")
        if eq:
            try:
                res[k] = float(v)
            except ValueError:
                res[k] = v
    return res


def raw_throughput(n):
    """Raw two-frame PUB->SUB over ipc (bench_bus), msg/s."""
    b = bench_bin("bench_bus")
    if not b:
        raise Broken("bench_bus not found (make bench builds it)")
    return figures([b, "--throughput", str(n)], 120)["msgs_per_s"]


def engine_alone():
    """The engine core alone (bench_engine --core): us per bar."""
    b = bench_bin("bench_engine")
    if not b:
        raise Broken("bench_engine not found (make bench builds it)")
    out = subprocess.run([b, "--core"], stdin=subprocess.DEVNULL,
                         capture_output=True, timeout=120, cwd=ROOT)
    m = re.search(r"one core: (\d+) ns/bar", out.stdout.decode())
    if out.returncode != 0 or not m:
        raise Broken("bench_engine --core printed no figure: %s"
                     % out.stderr.decode("utf-8", "replace")[-300:])
    return float(m.group(1)) / 1000.0


def lat_line(f):
    return ("p50 %.0f us, p99 %.0f us, worst %.0f us; %d over 5 ms "
            "(%d bar-signal pairs)" % (f["p50_us"], f["p99_us"], f["max_us"],
                                       f["over5ms"], f["n"]))


def lat_compare(head, pipe, raw, target):
    print(head)
    print("    pipeline: " + lat_line(pipe))
    print("    raw two hops, same run: " + lat_line(raw))
    ratio = pipe["p99_us"] / raw["p99_us"] if raw["p99_us"] > 0 else 0
    print("    today's figure: p99 %.2fx the raw two hops; %s"
          % (ratio, target))
    sys.stdout.flush()


def steady_latency(secs, nsym=100, rate=10000):
    """Bar-to-signal latency at a steady `rate` bars/s: one demo feeder
    of `nsym` symbols ticking every nsym/rate s, one engine (sma_cross),
    and one observer (bench_bus --observe) subscribed to the feeder's
    bars and the engine's signals. Then the raw two hops at the same
    rate, in the same run."""
    obs = bench_bin("bench_bus")
    if not obs:
        raise Broken("bench_bus not found (make bench builds it)")
    work = tempfile.mkdtemp(prefix="lt-bench-")
    procs = []
    syms = ["L%03d" % i for i in range(nsym)]

    def ep(name):
        return "ipc://%s/%s" % (work, name)
    try:
        procs.append(Proc(work, "feeder", [
            os.path.join(BIN, "livetrade-feeder"), "--source", "demo",
            "--symbols", ",".join(syms), "--seed", str(SEED),
            "--history", "200", "--interval", "%g" % (float(nsym) / rate),
            "--pub", ep("f.pub"), "--rep", ep("f.rep")]))
        procs.append(Proc(work, "engine", [
            os.path.join(BIN, "livetrade-engine"), "--strategy", STRATEGY,
            "--symbols", ",".join(syms), "--sub", ep("f.pub"),
            "--history", ep("f.rep"), "--pub", ep("e.pub"),
            "--rep", ep("e.rep"), "--journal", os.path.join(work, "j")]))
        eng = Requester(ep("e.rep"))

        def all_live():
            st, _ = eng.status()
            return st and all(y.get("live") for y in st.get("symbols", []))
        wait_for("every symbol to be live in the engine", 60, all_live,
                 procs)
        pipe = figures([obs, "--observe", ep("f.pub"), ep("e.pub"),
                        str(secs)], secs + 60)
        check_alive(procs)
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)
    raw = figures([obs, "--latency", str(rate), str(secs), str(nsym)],
                  secs + 60)
    return pipe, raw


def burst_latency(nsym):
    """A top-of-minute burst: one bar for each of `nsym` symbols at once
    from two demo feeders (each half the symbols, every other one), into
    two engine shards (each half the symbols, the first and the second
    half, subscribed to both feeders); one observer subscribed to the
    feeders' bars and both engines' signals, as a sink would be. The
    feeders publish once every subscription has arrived, the observer's
    last: the burst starts when the observer is ready. Then the raw two
    hops for a burst of as many messages."""
    obs = bench_bin("bench_bus")
    if not obs:
        raise Broken("bench_bus not found (make bench builds it)")
    work = tempfile.mkdtemp(prefix="lt-bench-")
    procs = []
    syms = ["B%05d" % i for i in range(nsym)]
    feeds = [syms[0::2], syms[1::2]]
    shards = [syms[:nsym // 2], syms[nsym // 2:]]

    def ep(name):
        return "ipc://%s/%s" % (work, name)
    try:
        for k, g in enumerate(feeds):
            # Each engine subscribes to each of its symbols on both
            # feeders; the observer once ("bar|").
            procs.append(Proc(work, "feeder%d" % k, [
                os.path.join(BIN, "livetrade-feeder"), "--source", "demo",
                "--symbols", ",".join(g), "--seed", str(SEED),
                "--history", "100", "--interval", "0", "--count", "1",
                "--wait-subscribers", str(nsym + 1),
                "--pub", ep("f%d.pub" % k), "--rep", ep("f%d.rep" % k)]))
        fpub = ",".join(ep("f%d.pub" % k) for k in range(2))
        frep = ",".join(ep("f%d.rep" % k) for k in range(2))
        engs = []
        for k, g in enumerate(shards):
            procs.append(Proc(work, "engine%d" % k, [
                os.path.join(BIN, "livetrade-engine"), "--strategy",
                STRATEGY, "--symbols", ",".join(g), "--sub", fpub,
                "--history", frep, "--pub", ep("e%d.pub" % k),
                "--rep", ep("e%d.rep" % k),
                # A cap on the Lua memory of all symbols together (a
                # strategy needs at least 1 MiB of it).
                "--memory-mb", str(max(2048, 2 * len(g))),
                "--journal", os.path.join(work, "j%d" % k)]))
            engs.append(Requester(ep("e%d.rep" % k)))
        t0 = time.monotonic()
        for k, eng in enumerate(engs):
            def all_live():
                st, _ = eng.status(timeout_ms=10000)
                return st and all(y.get("live")
                                  for y in st.get("symbols", []))
            wait_for("every symbol to be live in engine %d" % k, 120,
                     all_live, procs, interval=0.2)
        warm = time.monotonic() - t0
        try:
            pipe = figures([obs, "--observe", fpub,
                            ",".join(ep("e%d.pub" % k) for k in range(2)),
                            "30"], 90)
        except Broken:
            for p in procs:
                for ln in p.log_lines()[-3:]:
                    print("    %s: %s" % (p.name, ln), file=sys.stderr)
            raise
        check_alive(procs)
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)
    raw = figures([obs, "--latency", str(nsym), "0", "1"], 60)
    return pipe, raw, warm

# }==========================================================


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=int, default=200000,
                    help="live bars for the one-symbol case")
    ap.add_argument("--symbols", type=int, default=1000,
                    help="symbols for the many-symbol case (0: none)")
    ap.add_argument("--bars-per-symbol", type=int, default=200,
                    help="live bars per symbol in the many-symbol case")
    ap.add_argument("--poll", type=float, default=0.01,
                    help="seconds between status polls")
    ap.add_argument("--runs", type=int, default=3,
                    help="runs of each case (the median is reported)")
    ap.add_argument("--budget", type=float, default=90.0,
                    help="no further repeat runs once this many seconds"
                    " have passed")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="longest wait for one burst, seconds")
    ap.add_argument("--raw-msgs", type=int, default=1000000,
                    help="messages of the raw PUB->SUB measurement")
    ap.add_argument("--latency-secs", type=float, default=5.0,
                    help="seconds of the steady latency measurement (0: "
                    "none)")
    ap.add_argument("--burst", type=int, default=11000,
                    help="bars of the top-of-minute burst (0: none)")
    a = ap.parse_args()

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    for prog in ("livetrade-feeder", "livetrade-engine", "livetrade-sink"):
        if not os.access(os.path.join(BIN, prog), os.X_OK):
            print("pipeline: %s not found in %s (run make)" % (prog, BIN),
                  file=sys.stderr)
            return 1
    status = 0
    try:
        raw = raw_throughput(a.raw_msgs)
        alone = engine_alone()
    except Broken as e:
        print("pipeline: BROKEN: %s" % e)
        return 1
    print("raw two-frame PUB->SUB over ipc, this run: %s msg/s; the engine"
          " core alone (bench_engine --core): %.2f us/bar"
          % ("{:,.0f}".format(raw), alone))
    sys.stdout.flush()
    cases = [(1, a.bars, a.poll, 0.80),
             (a.symbols, a.bars_per_symbol, max(a.poll, 0.02), 0.60)]
    cases = [c for c in cases if c[0] > 0 and c[1] > 0]
    t_start = time.monotonic()
    got = {}
    for nsym, per_sym, poll, target in cases:
        runs = []
        for k in range(a.runs):
            if k > 0 and time.monotonic() - t_start > a.budget:
                print("pipeline, %d symbol(s): %d run(s) left out (over the"
                      " %.0f s budget)" % (nsym, a.runs - k, a.budget))
                break
            try:
                runs.append(run_case(nsym, per_sym, poll, a.timeout))
            except Broken as e:
                print("pipeline, %d symbol(s), run %d: BROKEN: %s"
                      % (nsym, k + 1, e))
                sys.stdout.flush()
                status = 1
            except KeyboardInterrupt:
                print("pipeline: interrupted", file=sys.stderr)
                return 1
        if not runs:
            continue
        fig = report(runs)
        for x in runs:
            if x["bars_in"] == 0 or x["signals"] == 0 or x["wrote"] == 0:
                print("    BROKEN: no signal made or written")
                status = 1
                break
        if not fig:
            continue
        got[nsym] = fig
        print("    today's figure: %s bars/s = %.0f%% of the raw PUB->SUB "
              "(%s msg/s)%s; target >= %.0f%%"
              % ("{:,.0f}".format(fig["rate"]), 100 * fig["rate"] / raw,
                 "{:,.0f}".format(raw),
                 ", with the problems NOTEd above" if fig["noted"] else
                 ", nothing lost",
                 100 * target))
        if fig["engine_us"] is not None:
            print("    today's figure: engine CPU %.2f us/bar = %.2fx the "
                  "engine core alone (%.2f us/bar); target <= 1.5x"
                  % (fig["engine_us"], fig["engine_us"] / alone, alone))
        sys.stdout.flush()
    one, many = got.get(1), got.get(a.symbols)
    if one and many and one["engine_us"] and many["engine_us"]:
        print("pipeline, %d symbols in rotation vs one symbol: engine CPU "
              "%.2f / %.2f us/bar = %.2fx (today's figure; target <= 1.5x)"
              % (a.symbols, many["engine_us"], one["engine_us"],
                 many["engine_us"] / one["engine_us"]))
    try:
        if a.latency_secs > 0:
            pipe, rawl = steady_latency(a.latency_secs)
            lat_compare("latency at a steady 10,000 bars/s (100 symbols "
                        "every 10 ms), bar to signal, seen by one subscriber "
                        "of the feeder and the engine:", pipe, rawl,
                        "target p99 within 1.5x, no stall over 5 ms")
        if a.burst > 0:
            pipe, rawl, warm = burst_latency(a.burst)
            lat_compare("top-of-minute burst: one bar for each of %d "
                        "symbols at once (two feeders) into two engine "
                        "shards (start and warm-up %.1f s), bar to signal, "
                        "seen by one subscriber of the feeders and both "
                        "engines (as a sink):" % (a.burst, warm), pipe, rawl,
                        "target p99 under 100 ms (today %.0f ms)"
                        % (pipe["p99_us"] / 1000))
    except Broken as e:
        print("pipeline, latency: BROKEN: %s" % e)
        status = 1
    except KeyboardInterrupt:
        print("pipeline: interrupted", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
