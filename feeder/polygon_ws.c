/* polygon_ws.c -- Polygon.io live aggregates: the reconnecting
 * subscription state machine (the frame parser is polygon_ws_parse.c).
 * No I/O here; see polygon_ws.h for the contract. */
#include "polygon_ws.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "err.h"
#include "log.h"
#include "util.h"

/* ==== State machine ===================================================== */

static const char *s_state_names[] = {
    "connecting", "awaiting-connected", "authenticating", "subscribing",
    "streaming", "backoff", "failed", "stopped"
};

struct symidx {
    const char *name;               /* points into polygon_ws.keys */
    int idx;                        /* index in cfg.symbols */
};

struct polygon_ws {
    struct polygon_ws_cfg cfg;      /* strings point to our copies */
    struct polygon_ws_io io;        /* transport and feeder callbacks */
    char *key;                      /* API key */
    char **syms;                    /* nsym copied symbols */
    char **keys;                    /* cfg.key of each symbol */
    struct symidx *sorted;          /* keys by name, for bsearch */
    int64_t *last_t;                /* start of last bar per symbol, -1 */
    int nknown;                     /* symbols numbered (entries of
                                       last_t): cfg.nsym, then io.symbol */
    size_t cap_last;                /* room in last_t */
    int topics;                     /* topics subscribed (acks due) */
    int state;                      /* PWS_* */
    int tf;                         /* bar seconds of the channel: 60, 1 */
    int conn;                       /* a transport connection is live */
    int auth_sent;                  /* auth sent on this connection */
    int ever_streamed;              /* reached STREAMING at least once */
    int acks, denied;               /* subscribe answers this connection */
    int fails;                      /* failed tries since a stable link */
    int link_bars;                  /* bars on this connection */
    int64_t stream_ms;              /* when this connection began streaming */
    int64_t try_ms;                 /* when this connection attempt began */
    int64_t rx_ms;                  /* last frame or pong */
    int64_t retry_ms;               /* BACKOFF: when to connect again */
    uint64_t rng;                   /* jitter state */
    int64_t now_ms;                 /* time of the event being handled */
    int err;                        /* fatal code, or 0 */
    char errmsg[ERR_LEN];           /* its reason */
    struct polygon_ws_stats st;     /* counters */
};

void polygon_ws_cfg_defaults(struct polygon_ws_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->channel = "AM";
    cfg->handshake_ms = 15000;
    cfg->read_timeout_ms = 30000;
    cfg->backoff_base_ms = 500;
    cfg->backoff_max_ms = 30000;
    cfg->kicked_backoff_ms = 60000;
    cfg->stable_ms = 60000;
}

/* The key symbol `sym` is matched by (cfg.key) in out[SYM_MAX]. */
static void s_sym_key(const polygon_ws_t *self, const char *sym, char *out)
{
    if (self->cfg.key)
        self->cfg.key(sym, out);
    else
        snprintf(out, SYM_MAX, "%s", sym);
}

static int s_symcmp(const void *a, const void *b)
{
    return strcmp(((const struct symidx *)a)->name,
                  ((const struct symidx *)b)->name);
}

