#!/usr/bin/python3
"""A mock Polygon.io (Massive) server for livetrade's tests.

Speaks the REST aggregates API (GET /v2/aggs/ticker/...) and the
WebSocket feeds of stocks, crypto, forex and indices (/stocks,
/delayed/stocks, /crypto, /forex, /indices, /delayed/indices) as described
in POLYGON.md and README.md ("Markets"), with
faults that a script or a control endpoint can inject. Standard library only;
TLS certificates come from the `openssl` command.

    mock_polygon.py --rest-port 0 --ws-port 0 [--tls] [--script FILE]

When both listeners are up it prints one JSON line on stdout, e.g.
    {"ready": true, "rest_port": 40001, "ws_port": 40002,
     "rest_url": "http://127.0.0.1:40001", "ws_url": "ws://127.0.0.1:40002",
     "tls": false, "cert": null, "pid": 1234}
and then serves until SIGTERM/SIGINT, POST /_mock/shutdown, or
--max-lifetime seconds (default 600). See README.md next to this file for
the script format and the control API.
"""
import argparse
import base64
import calendar
import gzip
import hashlib
import http.server
import json
import math
import os
import queue
import secrets
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

try:
    from zoneinfo import ZoneInfo
    ET = ZoneInfo("America/New_York")
except Exception:  # no tz database: fixed EST is good enough for a mock
    ET = None

MINUTE = 60000
DAY = 86400000
MAX_SLOW_MS = 10000
MAX_HOLD_MS = 60000
MAX_FRAME = 1 << 20
SEND_TIMEOUT_S = 30     # one write to a client (a frame of many MiB)
SEND_PIECE = 16384      # bytes per send(): at most one TLS record
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# Error bodies as Polygon sends them (see shared/polygon_fixtures/rest/).
MSG_NO_KEY = "API Key was not provided"
MSG_BAD_KEY = "Unknown API Key"
MSG_NOT_ENTITLED = ("You are not entitled to this data. Please upgrade your "
                    "plan at https://polygon.io/pricing")
MSG_RATE = ("You've exceeded the maximum requests per minute, please wait or "
            "upgrade your subscription to continue. https://polygon.io/pricing")
# The markets (README.md, "Markets"): aggregate events (minute, second),
# the key of the symbol in them, and the prefix of their REST tickers.
MARKETS = {
    "stocks": {"min": "AM", "sec": "A", "key": "sym", "prefix": ""},
    "crypto": {"min": "XA", "sec": "XAS", "key": "pair", "prefix": "X:"},
    "forex": {"min": "CA", "sec": "CAS", "key": "pair", "prefix": "C:"},
    "indices": {"min": "AM", "sec": "A", "key": "sym", "prefix": "I:"},
}
WS_PATHS = {"/stocks": "stocks", "/delayed/stocks": "stocks",
            "/crypto": "crypto", "/forex": "forex", "/indices": "indices",
            "/delayed/indices": "indices"}
AGG_EVENTS = {ev for m in MARKETS.values() for ev in (m["min"], m["sec"])}
CRYPTO_QUOTES = ("USDT", "USDC")   # else the quote is the last 3 letters


def ev_span(ev):
    """The span of an aggregate event: MINUTE, or 1000 for seconds."""
    return 1000 if ev in ("A", "XAS", "CAS") else MINUTE


def market_of(ticker):
    """The market of a REST ticker, by its prefix."""
    for name in ("crypto", "forex", "indices"):
        if ticker.startswith(MARKETS[name]["prefix"]):
            return name
    return "stocks"


def ws_name(ticker):
    """A REST ticker as its WebSocket events name it: X:BTCUSD -> BTC-USD,
    C:EURUSD -> EUR/USD, I:SPX and AAPL unchanged."""
    mk = market_of(ticker)
    if mk == "crypto":
        p = ticker[2:]
        q = next((q for q in CRYPTO_QUOTES if p.endswith(q)), p[-3:])
        return "%s-%s" % (p[:-len(q)], q)
    if mk == "forex":
        return "%s/%s" % (ticker[2:5], ticker[5:])
    return ticker


DISCONNECT_MSG = {
    "max_connections": "Maximum number of connections exceeded.",
    "force_disconnect": "Connection forcibly disconnected.",
    "slow_consumer": "Connection closed: slow consumer.",
    "auth_timeout": "No authentication request received.",
}


def now_ms():
    return int(time.time() * 1000)


def request_id():
    return secrets.token_hex(16)


# ---------------------------------------------------------------- time utils

def et_offset_ms(t_ms):
    if ET is None:
        return -5 * 3600000
    import datetime
    d = datetime.datetime.fromtimestamp(t_ms / 1000, datetime.timezone.utc)
    return int(d.astimezone(ET).utcoffset().total_seconds() * 1000)


def et_midnight(y, m, d):
    """Unix ms of 00:00 America/New_York on y-m-d."""
    utc_mid = calendar.timegm((y, m, d, 0, 0, 0)) * 1000
    guess = utc_mid - et_offset_ms(utc_mid)
    return utc_mid - et_offset_ms(guess)


def et_day_start(t_ms):
    import datetime
    off = et_offset_ms(t_ms)
    d = datetime.datetime.utcfromtimestamp((t_ms + off) / 1000)
    return et_midnight(d.year, d.month, d.day)


def parse_time(v, base=None):
    """A script time: int ms, "YYYY-MM-DD" (00:00 ET), ISO "...Z", or
    "now", "now-90m", "now+5m" (minute-floored)."""
    if isinstance(v, (int, float)):
        return int(v)
    s = str(v).strip()
    if s.startswith("now"):
        t = (base if base is not None else now_ms()) // MINUTE * MINUTE
        rest = s[3:]
        if rest:
            unit = {"s": 1000, "m": MINUTE, "h": 3600000, "d": DAY}[rest[-1]]
            t += int(rest[:-1]) * unit
        return t
    if s.isdigit():
        return int(s)
    if len(s) == 10:
        y, m, d = (int(x) for x in s.split("-"))
        return et_midnight(y, m, d)
    s = s.rstrip("Z")
    date, _, clock = s.partition("T")
    y, m, d = (int(x) for x in date.split("-"))
    hh, mm, ss = (clock.split(":") + ["0", "0", "0"])[:3]
    return calendar.timegm((y, m, d, int(hh), int(mm), int(float(ss)))) * 1000


# ------------------------------------------------------------------ dataset

