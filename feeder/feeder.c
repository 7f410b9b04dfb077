/* feeder.c -- livetrade-feeder's body: source -> stores -> bus, and the
 * request endpoint (see feeder.h). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "counters.h"
#include "err.h"
#include "feeder.h"
#include "history.h"
#include "log.h"
#include "metrics.h"
#include "mp.h"
#include "msg_status.h"
#include "proc.h"
#include "store.h"
#include "symtab.h"
#include "util.h"

#define HB_CHECK_MS 100             /* how often heartbeats are due-checked */
#define HOLD_RETRY_MS 1             /* burst: a held-back bar tried again */
#define REPLY_KEEP (1u << 20)       /* reply buffer kept between requests */

struct fsym {
    char topic[BUS_TOPIC_MAX];      /* "bar|SYM|" */
    store_t *store;                 /* every bar so far */
    int64_t live;                   /* live bars emitted */
    int done;                       /* reached --count or stream ended */
    int64_t last_pub_ms;            /* mono ms of the newest live bar (at
                                       start: the start) */
    int64_t last_end_ms;            /* its end: t + timeframe, epoch ms */
};

struct feeder {
    const struct source_ops *ops;   /* the source's table */
    size_t keep;                    /* bars stored per symbol (at most) */
    void *src;                      /* the source's state */
    loop_t *loop;                   /* not owned */
    struct bus_pub pub;             /* XPUB, instance id, heartbeats */
    int pub_open;                   /* pub needs bus_pub_free */
    void *router;                   /* request endpoint */
    struct fsym *sym;               /* per symbol, by number: --symbols
                                       order, then as the source brings
                                       them (--symbols '*') */
    int nsym;
    size_t capsym;                  /* room in sym */
    symtab_t *names;                /* the symbols' numbers */
    int all;                        /* --symbols '*' */
    struct log_limit new_lim;       /* new symbols */
    int64_t count;                  /* live bars per symbol; 0 = no end */
    int64_t interval_ms;            /* between rounds; 0 = burst */
    int next_sym;                   /* a round cut short resumes here */
    int exit_when_done;
    int64_t wait_subs;              /* --wait-subscribers */
    int wait_logged;
    int tick_id;                    /* live-bar timer */
    int ndone;                      /* symbols done */
    int done;                       /* every symbol done */
    msgpack_sbuffer rsb;            /* reply body */
    msgpack_packer rpk;             /* packs into rsb */
    struct mp_body body;            /* request decoder */
    uint64_t published;             /* live bars sent */
    int failed;                     /* the source failed for good */
    uint64_t requests, bad_requests;
    uint64_t replies_dropped;       /* to a client that does not read them,
                                       or is gone */
    uint64_t history_cut;           /* history replies cut short */
    uint64_t bad_bars;              /* rejected bars from the source */
    struct log_limit req_lim;       /* bad requests */
    struct log_limit bar_lim;       /* rejected bars */
    struct src_metric *msrc;        /* --metrics: the source's counters */
    /* A pull source's live bar held back for a full engine (pend not
     * empty): sent again each tick, so the loop never blocks and
     * requests are still answered; after BUS_SEND_TIMEOUT_MS it goes to
     * the others and the full engine is left behind. */
    char pend_topic[BUS_TOPIC_MAX];
    msgpack_sbuffer pend;
    int64_t pend_since;
    int slowed;                     /* timer slowed after the last bar */
};

/* The feeder's counters: its status reply, its exit line and its
 * metrics. */