polygon_ws_t *polygon_ws_new(const struct polygon_ws_cfg *cfg,
                             const struct polygon_ws_io *io, char *err)
{
    polygon_ws_t *self;

    assert(cfg && io && err);
    if (!io->connect || !io->send || !io->close) {
        snprintf(err, ERR_LEN, "polygon ws: transport callbacks missing");
        return NULL;
    }
    if (!cfg->api_key || !*cfg->api_key) {
        snprintf(err, ERR_LEN, "polygon ws: no API key");
        return NULL;
    }
    if (cfg->all ? cfg->nsym < 0 || !io->symbol :
                   cfg->nsym <= 0 || !cfg->symbols) {
        snprintf(err, ERR_LEN, cfg->all ? "polygon ws: no symbol callback "
                 "for every symbol" : "polygon ws: no symbols");
        return NULL;
    }
    if (cfg->channel && !polygon_ws_agg(cfg->channel)) {
        snprintf(err, ERR_LEN, "polygon ws: channel '%s' is not one of "
                 "AM, A, XA, XAS, CA, CAS", cfg->channel);
        return NULL;
    }
    if (cfg->handshake_ms <= 0 || cfg->read_timeout_ms <= 0
        || cfg->backoff_base_ms <= 0
        || cfg->backoff_max_ms < cfg->backoff_base_ms
        || cfg->kicked_backoff_ms < 0 || cfg->stable_ms <= 0
        || cfg->max_reconnects < 0) {
        snprintf(err, ERR_LEN, "polygon ws: bad timeouts or backoff");
        return NULL;
    }
    for (int i = 0; i < cfg->nsym; i++)
        if (!cfg->symbols[i] || !symbol_valid(cfg->symbols[i])) {
            snprintf(err, ERR_LEN, "polygon ws: bad symbol '%s'",
                     cfg->symbols[i] ? cfg->symbols[i] : "(null)");
            return NULL;
        }
    self = calloc(1, sizeof *self);
    if (!self)
        goto nomem;
    self->cfg = *cfg;
    self->io = *io;
    if (!self->cfg.channel)
        self->cfg.channel = "AM";
    self->cfg.channel = polygon_ws_agg(self->cfg.channel);  /* ours */
    self->tf = (int)polygon_ws_agg_tf(self->cfg.channel);
    self->key = strdup(cfg->api_key);
    self->syms = calloc((size_t)cfg->nsym + 1, sizeof *self->syms);
    self->keys = calloc((size_t)cfg->nsym + 1, sizeof *self->keys);
    self->sorted = calloc((size_t)cfg->nsym + 1, sizeof *self->sorted);
    if (!self->key || !self->syms || !self->keys || !self->sorted ||
        grow((void **)&self->last_t, &self->cap_last, (size_t)cfg->nsym + 1,
             sizeof *self->last_t, SIZE_MAX))
        goto nomem;
    self->nknown = cfg->nsym;
    for (int i = 0; i < cfg->nsym; i++) {
        char k[SYM_MAX];
        s_sym_key(self, cfg->symbols[i], k);
        self->syms[i] = strdup(cfg->symbols[i]);
        self->keys[i] = strdup(k);
        if (!self->syms[i] || !self->keys[i])
            goto nomem;
        self->sorted[i].name = self->keys[i];
        self->sorted[i].idx = i;
        self->last_t[i] = -1;
    }
    qsort(self->sorted, (size_t)cfg->nsym, sizeof *self->sorted, s_symcmp);
    for (int i = 1; i < cfg->nsym; i++)
        if (strcmp(self->sorted[i - 1].name, self->sorted[i].name) == 0) {
            snprintf(err, ERR_LEN, "polygon ws: symbol '%s' given twice",
                     self->sorted[i].name);
            polygon_ws_destroy(&self);
            return NULL;
        }
    self->cfg.api_key = self->key;
    self->cfg.symbols = (const char *const *)self->syms;
    self->rng = cfg->seed ? cfg->seed : random_u64();
    self->state = PWS_STOPPED;
    return self;
nomem:
    snprintf(err, ERR_LEN, "polygon ws: out of memory");
    polygon_ws_destroy(&self);
    return NULL;
}

void polygon_ws_destroy(polygon_ws_t **self_p)
{
    polygon_ws_t *self;

    assert(self_p);
    self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < self->cfg.nsym; i++) {
        if (self->syms)
            free(self->syms[i]);
        if (self->keys)
            free(self->keys[i]);
    }
    free(self->syms);
    free(self->keys);
    free(self->sorted);
    free(self->last_t);
    free(self->key);
    free(self);
    *self_p = NULL;
}

static void s_set_state(polygon_ws_t *self, int to)
{
    int from = self->state;

    if (from == to)
        return;
    self->state = to;
    log_msg(LL_DEBUG, "polygon ws: %s -> %s", s_state_names[from],
            s_state_names[to]);
    if (self->io.state)
        self->io.state(self->io.arg, from, to);
}

static void s_fatal(polygon_ws_t *self, int code, const char *why)
{
    snprintf(self->errmsg, sizeof self->errmsg, "%s", why);
    self->err = code;
    log_msg(LL_ERROR, "polygon ws: %s", why);
    s_set_state(self, PWS_FAILED);
    if (self->conn) {
        self->conn = 0;
        self->io.close(self->io.arg);
    }
}

/* Drops the connection (if any) and waits before the next try, at least
 * min_ms. A link that carried bars or streamed for cfg.stable_ms was a
 * success: the backoff starts again from the base. A link that is
 * accepted and then dropped straight away is not, so a server that keeps
 * kicking the feeder off sees it back off further each time. */