def _h(*parts):
    d = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(d[:8], "big") / 2.0 ** 64


class Dataset:
    """Deterministic bars: minute bars for each symbol over [start, end),
    computed from (symbol, time) so REST and WebSocket always agree. Second
    bars are computed the same way. Corrections override single bars."""

    def __init__(self, spec, t0):
        spec = spec or {}
        syms = spec.get("symbols", {"AAPL": 180.0, "MSFT": 400.0})
        if isinstance(syms, list):
            syms = {s: 100.0 for s in syms}
        self.base = {s: float(p) for s, p in syms.items()}
        self.start = parse_time(spec.get("start", "now-240m"), t0)
        self.end = parse_time(spec.get("end", "now+240m"), t0)
        self.gaps = {s: set(int(x) for x in g)
                     for s, g in spec.get("gaps", {}).items()}
        self.gap_every = int(spec.get("gap_every", 0))
        # "regular": bars only Monday to Friday, 09:30-16:00 New York time,
        # and not on the "holidays" (YYYY-MM-DD, New York dates).
        self.hours = spec.get("hours", "all")
        if self.hours not in ("all", "regular"):
            raise ValueError("dataset hours: 'all' or 'regular'")
        self.holidays = set(spec.get("holidays", []))
        self.overrides = {}  # (sym, span_ms, t) -> bar
        self.lock = threading.Lock()
        self.csv = {}
        if spec.get("csv"):
            self._load_csv(spec["csv"])

    def _load_csv(self, path):
        """CSV rows sym,t,o,h,l,c,v[,vw,n] (header line optional) replace
        the generated minute bars for the symbols they name."""
        with open(path) as f:
            for line in f:
                cells = [c.strip() for c in line.split(",")]
                if len(cells) < 7 or not cells[1].lstrip("-").isdigit():
                    continue
                sym, t = cells[0], int(cells[1])
                o, h, l, c, v = (float(x) for x in cells[2:7])
                bar = {"v": v, "vw": float(cells[7]) if len(cells) > 7
                       and cells[7] else round((h + l + c) / 3, 4),
                       "o": o, "c": c, "h": h, "l": l, "t": t,
                       "n": int(cells[8]) if len(cells) > 8 and cells[8]
                       else 1}
                self.csv.setdefault(sym, {})[t] = bar
                self.base.setdefault(sym, o)

    def symbols(self):
        return sorted(self.base)

    def market_open(self, t):
        """Whether minute t is inside the dataset's trading hours."""
        if self.hours == "all":
            return True
        import datetime
        d = datetime.datetime.utcfromtimestamp((t + et_offset_ms(t)) / 1000)
        if d.weekday() >= 5 or d.strftime("%Y-%m-%d") in self.holidays:
            return False
        return 9 * 60 + 30 <= d.hour * 60 + d.minute < 16 * 60

    def _price(self, sym, t):
        p0 = self.base[sym]
        x = t / 3600000.0
        return p0 * (1 + 0.01 * math.sin(x * 2.1 + _h(sym) * 6)
                     + 0.004 * math.sin(x * 13.7) + 0.002 * (_h(sym, t) - .5))

    def bar(self, sym, t, span=MINUTE):
        """The bar of sym starting at t (span MINUTE or 1000), or None."""
        if sym not in self.base:
            return None
        with self.lock:
            ov = self.overrides.get((sym, span, t))
        if ov is not None:
            return dict(ov)
        if sym in self.csv:
            if span != MINUTE:
                return None
            b = self.csv[sym].get(t)
            return dict(b) if b else None
        if t % span or t < self.start or t >= self.end:
            return None
        if not self.market_open(t - t % MINUTE):
            return None
        if span == MINUTE:
            if t in self.gaps.get(sym, ()):
                return None
            if self.gap_every and (t // MINUTE) % self.gap_every == \
                    self.gap_every - 1:
                return None
        o = self._price(sym, t)
        c = self._price(sym, t + span)
        r1, r2, r3 = _h(sym, t, "h"), _h(sym, t, "l"), _h(sym, t, "v")
        h = max(o, c) * (1 + 0.0008 * r1)
        l = min(o, c) * (1 - 0.0008 * r2)
        v = float(int(1000 + r3 * (50000 if span == MINUTE else 2000)))
        return {"v": v, "vw": round((o + c + h + l) / 4, 4),
                "o": round(o, 4), "c": round(c, 4), "h": round(h, 4),
                "l": round(l, 4), "t": t,
                "n": int(5 + r3 * (400 if span == MINUTE else 20))}

    def base_bars(self, sym, lo, hi, span):
        """Base bars with lo <= t <= hi, ascending."""
        out = []
        if sym not in self.base:
            return out
        if sym in self.csv and span == MINUTE:
            ts = sorted(t for t in self.csv[sym] if lo <= t <= hi)
            with self.lock:
                ts = sorted(set(ts) | {k[2] for k in self.overrides
                                       if k[0] == sym and k[1] == span
                                       and lo <= k[2] <= hi})
            return [b for b in (self.bar(sym, t, span) for t in ts) if b]
        a = max(lo, self.start)
        a = (a + span - 1) // span * span
        b = min(hi, self.end - 1)
        if b < a or (b - a) // span > 2000000:
            return out
        for t in range(a, b + 1, span):
            bar = self.bar(sym, t, span)
            if bar:
                out.append(bar)
        return out

    def correct(self, sym, t, span=MINUTE, delta=0.05, dv=100.0):
        """Makes the bar at t different (a late trade); returns it."""
        b = self.bar(sym, t, span)
        if b is None:
            return None
        b["c"] = round(b["c"] + delta, 4)
        b["h"] = round(max(b["h"], b["c"]), 4)
        b["l"] = round(min(b["l"], b["c"]), 4)
        b["v"] = b["v"] + dv
        b["n"] = b["n"] + 1
        with self.lock:
            self.overrides[(sym, span, t)] = b
        return dict(b)


# ------------------------------------------------------------ shared state

class State:
    def __init__(self, script, t0):
        self.t0 = t0
        self.script = script
        self.data = Dataset(script.get("dataset"), t0)
        keys = script.get("api_keys", ["test-key"])
        self.keys = set(keys)
        ent = script.get("entitled")
        self.entitled = set(ent) if ent is not None else None
        self.rest_status = script.get("status", "OK")
        self.rate_per_min = int(script.get("rate_limit_per_minute", 0))
        self.rate_window = []
        self.faults = [dict(f) for f in script.get("rest_faults", [])]
        ws = script.get("ws", {})
        self.sessions = list(ws.get("sessions", []))
        self.default_session = ws.get("default", {})
        self.max_conns = bool(ws.get("enforce_max_connections", False))
        self.live_t = parse_time(ws.get("live_start", "now-30m"), t0)
        self.lock = threading.RLock()
        self.log_rest = []
        self.log_ws = []
        self.conns = {}
        self.next_conn = 1
        self.rest_base = ""
        self.stop = threading.Event()
        self.release = threading.Event()  # ends "hold" faults
        self.held = 0                     # requests held right now

    def log(self, kind, entry):
        entry["ts"] = now_ms()
        with self.lock:
            lst = self.log_rest if kind == "rest" else self.log_ws
            if len(lst) < 100000:
                lst.append(entry)

    def key_ok(self, key):
        return key in self.keys

    def take_fault(self, path, ticker):
        """The first matching fault rule, with its count decremented."""
        with self.lock:
            for f in self.faults:
                if f.get("ticker") and f["ticker"] != ticker:
                    continue
                if f.get("path") and f["path"] not in path:
                    continue
                n = f.get("count", 1)
                if n == 0:
                    continue
                if n > 0:
                    f["count"] = n - 1
                f["used"] = f.get("used", 0) + 1
                return dict(f)
        return None

    def rate_limited(self):
        if not self.rate_per_min:
            return False
        with self.lock:
            t = time.monotonic()
            self.rate_window = [x for x in self.rate_window if t - x < 60]
            if len(self.rate_window) >= self.rate_per_min:
                return True
            self.rate_window.append(t)
            return False


# --------------------------------------------------------------- REST side

def b64url(s):
    return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)).decode()


