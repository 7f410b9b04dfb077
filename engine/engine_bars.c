/* engine_bars.c -- the bar path: bar bus messages in, each bar checked
 * against its symbol's stream (repeats skipped, gaps filled from history
 * first, feeder restarts), through the symbol's strategy, and its signals
 * journalled and published; indicator values on ind| for those who
 * subscribe. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine_int.h"
#include "msg_ind.h"
#include "util.h"

/* Journals, then publishes a signal of symbol y. One whose id the journal
 * already holds (derived again after a restart on the same feed) is not
 * published twice; any other is. */
static void s_emit(void *arg, struct signal *s)
{
    struct sym *y = arg;
    engine_t *self = y->owner;
    char topic[BUS_TOPIC_MAX];

    if ((y->npend || y->pend_over) && engine_pend_has(y, s)) {
        self->rederived++;
        return;
    }
    snprintf(s->eng, sizeof s->eng, "%s", self->id);
    s->seq = ++self->sig_seq;
    s->pub = self->pub.instance;
    s->ts = wall_ms();
    bus_topic(topic, "sig", s->sym);
    msg_signal_pack(&self->pub.pk, s);
    if (self->journal && journal_append(self->journal, JOURNAL_SIGNAL,
                                        s->seq, self->pub.sb.data,
                                        self->pub.sb.size)) {
        self->journal_errors++;
        log_limited(&self->lim_journal, LL_ERROR, "journal %s: signal #%llu "
                    "not written (%s); published anyway, but it cannot be "
                    "replayed (%llu so far)", self->journal_path,
                    (unsigned long long)s->seq, strerror(errno),
                    (unsigned long long)self->journal_errors);
    }
    bus_pub_send(&self->pub, topic);
    self->signals_run++;
    y->published++;
    if (self->latency && self->bar_rx > 0)
        metrics_hist_observe(self->latency, mono_sec() - self->bar_rx);
    log_msg(LL_DEBUG, "signal #%llu %s %s t=%lld px=%g conf=%.2f",
            (unsigned long long)s->seq, s->sym, signal_action_name(s->act),
            (long long)s->t, s->px, s->conf);
}

/* After a live bar of y: its indicator values at the bar on "ind|SYM|",
 * only while someone subscribes to them, so they cost nothing per bar
 * otherwise. No signal: no sequence number, no journal, never waits. */
static void s_publish_ind(engine_t *self, struct sym *y)
{
    char topic[BUS_TOPIC_MAX];
    struct ind_msg m;

    if (self->pub.side_subs <= 0 || y->run->failed || !y->run->data.time.len)
        return;
    m.p.n = runner_ind_at(y->run, y->run->data.time.len - 1, m.p.v);
    if (!m.p.n)
        return;
    m.p.t = y->run->last_t;
    snprintf(m.eng, sizeof m.eng, "%s", self->id);
    snprintf(m.sym, sizeof m.sym, "%s", y->run->sym);
    bus_topic(topic, "ind", m.sym);
    msg_ind_pack(&self->pub.pk, &m);
    if (bus_pub_send_side(&self->pub, topic) == 0) {
        self->ind_sent++;
        return;
    }
    self->ind_dropped++;
    log_limited(&self->lim_ind, LL_WARN, "indicator values of %s dropped: a "
                "subscriber is full (%llu so far)", m.sym,
                (unsigned long long)self->ind_dropped);
}

/* The paper broker's equity of y's strategy. */
double engine_equity(const struct sym *y)
{
    return broker_equity(strategy_broker(y->run->strat));
}