static void s_drop_for(polygon_ws_t *self, const char *why, int64_t min_ms)
{
    int64_t d;

    if (self->state >= PWS_BACKOFF)
        return;
    if (self->state == PWS_STREAMING
        && (self->link_bars > 0
            || self->now_ms - self->stream_ms >= self->cfg.stable_ms))
        self->fails = 0;
    self->fails++;
    if (self->cfg.max_reconnects > 0
        && self->fails > self->cfg.max_reconnects) {
        char msg[ERR_LEN];
        snprintf(msg, sizeof msg, "%.200s; giving up after %d tries", why,
                 self->cfg.max_reconnects);
        s_fatal(self, POLYGON_WS_ERR_RETRIES, msg);
        return;
    }
    d = backoff_ms(self->cfg.backoff_base_ms, self->cfg.backoff_max_ms,
                   self->fails, rand_next(&self->rng));
    if (d < min_ms)
        d = min_ms;
    self->retry_ms = self->now_ms + d;
    log_msg(LL_WARN, "polygon ws: %s; reconnecting in %lld ms", why,
            (long long)d);
    s_set_state(self, PWS_BACKOFF);
    if (self->conn) {
        self->conn = 0;
        self->io.close(self->io.arg);
    }
}

static void s_drop(polygon_ws_t *self, const char *why)
{
    s_drop_for(self, why, 0);
}

static void s_connect(polygon_ws_t *self)
{
    int rc;

    self->acks = self->denied = 0;
    self->auth_sent = 0;
    self->try_ms = self->now_ms;
    if (self->st.connects++ > 0)
        self->st.reconnects++;
    s_set_state(self, PWS_CONNECTING);
    self->conn = 1;
    rc = self->io.connect(self->io.arg);
    if (rc != 0) {
        self->conn = 0;
        s_drop(self, "connect failed");
    }
}

/* Sends {"action": action, "params": params}. 0, or drops and -1. */
static int s_send(polygon_ws_t *self, const char *action, const char *params)
{
    json_t *o = json_pack("{s:s, s:s}", "action", action, "params", params);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    int rc = text ? self->io.send(self->io.arg, text, strlen(text))
                  : ERR_NOMEM;

    free(text);
    json_decref(o);
    if (rc != 0) {
        s_drop(self, "send failed");
        return -1;
    }
    return 0;
}

static void s_auth(polygon_ws_t *self)
{
    if (self->auth_sent)
        return;
    self->auth_sent = 1;
    if (s_send(self, "auth", self->key) == 0)
        s_set_state(self, PWS_AUTHENTICATING);
}

/* Subscribes CHANNEL.* (cfg.all), else each symbol, in as few messages
 * as POLYGON_WS_SUB_BYTES allows (POLYGON_WS_SUB_MSGS at most). */
static void s_subscribe(polygon_ws_t *self)
{
    const char *ch = self->cfg.channel;
    size_t total = 0, cap, off = 0;
    char *params;
    int n = self->cfg.all ? 0 : self->cfg.nsym;

    for (int i = 0; i < n; i++)
        total += strlen(ch) + strlen(self->syms[i]) + 2;
    cap = POLYGON_WS_SUB_BYTES;
    if (total / POLYGON_WS_SUB_MSGS + SYM_MAX + 8 > cap)
        cap = total / POLYGON_WS_SUB_MSGS + SYM_MAX + 8;
    params = malloc(cap + 1);
    if (!params) {
        s_drop(self, "out of memory");
        return;
    }
    self->topics = self->cfg.all ? 1 : n;
    if (self->cfg.all) {
        snprintf(params, cap + 1, "%s.*", ch);
        if (s_send(self, "subscribe", params) == 0)
            s_set_state(self, PWS_SUBSCRIBING);
        free(params);
        return;
    }
    for (int i = 0; i < n; i++) {
        size_t need = strlen(ch) + strlen(self->syms[i]) + 2;
        if (off && off + need > cap) {
            if (s_send(self, "subscribe", params) != 0)
                goto out;           /* dropped */
            off = 0;
        }
        off += (size_t)snprintf(params + off, cap + 1 - off, "%s%s.%s",
                                off ? "," : "", ch, self->syms[i]);
    }
    if (s_send(self, "subscribe", params) == 0)
        s_set_state(self, PWS_SUBSCRIBING);
out:
    free(params);
}

static void s_streaming(polygon_ws_t *self)
{
    s_set_state(self, PWS_STREAMING);
    self->stream_ms = self->now_ms;
    self->link_bars = 0;
    self->rx_ms = self->now_ms;
    if (self->ever_streamed) {
        log_msg(LL_INFO, "polygon ws: streaming again");
        if (self->io.resumed)
            self->io.resumed(self->io.arg, self->last_t, self->nknown);
    }
    self->ever_streamed = 1;
}

