#!/usr/bin/python3
"""A third-party signal reader, written from README.md's "Wire protocol"
section alone: subscribe to an engine's signal publisher, decode each
two-frame message (topic, msgpack map) and print one JSON line per signal.

    reader.py ENDPOINT [SYMBOL...]      (no symbol: every signal)
"""
import json
import sys

import msgpack
import zmq


def main():
    endpoint, symbols = sys.argv[1], sys.argv[2:]
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.connect(endpoint)
    for sym in symbols or [None]:
        # Topics are "sig|SYMBOL|"; "sig|" alone matches every symbol.
        sub.setsockopt(zmq.SUBSCRIBE,
                       b"sig|" + (sym.encode() + b"|" if sym else b""))
    sub.setsockopt(zmq.SUBSCRIBE, b"hb|")           # heartbeats
    print(json.dumps({"ready": True}), flush=True)
    while True:
        topic, body = sub.recv_multipart()
        msg = msgpack.unpackb(body, raw=False)
        if topic == b"hb|":
            continue
        assert msg["ver"] == 1
        sym = topic.decode().split("|")[1]
        assert msg["sym"] == sym
        print(json.dumps({k: msg[k] for k in (
            "id", "eng", "strat", "sym", "act", "t", "ord", "px", "size",
            "conf", "ind", "seq", "pub")}), flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
