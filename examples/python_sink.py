#!/usr/bin/python3
"""A livetrade sink in Python, straight on the bus: subscribes to an
engine's signals, decodes each msgpack map, notices gaps and engine
restarts from the sequence numbers, and prints one line per signal.

    python_sink.py ENDPOINT [SYMBOL...] [--count N]

Needs Debian's python3-zmq and python3-msgpack. Stops on SIGINT/SIGTERM.
"""
import argparse
import signal
import sys
import time

import msgpack
import zmq


def main():
    ap = argparse.ArgumentParser(description="print livetrade signals")
    ap.add_argument("endpoint", help="engine signal publisher, "
                    "e.g. tcp://127.0.0.1:5557")
    ap.add_argument("symbols", nargs="*", help="only these (default: all)")
    ap.add_argument("--count", type=int, default=0,
                    help="exit after N signals (default: run until stopped)")
    args = ap.parse_args()

    stopping = []
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda signum, frame: stopping.append(signum))

    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(args.endpoint)
    # Topics are "sig|SYMBOL|"; "sig|" alone matches every symbol.
    for sym in args.symbols or [""]:
        sub.setsockopt(zmq.SUBSCRIBE, b"sig|" + (sym + "|").encode()
                       if sym else b"sig|")

    # Gaps show only without a symbol filter: an engine numbers all its
    # signals, so a filtered stream skips the other symbols' numbers.
    gaps = not args.symbols
    last = {}                           # engine id -> (instance id, seq)
    n = 0
    while not stopping and (args.count == 0 or n < args.count):
        if not sub.poll(200):           # wake up to notice a signal
            continue
        frames = sub.recv_multipart()   # topic, msgpack map
        try:
            sig = msgpack.unpackb(frames[-1], raw=False)
            eng, pub, seq = sig["eng"], sig["pub"], sig["seq"]
        except (ValueError, KeyError, TypeError,
                msgpack.UnpackException) as e:
            print("skipped a malformed message: %r" % e, file=sys.stderr)
            continue
        prev = last.get(eng)
        if prev and prev[0] != pub:
            print("engine %s restarted" % eng, file=sys.stderr)
        elif prev and gaps and seq > prev[1] + 1:
            print("gap: missed %d signals from %s (seq %d..%d)"
                  % (seq - prev[1] - 1, eng, prev[1] + 1, seq - 1),
                  file=sys.stderr)
        last[eng] = (pub, seq)
        n += 1
        bar = time.strftime("%Y-%m-%d %H:%M", time.gmtime(sig["t"] / 1000))
        print("#%d %s %s %s %s @ %.2f conf %.2f id %s" % (
            seq, eng, bar, sig["sym"], sig["act"], sig["px"], sig["conf"],
            sig["id"]), flush=True)
    sub.close()


if __name__ == "__main__":
    main()