static const struct counter s_counters[] = {
    COUNTER(feeder_t, published, "bars_published",
            "livetrade_feeder_bars_published_total", "Live bars published"),
    COUNTER(feeder_t, pub.dropped, "dropped",
            "livetrade_feeder_bars_dropped_total",
            "Times a full subscriber was left behind (it fills the bars it "
            "missed from history)"),
    COUNTER(feeder_t, bad_bars, "bad_bars",
            "livetrade_feeder_bars_rejected_total",
            "Bars from the source rejected (invalid, or not newer than the "
            "last one)"),
    COUNTER(feeder_t, requests, "requests",
            "livetrade_feeder_requests_total",
            "Requests received (history, status)"),
    COUNTER(feeder_t, bad_requests, "bad_requests",
            "livetrade_feeder_bad_requests_total",
            "Requests answered with an error"),
    COUNTER(feeder_t, replies_dropped, "replies_dropped",
            "livetrade_feeder_replies_dropped_total",
            "Replies dropped: the client had not read its earlier ones, or "
            "was gone"),
    COUNTER(feeder_t, history_cut, "history_cut",
            "livetrade_feeder_history_cut_total",
            "History replies cut short (more:true; the client asks on)"),
};
#define NCOUNTERS COUNTERS_N(s_counters)

/* {==================== bars ====================== */

static void s_all_done(feeder_t *self)
{
    self->done = 1;
    log_msg(LL_INFO, "every symbol is done: %llu live bars published; %s",
            (unsigned long long)self->published + (self->pend.size ? 1 : 0),
            self->exit_when_done ?
            "exiting" : "still serving requests until stopped");
}

static void s_sym_done(feeder_t *self, int i)
{
    if (self->sym[i].done)
        return;
    self->sym[i].done = 1;
    self->ndone++;
    if (self->ndone == self->nsym && !self->all)  /* more may come */
        s_all_done(self);
}

/* The number of symbol `name`, a new one (its store, its topic) if it
 * has none yet. A number or an ERR_* code (symtab_add). */
static int s_add(feeder_t *self, const char *name)
{
    struct fsym *fs;
    int i = symtab_find(self->names, name), rc;

    if (i >= 0)
        return i;
    if (!symbol_valid(name))
        return ERR_INVALID;
    rc = grow((void **)&self->sym, &self->capsym, (size_t)self->nsym + 1,
              sizeof *self->sym, SYMTAB_MAX);
    if (rc)
        return rc;
    fs = &self->sym[self->nsym];
    memset(fs, 0, sizeof *fs);
    fs->store = store_new(self->ops->name, name, self->pub.instance,
                          self->keep);
    if (!fs->store)
        return ERR_NOMEM;
    i = symtab_add(self->names, name);
    if (i < 0) {
        store_destroy(&fs->store);
        return i;
    }
    assert(i == self->nsym);
    bus_topic(fs->topic, "bar", name);
    fs->last_pub_ms = mono_ms();
    self->nsym++;
    return i;
}

/* A symbol the source brings (source_intern_fn, --symbols '*'). */
static int s_intern(void *arg, const char *name)
{
    feeder_t *self = arg;
    int known = self->nsym, i = s_add(self, name);

    if (i < 0)
        log_limited(&self->new_lim, LL_WARN, "source %s: symbol '%.40s' "
                    "not taken: %s (%d known)", self->ops->name, name,
                    i == ERR_TOO_LARGE ? "too many symbols" : err_str(i),
                    self->nsym);
    else if (self->nsym > known)
        log_limited(&self->new_lim, LL_INFO, "source %s: new symbol %s "
                    "(%d known)", self->ops->name, name, self->nsym);
    return i;
}

/* Copies the string src into dst[n], cut to n - 1 bytes (snprintf's "%s"
 * without the formatting, once per bar). */