/* Feeds one bar to a symbol's strategy, live or (emit off) in warm-up. */
void engine_feed(engine_t *self, struct sym *y, const struct bar *b,
                 int live)
{
    int rc;

    if (live && y->first_live_t < 0)
        y->eq0 = engine_equity(y);       /* P&L of this run counts from here */
    rc = runner_feed(y->run, b, live ? s_emit : NULL, y);

    if (rc == ERR_OLD) {
        self->old++;
        log_limited(&self->lim_old, LL_WARN, "%s: bar at %lld is not newer "
                    "than the last one (%lld); dropped (%llu so far)", b->sym,
                    (long long)b->t, (long long)y->run->last_t,
                    (unsigned long long)self->old);
        return;
    }
    y->last_c = b->c;
    y->tf = b->tf;
    if (!self->keep_said)
        engine_keep_said(self, b->tf);
    if ((y->npend || y->pend_over) && b->t > y->jt)
        engine_pend_free(self, y);             /* past every signal it held */
    if (live && y->first_live_t < 0)
        y->first_live_t = b->t;
    if (live && rc >= 0)
        s_publish_ind(self, y);
    if (rc == ERR_LUA && strategy_out_of_money(y->run->strat)) {
        log_msg(LL_WARN, "%s: the strategy's paper account ran out of money "
                "(equity %.2f); it makes no more calls for %s",
                b->sym, engine_equity(y), b->sym);
    } else if (rc == ERR_LUA) {
        self->strategy_errors++;
        log_msg(LL_ERROR, "%s: strategy disabled: %s", b->sym,
                y->run->error);
    } else if (rc == ERR_NOMEM) {
        log_msg(LL_ERROR, "%s: out of memory storing a bar", b->sym);
    }
}

/* A live bar, checked against the stream position of the last bar taken:
 * a repeat (already had from history) is skipped, a gap is filled from
 * history first. A bar from another publisher instance (a feeder restart)
 * starts a new stream. */
void engine_live_bar(engine_t *self, struct sym *y, const struct bar *b)
{
    int joining = y->joining;

    /* Without history, the first live bar tells a replay from a feed
     * that went on. */
    if (y->run_kind == RUN_UNKNOWN && y->mark_t >= 0)
        engine_run_kind_live(self, y, b->t);
    if (b->pub == y->last_pub && y->last_seq) {
        if (b->seq <= y->last_seq) {
            self->dups++;
            return;
        }
        y->joining = 0;
        if (b->seq > y->last_seq + 1) {
            uint64_t missing = b->seq - y->last_seq - 1;
            /* Bars the feeder published after answering the history but
             * before this engine's subscription reached it (ZeroMQ's
             * slow joiner) are expected once, right after warm-up. */
            if (!joining) {
                self->gaps++;
                self->missed += missing;
                log_limited(&self->lim_gap, LL_WARN, "%s: %llu bar(s) missing "
                            "before seq %llu; filling from history",
                            b->sym, (unsigned long long)missing,
                            (unsigned long long)b->seq);
            }
            if (self->nheps && engine_recover(self, y, b, missing,
                                              joining) == 0)
                return;             /* held until the history has come */
        }
    } else if (y->last_pub && b->pub != y->last_pub) {
        self->restarts++;
        y->resent = b->t <= y->run->last_t;
        log_msg(LL_INFO, "%s: feeder restarted (instance %llx -> %llx)%s",
                b->sym, (unsigned long long)y->last_pub,
                (unsigned long long)b->pub, y->resent ? "; bars already "
                "taken are skipped until it passes the last one" : "");
    }
    y->joining = 0;
    y->last_pub = b->pub;
    y->last_seq = b->seq;
    if (y->resent && b->t <= y->run->last_t) {
        self->dups++;               /* a restarted feeder sends them again */
        return;
    }
    y->resent = 0;
    engine_feed(self, y, b, 1);
}