SPAN = {"second": 1000, "minute": MINUTE, "hour": 3600000, "day": DAY,
        "week": 7 * DAY}


def bucket_start(t, mult, timespan):
    if timespan in ("second", "minute", "hour"):
        w = SPAN[timespan] * mult
        return t // w * w
    d = et_day_start(t)
    if timespan == "day":
        if mult == 1:
            return d
        return d  # multi-day buckets approximated by single days
    if timespan == "week":
        import datetime
        wd = datetime.datetime.utcfromtimestamp(
            (d + et_offset_ms(d)) / 1000).weekday()  # Mon=0
        back = (wd + 1) % 7  # weeks start on Sunday
        return et_day_start(d - back * DAY + 12 * 3600000)
    import datetime
    dt = datetime.datetime.utcfromtimestamp((d + et_offset_ms(d)) / 1000)
    m = dt.month
    if timespan == "quarter":
        m = (m - 1) // 3 * 3 + 1
    if timespan == "year":
        m = 1
    return et_midnight(dt.year, m, 1)


def aggregate(base, mult, timespan):
    """Groups ascending base bars into buckets: [(start, bar)]."""
    out = []
    for b in base:
        k = bucket_start(b["t"], mult, timespan)
        if out and out[-1][0] == k:
            a = out[-1][1]
            a["h"] = max(a["h"], b["h"])
            a["l"] = min(a["l"], b["l"])
            a["c"] = b["c"]
            pv = a["vw"] * a["v"] + b["vw"] * b["v"]
            a["v"] += b["v"]
            a["vw"] = round(pv / a["v"], 4) if a["v"] else a["vw"]
            a["n"] += b["n"]
        else:
            a = dict(b)
            a["t"] = k
            out.append((k, a))
    return [a for _, a in out]


def snap_range(frm, to, mult, timespan):
    def parse(v, end):
        if len(v) == 10 and v[4] == "-":
            y, m, d = (int(x) for x in v.split("-"))
            t = et_midnight(y, m, d)
            return t + DAY - 1 if end else t
        return int(v)
    f = parse(frm, False)
    t = parse(to, True)
    f = bucket_start(f, mult, timespan)
    return f, t


class RestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-polygon/1"
    timeout = 30

    def log_message(self, fmt, *args):
        pass

    @property
    def st(self):
        return self.server.state

    def send_json(self, code, obj, raw=None, extra=None, rid=None):
        body = raw if raw is not None else json.dumps(
            obj, separators=(",", ":")).encode()
        self.flush_entry(code)  # logged before the client can see a reply
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        if rid:
            self.send_header("X-Request-ID", rid)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if "gzip" in self.headers.get("Accept-Encoding", "") and body:
            body = gzip.compress(body)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return code

    entry = None

    def flush_entry(self, code):
        e, self.entry = self.entry, None
        if e is not None:
            e["status"] = code
            self.st.log("rest", e)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path.startswith("/_mock/"):
            return self.control("GET", u)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        key, how = None, "none"
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            key, how = auth[7:].strip(), "bearer"
        elif "apiKey" in q:
            key, how = q["apiKey"][0], "query"
        red = [(k, "REDACTED" if k == "apiKey" else v)
               for k, vs in q.items() for v in vs]
        entry = {"method": self.command, "path": u.path,
                 "query": dict(red), "query_string":
                 urllib.parse.urlencode(red), "auth": how,
                 "key_ok": self.st.key_ok(key) if key else False,
                 "gzip": "gzip" in self.headers.get("Accept-Encoding", ""),
                 "start_ts": now_ms(), "peer": self.client_address[1]}
        self.entry = entry
        try:
            self.serve_api(u, q, key, entry)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.flush_entry(-1)  # no reply was sent (a "close" fault)

    def error(self, code, status, field, msg, extra=None):
        rid = request_id()
        return self.send_json(code, {"status": status, "request_id": rid,
                                     field: msg}, extra=extra, rid=rid)

    def serve_api(self, u, q, key, entry):
        parts = u.path.strip("/").split("/")
        is_aggs = (len(parts) == 9 and parts[:3] == ["v2", "aggs", "ticker"]
                   and parts[4] == "range")
        ticker = parts[3] if is_aggs else None
        fault = self.st.take_fault(u.path, ticker)
        if fault:
            entry["fault"] = fault.get("kind")
            r = self.apply_fault(fault, u, q, key)
            if r is not None:
                return r
        if not key:
            return self.error(401, "ERROR", "error", MSG_NO_KEY)
        if not self.st.key_ok(key):
            return self.error(401, "ERROR", "error", MSG_BAD_KEY)
        if self.st.rate_limited():
            return self.error(429, "ERROR", "error", MSG_RATE)
        if not is_aggs:
            return self.error(404, "NOT_FOUND", "message",
                              "Route not found")
        ent = self.st.entitled
        if ent is not None and ticker not in ent:
            return self.error(403, "NOT_AUTHORIZED", "message",
                              MSG_NOT_ENTITLED)
        return self.aggs(parts, q, fault)

    def apply_fault(self, f, u, q, key):
        kind = f.get("kind")
        if kind == "slow":
            time.sleep(min(int(f.get("delay_ms", 1000)), MAX_SLOW_MS) / 1000)
            return None
        if kind == "hold":
            st = self.st
            with st.lock:
                st.held += 1
            st.release.wait(min(int(f.get("timeout_ms", 30000)),
                                MAX_HOLD_MS) / 1000)
            with st.lock:
                st.held -= 1
            return None
        if kind == "unauthorized":
            return self.error(401, "ERROR", "error", MSG_BAD_KEY)
        if kind == "no_key":
            return self.error(401, "ERROR", "error", MSG_NO_KEY)
        if kind == "forbidden":
            return self.error(403, "NOT_AUTHORIZED", "message",
                              MSG_NOT_ENTITLED)
        if kind == "rate_limit":
            extra = {}
            if f.get("retry_after") is not None:
                extra["Retry-After"] = str(f["retry_after"])
            return self.error(429, "ERROR", "error", MSG_RATE, extra)
        if kind == "server_error":
            code = int(f.get("code", 500))
            body = f.get("body", "")
            return self.send_json(code, None, raw=body.encode())
        if kind == "fixture":
            # a recorded response, byte for byte
            with open(f["file"], "rb") as fh:
                raw = fh.read()
            return self.send_json(int(f.get("code", 200)), None, raw=raw)
        if kind == "close":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return 0
        return None  # response-shaping faults are applied in aggs()

    def aggs(self, parts, q, fault):
        ticker, mult, timespan, frm, to = (parts[3], parts[5], parts[6],
                                           parts[7], parts[8])
        rid = request_id()
        try:
            mult = int(mult)
            if mult < 1 or timespan not in (
                    "second", "minute", "hour", "day", "week", "month",
                    "quarter", "year"):
                raise ValueError
            lo, hi = snap_range(frm, to, mult, timespan)
        except (ValueError, IndexError):
            return self.send_json(400, {
                "status": "ERROR", "request_id": rid,
                "error": "Could not parse the request parameters."}, rid=rid)
        opts = {"limit": 5000, "sort": "asc"}
        if "cursor" in q:
            try:
                cq = urllib.parse.parse_qs(unb64url(q["cursor"][0]))
                opts.update({k: v[0] for k, v in cq.items()})
            except Exception:
                return self.send_json(400, {
                    "status": "ERROR", "request_id": rid,
                    "error": "invalid cursor"}, rid=rid)
        for k in ("limit", "sort"):
            if k in q:
                opts[k] = q[k][0]
        adjusted = q.get("adjusted", ["true"])[0].lower() != "false"
        try:
            limit = max(1, min(50000, int(opts["limit"])))
        except ValueError:
            limit = 5000
        desc = opts["sort"] == "desc"
        span = 1000 if timespan == "second" else MINUTE
        base = self.st.data.base_bars(ticker, lo, hi, span)
        if desc:
            base.reverse()
        used = base[:limit]
        more = len(base) > limit
        asc_used = sorted(used, key=lambda b: b["t"])
        bars = aggregate(asc_used, mult, timespan)
        next_from = None
        if more:
            nxt = base[limit]
            k_next = bucket_start(nxt["t"], mult, timespan)
            if bars:
                # drop a partial bar that the limit cut
                edge = bars[-1] if not desc else bars[0]
                if edge["t"] == k_next:
                    if desc:
                        bars = bars[1:]
                    else:
                        bars = bars[:-1]
            next_from = k_next
        if desc:
            bars.reverse()
        if market_of(ticker) == "indices":      # values: no v, vw, n
            bars = [{k: v for k, v in b.items() if k not in ("v", "vw", "n")}
                    for b in bars]
        body = {"ticker": ticker, "queryCount": len(used),
                "resultsCount": len(bars), "adjusted": adjusted,
                "results": bars, "status": self.st.rest_status,
                "request_id": rid, "count": len(bars)}
        if more and next_from is not None:
            cur = b64url("limit=%d&sort=%s" % (limit, opts["sort"]))
            if desc:
                path = "/v2/aggs/ticker/%s/range/%d/%s/%s/%d" % (
                    ticker, mult, timespan, frm, next_from + (
                        mult * SPAN.get(timespan, DAY)) - 1)
            else:
                path = "/v2/aggs/ticker/%s/range/%d/%s/%d/%s" % (
                    ticker, mult, timespan, next_from, to)
            body["next_url"] = "%s%s?cursor=%s" % (self.st.rest_base, path,
                                                   cur)
        kind = fault.get("kind") if fault else None
        if kind == "next_url_loop":
            qs = [(k, v) for k, vs in q.items() for v in vs if k != "apiKey"]
            if "cursor" not in q:
                qs = [(k, v) for k, v in qs if k not in ("limit", "sort")]
                qs.append(("cursor", b64url("limit=%d&sort=%s" % (
                    limit, opts["sort"]))))
            body["next_url"] = "%s/%s?%s" % (
                self.st.rest_base, "/".join(parts),
                urllib.parse.urlencode(qs))
        elif kind == "results_missing":
            body.pop("results")
            body["resultsCount"] = body["count"] = body["queryCount"] = 0
            body.pop("next_url", None)
        elif kind == "results_null":
            body = {"status": "OK", "queryCount": 0, "resultsCount": 0,
                    "adjusted": adjusted, "results": None}
        elif kind == "results_empty":
            body["results"] = []
            body["resultsCount"] = body["count"] = body["queryCount"] = 0
            body.pop("next_url", None)
        elif kind == "malformed":
            raw = json.dumps(body, separators=(",", ":")).encode()
            return self.send_json(200, None, raw=raw[:max(1, len(raw) // 2)],
                                  rid=rid)
        return self.send_json(200, body, rid=rid)

    # ---- control API
    def do_POST(self):
        u = urllib.parse.urlsplit(self.path)
        if not u.path.startswith("/_mock/"):
            return self.error(404, "NOT_FOUND", "message", "Route not found")
        return self.control("POST", u)

    def do_DELETE(self):
        u = urllib.parse.urlsplit(self.path)
        return self.control("DELETE", u)

    def control(self, method, u):
        st = self.st
        body = None
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            try:
                body = json.loads(self.rfile.read(min(n, 1 << 22)))
            except ValueError:
                return self.send_json(400, {"error": "bad json"})
        p = u.path
        if method == "GET" and p == "/_mock/log":
            with st.lock:
                return self.send_json(200, {"rest": list(st.log_rest),
                                            "ws": list(st.log_ws)})
        if method == "GET" and p == "/_mock/state":
            with st.lock:
                return self.send_json(200, {
                    "live_t": st.live_t, "faults": st.faults,
                    "held": st.held,
                    "connections": sorted(st.conns),
                    "sessions_pending": len(st.sessions),
                    "symbols": st.data.symbols(),
                    "data_start": st.data.start, "data_end": st.data.end})
        if method == "POST" and p == "/_mock/fault":
            rules = body if isinstance(body, list) else [body]
            with st.lock:
                st.faults.extend(dict(r) for r in rules if r)
            return self.send_json(200, {"ok": True})
        if method == "DELETE" and p == "/_mock/fault":
            with st.lock:
                st.faults = []
            return self.send_json(200, {"ok": True})
        if method == "POST" and p == "/_mock/ws/session":
            with st.lock:
                st.sessions.extend(body if isinstance(body, list) else [body])
            return self.send_json(200, {"ok": True})
        if method == "POST" and p == "/_mock/ws/steps":
            steps = body.get("steps", []) if isinstance(body, dict) else body
            only = body.get("conn") if isinstance(body, dict) else None
            with st.lock:
                targets = [c for i, c in st.conns.items()
                           if only is None or i == only]
            for c in targets:
                c.steps.put(list(steps))
            return self.send_json(200, {"ok": True,
                                        "conns": [c.id for c in targets]})
        if method == "POST" and p == "/_mock/config":
            with st.lock:
                if "api_keys" in body:
                    st.keys = set(body["api_keys"])
                if "entitled" in body:
                    st.entitled = (set(body["entitled"])
                                   if body["entitled"] is not None else None)
                if "status" in body:
                    st.rest_status = body["status"]
                if "rate_limit_per_minute" in body:
                    st.rate_per_min = int(body["rate_limit_per_minute"])
                    st.rate_window = []
                if "live_t" in body:
                    st.live_t = parse_time(body["live_t"])
            return self.send_json(200, {"ok": True})
        if method == "POST" and p == "/_mock/release":
            st.release.set()
            return self.send_json(200, {"ok": True})
        if method == "POST" and p == "/_mock/reset":
            with st.lock:
                st.log_rest, st.log_ws, st.faults = [], [], []
                st.sessions = []
                st.release.clear()
            return self.send_json(200, {"ok": True})
        if method == "POST" and p == "/_mock/shutdown":
            self.send_json(200, {"ok": True})
            st.stop.set()
            return 200
        return self.send_json(404, {"error": "unknown control path"})


class RestServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class RestServer6(RestServer):
    address_family = socket.AF_INET6


# ---------------------------------------------------------- WebSocket side

class WsClosed(Exception):
    pass


class WsIdle(Exception):
    """Nothing arrived from the client for a short while."""


class WsConn:
    """One client connection: a reader thread (auth/subscribe/ping) and a
    runner thread (scripted steps)."""

    def __init__(self, st, sock, cid, peer):
        self.st, self.sock, self.id, self.peer = st, sock, cid, peer
        self.wlock = threading.Lock()
        self.steps = queue.Queue()
        self.closed = threading.Event()
        self.authed = threading.Event()
        self.subs = []
        self.subs_changed = threading.Condition()
        self.frames_sent = 0
        self.drop_after = None
        self.key = None
        self.path = None
        self.market = "stocks"   # by the path, at the handshake
        self.session = {}
        self.last_sent = {}   # (ev, sym) -> s, for "correction" with t=last
        self.muted = False    # "mute": no pongs, no frames
        self.reader_thread = None

    # -- low level
    def recv_exact(self, n, idle_ok=False):
        buf = b""
        deadline = time.monotonic() + 30
        while len(buf) < n:
            if self.closed.is_set() or time.monotonic() > deadline:
                raise WsClosed()
            try:
                chunk = self.sock.recv(n - len(buf))
            except socket.timeout:
                if idle_ok and not buf:
                    raise WsIdle()
                continue
            except ssl.SSLWantReadError:
                if idle_ok and not buf:
                    raise WsIdle()
                continue
            except (OSError, ssl.SSLError):
                raise WsClosed()
            if not chunk:
                raise WsClosed()
            buf += chunk
        return buf

    def send_raw(self, data):
        # Not sendall(): the socket's 0.2 s timeout (there for the reader's
        # polling) would bound the whole write, and a big frame takes the
        # client longer than that to read. Each piece gets the 0.2 s; the
        # write as a whole gets SEND_TIMEOUT_S.
        view = memoryview(data)
        deadline = time.monotonic() + SEND_TIMEOUT_S
        with self.wlock:
            while True:
                if self.closed.is_set():
                    raise WsClosed()
                if not view:
                    return
                try:
                    n = self.sock.send(view[:SEND_PIECE])
                except socket.timeout:
                    if time.monotonic() < deadline:
                        continue
                    n = -1
                except (OSError, ssl.SSLError):
                    n = -1
                if n < 0:
                    self.close_now("send failed")
                    raise WsClosed()
                view = view[n:]

    @staticmethod
    def frame(opcode, payload, declared=None):
        n = len(payload) if declared is None else declared
        hdr = bytes([0x80 | opcode])
        if n < 126:
            hdr += bytes([n])
        elif n < 65536:
            hdr += bytes([126]) + struct.pack(">H", n)
        else:
            hdr += bytes([127]) + struct.pack(">Q", n)
        return hdr + payload

    def send_text(self, text, count=True):
        data = text.encode() if isinstance(text, str) else text
        self.send_raw(self.frame(1, data))
        self.frames_sent += 1
        if count and self.drop_after is not None and \
                self.frames_sent >= self.drop_after:
            self.log("drop", reason="drop_after_frames",
                     frames=self.frames_sent)
            self.close_now("drop_after_frames")
            raise WsClosed()

    def send_events(self, evs):
        self.send_text(json.dumps(evs, separators=(",", ":")))

    def status(self, status, message):
        self.log("sent_status", status=status)
        self.send_events([{"ev": "status", "status": status,
                           "message": message}])

    def close(self, code=1000, reason=""):
        """A clean close frame, then the socket goes away."""
        try:
            self.send_raw(self.frame(8, struct.pack(">H", code) +
                                     reason.encode()[:120]))
        except WsClosed:
            pass
        self.log("close", by="server", code=code)
        deadline = time.monotonic() + 1.0
        if threading.current_thread() is self.reader_thread:
            deadline = 0  # nobody else reads the client's close reply
        while time.monotonic() < deadline and not self.closed.is_set():
            time.sleep(0.01)  # let the reader see the client's close reply
        self.close_now("closed")

    def close_now(self, why):
        if self.closed.is_set():
            return
        self.closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        with self.st.lock:
            self.st.conns.pop(self.id, None)
        with self.subs_changed:
            self.subs_changed.notify_all()

    def log(self, event, **kw):
        kw.update({"conn": self.id, "event": event})
        self.st.log("ws", kw)

    # -- handshake
    def handshake(self):
        self.sock.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(4096)
            if not chunk or len(data) > 16384:
                raise WsClosed()
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        lines = head.split("\r\n")
        method, path, _ = (lines[0].split(" ") + ["", "", ""])[:3]
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        self.path = urllib.parse.urlsplit(path).path
        if (method != "GET" or "websocket" not in
                hdrs.get("upgrade", "").lower() or
                "sec-websocket-key" not in hdrs):
            self.sock.sendall(b"HTTP/1.1 400 Bad Request\r\n"
                              b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            raise WsClosed()
        self.market = WS_PATHS.get(self.path.rstrip("/"))
        if self.market is None:
            self.sock.sendall(b"HTTP/1.1 404 Not Found\r\n"
                              b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            self.log("rejected", path=self.path)
            raise WsClosed()
        acc = base64.b64encode(hashlib.sha1(
            (hdrs["sec-websocket-key"] + WS_GUID).encode()).digest()).decode()
        self.sock.sendall(("HTTP/1.1 101 Switching Protocols\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: %s\r\n\r\n" % acc).encode())
        self.sock.settimeout(0.2)

    def run(self):
        try:
            self.handshake()
        except (WsClosed, OSError, ssl.SSLError, ValueError):
            self.close_now("handshake")
            return
        with self.st.lock:
            self.st.conns[self.id] = self
            sess = (self.st.sessions.pop(0) if self.st.sessions
                    else self.st.default_session)
        self.session = sess or {}
        self.drop_after = self.session.get("drop_after_frames")
        self.log("connect", path=self.path, peer=self.peer,
                 session=self.session.get("name"))
        reader = threading.Thread(target=self.reader, daemon=True)
        self.reader_thread = reader
        try:
            if self.session.get("connected", True):
                self.status("connected", "Connected Successfully")
            reader.start()
            self.runner()
        except WsClosed:
            pass
        except Exception as e:  # a broken step must not kill the mock
            self.log("error", error=repr(e))
            self.close_now("error")
        if reader.is_alive():
            reader.join(2)
        self.close_now("end")

    # -- client messages
    def read_message(self):
        msg, op0 = b"", None
        for _ in range(1000):
            b0, b1 = self.recv_exact(2, idle_ok=op0 is None and not msg)
            op, fin = b0 & 0x0F, b0 & 0x80
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self.recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self.recv_exact(8))[0]
            if n > MAX_FRAME:
                raise WsClosed()
            mask = self.recv_exact(4) if b1 & 0x80 else b"\0\0\0\0"
            data = bytearray(self.recv_exact(n))
            for i in range(n):
                data[i] ^= mask[i % 4]
            if op >= 8:
                if op == 8:
                    code = struct.unpack(">H", data[:2])[0] if n >= 2 else 1005
                    self.log("close", by="client", code=code)
                    try:
                        self.send_raw(self.frame(8, bytes(data[:2])))
                    except WsClosed:
                        pass
                    raise WsClosed()
                if op == 9:
                    if self.muted:
                        self.log("ping_ignored")
                    else:
                        self.send_raw(self.frame(10, bytes(data)))
                continue
            if op0 is None:
                op0 = op
            msg += bytes(data)
            if fin:
                return op0, msg
        raise WsClosed()

    def reader(self):
        deadline = time.monotonic() + self.st.max_session_s
        auth_to = self.session.get("auth_timeout_ms", 10000)
        auth_deadline = time.monotonic() + auth_to / 1000.0
        try:
            self.sock.settimeout(0.2)
            while not self.closed.is_set() and time.monotonic() < deadline:
                if not self.authed.is_set() and auth_to and \
                        time.monotonic() > auth_deadline:
                    self.status("auth_timeout", DISCONNECT_MSG["auth_timeout"])
                    self.close(1008, "auth timeout")
                    return
                try:
                    op, data = self.read_message()
                except WsIdle:
                    continue
                if op != 1:
                    continue
                self.on_client(data)
        except WsClosed:
            pass
        except (OSError, ssl.SSLError) as e:
            self.log("error", error=repr(e))
        self.close_now("reader end")

    def on_client(self, data):
        try:
            m = json.loads(data)
        except ValueError:
            self.log("bad_client_message", text=data[:200].decode(
                "utf-8", "replace"))
            return
        if not isinstance(m, dict):
            self.log("bad_client_message", text=str(m)[:200])
            return
        action, params = m.get("action"), m.get("params", "")
        if action == "auth":
            ok = self.st.key_ok(params)
            mode = self.session.get("auth", "normal")
            if mode == "fail":
                ok = False
            self.log("action", action="auth", params="REDACTED", key_ok=ok)
            if mode == "ignore":
                return
            if ok:
                self.key = params
                if self.st.max_conns:
                    self.kick_others()
                self.authed.set()
                self.status("auth_success", "authenticated")
            else:
                self.status("auth_failed", "authentication failed")
                self.close(1008, "authentication failed")
                raise WsClosed()
            return
        self.log("action", action=action, params=params)
        if action in ("subscribe", "unsubscribe"):
            topics = [t.strip() for t in str(params).split(",") if t.strip()]
            if not self.authed.is_set():
                self.status("auth_required", "authentication required")
                return
            mk = MARKETS[self.market]
            for t in topics:
                ev, _, sym = t.partition(".")
                ticker = self.ticker_of(sym)
                deny = (self.st.entitled is not None and sym != "*" and
                        ticker not in self.st.entitled)
                # Another market's aggregates on this cluster (AM on
                # /crypto, XA on /stocks): refused like a topic outside the
                # plan.
                deny = deny or (ev in AGG_EVENTS and
                                ev not in (mk["min"], mk["sec"]))
                if action == "subscribe" and deny:
                    self.status("error", "not authorized")
                    continue
                with self.subs_changed:
                    if action == "subscribe" and t not in self.subs:
                        self.subs.append(t)
                    elif action == "unsubscribe" and t in self.subs:
                        self.subs.remove(t)
                    self.subs_changed.notify_all()
                self.status("success", "%s to: %s" % (
                    "subscribed" if action == "subscribe" else "unsubscribed",
                    t))
            return
        self.status("error", "unknown action")

    def kick_others(self):
        with self.st.lock:
            others = [c for c in self.st.conns.values()
                      if c is not self and c.key == self.key]
        for c in others:
            try:
                c.status("max_connections", DISCONNECT_MSG["max_connections"])
                c.close(1008, "max connections")
            except WsClosed:
                pass

    def ticker_of(self, sym):
        """The dataset ticker a topic symbol of this cluster names, or the
        symbol itself (a symbol the dataset does not have)."""
        for t in self.st.data.symbols():
            if market_of(t) == self.market and ws_name(t) == sym:
                return t
        return sym

    def subscribed(self, ev, ticker):
        """Whether dataset ticker `ticker` is subscribed to under `ev`."""
        if market_of(ticker) != self.market:
            return False
        s = self.subs
        return "%s.%s" % (ev, ws_name(ticker)) in s or "%s.*" % ev in s

    # -- scripted steps
    def runner(self):
        first = list(self.session.get("steps", []))
        if first:
            self.steps.put(first)
        deadline = time.monotonic() + self.st.max_session_s
        while not self.closed.is_set() and time.monotonic() < deadline:
            try:
                steps = self.steps.get(timeout=0.1)
            except queue.Empty:
                continue
            for step in steps:
                if self.closed.is_set():
                    return
                self.do_step(step)

    def wait_subs(self, topics, timeout_ms):
        deadline = time.monotonic() + min(timeout_ms, 60000) / 1000.0
        with self.subs_changed:
            while not self.closed.is_set():
                if topics and all(t in self.subs for t in topics):
                    return True
                if not topics and self.subs:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.subs_changed.wait(min(left, 0.1))
        return False

    def bar_event(self, ev, sym, t, bar=None):
        span = ev_span(ev)
        b = bar or self.st.data.bar(sym, t, span)
        if b is None:
            return None
        mk = market_of(sym)
        if mk != "stocks":
            e = {"ev": ev, MARKETS[mk]["key"]: ws_name(sym), "o": b["o"],
                 "c": b["c"], "h": b["h"], "l": b["l"], "s": t,
                 "e": t + span}
            if mk == "crypto":      # XA: v, vw, z as well
                e.update({"v": b["v"], "vw": b["vw"],
                          "z": max(1, int(b["v"] // max(1, b["n"])))})
            elif mk == "forex":     # CA: v, a count of quotes
                e["v"] = int(b["v"])
            else:                   # indices: values, no volume
                e["op"] = b["o"]
            self.last_sent[(ev, sym)] = t
            return e
        day0 = et_day_start(t)
        opening = self.st.data.bar(sym, day0 + 9 * 3600000 + 30 * MINUTE)
        e = {"ev": ev, "sym": sym, "v": b["v"],
             "av": b["v"] + int(_h(sym, day0) * 1e6) + (t - day0) // 1000,
             "op": opening["o"] if opening else b["o"],
             "vw": b["vw"], "o": b["o"], "c": b["c"],
             "h": b["h"], "l": b["l"], "a": b["vw"],
             "z": max(1, int(b["v"] // max(1, b["n"]))), "s": t,
             "e": t + span}
        self.last_sent[(ev, sym)] = t
        return e

    def send_batched(self, events, per_frame, interval_ms):
        per_frame = max(1, int(per_frame))
        for i in range(0, len(events), per_frame):
            self.send_events(events[i:i + per_frame])
            if interval_ms:
                time.sleep(min(interval_ms, 5000) / 1000.0)

    def do_step(self, step):
        st = self.st
        if "wait_subscribed" in step:
            topics = step["wait_subscribed"] or []
            ok = self.wait_subs(topics, step.get("timeout_ms", 5000))
            self.log("step", step="wait_subscribed", ok=ok)
            return
        if "wait_auth" in step:
            self.authed.wait(min(step.get("timeout_ms", 5000), 60000) / 1000)
            return
        if "sleep_ms" in step:
            time.sleep(min(step["sleep_ms"], 10000) / 1000.0)
            return
        if "bars" in step:
            b = step["bars"]
            ev = b.get("ev", MARKETS[self.market]["min"])
            span = ev_span(ev)
            count = min(int(b.get("count", 1)), 100000)
            with st.lock:
                if "t" in b:
                    t0 = parse_time(b["t"], st.t0)
                else:
                    t0 = st.live_t
                if b.get("advance", "t" not in b):
                    st.live_t = max(st.live_t, t0 + count * span)
            syms = b.get("syms") or st.data.symbols()
            with st.lock:
                # Tickers named here that the dataset lacks join it (REST
                # serves them too): a feed that lists new symbols later.
                for sym in syms:
                    if sym not in st.data.base:
                        st.data.base[sym] = 20.0 + 200.0 * _h(sym)
            events = []
            for k in range(count):
                t = t0 + k * span
                for sym in syms:
                    if b.get("all", False) or self.subscribed(ev, sym):
                        e = self.bar_event(ev, sym, t)
                        if e:
                            events.append(e)
            if b.get("with_status"):
                events.insert(len(events) // 2, {
                    "ev": "status", "status": "success",
                    "message": b["with_status"]})
            self.log("step", step="bars", ev=ev, t=t0, count=count,
                     events=len(events))
            self.send_batched(events, b.get("per_frame", 10),
                              b.get("interval_ms", 0))
            return
        if "skip" in step:
            with st.lock:
                st.live_t += int(step["skip"]) * MINUTE
            self.log("step", step="skip", minutes=step["skip"])
            return
        if "correction" in step:
            c = step["correction"]
            ev = c.get("ev", MARKETS[self.market]["min"])
            sym = c.get("sym") or st.data.symbols()[0]
            t = c.get("t", "last")
            t = self.last_sent.get((ev, sym)) if t == "last" else \
                parse_time(t, st.t0)
            if t is None:
                return
            nb = st.data.correct(sym, t, ev_span(ev),
                                 c.get("delta", 0.05), c.get("dv", 100.0))
            e = self.bar_event(ev, sym, t, nb)
            self.log("step", step="correction", sym=sym, t=t)
            if e:
                self.send_events([e])
            return
        if "frame" in step:
            f = step["frame"]
            self.send_text(f if isinstance(f, str) else
                           json.dumps(f, separators=(",", ":")))
            return
        if "fixture" in step:
            for text in fixture_frames(step["fixture"]):
                self.send_text(text)
            self.log("step", step="fixture", file=os.path.basename(
                step["fixture"]))
            return
        if "mute" in step:
            # a server that hangs: nothing more is sent, pings go unanswered
            self.muted = True
            self.log("step", step="mute")
            return
        if "unknown_event" in step:
            sym = st.data.symbols()[0]
            self.send_events([{"ev": "XQ", "sym": sym, "foo": 1, "s": 0},
                              {"ev": "status", "status": "success",
                               "message": "still here"}])
            return
        if "malformed" in step:
            text = step["malformed"]
            self.send_text(text if isinstance(text, str) else
                           '[{"ev":"AM","sym":"AAPL","v":')
            return
        if "truncated_frame" in step:
            # a frame header promising more bytes than are sent, then EOF
            payload = b'[{"ev":"AM","sym":"AAPL","v":1'
            self.log("drop", reason="truncated_frame")
            try:
                self.send_raw(self.frame(1, payload, declared=200))
            except WsClosed:
                pass
            self.close_now("truncated")
            raise WsClosed()
        if "disconnect" in step:
            s = step["disconnect"]
            self.status(s, step.get("message", DISCONNECT_MSG.get(s, s)))
            self.close(step.get("code", 1008), s)
            raise WsClosed()
        if "status" in step:
            self.status(step["status"], step.get("message", ""))
            return
        if "close" in step:
            self.close(int(step["close"]) if step["close"] is not True
                       else 1000)
            raise WsClosed()
        if "drop" in step:
            self.log("drop", reason="scripted")
            self.close_now("drop")
            raise WsClosed()
        self.log("error", error="unknown step %r" % (step,))


def fixture_frames(path):
    """The server frames of a recorded fixture: a .json file is one frame
    (a lone event object goes inside an array, as on the wire); a .jsonl
    file is a frame per line; a transcript (.txt) gives its `> ` lines."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".jsonl"):
        return [ln for ln in text.splitlines() if ln.strip()]
    if path.endswith(".txt"):
        return [ln.strip()[2:] for ln in text.splitlines()
                if ln.strip().startswith("> ")]
    text = text.strip()
    return ["[" + text + "]" if text.startswith("{") else text]


def ws_serve(st, lsock, ctx):
    while not st.stop.is_set():
        try:
            conn, peer = lsock.accept()
        except socket.timeout:
            continue
        except OSError:
            if st.stop.is_set():
                return
            continue
        with st.lock:
            cid = st.next_conn
            st.next_conn += 1

        def handle(conn=conn, peer=peer, cid=cid):
            if ctx is not None:
                try:
                    conn.settimeout(5)
                    conn = ctx.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    st.log("ws", {"conn": cid, "event": "tls_error",
                                  "error": str(e)})
                    conn.close()
                    return
            WsConn(st, conn, cid, "%s:%d" % peer[:2]).run()
        threading.Thread(target=handle, daemon=True).start()


# -------------------------------------------------------------------- main

def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
         cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        timeout=30)
    return cert, key


def listen(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(64)
    s.settimeout(0.2)
    return s


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--rest-port", type=int, default=0)
    ap.add_argument("--ws-port", type=int, default=0)
    ap.add_argument("--tls", action="store_true",
                    help="serve wss:// on the WebSocket port")
    ap.add_argument("--rest-tls", action="store_true",
                    help="serve https:// on the REST port too")
    ap.add_argument("--script", help="JSON script file (see README.md)")
    ap.add_argument("--max-lifetime", type=float, default=600.0)
    ap.add_argument("--max-session", type=float, default=300.0,
                    help="seconds a WebSocket connection may stay open")
    a = ap.parse_args(argv)
    script = {}
    if a.script:
        with open(a.script) as f:
            script = json.load(f)
    st = State(script, now_ms())
    st.max_session_s = a.max_session

    tmp = tempfile.mkdtemp(prefix="mock-polygon-")
    cert = key = None
    ctx = None
    if a.tls or a.rest_tls:
        cert, key = make_cert(tmp)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)

    cls = RestServer6 if ":" in a.host else RestServer
    rest = cls((a.host, a.rest_port), RestHandler)
    rest.state = st
    if a.rest_tls:
        rest.socket = ctx.wrap_socket(rest.socket, server_side=True)
    wsl = listen(a.host, a.ws_port)
    hostpart = "[%s]" % a.host if ":" in a.host else a.host
    rp, wp = rest.server_address[1], wsl.getsockname()[1]
    st.rest_base = "%s://%s:%d" % ("https" if a.rest_tls else "http",
                                   hostpart, rp)
    threading.Thread(target=rest.serve_forever, kwargs={
        "poll_interval": 0.1}, daemon=True).start()
    threading.Thread(target=ws_serve, args=(st, wsl, ctx if a.tls else None),
                     daemon=True).start()

    def on_signal(*_):
        st.stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    print(json.dumps({
        "ready": True, "rest_port": rp, "ws_port": wp,
        "rest_url": st.rest_base,
        "ws_url": "%s://%s:%d" % ("wss" if a.tls else "ws", hostpart, wp),
        "tls": bool(a.tls), "rest_tls": bool(a.rest_tls), "cert": cert,
        "data_start": st.data.start, "data_end": st.data.end,
        "live_t": st.live_t, "pid": os.getpid()}), flush=True)

    st.stop.wait(a.max_lifetime)
    st.stop.set()
    rest.shutdown()
    rest.server_close()
    wsl.close()
    with st.lock:
        conns = list(st.conns.values())
    for c in conns:
        c.close_now("shutdown")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