static void s_copy(char *dst, size_t n, const char *src)
{
    size_t len = strnlen(src, n - 1);

    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Stores a bar of symbol i and, if live, publishes it. The source's
 * entry point for push sources (source_emit_fn). */
static int s_emit(void *arg, int i, const struct bar *in, int live)
{
    feeder_t *self = arg;
    struct fsym *fs;
    struct bar b = *in;
    char why[ERR_LEN];
    int rc;

    assert(self && i >= 0 && i < self->nsym);
    fs = &self->sym[i];
    if (live && fs->done)
        return ERR_TOO_LARGE;       /* past --count */
    s_copy(b.src, sizeof b.src, self->ops->name);
    s_copy(b.sym, sizeof b.sym, store_sym(fs->store));
    rc = msg_bar_check(&b, why);
    if (rc == ERR_OK) {
        rc = store_append(fs->store, &b, &b.seq);
        if (rc == ERR_OLD)
            snprintf(why, sizeof why, "%s: bar at %lld is not newer than "
                     "%lld", b.sym, (long long)b.t,
                     (long long)store_last_t(fs->store));
        else if (rc)
            snprintf(why, sizeof why, "%s: %s", b.sym, err_str(rc));
    }
    if (rc) {
        self->bad_bars++;
        log_limited(&self->bar_lim, LL_WARN, "source %s: bar dropped: %s",
                    self->ops->name, why);
        return rc;
    }
    if (!live)
        return ERR_OK;
    b.pub = self->pub.instance;
    msg_bar_pack(&self->pub.pk, &b);
    if (!self->ops->next_bar) {     /* push source: bars do not wait */
        if (bus_pub_send(&self->pub, fs->topic) == 0)
            self->published++;
    } else {
        int sent = bus_pub_try_send(&self->pub, fs->topic);
        if (sent == 0) {
            self->published++;
        } else if (sent == 1) {     /* held back until there is room */
            msgpack_sbuffer_clear(&self->pend);
            msgpack_sbuffer_write(&self->pend, self->pub.sb.data,
                                  self->pub.sb.size);
            msgpack_sbuffer_clear(&self->pub.sb);
            snprintf(self->pend_topic, sizeof self->pend_topic, "%s",
                     fs->topic);
            self->pend_since = mono_ms();
        }
    }
    log_msg(LL_DEBUG, "bar %s seq %llu t %lld c %.4f", b.sym,
            (unsigned long long)b.seq, (long long)b.t, b.c);
    fs->live++;
    fs->last_pub_ms = mono_ms();
    fs->last_end_ms = b.t + b.tf * 1000;
    if (self->count && fs->live >= self->count)
        s_sym_done(self, i);
    return ERR_OK;
}

/* Tries the held-back bar again. 1 while it still waits for room, 0
 * once none is held (sent; after BUS_SEND_TIMEOUT_MS, without the full
 * engine). */
static int s_flush(feeder_t *self)
{
    int sent;

    if (!self->pend.size)
        return 0;
    msgpack_sbuffer_write(&self->pub.sb, self->pend.data, self->pend.size);
    sent = bus_pub_try_send(&self->pub, self->pend_topic);
    if (sent == 1) {
        if (mono_ms() - self->pend_since < BUS_SEND_TIMEOUT_MS) {
            msgpack_sbuffer_clear(&self->pub.sb);
            return 1;
        }
        sent = bus_pub_give_up(&self->pub, self->pend_topic);
    }
    if (sent == 0)
        self->published++;
    msgpack_sbuffer_clear(&self->pend);
    return 0;
}

/* Pulls the next bar of symbol i from the source. 1 if a bar was
 * emitted, 0 if none was available, -1 if the stream has ended. */
static int s_pull(feeder_t *self, int i, int live)
{
    struct bar b;
    int rc = self->ops->next_bar(self->src, i, &b);

    if (rc == 1) {
        s_emit(self, i, &b, live);
        return 1;
    }
    if (rc == ERR_NOTFOUND) {       /* the source has no more bars */
        log_msg(LL_INFO, "source %s: stream of %s ended: no more bars",
                self->ops->name, store_sym(self->sym[i].store));
        return -1;
    }
    if (rc < 0) {
        log_msg(LL_WARN, "source %s: stream of %s ended (%s)",
                self->ops->name, store_sym(self->sym[i].store),
                err_str(rc));
        return -1;
    }
    return 0;
}

/* History for pull sources: the first `history` bars of each symbol. */
static void s_load_history(feeder_t *self, int64_t history)
{
    for (int i = 0; i < self->nsym; i++)
        for (int64_t k = 0; k < history; k++) {
            int rc = s_pull(self, i, 0);
            if (rc < 0)
                s_sym_done(self, i);
            if (rc <= 0)
                break;
        }
}

/* One live bar for every symbol still running. */
static void s_round(feeder_t *self)
{
    /* The round is cut short when an engine is full: the symbols left
     * get their bar in the next round, in order. */
    for (int i = self->next_sym; i < self->nsym && !self->done; i++) {
        if (self->pend.size) {
            self->next_sym = i;
            return;
        }
        if (!self->sym[i].done && s_pull(self, i, 1) < 0)
            s_sym_done(self, i);
    }
    self->next_sym = 0;
}

static void s_on_tick(loop_t *loop, void *arg)
{
    feeder_t *self = arg;
    int rounds;

    if (proc_usr1 && self->ops->next_bar) {
        /* SIGUSR1: the live feed ends here, as at --count; history and
         * status are still served until a stop signal. */
        proc_usr1 = 0;
        log_msg(LL_INFO, "SIGUSR1: ending the live feed");
        for (int i = 0; i < self->nsym; i++)
            if (!self->sym[i].done)
                s_sym_done(self, i);
    }
    if (s_flush(self)) {
        /* A subscriber is still full. It has room again once it has read
         * half its queue, milliseconds away: a burst waits for that
         * asleep, leaving the CPU to it, instead of trying again at once
         * (its timer runs as often as possible). */
        if (self->interval_ms == 0)
            loop_set_timer(loop, self->tick_id, HOLD_RETRY_MS);
        return;
    }
    if (self->done) {
        /* The timer now only times the drain (or wakes rarely). */
        if (!self->slowed++)
            loop_set_timer(loop, self->tick_id, self->exit_when_done ?
                           FEEDER_DRAIN_MS : 60000);
        else if (self->exit_when_done)
            loop_stop(loop);
        return;
    }
    if (!self->ops->next_bar)
        return;                     /* push sources publish by themselves */
    if (self->pub.subscribers < self->wait_subs) {
        if (!self->wait_logged++)
            log_msg(LL_INFO, "waiting for %lld subscription(s) to bars "
                    "before publishing", (long long)self->wait_subs);
        return;
    }
    rounds = 1;
    if (self->interval_ms == 0) {
        loop_set_timer(loop, self->tick_id, 0);     /* after a hold */
        rounds = (FEEDER_BURST_BARS + self->nsym - 1) / self->nsym;
    }
    for (int r = 0; r < rounds && !self->done && !self->pend.size; r++)
        s_round(self);
}

static void s_on_heartbeat(loop_t *loop, void *arg)
{
    feeder_t *self = arg;
    (void)loop;
    /* Bars are one stream per symbol, so a heartbeat carries no seq
     * (README, "Heartbeat"); gaps show in the next bar of each symbol.
     * None while a bar is held back for an engine: the feed is paced,
     * not idle, and only the hold's end may leave the engine behind. */
    if (!self->pend.size)
        bus_pub_tick(&self->pub, 0);
}

static void s_on_subs(loop_t *loop, void *sock, int fd, void *arg)
{
    feeder_t *self = arg;
    (void)loop;
    (void)sock;
    (void)fd;
    bus_pub_read_subs(&self->pub, "bar|");
}

/* }==================================================== */

/* {==================== requests ====================== */

/* Copies at most 40 printable characters of a string from outside. */
static void s_printable(char *dst, size_t n, const msgpack_object *o)
{
    size_t k = 0;

    if (n > 41)
        n = 41;
    for (uint32_t i = 0; o && i < o->via.str.size && k + 1 < n; i++) {
        char c = o->via.str.ptr[i];
        dst[k++] = (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    dst[k] = '\0';
}

static void s_bad_request(feeder_t *self, const char *why)
{
    self->bad_requests++;
    log_limited(&self->req_lim, LL_WARN, "bad request: %s (%llu so far)",
                why, (unsigned long long)self->bad_requests);
    history_pack_error(&self->rpk, why);
}

/* Index of the first bar of st with t > since (store_len() if none). */
static size_t s_after(const store_t *st, int64_t since)
{
    size_t lo = 0, hi = store_len(st);
    struct bar b;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        store_get(st, mid, &b);
        if (b.t > since)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Packs the bars of st that r asks for, at most HISTORY_REPLY_BARS of
 * them (about BUS_MAX_REPLY bytes): a longer answer is cut to its oldest
 * bars and says more:true, and the client asks on from its last bar. */
static size_t s_pack_history(feeder_t *self, const store_t *st,
                             const struct history_req *r)
{
    size_t len = store_len(st), first, n;
    struct bar b;

    if (r->since == -1) {
        n = (size_t)r->n < len ? (size_t)r->n : len;
        first = len - n;
    } else {
        first = s_after(st, r->since);
        n = len - first;
        if (n > (size_t)r->n)
            n = (size_t)r->n;
    }
    if (n <= HISTORY_REPLY_BARS)
        return store_pack_history(st, &self->rpk, r, HISTORY_REPLY_BARS);
    self->history_cut++;
    n = HISTORY_REPLY_BARS;
    history_pack_reply_cut(&self->rpk, store_sym(st), store_last_seq(st),
                           n);
    for (size_t i = first; i < first + n; i++) {
        store_get(st, i, &b);
        msg_bar_pack(&self->rpk, &b);
    }
    return n;
}

static void s_history(feeder_t *self, const msgpack_object *o)
{
    struct history_req r;
    char why[ERR_LEN];
    size_t n;
    int i;

    if (history_req_parse(o, &r, why) != ERR_OK) {
        s_bad_request(self, why);
        return;
    }
    i = symtab_find(self->names, r.sym);
    if (i >= 0 && i < self->nsym) {
        if (self->ops->ready && !self->ops->ready(self->src, i)) {
            snprintf(why, sizeof why, "history of '%s' still loading; ask "
                     "again", r.sym);
            history_pack_busy(&self->rpk, why);
            return;
        }
        n = s_pack_history(self, self->sym[i].store, &r);
        log_msg(LL_DEBUG, "history %s n %lld since %lld: %zu bars",
                r.sym, (long long)r.n, (long long)r.since, n);
        return;
    }
    /* Not a bad request: an engine with several feeders asks each. */
    snprintf(why, sizeof why, "unknown symbol '%s'", r.sym);
    log_msg(LL_DEBUG, "history request: %s", why);
    history_pack_error(&self->rpk, why);
}

/* The source's own counters; 0 if it has none. */
static int s_src_counters(const feeder_t *self, struct source_counter *c)
{
    if (!self->ops->counters || !self->src)
        return 0;
    return self->ops->counters(self->src, c, SOURCE_COUNTERS_MAX);
}

static void s_status(feeder_t *self)
{
    msgpack_packer *pk = &self->rpk;
    struct source_counter c[SOURCE_COUNTERS_MAX];
    int nc = s_src_counters(self, c);

    msg_status_pack_head(pk, 7 + NCOUNTERS + (uint32_t)nc,
                         "livetrade-feeder");
    mp_kstr(pk, "source", self->ops->name);
    mp_kint(pk, "known", self->nsym);       /* symbols numbered so far */
    mp_kuint(pk, "pub", self->pub.instance);
    counters_pack(pk, s_counters, NCOUNTERS, self);
    /* Each symbol's newest bar: its time, live bars, ms since it went out
     * (or since the start). */
    mp_pack_str(pk, "symbols");
    msgpack_pack_array(pk, (size_t)self->nsym);
    for (int i = 0; i < self->nsym; i++) {
        msgpack_pack_map(pk, 4);
        mp_kstr(pk, "sym", store_sym(self->sym[i].store));
        mp_kint(pk, "last_t", store_len(self->sym[i].store) ?
                store_last_t(self->sym[i].store) : -1);
        mp_kint(pk, "live", self->sym[i].live);
        mp_kint(pk, "silent_ms", mono_ms() - self->sym[i].last_pub_ms);
    }
    for (int i = 0; i < nc; i++)
        mp_kuint(pk, c[i].name, c[i].value);
}

/* Packs the reply to one request body into rsb. */
static void s_answer(feeder_t *self, const void *data, size_t len)
{
    const msgpack_object *o, *type;
    char why[ERR_LEN], name[48];
    int64_t ver;

    self->requests++;
    o = mp_body_decode(&self->body, data, len);
    if (!o || o->type != MSGPACK_OBJECT_MAP) {
        s_bad_request(self, "request is not a msgpack map");
        return;
    }
    if (mp_get(o, "ver") && (mp_int(o, "ver", &ver) || ver != 1)) {
        s_bad_request(self, "unsupported request version (expected 1)");
        return;
    }
    type = mp_get(o, "type");
    if (!type || type->type != MSGPACK_OBJECT_STR) {
        s_bad_request(self, "request has no 'type' string");
        return;
    }
    if (mp_is(type, "history")) {
        s_history(self, o);
    } else if (mp_is(type, "status")) {
        s_status(self);
    } else {
        s_printable(name, sizeof name, type);
        snprintf(why, sizeof why, "unknown request type '%s'", name);
        s_bad_request(self, why);
    }
}

static void s_on_request(loop_t *loop, void *sock, int fd, void *arg)
{
    feeder_t *self = arg;
    static struct log_limit lim = LOG_LIMIT_INIT;
    (void)loop;
    (void)sock;
    (void)fd;

    for (int k = 0; k < BUS_REQ_BATCH; k++) {
        zmq_msg_t id, body;
        int n = bus_router_recv(self->router, &id, &body);
        if (n < 0)
            break;
        s_answer(self, zmq_msg_data(&body), (size_t)n);
        if (bus_router_reply(self->router, &id, &self->rsb) != 0) {
            self->replies_dropped++;
            log_limited(&lim, LL_WARN, "reply dropped (%s): the client "
                        "has not read its earlier ones, or is gone; %llu "
                        "so far", zmq_strerror(zmq_errno()),
                        (unsigned long long)self->replies_dropped);
        }
        zmq_msg_close(&id);
        zmq_msg_close(&body);
        if (self->rsb.alloc > REPLY_KEEP) {     /* after a long history */
            msgpack_sbuffer_destroy(&self->rsb);
            msgpack_sbuffer_init(&self->rsb);
        } else {
            msgpack_sbuffer_clear(&self->rsb);
        }
    }
}

/* }==================================================== */

/* {==================== metrics ====================== */

struct src_metric {
    feeder_t *f;
    const char *name;               /* the source's counter name */
};

static void s_m_age(metrics_out_t *out, void *arg)
{
    feeder_t *self = arg;
    int64_t now = mono_ms();

    for (int i = 0; i < self->nsym; i++)
        metrics_out_sample(out, store_sym(self->sym[i].store),
                           (double)(now - self->sym[i].last_pub_ms) / 1000.0);
}

static void s_m_lag(metrics_out_t *out, void *arg)
{
    feeder_t *self = arg;
    double now = (double)wall_ms();

    for (int i = 0; i < self->nsym; i++)
        if (self->sym[i].live)
            metrics_out_sample(out, store_sym(self->sym[i].store),
                               (now - (double)self->sym[i].last_end_ms) /
                               1000.0);
}

static void s_m_src(metrics_out_t *out, void *arg)
{
    const struct src_metric *sm = arg;
    struct source_counter c[SOURCE_COUNTERS_MAX];
    int nc = s_src_counters(sm->f, c);

    for (int i = 0; i < nc; i++)
        if (strcmp(c[i].name, sm->name) == 0) {
            metrics_out_sample(out, NULL, (double)c[i].value);
            return;
        }
}

int feeder_metrics(feeder_t *self, metrics_t *m)
{
    struct source_counter c[SOURCE_COUNTERS_MAX];
    int nc = s_src_counters(self, c), rc = 0;
    char name[128], help[192];

    rc |= counters_metrics(m, s_counters, NCOUNTERS, self);
    rc |= metrics_add_int(m, METRICS_GAUGE, "livetrade_feeder_symbols",
                          "Symbols published", &self->nsym);
    rc |= metrics_add_int(m, METRICS_GAUGE, "livetrade_feeder_symbols_done",
                          "Symbols whose stream ended (--count, end of "
                          "file)", &self->ndone);
    rc |= metrics_add_int(m, METRICS_GAUGE, "livetrade_feeder_subscribers",
                          "Subscriptions to bars", &self->pub.subscribers);
    rc |= metrics_add_fn(m, METRICS_GAUGE,
                         "livetrade_feeder_last_bar_age_seconds",
                         "Seconds since the symbol's newest live bar was "
                         "published (or since the start)", "symbol",
                         s_m_age, self);
    rc |= metrics_add_fn(m, METRICS_GAUGE, "livetrade_feeder_lag_seconds",
                         "Now minus the end of the symbol's newest live bar "
                         "(start + timeframe)", "symbol", s_m_lag, self);
    free(self->msrc);
    self->msrc = calloc((size_t)(nc ? nc : 1), sizeof *self->msrc);
    if (!self->msrc)
        return ERR_NOMEM;
    /* The source's own counters, one family each; a name ending in _now
     * is a gauge (a count at the moment). */
    for (int i = 0; i < nc; i++) {
        size_t len = strlen(c[i].name);
        int gauge = len > 4 && strcmp(c[i].name + len - 4, "_now") == 0;
        self->msrc[i].f = self;
        self->msrc[i].name = c[i].name;
        snprintf(name, sizeof name, "livetrade_feeder_%s_%s%s",
                 self->ops->name, c[i].name, gauge ? "" : "_total");
        snprintf(help, sizeof help, "Source %s: %s (see the status "
                 "reply's %s)", self->ops->name, c[i].name, c[i].name);
        rc |= metrics_add_fn(m, gauge ? METRICS_GAUGE : METRICS_COUNTER,
                             name, help, NULL, s_m_src, &self->msrc[i]);
    }
    return rc ? ERR_NOMEM : 0;
}

/* }==================================================== */

feeder_t *feeder_new(const struct feeder_cfg *cfg, loop_t *loop, char *err)
{
    struct source_cfg sc;
    feeder_t *self;
    int rc = 0;

    assert(cfg && cfg->ops && (cfg->nsym >= 1 || cfg->all) && loop);
    if (cfg->all && cfg->ops->next_bar) {
        snprintf(err, ERR_LEN, "--symbols '*' needs a source that brings "
                 "its symbols (polygon); --source %s takes a list",
                 cfg->ops->name);
        return NULL;
    }
    self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, ERR_LEN, "out of memory");
        return NULL;
    }
    self->ops = cfg->ops;
    self->keep = cfg->keep_bars > 0 ? (size_t)cfg->keep_bars
                                    : STORE_MAX_BARS;
    self->loop = loop;
    self->all = cfg->all;
    self->count = cfg->count;
    self->interval_ms = cfg->interval_ms;
    self->exit_when_done = cfg->exit_when_done;
    self->wait_subs = cfg->wait_subs;
    self->req_lim = (struct log_limit)LOG_LIMIT_INIT;
    self->bar_lim = (struct log_limit)LOG_LIMIT_INIT;
    self->new_lim = (struct log_limit)LOG_LIMIT_INIT;
    msgpack_sbuffer_init(&self->rsb);
    msgpack_sbuffer_init(&self->pend);
    msgpack_packer_init(&self->rpk, &self->rsb, msgpack_sbuffer_write);
    mp_body_init(&self->body);

    /* A pull source paces itself. */
    if ((cfg->ops->next_bar ? bus_pub_init_paced : bus_pub_init)
            (&self->pub, cfg->pub_endpoint, cfg->ops->name, err))
        goto fail;
    self->pub_open = 1;
    self->router = bus_bind_router(cfg->rep_endpoint, err);
    if (!self->router)
        goto fail;

    self->names = symtab_new(SYMTAB_MAX);
    if (!self->names) {
        snprintf(err, ERR_LEN, "out of memory");
        goto fail;
    }
    for (int i = 0; i < cfg->nsym; i++) {
        rc = s_add(self, cfg->symbols[i]);
        if (rc != i) {
            snprintf(err, ERR_LEN, "symbol %.40s: %s", cfg->symbols[i],
                     rc < 0 ? err_str(rc) : "listed twice");
            goto fail;
        }
    }
    rc = 0;

    /* The timer exists before the source runs: finishing during the
     * history (a short replay) re-arms it. */
    self->tick_id = loop_add_timer(loop, cfg->interval_ms, s_on_tick, self);
    rc |= self->tick_id < 0;
    rc |= loop_add_timer(loop, HB_CHECK_MS, s_on_heartbeat, self) < 0;
    rc |= loop_add_socket(loop, self->pub.sock, s_on_subs, self);
    rc |= loop_add_socket(loop, self->router, s_on_request, self);
    if (rc) {
        snprintf(err, ERR_LEN, "event loop is full");
        goto fail;
    }

    memset(&sc, 0, sizeof sc);
    sc.symbols = cfg->symbols;
    sc.nsym = cfg->nsym;
    sc.all = cfg->all;
    sc.intern = s_intern;
    sc.seed = cfg->seed;
    sc.tf = cfg->tf;
    sc.start_ms = cfg->start_ms;
    sc.history = cfg->history;
    sc.failed = &self->failed;
    sc.loop = loop;
    sc.emit = s_emit;
    sc.emit_arg = self;
    self->src = cfg->ops->open(&sc, err);
    if (!self->src)
        goto fail;
    if (cfg->ops->next_bar)
        s_load_history(self, cfg->history);
    return self;
fail:
    feeder_destroy(&self);
    return NULL;
}

int feeder_failed(const feeder_t *self)
{
    assert(self);
    return self->failed;
}

void feeder_destroy(feeder_t **self_p)
{
    feeder_t *self = *self_p;

    if (!self)
        return;
    if (self->router) {
        s_on_request(self->loop, self->router, 0, self);
        bus_close(&self->router);
    }
    if (self->pend.size) {          /* the last one, to those with room */
        msgpack_sbuffer_write(&self->pub.sb, self->pend.data,
                              self->pend.size);
        if (bus_pub_send(&self->pub, self->pend_topic) == 0)
            self->published++;
    }
    msgpack_sbuffer_destroy(&self->pend);
    if (self->src)
        self->ops->close(self->src);
    if (self->pub_open)
        bus_pub_free(&self->pub);
    for (int i = 0; self->sym && i < self->nsym; i++)
        store_destroy(&self->sym[i].store);
    free(self->sym);
    symtab_destroy(&self->names);
    free(self->msrc);
    mp_body_free(&self->body);
    msgpack_sbuffer_destroy(&self->rsb);
    free(self);
    *self_p = NULL;
}

uint64_t feeder_instance(const feeder_t *self)
{
    return self->pub.instance;
}

void feeder_log_counters(const feeder_t *self)
{
    struct source_counter c[SOURCE_COUNTERS_MAX];
    char line[1024] = "";
    int nc = s_src_counters(self, c);
    uint64_t held = 0;
    size_t off;

    for (int i = 0; i < self->nsym; i++)
        held += store_len(self->sym[i].store);
    counters_line(line, sizeof line, s_counters, NCOUNTERS, self);
    off = strlen(line);
    snprintf(line + off, sizeof line - off, " bars_held %llu",
             (unsigned long long)held);
    for (int i = 0; i < nc; i++) {
        off = strlen(line);
        snprintf(line + off, sizeof line - off, " %s %llu", c[i].name,
                 (unsigned long long)c[i].value);
    }
    log_msg(LL_INFO, "counters:%s", line);
}