int engine_hold(engine_t *self, struct sym *y, const struct bar *b)
{
    int rc;

    if (!y->live && y->nbuf && b->t <= y->buf[y->nbuf - 1].t) {
        self->old++;
        log_limited(&self->lim_old, LL_WARN, "%s: bar at %lld is not "
                    "newer than the last one; dropped", b->sym,
                    (long long)b->t);
        return -1;
    }
    rc = grow((void **)&y->buf, &y->capbuf, y->nbuf + 1, sizeof *y->buf,
              WARM_BUF_MAX);
    if (rc == ERR_TOO_LARGE) {
        /* The gap this leaves is filled from history afterwards. */
        self->overflow++;
        log_limited(&self->lim_bad, LL_WARN, "%s: %s buffer full (%d "
                    "bars); bar at %lld left to history (%llu so far)",
                    b->sym, y->live ? "gap" : "warm-up", WARM_BUF_MAX,
                    (long long)b->t, (unsigned long long)self->overflow);
        return -1;
    }
    if (rc)
        return -1;
    y->buf[y->nbuf++] = *b;
    return 0;
}

void engine_release(engine_t *self, struct sym *y)
{
    struct bar *buf = y->buf;
    size_t n = y->nbuf;

    y->buf = NULL;
    y->nbuf = y->capbuf = 0;
    for (size_t i = 0; i < n; i++) {
        if (y->repairing)
            engine_hold(self, y, &buf[i]);
        else
            engine_live_bar(self, y, &buf[i]);
    }
    free(buf);
}

/* A bar body decoded and checked into *b: 0, or -1 (counted as bad and
 * said in one line). A bar as feeders write it takes the fast path;
 * anything else the general one, which says what is wrong with it. */
static int s_decode(engine_t *self, const char *topic, const void *data,
                    size_t len, struct bar *b)
{
    const msgpack_object *o;
    char why[ERR_LEN];

    if (msg_bar_decode_fast(data, len, b) == 0)
        return 0;
    o = mp_body_decode(&self->body, data, len);
    if (!o) {
        self->bad++;
        log_limited(&self->lim_bad, LL_WARN, "bad bar on %s: body is not "
                    "msgpack (%zu bytes); dropped (%llu bad so far)", topic,
                    len, (unsigned long long)self->bad);
        return -1;
    }
    if (msg_bar_unpack(o, b, why) != ERR_OK) {
        self->bad++;
        log_limited(&self->lim_bad, LL_WARN, "bad bar on %s: %s; dropped "
                    "(%llu bad so far)", topic, why,
                    (unsigned long long)self->bad);
        return -1;
    }
    return 0;
}

static void s_on_bar(engine_t *self, const char *topic, const char *tsym,
                     const void *data, size_t len)
{
    struct bar b;
    struct sym *y;
    int k;

    if (s_decode(self, topic, data, len, &b))
        return;
    if (strcmp(tsym, b.sym) != 0) {
        self->bad++;
        log_limited(&self->lim_bad, LL_WARN, "bad bar: symbol %s on topic "
                    "'%s'", b.sym, topic);
        return;
    }
    k = engine_find(self, b.sym);
    if (k < 0 && self->cfg.all)
        k = engine_add(self, b.sym);    /* its first bar: held, warming */
    if (k < 0) {
        self->unknown++;
        log_limited(&self->lim_unknown, LL_DEBUG, "bar for %s, not ours",
                    b.sym);
        return;
    }
    self->bars_in++;
    y = &self->syms[k];
    engine_stale_clear(self, y);
    if (!y->live || y->repairing) {
        engine_hold(self, y, &b);
        return;
    }
    self->bar_rx = mono_sec();
    engine_live_bar(self, y, &b);
    self->bar_rx = 0;
}

void engine_on_message(engine_t *self, const char *topic, const void *body,
                       size_t n)
{
    struct bus_topic_of t;
    int rc = bus_topic_parse(topic, &t);

    if (rc == 0 && t.kind == BUS_K_BAR)
        s_on_bar(self, topic, t.sym, body, n);
    else if (rc == 0 && t.kind == BUS_K_HB)
        self->heartbeats++;
    else if (rc == 0 && t.kind == BUS_K_PACE)
        ;                           /* a pacing feeder's probe */
    else {
        self->bad++;
        log_limited(&self->lim_bad, LL_WARN, "%s topic '%s'; dropped",
                    rc ? "bad" : "unexpected", topic);
    }
}