static void s_on_status(void *arg, const struct polygon_ws_status *st)
{
    polygon_ws_t *self = arg;
    char why[ERR_LEN];
    int s = self->state;

    if (s >= PWS_BACKOFF)           /* an earlier event ended this link */
        return;
    snprintf(why, sizeof why, "%.64s: %.160s", st->status, st->message);
    switch (st->kind) {
    case PWS_ST_CONNECTED:
        if (s == PWS_AWAIT_CONNECTED && !self->auth_sent)
            s_auth(self);
        else if (s != PWS_AUTHENTICATING && s != PWS_AWAIT_CONNECTED)
            self->st.late_status++;
        return;
    case PWS_ST_AUTH_SUCCESS:
        if (s == PWS_AUTHENTICATING || s == PWS_AWAIT_CONNECTED)
            s_subscribe(self);
        else
            self->st.late_status++;
        return;
    case PWS_ST_AUTH_FAILED:
        s_fatal(self, POLYGON_WS_ERR_AUTH, why);
        return;
    case PWS_ST_MAX_CONNECTIONS: {
        /* Another client with this key holds the one connection the plan
         * allows. Coming straight back would kick the two off in turn,
         * so wait long; the other client may be a restart of this one
         * whose old link has not timed out yet. */
        char msg[ERR_LEN];
        self->st.kicked++;
        snprintf(msg, sizeof msg, "%.200s (another client is connected "
                 "with this key)", why);
        s_drop_for(self, msg, self->cfg.kicked_backoff_ms);
        return;
    }
    case PWS_ST_AUTH_TIMEOUT:
    case PWS_ST_AUTH_REQUIRED:
    case PWS_ST_FORCE_DISCONNECT:
    case PWS_ST_SLOW_CONSUMER:
        s_drop(self, why);
        return;
    case PWS_ST_SUBSCRIBED:
    case PWS_ST_ERROR:
        if (s != PWS_SUBSCRIBING) {
            if (st->kind == PWS_ST_ERROR)
                log_msg(LL_WARN, "polygon ws: %s", why);
            else
                self->st.late_status++;
            return;
        }
        if (st->kind == PWS_ST_SUBSCRIBED) {
            self->acks++;
        } else {
            self->denied++;
            log_msg(LL_WARN, "polygon ws: subscribe refused: %s", why);
        }
        if (self->acks + self->denied < self->topics)
            return;
        if (self->acks == 0)
            s_fatal(self, POLYGON_WS_ERR_PLAN, why);
        else
            s_streaming(self);
        return;
    default:
        log_msg(LL_INFO, "polygon ws: status %s", why);
        return;
    }
}

static int s_find(const polygon_ws_t *self, const char *sym)
{
    char k[SYM_MAX];
    struct symidx key = { k, 0 };

    s_sym_key(self, sym, k);
    const struct symidx *hit = bsearch(&key, self->sorted,
                                       (size_t)self->cfg.nsym,
                                       sizeof *self->sorted, s_symcmp);
    return hit ? hit->idx : -1;
}

/* The number of a symbol not listed (cfg.all): from io.symbol, with a
 * last_t entry of its own. -1 if it is not taken. */
static int s_add(polygon_ws_t *self, const char *sym)
{
    int i = self->io.symbol(self->io.arg, sym);

    if (i < 0)
        return -1;
    if (i >= self->nknown) {
        if (grow((void **)&self->last_t, &self->cap_last, (size_t)i + 1,
                 sizeof *self->last_t, SIZE_MAX))
            return -1;
        while (self->nknown <= i)
            self->last_t[self->nknown++] = -1;
    }
    return i;
}

static void s_on_bar(void *arg, const struct bar *b)
{
    polygon_ws_t *self = arg;
    int i;

    if (self->state == PWS_SUBSCRIBING)
        s_streaming(self);          /* data before every ack: it works */
    if (self->state != PWS_STREAMING) {
        self->st.late_status++;
        return;
    }
    if (b->tf != self->tf) {        /* A on an AM link, or the reverse */
        self->st.wrong_channel++;
        return;
    }
    i = s_find(self, b->sym);
    if (i < 0 && self->cfg.all)
        i = s_add(self, b->sym);
    if (i < 0) {
        self->st.unknown_sym++;
        return;
    }
    self->link_bars++;
    if (b->t > self->last_t[i])
        self->last_t[i] = b->t;
    if (self->io.bar)
        self->io.bar(self->io.arg, i, b);
}

int polygon_ws_start(polygon_ws_t *self, int64_t now_ms)
{
    assert(self);
    if (self->state != PWS_STOPPED || self->err)
        return self->err;
    self->now_ms = now_ms;
    s_connect(self);
    return self->err;
}

void polygon_ws_stop(polygon_ws_t *self)
{
    assert(self);
    if (self->state == PWS_FAILED)
        return;
    s_set_state(self, PWS_STOPPED);
    if (self->conn) {
        self->conn = 0;
        self->io.close(self->io.arg);
    }
}

void polygon_ws_opened(polygon_ws_t *self, int64_t now_ms)
{
    assert(self);
    if (self->state != PWS_CONNECTING)
        return;
    self->now_ms = now_ms;
    self->rx_ms = now_ms;
    s_set_state(self, PWS_AWAIT_CONNECTED);
    if (self->cfg.auth_on_open)
        s_auth(self);
}

void polygon_ws_frame(polygon_ws_t *self, const char *data, size_t len,
                      int64_t now_ms)
{
    static struct log_limit lim = LOG_LIMIT_INIT;
    struct polygon_ws_handler h = { s_on_status, s_on_bar, self };
    uint64_t bad0 = 0, bad1 = 0;
    int rc;

    assert(self);
    if (self->state >= PWS_BACKOFF || self->state == PWS_CONNECTING)
        return;
    self->now_ms = now_ms;
    self->rx_ms = now_ms;
    for (int k = 0; k < PWS_BAD_KINDS; k++)
        bad0 += self->st.parse.bad[k];
    rc = polygon_ws_parse(data, len, POLYGON_WS_FRAME_MAX, &h,
                          &self->st.parse);
    for (int k = 0; k < PWS_BAD_KINDS; k++)
        bad1 += self->st.parse.bad[k];
    if (rc < 0 || bad1 > bad0)
        log_limited(&lim, LL_WARN, "polygon ws: %llu bad event(s) in a "
                    "frame of %zu bytes (%s)",
                    (unsigned long long)(bad1 - bad0), len,
                    rc < 0 ? err_str(rc) : "skipped");
}

void polygon_ws_activity(polygon_ws_t *self, int64_t now_ms)
{
    assert(self);
    if (self->state < PWS_BACKOFF)
        self->rx_ms = now_ms;
}

void polygon_ws_closed(polygon_ws_t *self, int64_t now_ms)
{
    assert(self);
    if (self->state >= PWS_BACKOFF)
        return;
    self->now_ms = now_ms;
    self->conn = 0;
    s_drop(self, self->state == PWS_CONNECTING ? "connection failed"
                                                : "connection closed");
}

void polygon_ws_tick(polygon_ws_t *self, int64_t now_ms)
{
    assert(self);
    self->now_ms = now_ms;
    switch (self->state) {
    case PWS_BACKOFF:
        if (now_ms >= self->retry_ms)
            s_connect(self);
        return;
    case PWS_STREAMING:
        if (now_ms - self->rx_ms >= self->cfg.read_timeout_ms) {
            self->st.timeouts++;
            s_drop(self, "no frame or pong within the read timeout");
        }
        return;
    case PWS_CONNECTING:
    case PWS_AWAIT_CONNECTED:
    case PWS_AUTHENTICATING:
    case PWS_SUBSCRIBING:
        if (now_ms - self->try_ms >= self->cfg.handshake_ms) {
            self->st.timeouts++;
            s_drop(self, "handshake timed out");
        }
        return;
    default:
        return;
    }
}

int64_t polygon_ws_next_ms(const polygon_ws_t *self, int64_t now_ms)
{
    int64_t at;

    assert(self);
    switch (self->state) {
    case PWS_BACKOFF:
        at = self->retry_ms;
        break;
    case PWS_STREAMING:
        at = self->rx_ms + self->cfg.read_timeout_ms;
        break;
    case PWS_CONNECTING:
    case PWS_AWAIT_CONNECTED:
    case PWS_AUTHENTICATING:
    case PWS_SUBSCRIBING:
        at = self->try_ms + self->cfg.handshake_ms;
        break;
    default:
        return -1;
    }
    return at > now_ms ? at - now_ms : 0;
}

int polygon_ws_state(const polygon_ws_t *self)
{
    assert(self);
    return self->state;
}

const char *polygon_ws_state_name(int state)
{
    if (state < 0 || state > PWS_STOPPED)
        return "?";
    return s_state_names[state];
}

int polygon_ws_error(const polygon_ws_t *self, const char **msg)
{
    assert(self);
    if (msg)
        *msg = self->err ? self->errmsg : "";
    return self->err;
}

int polygon_ws_nsym(const polygon_ws_t *self)
{
    assert(self);
    return self->nknown;
}

int64_t polygon_ws_last_bar(const polygon_ws_t *self, int sym)
{
    assert(self);
    if (sym < 0 || sym >= self->nknown)
        return -1;
    return self->last_t[sym];
}

const struct polygon_ws_stats *polygon_ws_stats(const polygon_ws_t *self)
{
    assert(self);
    return &self->st;
}
