/* main.c -- livetrade-engine: subscribes to bars for its symbols, warms
 * each strategy up from the feeders' history, then runs it live and
 * publishes its signals.
 *
 * Per symbol: SUBSCRIBE first, then ask for `lookback` bars of history;
 * bars that arrive meanwhile are buffered; the history is run with
 * signals suppressed, then the buffered bars newer than the history go
 * through live. A gap in a symbol's sequence numbers is filled from the
 * history endpoint before the bar that revealed it. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "config.h"
#include "curve.h"
#include "err.h"
#include "history.h"
#include "http_metrics.h"
#include "journal.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "mp.h"
#include "msg_ind.h"
#include "proc.h"
#include "runner.h"
#include "util.h"

#define PROG "livetrade-engine"
#define MAX_SYMBOLS 10000
#define WARM_BUF_MAX 100000         /* bars buffered per symbol in warm-up */
#define HISTORY_TIMEOUT_MS 3000
#define RECOVER_MAX 100000          /* bars fetched to fill one gap */
#define MARK_MS 5000                /* marks of symbols that moved on */
#define WARM_SLICE_MS 50            /* warm-up work per tick, at most */
#define WARM_TICK_MS 10             /* between warm-up slices */
#define HIST_EPS_MAX 16             /* --history endpoints */
#define DEFER_MAX 2000000           /* messages read while a request waits */
#define DEFER_BATCH 512             /* of them read at once */
#define PEND_MAX 4096               /* ids held per symbol (see struct sym) */
#define PEND_TOTAL_MAX 1000000      /* and for all symbols together */
#define SUMMARY_TOP 3               /* best and worst symbols in a summary */
#define EXIT_PL_LINES 10            /* per-symbol P&L lines at exit, most */
#define REPLAY_LAG_S (7 * 86400)    /* bars further behind the clock than
                                       this (past their timeframe) are a
                                       replay of old bars, not a lag */

/* How a symbol's run relates to the journal's last one. */
enum {
    RUN_UNKNOWN,                    /* not decided yet (or no journal) */
    RUN_RESUME,                     /* the same feed, continued */
    RUN_NEW_PARAMS,                 /* new: other strategy or parameters */
    RUN_NEW_BACK,                   /* new: the feed went back to or before
                                       the journal's last bar (a replay) */
    RUN_NEW_FEED,                   /* new: the journal's last bar is not in
                                       the feeders' history */
    RUN_KINDS
};

/* A bar bus message read while a history request waited. */
struct deferred {
    char topic[BUS_TOPIC_MAX];
    char *body;
    size_t len;
};

struct sym {
    struct runner *run;             /* its own allocation: the strategy
                                       holds the address of its data */
    int live;                       /* warm-up done */
    int64_t warm_bars;              /* history bars taken in warm-up */
    int64_t first_live_t;           /* time of the first live bar, -1 */
    struct bar *buf;                /* bars received during warm-up */
    size_t nbuf, capbuf;
    int64_t next_try;               /* mono ms of the next history try */
    uint64_t last_pub, last_seq;    /* stream position of the newest bar
                                       taken, live or from history */
    double last_c;                  /* close of the newest bar taken */
    int resent;                     /* a restarted feeder is sending bars
                                       this symbol already took */
    int joining;                    /* live, but no live bar newer than
                                       the history taken yet */
    int64_t tf;                     /* its timeframe, s */
    /* From the journal: the newest mark (the bar this symbol had got to;
     * mark_t -1: none) and the ids of the signals written after it, which
     * a restart on the same feed derives again (not published twice). */
    int64_t mark_t, mark_tf;
    double mark_c;
    int mark_params;                /* the mark's parameters: 1 ours,
                                       0 others, -1 not recorded */
    uint64_t *pend;                 /* ids written after the mark, sorted */
    size_t npend, cappend;
    int pend_over;                  /* more than PEND_MAX: the rest are
                                       known by time, up to (jt, jord) */
    int64_t jt;                     /* newest of them: time (-1: none) */
    int jord;                       /* and ordinal */
    int run_kind;                   /* RUN_*: how this run relates to the
                                       journal's */
    uint64_t published;             /* signals published by this run */
    double eq0;                     /* paper equity when it went live */
    int64_t marked_t;               /* last_t when the last mark was written */
    int64_t last_rx;                /* mono ms of the newest bar received
                                       (at start: the start) */
    int stale;                      /* silent past --stale-after */
    int hist_i;                     /* the history endpoint that has it
                                       (from the feeders' status), -1 */
};

struct engine {
    /* flags */
    const char *strategy, *symbols, *sub_ep, *pub_ep, *hist_ep, *rep_ep;
    const char *id;
    int64_t lookback;               /* -1: automatic */
    int64_t wait_subs;              /* signal subscriptions before live */
    int64_t memory_mb;              /* Lua memory for all strategies */
    const char *shard;              /* --shard i/N, NULL: none */
    const char *curve;              /* --curve DIR */
    int shard_i, shard_n;
    const char *journal_dir;        /* NULL: default; "": no journal */
    const char *fsync;              /* always, everysec, no */
    int64_t journal_mb, journal_days;
    struct opt_multi params;
    int verbose;
    struct broker_cfg bcfg;         /* the paper broker's settings */
    /* state */
    struct sym *syms;
    int nsym;
    struct runner probe;            /* the strategy when a shard holds no
                                       symbol (its name and lookback) */
    int *index;                     /* open-addressing symbol index */
    size_t index_cap;
    char idbuf[64];
    int64_t lb;                     /* lookback in use */
    int warming;                    /* symbols not live yet */
    int wait_logged;
    struct bus_pub pub;
    void *sub, *router;
    struct mp_body body;
    uint64_t sig_seq;               /* last signal sequence number */
    uint64_t seq0;                  /* sig_seq when this instance started:
                                       its signals are seq0+1, seq0+2... */
    int64_t started_ms;             /* wall time of this instance's start */
    journal_t *journal;             /* NULL: none */
    struct deferred *deferred;      /* read during requests, in order */
    size_t headdeferred, ndeferred, capdeferred;
    char journal_path[1024];
    int64_t next_mark_ms;           /* mono: next round of marks */
    /* counters */
    uint64_t bars_in, bad, old, unknown, recovered, heartbeats, requests;
    uint64_t dups;                  /* live bars already had from history */
    uint64_t gaps, missed, restarts;
    uint64_t joined;                /* bars published between the history
                                       and the subscription taking effect,
                                       taken from history (not gaps) */
    uint64_t overflow;              /* bars not buffered during warm-up */
    uint64_t journal_errors;        /* signals not written to the journal */
    uint64_t caught_up;             /* signals of bars missed while down */
    uint64_t rederived;             /* re-derived signals already written */
    int runs[RUN_KINDS];            /* symbols per RUN_* */
    int runs_said;                  /* new runs already logged */
    char run_ex[RUN_KINDS][80];     /* an example symbol of each kind */
    char jparams[256];              /* other parameters found in marks */
    size_t pend_total;              /* ids held in all symbols' pend */
    int64_t summary_s;              /* --summary SECONDS, 0: off */
    uint64_t sum_bars, sum_signals; /* at the previous summary */
    uint64_t replays;               /* replay requests answered */
    uint64_t replies_dropped;       /* replies to a client that does not
                                       read them, or is gone */
    uint64_t reloads, reload_errors; /* SIGHUP reloads done, refused */
    uint64_t ind_sent, ind_dropped; /* indicator messages (ind|) */
    char hist_list[1024];           /* --history, split into heps */
    char *heps[HIST_EPS_MAX];
    int nheps;
    int64_t route_next;             /* mono ms: s_route() may ask again */
    uint32_t route_done;            /* endpoints whose status was read */
    int warm_timer;                 /* loop timer of s_on_warm */
    struct log_limit lim_gap;
    struct log_limit lim_bad, lim_old, lim_unknown, lim_journal;
    /* monitoring */
    const char *metrics_addr;       /* --metrics HOST:PORT, NULL: off */
    double stale_after;             /* --stale-after s; 0: per timeframe */
    metrics_t *metrics;             /* NULL without --metrics */
    http_metrics_t *http;
    metrics_hist_t *latency;        /* bar-to-signal seconds */
    double bar_rx;                  /* mono s the live bar being run was
                                       taken off the bus; 0: none */
    uint64_t signals_run;           /* signals published by this run */
    uint64_t strategy_errors;       /* strategies disabled by an error */
    uint64_t stale_events;          /* symbols that went stale */
    int stale_now;                  /* symbols stale at the moment */
    struct log_limit lim_stale, lim_fresh;
};

static struct engine E;

/* The strategy (for its name, parameters and lookback). */
static strategy_t *s_strat(void)
{
    return E.nsym ? E.syms[0].run->strat : E.probe.strat;
}

/* {==================== monitoring =========================== */

/* A bar time (epoch ms) for people: "2026-01-02T15:04:00Z". */
static const char *s_time(char *out, size_t n, int64_t ms)
{
    if (utc_text(out, n, ms, UTC_ISO))
        snprintf(out, n, "%lld", (long long)ms);
    return out;
}

#define STALE_TF_DEFAULT 60         /* s, before a symbol's first bar */

/* Silence after which symbol y counts as stale, in ms: --stale-after,
 * else three of its bars and 30 s. */
static int64_t s_stale_limit(const struct sym *y)
{
    if (E.stale_after > 0)
        return (int64_t)llround(E.stale_after * 1000.0);
    return (3 * (y->tf > 0 ? y->tf : STALE_TF_DEFAULT) + 30) * 1000;
}

/* From the tick: symbols silent past their limit become stale, once,
 * with one (rate-limited) WARN line. */
static void s_stale_check(void)
{
    int64_t now = mono_ms();

    for (int k = 0; k < E.nsym; k++) {
        struct sym *y = &E.syms[k];
        int64_t limit = s_stale_limit(y);
        if (y->stale || now - y->last_rx <= limit)
            continue;
        y->stale = 1;
        E.stale_now++;
        E.stale_events++;
        log_limited(&E.lim_stale, LL_WARN, "%s: no bar for %.1f s (stale "
                    "after %.1f s); %d symbol(s) stale", y->run->sym,
                    (double)(now - y->last_rx) / 1000.0,
                    (double)limit / 1000.0, E.stale_now);
    }
}

/* A bar of y arrived: the silence clock restarts, and a stale y is not
 * stale any more. */
static void s_stale_clear(struct sym *y)
{
    int64_t now = mono_ms();

    if (y->stale) {
        y->stale = 0;
        E.stale_now--;
        log_limited(&E.lim_fresh, LL_INFO, "%s: bars again after %.1f s of "
                    "silence; %d symbol(s) stale", y->run->sym,
                    (double)(now - y->last_rx) / 1000.0, E.stale_now);
    }
    y->last_rx = now;
}

static void s_m_lag(metrics_out_t *out, void *arg)
{
    double now = (double)wall_ms();
    (void)arg;
    for (int k = 0; k < E.nsym; k++)
        if (E.syms[k].run->last_t >= 0)
            metrics_out_sample(out, E.syms[k].run->sym,
                               (now - (double)E.syms[k].run->last_t) / 1000.0
                               - (double)E.syms[k].tf);
}

static void s_m_age(metrics_out_t *out, void *arg)
{
    int64_t now = mono_ms();
    (void)arg;
    for (int k = 0; k < E.nsym; k++)
        metrics_out_sample(out, E.syms[k].run->sym,
                           (double)(now - E.syms[k].last_rx) / 1000.0);
}

static void s_m_stale(metrics_out_t *out, void *arg)
{
    (void)arg;
    for (int k = 0; k < E.nsym; k++)
        metrics_out_sample(out, E.syms[k].run->sym, E.syms[k].stale);
}

static void s_m_disabled(metrics_out_t *out, void *arg)
{
    int n = 0;
    (void)arg;
    for (int k = 0; k < E.nsym; k++)
        n += E.syms[k].run->failed != 0;
    metrics_out_sample(out, NULL, n);
}

/* --metrics: the registry and its HTTP endpoint. 0, or 1 with a line. */
static int s_metrics_open(loop_t *loop)
{
    static const double buckets[] = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
        0.1, 0.25, 0.5, 1, 2.5, 5, 10
    };
    static const struct { const char *name, *help; size_t off; } c[] = {
#define C(n, h, f) { "livetrade_engine_" n, h, offsetof(struct engine, f) }
        C("bars_total", "Bars received for this engine's symbols", bars_in),
        C("bars_bad_total", "Messages on the bar bus dropped as malformed",
          bad),
        C("bars_old_total", "Bars dropped as not newer than the last one",
          old),
        C("bars_duplicate_total", "Bars skipped: already taken from "
          "history", dups),
        C("gaps_total", "Gaps in a symbol's bar sequence numbers", gaps),
        C("gap_bars_missed_total", "Bars missing in those gaps", missed),
        C("gap_bars_recovered_total", "Bars fetched from history to fill "
          "gaps", recovered),
        C("feeder_restarts_total", "Feeder restarts seen (a new publisher "
          "instance)", restarts),
        C("heartbeats_total", "Feeder heartbeats received", heartbeats),
        C("warmup_overflow_total", "Bars not buffered during warm-up "
          "(buffer full; left to history)", overflow),
        C("signals_total", "Signals published since the engine started",
          signals_run),
        C("signals_rederived_total", "Signals derived again and not "
          "published: the journal has them", rederived),
        C("caught_up_signals_total", "Signals of bars that arrived while "
          "the engine was stopped", caught_up),
        C("journal_errors_total", "Signals that could not be written to "
          "the journal", journal_errors),
        C("strategy_errors_total", "Strategy errors (each disables the "
          "strategy of its symbol)", strategy_errors),
        C("requests_total", "Requests answered (status, replay, errors)",
          requests),
        C("replays_total", "Replay requests answered", replays),
        C("replies_dropped_total", "Replies dropped: the client had "
          "not read its earlier ones, or was gone", replies_dropped),
        C("reloads_total", "Strategy reloads done (SIGHUP)", reloads),
        C("reload_errors_total", "Strategy reloads refused", reload_errors),
        C("indicator_messages_total", "Indicator values published on "
          "ind| (only while subscribed)", ind_sent),
        C("indicator_dropped_total", "Indicator messages dropped: a "
          "subscriber was full", ind_dropped),
        C("stale_total", "Times a symbol went stale (no bar for "
          "--stale-after)", stale_events),
#undef C
    };
    char err[ERR_LEN];
    int rc = 0;

    if (!E.metrics_addr)
        return 0;
    E.metrics = metrics_new();
    if (!E.metrics)
        return 1;
    for (size_t i = 0; i < sizeof c / sizeof *c; i++)
        rc |= metrics_add_u64(E.metrics, METRICS_COUNTER, c[i].name,
                              c[i].help, (const uint64_t *)(const void *)
                              ((const char *)&E + c[i].off));
    rc |= metrics_add_u64(E.metrics, METRICS_COUNTER,
                          "livetrade_engine_signals_dropped_total",
                          "Times a full subscriber was left behind (it "
                          "fills the signals it missed from the journal)",
                          &E.pub.dropped);
    rc |= metrics_add_u64(E.metrics, METRICS_GAUGE,
                          "livetrade_engine_last_signal_seq", "Sequence "
                          "number of the newest signal (continues across "
                          "restarts)", &E.sig_seq);
    rc |= metrics_add_int(E.metrics, METRICS_GAUGE,
                          "livetrade_engine_symbols", "Symbols this engine "
                          "runs", &E.nsym);
    rc |= metrics_add_int(E.metrics, METRICS_GAUGE,
                          "livetrade_engine_symbols_warming", "Symbols not "
                          "live yet (warming up)", &E.warming);
    rc |= metrics_add_int(E.metrics, METRICS_GAUGE,
                          "livetrade_engine_stale_symbols", "Symbols without "
                          "a bar for --stale-after", &E.stale_now);
    rc |= metrics_add_int(E.metrics, METRICS_GAUGE,
                          "livetrade_engine_subscribers", "Subscriptions to "
                          "signals", &E.pub.subscribers);
    rc |= metrics_add_int(E.metrics, METRICS_GAUGE,
                          "livetrade_engine_indicator_subscribers",
                          "Subscriptions to indicator values (ind|)",
                          &E.pub.side_subs);
    rc |= metrics_add_fn(E.metrics, METRICS_GAUGE,
                         "livetrade_engine_strategies_disabled", "Symbols "
                         "whose strategy an error disabled", NULL,
                         s_m_disabled, NULL);
    rc |= metrics_add_fn(E.metrics, METRICS_GAUGE,
                         "livetrade_engine_symbol_stale", "1 if the symbol "
                         "is stale, else 0", "symbol", s_m_stale, NULL);
    rc |= metrics_add_fn(E.metrics, METRICS_GAUGE,
                         "livetrade_engine_last_bar_age_seconds", "Seconds "
                         "since the symbol's newest bar arrived (or since "
                         "the start)", "symbol", s_m_age, NULL);
    rc |= metrics_add_fn(E.metrics, METRICS_GAUGE,
                         "livetrade_engine_lag_seconds", "Now minus the end "
                         "of the symbol's newest bar (start + timeframe)",
                         "symbol", s_m_lag, NULL);
    E.latency = metrics_add_hist(E.metrics,
                                 "livetrade_engine_bar_to_signal_seconds",
                                 "From a live bar taken off the bus to its "
                                 "signal's publication", buckets,
                                 (int)(sizeof buckets / sizeof *buckets));
    if (rc || !E.latency) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        return 1;
    }
    E.http = http_metrics_new(E.metrics_addr, E.metrics, loop, err);
    if (!E.http) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        return 1;
    }
    return 0;
}

/* }========================================================== */

/* {==================== symbols ============================== */

static int s_find(const char *sym)
{
    size_t i = hash_str(HASH_INIT, sym) & (E.index_cap - 1);
    while (E.index[i] >= 0) {
        if (strcmp(E.syms[E.index[i]].run->sym, sym) == 0)
            return E.index[i];
        i = (i + 1) & (E.index_cap - 1);
    }
    return -1;
}

static int s_index_build(void)
{
    E.index_cap = 16;
    while (E.index_cap < (size_t)E.nsym * 2)
        E.index_cap *= 2;
    E.index = malloc(E.index_cap * sizeof *E.index);
    if (!E.index)
        return ERR_NOMEM;
    for (size_t i = 0; i < E.index_cap; i++)
        E.index[i] = -1;
    for (int k = 0; k < E.nsym; k++) {
        size_t i = hash_str(HASH_INIT, E.syms[k].run->sym) &
                   (E.index_cap - 1);
        while (E.index[i] >= 0) {
            if (strcmp(E.syms[E.index[i]].run->sym, E.syms[k].run->sym) == 0)
                return ERR_INVALID;         /* listed twice */
            i = (i + 1) & (E.index_cap - 1);
        }
        E.index[i] = k;
    }
    return ERR_OK;
}

/* }========================================================== */

/* {==================== signals ============================== */

static uint64_t s_id_value(const char *id)
{
    return strtoull(id, NULL, 16);
}

static int s_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void s_pend_free(struct sym *y)
{
    E.pend_total -= y->npend;
    free(y->pend);
    y->pend = NULL;
    y->npend = y->cappend = 0;
    y->pend_over = 0;
    y->jt = -1;
}

/* Whether signal s of y is one the journal holds from before a restart
 * on the same feed: its id is among those written after y's mark (or,
 * past PEND_MAX of them, it is not newer than the newest). */
static int s_pend_has(const struct sym *y, const struct signal *s)
{
    uint64_t id = s_id_value(s->id);

    if (y->npend && bsearch(&id, y->pend, y->npend, sizeof id, s_u64_cmp))
        return 1;
    return y->pend_over && (s->t < y->jt ||
                            (s->t == y->jt && s->ord <= y->jord));
}

/* Journals, then publishes a signal of symbol y. One whose id the journal
 * already holds (derived again after a restart on the same feed) is not
 * published twice; any other is. */
static void s_emit(void *arg, struct signal *s)
{
    struct sym *y = arg;
    char topic[BUS_TOPIC_MAX];

    if ((y->npend || y->pend_over) && s_pend_has(y, s)) {
        E.rederived++;
        return;
    }
    snprintf(s->eng, sizeof s->eng, "%s", E.id);
    s->seq = ++E.sig_seq;
    s->pub = E.pub.instance;
    s->ts = wall_ms();
    bus_topic(topic, "sig", s->sym);
    signal_pack(&E.pub.pk, s);
    if (E.journal && journal_append(E.journal, JOURNAL_SIGNAL, s->seq,
                                    E.pub.sb.data, E.pub.sb.size)) {
        E.journal_errors++;
        log_limited(&E.lim_journal, LL_ERROR, "journal %s: signal #%llu "
                    "not written (%s); published anyway, but it cannot be "
                    "replayed (%llu so far)", E.journal_path,
                    (unsigned long long)s->seq, strerror(errno),
                    (unsigned long long)E.journal_errors);
    }
    bus_pub_send(&E.pub, topic);
    E.signals_run++;
    y->published++;
    if (E.latency && E.bar_rx > 0)
        metrics_hist_observe(E.latency, mono_sec() - E.bar_rx);
    log_msg(LL_DEBUG, "signal #%llu %s %s t=%lld px=%g conf=%.2f",
            (unsigned long long)s->seq, s->sym, signal_action_name(s->act),
            (long long)s->t, s->px, s->conf);
}

/* After a live bar of y: its indicator values at the bar on "ind|SYM|",
 * only while someone subscribes to them, so they cost nothing per bar
 * otherwise. No signal: no sequence number, no journal, never waits. */
static void s_publish_ind(struct sym *y)
{
    static struct log_limit lim = LOG_LIMIT_INIT;
    char topic[BUS_TOPIC_MAX];
    struct ind_msg m;

    if (E.pub.side_subs <= 0 || y->run->failed || !y->run->data.time.len)
        return;
    m.p.n = runner_ind_at(y->run, y->run->data.time.len - 1, m.p.v);
    if (!m.p.n)
        return;
    m.p.t = y->run->last_t;
    snprintf(m.eng, sizeof m.eng, "%s", E.id);
    snprintf(m.sym, sizeof m.sym, "%s", y->run->sym);
    bus_topic(topic, "ind", m.sym);
    ind_msg_pack(&E.pub.pk, &m);
    if (bus_pub_send_side(&E.pub, topic) == 0) {
        E.ind_sent++;
        return;
    }
    E.ind_dropped++;
    log_limited(&lim, LL_WARN, "indicator values of %s dropped: a "
                "subscriber is full (%llu so far)", m.sym,
                (unsigned long long)E.ind_dropped);
}

/* Writes how far symbol y got (its newest bar) to the journal. */
static void s_mark(struct sym *y)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;

    if (!E.journal || y->run->last_t < 0 || y->marked_t == y->run->last_t)
        return;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    mp_kstr(&pk, "sym", y->run->sym);
    mp_kint(&pk, "t", y->run->last_t);
    mp_pack_str(&pk, "c");
    msgpack_pack_double(&pk, y->last_c);
    mp_kint(&pk, "tf", y->tf);
    mp_kstr(&pk, "strat", strategy_name(y->run->strat));
    mp_kstr(&pk, "params", strategy_params(y->run->strat));
    if (journal_append(E.journal, JOURNAL_MARK, 0, sb.data, sb.size) == 0)
        y->marked_t = y->run->last_t;
    msgpack_sbuffer_destroy(&sb);
}

/* A new journal file: it starts with every symbol's mark. */
static void s_mark_all(void *arg)
{
    (void)arg;
    for (int k = 0; k < E.nsym; k++) {
        E.syms[k].marked_t = -1;
        if (E.syms[k].live)
            s_mark(&E.syms[k]);
    }
}

static int s_find(const char *sym);

/* The strategy and parameters of a mark: 1 if they are ours, 0 if not
 * (noted in E.jparams), -1 if the mark does not say (an older journal). */
static int s_mark_params(const msgpack_object *o, const struct sym *y)
{
    char strat[64], params[sizeof E.jparams];
    const char *ours = strategy_params(y->run->strat);

    if (mp_str(o, "strat", strat, sizeof strat) ||
        mp_str(o, "params", params, sizeof params))
        return -1;
    if (strcmp(strat, strategy_name(y->run->strat)) == 0 &&
        strcmp(params, ours) == 0)
        return 1;
    snprintf(E.jparams, sizeof E.jparams, "%.60s %.180s", strat,
             *params ? params : "(no parameters)");
    return 0;
}

/* A record of the journal at open: each of our symbols' newest mark and
 * the ids of the signals written after it. */
static void s_journal_record(void *arg, int kind, const msgpack_object *o)
{
    char name[SYM_MAX], id[17];
    int64_t t, v;
    struct sym *y;
    int k;
    (void)arg;

    if (mp_str(o, "sym", name, sizeof name) || mp_int(o, "t", &t))
        return;
    k = s_find(name);
    if (k < 0)
        return;
    y = &E.syms[k];
    if (kind == JOURNAL_SIGNAL) {
        y->jt = t;
        y->jord = mp_int(o, "ord", &v) ? 0 : (int)v;
        if (mp_str(o, "id", id, sizeof id))
            return;
        if (E.pend_total < PEND_TOTAL_MAX)
            grow((void **)&y->pend, &y->cappend, y->npend + 1,
                 sizeof *y->pend, PEND_MAX);
        if (y->npend < y->cappend && E.pend_total < PEND_TOTAL_MAX) {
            y->pend[y->npend++] = s_id_value(id);
            E.pend_total++;
        } else {
            y->pend_over = 1;
        }
    } else if (kind == JOURNAL_MARK) {
        y->mark_t = t;
        if (mp_dbl(o, "c", &y->mark_c))
            y->mark_c = NAN;
        y->mark_tf = mp_int(o, "tf", &v) ? 0 : v;
        y->mark_params = s_mark_params(o, y);
        s_pend_free(y);             /* what came before it is behind */
    }
}

static double s_equity(const struct sym *y);

/* Feeds one bar to a symbol's strategy, live or (emit off) in warm-up. */
static void s_feed(struct sym *y, const struct bar *b, int live)
{
    int rc;

    if (live && y->first_live_t < 0)
        y->eq0 = s_equity(y);       /* P&L of this run counts from here */
    rc = runner_feed(y->run, b, live ? s_emit : NULL, y);

    if (rc == ERR_OLD) {
        E.old++;
        log_limited(&E.lim_old, LL_WARN, "%s: bar at %lld is not newer than "
                    "the last one (%lld); dropped (%llu so far)", b->sym,
                    (long long)b->t, (long long)y->run->last_t,
                    (unsigned long long)E.old);
        return;
    }
    y->last_c = b->c;
    y->tf = b->tf;
    if ((y->npend || y->pend_over) && b->t > y->jt)
        s_pend_free(y);             /* past every signal it held */
    if (live && y->first_live_t < 0)
        y->first_live_t = b->t;
    if (live && rc >= 0)
        s_publish_ind(y);
    if (rc == ERR_LUA && strategy_out_of_money(y->run->strat)) {
        log_msg(LL_WARN, "%s: the strategy's paper account ran out of money "
                "(equity %.2f); it makes no more calls for %s",
                b->sym, s_equity(y), b->sym);
    } else if (rc == ERR_LUA) {
        E.strategy_errors++;
        log_msg(LL_ERROR, "%s: strategy disabled: %s", b->sym,
                y->run->error);
    } else if (rc == ERR_NOMEM) {
        log_msg(LL_ERROR, "%s: out of memory storing a bar", b->sym);
    }
}

/* }========================================================== */

/* {==================== history ============================== */

/* Asks each history endpoint in turn. Returns ERR_OK with the bars,
 * ERR_NOTFOUND if every endpoint answered that it lacks the symbol, or
 * another error if some endpoint did not answer. */
static int s_history(const struct history_req *r, struct bar **bars,
                     size_t *n, uint64_t *seq)
{
    char err[ERR_LEN];
    int rc = ERR_NOTFOUND, k = s_find(r->sym);
    int first = k >= 0 ? E.syms[k].hist_i : -1;
    char *const *eps = E.heps;

    /* The symbol's own feeder first (s_route), then the others. */
    for (int j = first >= 0 ? -1 : 0; j < E.nheps; j++) {
        int i = j < 0 ? first : j;
        size_t bad;
        int r1;
        if (j >= 0 && i == first)
            continue;
        r1 = history_fetch(eps[i], r, HISTORY_TIMEOUT_MS, bars, n, seq,
                           &bad, err);
        if (r1 == ERR_OK) {
            if (bad)
                log_msg(LL_WARN, "%s: %zu invalid bar(s) in history from "
                        "%s skipped", r->sym, bad, eps[i]);
            return ERR_OK;
        }
        if (proc_stop)
            return r1 == ERR_OK ? ERR_TIMEOUT : r1;  /* stopping: no news */
        if (r1 != ERR_NOTFOUND) {
            log_msg(LL_WARN, "%s", err);
            rc = r1;
        } else {
            log_msg(LL_DEBUG, "%s", err);
        }
    }
    return rc;
}

static void s_recover(struct sym *y, uint64_t missing, int joining);

/* Learns which history endpoint serves each symbol from the feeders'
 * status replies (their "syms"), so that warm-ups and gap fills ask that
 * feeder first instead of every one in turn: with many symbols over
 * several feeders this divides the requests by the number of feeders.
 * Endpoints that do not answer are asked again on a later call. */
static void s_route(void)
{
    char err[ERR_LEN], name[SYM_MAX];
    int routed = 0;

    if (E.nheps < 2 || mono_ms() < E.route_next)
        return;                     /* one feeder: nothing to choose */
    E.route_next = mono_ms() + 5000;
    for (int i = 0; i < E.nheps; i++) {
        char *reply = NULL;
        size_t len = 0;
        msgpack_unpacked u;
        const msgpack_object *syms;
        if (E.route_done & (1u << i))
            continue;
        if (bus_request_status(E.heps[i], BUS_FEEDER, HISTORY_TIMEOUT_MS,
                               &reply, &len, err) != 0)
            continue;               /* asked again later */
        E.route_done |= 1u << i;
        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, reply, len, NULL) ==
                MSGPACK_UNPACK_SUCCESS &&
            (syms = mp_get(&u.data, "syms")) != NULL &&
            syms->type == MSGPACK_OBJECT_ARRAY) {
            for (uint32_t j = 0; j < syms->via.array.size; j++) {
                int k;
                if (mp_str(&syms->via.array.ptr[j], "sym", name,
                           sizeof name) == 0 && (k = s_find(name)) >= 0 &&
                    E.syms[k].hist_i < 0) {
                    E.syms[k].hist_i = i;
                    routed++;
                }
            }
        }
        msgpack_unpacked_destroy(&u);
        free(reply);
    }
    if (routed)
        log_msg(LL_INFO, "history: %d symbol(s) routed to their feeder from "
                "the feeders' status", routed);
}

/* Symbol y continues the journal's run on the same feed. */
static void s_resumed(struct sym *y)
{
    y->run_kind = RUN_RESUME;
    E.runs[RUN_RESUME]++;
}

/* Symbol y's run is a new one (kind RUN_NEW_*), not the journal's
 * continued: every signal of it is published. Said in one line for all
 * symbols (s_runs_report). */
static void s_new_run(struct sym *y, int kind)
{
    char tb[32];

    y->run_kind = kind;
    s_pend_free(y);
    if (!E.runs[kind]++)
        snprintf(E.run_ex[kind], sizeof E.run_ex[kind], "%s, marked at "
                 "%s", y->run->sym, s_time(tb, sizeof tb, y->mark_t));
}

/* From the tick, once every symbol is live: one line for the symbols
 * whose run is a new one, if any were not said yet. */
static void s_runs_report(void)
{
    char line[1024];
    int n = 0, len = 0;

    for (int k = RUN_NEW_PARAMS; k < RUN_KINDS; k++)
        n += E.runs[k];
    if (E.warming || n == E.runs_said)
        return;
    E.runs_said = n;
    len = snprintf(line, sizeof line, "journal %s: a new run for %d of "
                   "the %d symbol(s) it holds; every signal of theirs is "
                   "published:", E.journal_path, n,
                   n + E.runs[RUN_RESUME]);
    if (E.runs[RUN_NEW_PARAMS] && len < (int)sizeof line)
        len += snprintf(line + len, sizeof line - (size_t)len, " %d with "
                        "another strategy or parameters (the journal's: "
                        "%s; now: %s %s);", E.runs[RUN_NEW_PARAMS],
                        E.jparams, strategy_name(s_strat()),
                        strategy_params(s_strat()));
    if (E.runs[RUN_NEW_BACK] && len < (int)sizeof line)
        len += snprintf(line + len, sizeof line - (size_t)len, " %d whose "
                        "feed starts again at or before the journal's last "
                        "bar, a replay (e.g. %s);", E.runs[RUN_NEW_BACK],
                        E.run_ex[RUN_NEW_BACK]);
    if (E.runs[RUN_NEW_FEED] && len < (int)sizeof line)
        len += snprintf(line + len, sizeof line - (size_t)len, " %d whose "
                        "last journalled bar is not in the feeders' history, "
                        "another feed or seed, or history that no longer "
                        "reaches back (e.g. %s);", E.runs[RUN_NEW_FEED],
                        E.run_ex[RUN_NEW_FEED]);
    if (len > 0 && len < (int)sizeof line && line[len - 1] == ';')
        line[len - 1] = '\0';
    log_msg(LL_INFO, "%s", line);
}

/* A live bar, checked against the stream position of the last bar taken:
 * a repeat (already had from history) is skipped, a gap is filled from
 * history first. A bar from another publisher instance (a feeder restart)
 * starts a new stream. */
static void s_live_bar(struct sym *y, const struct bar *b)
{
    int joining = y->joining;

    /* Without history, the first live bar tells a replay from a feed
     * that went on. */
    if (y->run_kind == RUN_UNKNOWN && y->mark_t >= 0) {
        if (b->t <= y->mark_t)
            s_new_run(y, RUN_NEW_BACK);
        else
            s_resumed(y);
    }
    if (b->pub == y->last_pub && y->last_seq) {
        if (b->seq <= y->last_seq) {
            E.dups++;
            return;
        }
        y->joining = 0;
        if (b->seq > y->last_seq + 1) {
            uint64_t missing = b->seq - y->last_seq - 1;
            /* Bars the feeder published after answering the history but
             * before this engine's subscription reached it (ZeroMQ's
             * slow joiner) are expected once, right after warm-up. */
            if (!joining) {
                E.gaps++;
                E.missed += missing;
                log_limited(&E.lim_gap, LL_WARN, "%s: %llu bar(s) missing "
                            "before seq %llu; filling from history",
                            b->sym, (unsigned long long)missing,
                            (unsigned long long)b->seq);
            }
            if (E.hist_ep && *E.hist_ep)
                s_recover(y, missing, joining);
            if (b->t <= y->run->last_t) {
                y->last_pub = b->pub;
                y->last_seq = b->seq;
                return;             /* the recovery brought it too */
            }
        }
    } else if (y->last_pub && b->pub != y->last_pub) {
        E.restarts++;
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
        E.dups++;                   /* a restarted feeder sends them again */
        return;
    }
    y->resent = 0;
    s_feed(y, b, 1);
}

/* Symbol y goes live: said first, then the bars buffered during its
 * warm-up go through live. nohist says why there was no history to warm
 * up on (the line says it plainly), NULL if there was. */
static void s_go_live(struct sym *y, const char *nohist)
{
    char tb[32];

    y->live = 1;
    E.warming--;
    if (y->warm_bars > 0 || !nohist)
        log_msg(LL_INFO, "%s: live after %lld bars of history%s%s%s%s",
                y->run->sym, (long long)y->warm_bars,
                y->run->last_t >= 0 ? " (last bar " : "",
                y->run->last_t >= 0 ? s_time(tb, sizeof tb,
                                             y->run->last_t) : "",
                y->run->last_t >= 0 ? ")" : "",
                y->run->failed ? " -- strategy disabled" : "");
    else
        log_msg(LL_INFO, "%s: live from its first bar (%s)", y->run->sym,
                nohist);
    for (size_t i = 0; i < y->nbuf; i++)
        s_live_bar(y, &y->buf[i]);
    free(y->buf);
    y->buf = NULL;
    y->nbuf = y->capbuf = 0;
    s_mark(y);
}

/* After a restart: where the journal's mark for y is in the history
 * (the same bar: time and close), or -1 if it is not there (another
 * feed, or history that no longer reaches back). */
static int64_t s_resume_point(struct sym *y, const struct bar *bars,
                              size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (bars[i].t == y->mark_t) {
            if (bars[i].c == y->mark_c || (isnan(y->mark_c)))
                return y->mark_t;
            break;
        }
    return -1;
}

/* The time of the first bar of y that reached the engine on the bus
 * during its warm-up (buffered, or read while the history request
 * waited), or INT64_MAX. A bar the history returns from that time on
 * arrived live, so it goes through live: which bars produce signals does
 * not depend on whether the feeder answered before or after publishing
 * them. */
static int64_t s_first_live(struct sym *y)
{
    char topic[BUS_TOPIC_MAX];
    struct mp_body body;
    int64_t t = y->nbuf ? y->buf[0].t : INT64_MAX;

    bus_topic(topic, "bar", y->run->sym);
    mp_body_init(&body);
    for (size_t i = E.headdeferred; i < E.ndeferred; i++) {
        const struct deferred *d = &E.deferred[i];
        const msgpack_object *o;
        char why[ERR_LEN];
        struct bar b;

        if (strcmp(d->topic, topic) != 0)
            continue;
        o = mp_body_decode(&body, d->body, d->len);
        if (o && bar_unpack(o, &b, why) == ERR_OK &&
            strcmp(b.sym, y->run->sym) == 0) {
            if (b.t < t)
                t = b.t;
            break;                  /* the first one is the oldest */
        }
    }
    mp_body_free(&body);
    return t;
}

/* The index of the first of bars[n] at or after live_t (n if none). */
static size_t s_live_index(const struct bar *bars, size_t n, int64_t live_t)
{
    size_t i = n;

    while (i > 0 && bars[i - 1].t >= live_t)
        i--;
    return i;
}

/* One warm-up attempt for a symbol; -1 if no feeder answered. The last
 * `lookback` bars go through with signals off. After a restart (a mark in
 * the journal) the history starts `lookback` bars before the mark instead,
 * and the bars after the mark -- those that came while the engine was
 * stopped -- go through live, so their signals are published (the ones
 * the journal already holds are not published again). */
static int s_warm(struct sym *y)
{
    struct history_req r;
    struct bar *bars = NULL;
    size_t n = 0, first = 0;
    uint64_t seq, sig0 = E.sig_seq;
    int64_t resume = -1, live_t;
    uint64_t red0 = E.rederived;
    int rc;

    if (y->mark_t >= 0 && y->run_kind == RUN_UNKNOWN && y->mark_params == 0)
        s_new_run(y, RUN_NEW_PARAMS);
    if (!E.hist_ep || !*E.hist_ep) {
        s_go_live(y, "no history endpoint");
        return 0;
    }
    memset(&r, 0, sizeof r);
    snprintf(r.sym, sizeof r.sym, "%s", y->run->sym);
    r.n = E.lb;
    r.since = -1;
    if (y->mark_t >= 0 && y->run_kind == RUN_UNKNOWN && y->mark_tf > 0) {
        r.since = y->mark_t - (E.lb + 1) * y->mark_tf * 1000;
        r.n = HISTORY_MAX;
    }
    rc = s_history(&r, &bars, &n, &seq);
    if (rc == ERR_NOTFOUND) {
        log_msg(LL_WARN, "%s: no feeder has history for it; going live "
                "without warm-up", y->run->sym);
    } else if (rc != ERR_OK) {
        if (!proc_stop)
            log_msg(LL_INFO, "%s: waiting for history from %s",
                    y->run->sym, E.hist_ep);
        y->next_try = mono_ms() + 1000;
        return -1;
    }
    live_t = s_first_live(y);
    if (y->mark_t >= 0 && y->run_kind == RUN_UNKNOWN) {
        /* The journal's run goes on only if this is the same feed: its
         * mark is in the history, and the feed did not start again at or
         * before it (a replay of the same bars is a new run). */
        if (live_t <= y->mark_t)
            s_new_run(y, RUN_NEW_BACK);
        else if ((resume = s_resume_point(y, bars, n)) < 0)
            s_new_run(y, RUN_NEW_FEED);
        else
            s_resumed(y);
        if (resume < 0 && r.since >= 0 && rc == ERR_OK) {
            /* The history asked for was around the mark: ask again for
             * the last `lookback` bars. */
            free(bars);
            bars = NULL;
            n = 0;
            r.since = -1;
            r.n = E.lb;
            rc = s_history(&r, &bars, &n, &seq);
            if (rc != ERR_OK) {
                y->next_try = mono_ms() + 1000;
                return -1;
            }
            live_t = s_first_live(y);
        }
    }
    if (resume < 0) {
        /* `lookback` bars before the first one that came live; ask for
         * more when the feeder published some of the asked-for bars
         * live before it answered. */
        for (int again = 0; rc == ERR_OK; again++) {
            size_t i0 = s_live_index(bars, n, live_t);
            first = i0 > (size_t)E.lb ? i0 - (size_t)E.lb : 0;
            if (i0 >= (size_t)E.lb || (int64_t)n < r.n || r.since >= 0 ||
                again == 3 || r.n >= HISTORY_MAX)
                break;
            r.n = E.lb + (int64_t)(n - i0) + 64;
            if (r.n > HISTORY_MAX)
                r.n = HISTORY_MAX;
            free(bars);
            bars = NULL;
            n = 0;
            if (s_history(&r, &bars, &n, &seq) != ERR_OK) {
                y->next_try = mono_ms() + 1000;
                return -1;
            }
            live_t = s_first_live(y);
        }
    }
    for (;;) {
        for (size_t i = first; i < n; i++)
            s_feed(y, &bars[i], (resume >= 0 && bars[i].t > resume) ||
                   bars[i].t >= live_t);
        if (n) {
            y->last_pub = bars[n - 1].pub;
            y->last_seq = bars[n - 1].seq;
            y->joining = 1;
        }
        y->warm_bars += (int64_t)(n - first);
        free(bars);
        bars = NULL;
        /* A long stop: the rest of the missed bars, page by page. */
        if (resume < 0 || (int64_t)n < r.n || proc_stop)
            break;
        r.since = y->run->last_t;
        first = 0;
        if (s_history(&r, &bars, &n, &seq) != ERR_OK)
            break;
    }
    if (resume >= 0) {
        E.caught_up += E.sig_seq - sig0;
        char tb[32];
        log_msg(LL_INFO, "%s: caught up from the journal's mark (%s): "
                "%llu signal(s) of bars missed while stopped; %llu the "
                "journal already held not published again", y->run->sym,
                s_time(tb, sizeof tb, resume),
                (unsigned long long)(E.sig_seq - sig0),
                (unsigned long long)(E.rederived - red0));
    }
    s_go_live(y, rc == ERR_NOTFOUND ? "no feeder has history for it" :
              y->warm_bars ? NULL : "its feeder has no history of it yet");
    return 0;
}

/* Fills a gap in a live symbol from history, emitting signals. A gap
 * found while joining (the first live bar after warm-up) is expected:
 * it is said at INFO and counted apart from the gaps. */
static void s_recover(struct sym *y, uint64_t missing, int joining)
{
    struct history_req r;
    struct bar *bars = NULL;
    size_t n = 0;
    uint64_t seq;

    memset(&r, 0, sizeof r);
    snprintf(r.sym, sizeof r.sym, "%s", y->run->sym);
    r.since = y->run->last_t;
    r.n = missing < RECOVER_MAX ? (int64_t)missing : RECOVER_MAX;
    if (s_history(&r, &bars, &n, &seq) != ERR_OK) {
        if (joining) {              /* lost after all: a gap */
            E.gaps++;
            E.missed += missing;
        }
        if (!proc_stop)
            log_msg(LL_WARN, "%s: could not fill a gap of %llu bar(s) from "
                    "history", y->run->sym, (unsigned long long)missing);
        return;
    }
    for (size_t i = 0; i < n; i++)
        s_feed(y, &bars[i], 1);
    if (n) {
        y->last_pub = bars[n - 1].pub;
        y->last_seq = bars[n - 1].seq;
    }
    free(bars);
    if (joining) {
        E.joined += n;
        log_msg(LL_INFO, "%s: %zu bar(s) published while the engine was "
                "subscribing, taken from history (expected at start)",
                y->run->sym, n);
        return;
    }
    E.recovered += n;
    log_msg(LL_INFO, "%s: filled a gap with %zu bar(s) from history",
            y->run->sym, n);
}

/* }========================================================== */

/* {==================== bus input ============================ */

static void s_on_bar(const char *topic, const void *data, size_t len)
{
    const msgpack_object *o = mp_body_decode(&E.body, data, len);
    char why[ERR_LEN], tsym[SYM_MAX];
    struct bar b;
    struct sym *y;
    const char *end;
    int k, rc;

    if (!o) {
        E.bad++;
        log_limited(&E.lim_bad, LL_WARN, "bad bar on %s: body is not "
                    "msgpack (%zu bytes); dropped (%llu bad so far)", topic,
                    len, (unsigned long long)E.bad);
        return;
    }
    if (bar_unpack(o, &b, why) != ERR_OK) {
        E.bad++;
        log_limited(&E.lim_bad, LL_WARN, "bad bar on %s: %s; dropped (%llu "
                    "bad so far)", topic, why, (unsigned long long)E.bad);
        return;
    }
    end = strchr(topic + 4, '|');
    if (!end || (size_t)(end - (topic + 4)) >= sizeof tsym) {
        E.bad++;
        log_limited(&E.lim_bad, LL_WARN, "bad topic '%s'", topic);
        return;
    }
    memcpy(tsym, topic + 4, (size_t)(end - (topic + 4)));
    tsym[end - (topic + 4)] = '\0';
    if (strcmp(tsym, b.sym) != 0) {
        E.bad++;
        log_limited(&E.lim_bad, LL_WARN, "bad bar: symbol %s on topic '%s'",
                    b.sym, topic);
        return;
    }
    k = s_find(b.sym);
    if (k < 0) {
        E.unknown++;
        log_limited(&E.lim_unknown, LL_DEBUG, "bar for %s, not ours", b.sym);
        return;
    }
    E.bars_in++;
    y = &E.syms[k];
    s_stale_clear(y);
    if (!y->live) {
        if (y->nbuf && b.t <= y->buf[y->nbuf - 1].t) {
            E.old++;
            log_limited(&E.lim_old, LL_WARN, "%s: bar at %lld is not newer "
                        "than the last one; dropped", b.sym, (long long)b.t);
            return;
        }
        rc = grow((void **)&y->buf, &y->capbuf, y->nbuf + 1, sizeof *y->buf,
                  WARM_BUF_MAX);
        if (rc == ERR_TOO_LARGE) {
            /* The gap this leaves is filled from history once live. */
            E.overflow++;
            log_limited(&E.lim_bad, LL_WARN, "%s: warm-up buffer full "
                        "(%d bars); bar at %lld left to history (%llu "
                        "so far)", b.sym, WARM_BUF_MAX, (long long)b.t,
                        (unsigned long long)E.overflow);
            return;
        }
        if (rc)
            return;
        y->buf[y->nbuf++] = b;
        return;
    }
    E.bar_rx = mono_sec();
    s_live_bar(y, &b);
    E.bar_rx = 0;
}

static void s_on_message(const char *topic, const void *body, size_t n)
{
    if (strncmp(topic, "bar|", 4) == 0)
        s_on_bar(topic, body, n);
    else if (strcmp(topic, "hb|") == 0)
        E.heartbeats++;
    else if (strcmp(topic, BUS_PACE_KIND "|") == 0)
        ;                           /* a pacing feeder's probe */
    else {
        E.bad++;
        log_limited(&E.lim_bad, LL_WARN, "unexpected topic '%s'; dropped",
                    topic);
    }
}

/* While a history request waits (warm-up, a gap), the bar subscription is
 * still read, into E.deferred: feeders are never pushed back by an engine
 * that waits for one of them. The messages go through, in order, before
 * any newer one (s_on_sub). */
static void s_defer(void *arg)
{
    char topic[BUS_TOPIC_MAX];
    zmq_msg_t msg;
    (void)arg;

    /* A batch at a time: bus_request() looks at its reply in between,
     * which a subscription that never runs dry would otherwise hold off
     * for as long as the feeders keep publishing at full speed. */
    for (int batch = 0; batch < DEFER_BATCH && E.ndeferred < DEFER_MAX;
         batch++) {
        struct deferred *d;
        int n = bus_recv(E.sub, topic, sizeof topic, &msg);
        if (n == -1)
            return;
        if (n == -2) {
            E.bad++;
            continue;
        }
        if (grow((void **)&E.deferred, &E.capdeferred, E.ndeferred + 1,
                 sizeof *E.deferred, SIZE_MAX)) {
            zmq_msg_close(&msg);
            return;
        }
        d = &E.deferred[E.ndeferred];
        d->body = malloc((size_t)n ? (size_t)n : 1);
        if (!d->body) {
            zmq_msg_close(&msg);
            return;
        }
        memcpy(d->body, zmq_msg_data(&msg), (size_t)n);
        d->len = (size_t)n;
        snprintf(d->topic, sizeof d->topic, "%s", topic);
        E.ndeferred++;
        zmq_msg_close(&msg);
    }
}

static void s_on_sub(loop_t *loop, void *sock, int fd, void *arg)
{
    char topic[BUS_TOPIC_MAX];
    zmq_msg_t msg;
    int n;
    (void)loop; (void)fd; (void)arg;

    /* Take what is waiting, but yield to timers and requests now and
     * then so a burst cannot starve them. Messages read while a request
     * waited come before any still in the socket (more may join them
     * while they are handled). */
    for (int i = 0; i < 10000; i++) {
        if (E.headdeferred < E.ndeferred) {
            struct deferred d = E.deferred[E.headdeferred++];
            s_on_message(d.topic, d.body, d.len);
            free(d.body);
            if (E.headdeferred == E.ndeferred)
                E.headdeferred = E.ndeferred = 0;
            continue;
        }
        n = bus_recv(sock, topic, sizeof topic, &msg);
        if (n == -1)
            return;
        if (n == -2) {
            E.bad++;
            log_limited(&E.lim_bad, LL_WARN, "malformed message on the bar "
                        "bus (not topic + one body); dropped");
            continue;
        }
        s_on_message(topic, zmq_msg_data(&msg), (size_t)n);
        zmq_msg_close(&msg);
    }
}

/* }========================================================== */

/* {==================== summaries ============================ */

/* The paper broker's equity of y's strategy. */
static double s_equity(const struct sym *y)
{
    return broker_equity(strategy_broker(y->run->strat));
}

/* y's paper P&L since its first live bar (0 before it). */
static double s_pl(const struct sym *y)
{
    return y->first_live_t < 0 || isnan(y->eq0) ? 0 : s_equity(y) - y->eq0;
}

static double s_pl_pct(const struct sym *y)
{
    return y->first_live_t < 0 || !(y->eq0 > 0) ? 0 :
           100.0 * s_pl(y) / y->eq0;
}

static int s_by_pl(const void *a, const void *b)
{
    const struct sym *x = &E.syms[*(const int *)a];
    const struct sym *y = &E.syms[*(const int *)b];
    double p = s_pl_pct(x), q = s_pl_pct(y);
    return p > q ? -1 : p < q;      /* best first */
}

/* A duration for people: "850 ms", "12.3 s", "4.2 min", "3.1 h", "12 d". */
static void s_fmt_dur(char *out, size_t n, double sec)
{
    double a = fabs(sec);

    if (a < 1)
        snprintf(out, n, "%.0f ms", sec * 1000);
    else if (a < 120)
        snprintf(out, n, "%.1f s", sec);
    else if (a < 7200)
        snprintf(out, n, "%.1f min", sec / 60);
    else if (a < 172800)
        snprintf(out, n, "%.1f h", sec / 3600);
    else
        snprintf(out, n, "%.0f d", sec / 86400);
}

/* Appends " SYM +P&L (+R%, position N)" for y at out[*len] (of n). */
static void s_fmt_sym(char *out, size_t n, int *len, const struct sym *y)
{
    if (*len >= (int)n)
        return;
    *len += snprintf(out + *len, n - (size_t)*len, " %s %+.2f (%+.2f%%, "
                     "position %g)", y->run->sym, s_pl(y), s_pl_pct(y),
                     broker_position_size(strategy_broker(y->run->strat)));
}

/* The symbols sorted best P&L first into order[E.nsym] (caller's). */
static void s_sort_pl(int *order)
{
    for (int k = 0; k < E.nsym; k++)
        order[k] = k;
    qsort(order, (size_t)E.nsym, sizeof *order, s_by_pl);
}

/* One line: bars and signals (and what came since the last one), the
 * lag, and the paper P&L since the symbols went live: each symbol's when
 * there are few, else the total with the best and worst SUMMARY_TOP.
 * The lag is the symbol furthest behind's; past REPLAY_LAG_S its bars
 * are a replay, and the line gives the time they have reached. */
static void s_summary(int final)
{
    char line[2048], lag[80];
    double pl = 0, eq0 = 0, maxlag = -INFINITY;
    const char *lagsym = NULL;
    const struct sym *lagy = NULL;
    int len, live = 0, *order = NULL;
    int64_t now = wall_ms();

    for (int k = 0; k < E.nsym; k++) {
        const struct sym *y = &E.syms[k];
        live += y->live;
        if (y->first_live_t >= 0 && !isnan(y->eq0)) {
            pl += s_pl(y);
            eq0 += y->eq0;
        }
        if (y->run->last_t >= 0) {
            double l = (double)(now - y->run->last_t) / 1000.0 -
                       (double)y->tf;
            if (l > maxlag) {
                maxlag = l;
                lagsym = y->run->sym;
                lagy = y;
            }
        }
    }
    if (lagsym) {
        char d[24];
        char tb[32];
        s_fmt_dur(d, sizeof d, fabs(maxlag));
        s_time(tb, sizeof tb, lagy->run->last_t);
        if (lagy->tf >= 86400 && strlen(tb) > 10)
            tb[10] = '\0';         /* daily bars: the date says it */
        if (maxlag > REPLAY_LAG_S)
            snprintf(lag, sizeof lag, "replaying bars of %s (%.16s)", tb,
                     lagsym);
        else if (maxlag >= 0)
            snprintf(lag, sizeof lag, "lag %s (%.16s)", d, lagsym);
        else                        /* bar times ahead of the clock */
            snprintf(lag, sizeof lag, "no lag (bars %s ahead)", d);
    } else {
        snprintf(lag, sizeof lag, "no bar yet");
    }
    len = snprintf(line, sizeof line, "%s: %d symbol(s), %d live, %d "
                   "stale; %llu bars in (+%llu), %llu signals published "
                   "(+%llu); %s; paper P&L since live %+.2f (%+.2f%%)",
                   final ? "summary at exit" : "summary", E.nsym, live,
                   E.stale_now, (unsigned long long)E.bars_in,
                   (unsigned long long)(E.bars_in - E.sum_bars),
                   (unsigned long long)E.signals_run,
                   (unsigned long long)(E.signals_run - E.sum_signals),
                   lag, pl, eq0 > 0 ? 100.0 * pl / eq0 : 0.0);
    E.sum_bars = E.bars_in;
    E.sum_signals = E.signals_run;
    if (E.nsym > 1)
        order = malloc((size_t)E.nsym * sizeof *order);
    if (order)
        s_sort_pl(order);
    if (E.nsym == 1) {
        len += snprintf(line + len, sizeof line - (size_t)len, ":");
        s_fmt_sym(line, sizeof line, &len, &E.syms[0]);
    } else if (order && E.nsym <= 2 * SUMMARY_TOP) {
        len += snprintf(line + len, sizeof line - (size_t)len, ":");
        for (int i = 0; i < E.nsym; i++)
            s_fmt_sym(line, sizeof line, &len, &E.syms[order[i]]);
    } else if (order) {
        len += snprintf(line + len, sizeof line - (size_t)len, "; best %d "
                        "of %d:", SUMMARY_TOP, E.nsym);
        for (int i = 0; i < SUMMARY_TOP; i++)
            s_fmt_sym(line, sizeof line, &len, &E.syms[order[i]]);
        if (len < (int)sizeof line)
            len += snprintf(line + len, sizeof line - (size_t)len,
                            "; worst %d:", SUMMARY_TOP);
        for (int i = E.nsym - 1; i >= E.nsym - SUMMARY_TOP; i--)
            s_fmt_sym(line, sizeof line, &len, &E.syms[order[i]]);
    }
    log_msg(LL_INFO, "%s", line);
    free(order);
}

/* At exit: a line per symbol with its paper account, at most
 * EXIT_PL_LINES (the best and the worst half each, and how many more). */
static void s_exit_pl(void)
{
    int *order = malloc((size_t)(E.nsym ? E.nsym : 1) * sizeof *order);
    int shown = E.nsym <= EXIT_PL_LINES ? E.nsym : EXIT_PL_LINES;

    if (!order)
        return;
    s_sort_pl(order);
    for (int i = 0; i < shown; i++) {
        int k = i < shown / 2 || E.nsym <= EXIT_PL_LINES ? order[i] :
                order[E.nsym - (shown - i)];
        const struct sym *y = &E.syms[k];
        const broker_t *b = strategy_broker(y->run->strat);
        if (E.nsym > EXIT_PL_LINES && i == shown / 2)
            log_msg(LL_INFO, "paper P&L: ... %d more symbol(s) between the "
                    "best %d and the worst %d", E.nsym - shown, shown / 2,
                    shown - shown / 2);
        log_msg(LL_INFO, "paper P&L %s: %+.2f (%+.2f%%) since its first "
                "live bar; position %g, equity %.2f, %zu closed trade(s); "
                "%llu bars (%lld of history), %llu signals published%s",
                y->run->sym, s_pl(y), s_pl_pct(y), broker_position_size(b),
                broker_equity(b), broker_nclosed(b),
                (unsigned long long)y->run->bars, (long long)y->warm_bars,
                (unsigned long long)y->published,
                y->run->failed ? "; strategy disabled" : "");
    }
    free(order);
}

static void s_on_summary(loop_t *loop, void *arg)
{
    (void)loop; (void)arg;
    s_summary(0);
}

/* }========================================================== */

/* {==================== requests ============================= */

static void s_pack_status(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 28);
    mp_kint(pk, "ver", 1);
    mp_kstr(pk, "type", "status");
    mp_kstr(pk, "prog", PROG);
    mp_kuint(pk, "replies_dropped", E.replies_dropped);
    mp_kstr(pk, "id", E.id);
    mp_kuint(pk, "pub", E.pub.instance);
    mp_kint(pk, "started", E.started_ms);
    mp_kuint(pk, "seq0", E.seq0);
    mp_kstr(pk, "strategy", strategy_name(s_strat()));
    mp_kint(pk, "lookback", E.lb);
    mp_kuint(pk, "bars_in", E.bars_in);
    mp_kuint(pk, "bad", E.bad);
    mp_kuint(pk, "old", E.old);
    mp_kuint(pk, "gaps", E.gaps);
    mp_kuint(pk, "signals", E.sig_seq);
    mp_kuint(pk, "published", E.signals_run);
    mp_kuint(pk, "rederived", E.rederived);
    mp_kuint(pk, "dropped", E.pub.dropped);
    mp_kstr(pk, "journal", E.journal ? E.journal_path : "");
    mp_kuint(pk, "journal_first", E.journal ?
             journal_first_seq(E.journal) : 0);
    mp_kuint(pk, "journal_errors", E.journal_errors);
    mp_kuint(pk, "caught_up", E.caught_up);
    mp_kuint(pk, "reloads", E.reloads);
    mp_kuint(pk, "reload_errors", E.reload_errors);
    mp_kint(pk, "stale", E.stale_now);
    mp_kint(pk, "ind_subs", E.pub.side_subs);
    mp_kuint(pk, "ind_sent", E.ind_sent);
    mp_pack_str(pk, "symbols");
    msgpack_pack_array(pk, (size_t)E.nsym);
    for (int k = 0; k < E.nsym; k++) {
        struct sym *y = &E.syms[k];
        msgpack_pack_map(pk, 11);
        mp_kstr(pk, "sym", y->run->sym);
        mp_kuint(pk, "bars", y->run->bars);
        mp_kint(pk, "first_t", y->run->data.time.len ?
                (int64_t)y->run->data.time.v[0] : -1);
        mp_kint(pk, "last_t", y->run->last_t);
        mp_pack_str(pk, "live");
        if (y->live)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        mp_kint(pk, "warm_bars", y->warm_bars);
        mp_kint(pk, "first_live_t", y->first_live_t);
        mp_kuint(pk, "signals", y->published);
        mp_kstr(pk, "error", y->run->failed ? y->run->error : "");
        mp_kint(pk, "silent_ms", mono_ms() - y->last_rx);
        mp_pack_str(pk, "stale");
        if (y->stale)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
    }
}

/* {ver:1, type:"replay", after:S[, n:N]} -> {ver:1, type:"replay",
 * eng:ID, first:F, last:L, signals:[...]}: the journal's signals after S
 * (at most N, JOURNAL_REPLAY_MAX), oldest first, each as published. F and
 * L are the oldest and newest sequence numbers the journal holds. With
 * since_ts:T instead of after, the signals published at T or later. */
static void s_pack_replay(msgpack_packer *pk, msgpack_sbuffer *sb,
                          const msgpack_object *o)
{
    static struct log_limit lim = LOG_LIMIT_INIT;
    char err[ERR_LEN];
    uint64_t after, n;
    int64_t since_ts;
    size_t count;

    if (!E.journal) {
        history_pack_error(pk, "this engine keeps no journal (--journal "
                           "\"\")");
        return;
    }
    if (replay_req_parse(o, JOURNAL_REPLAY_MAX, &after, &since_ts, &n,
                         err)) {
        log_limited(&lim, LL_WARN, "bad replay request; answered with an "
                    "error");
        history_pack_error(pk, err);
        return;
    }
    if (since_ts >= 0)
        after = journal_seq_before(E.journal, since_ts);
    E.replays++;
    msgpack_pack_map(pk, 6);
    mp_kint(pk, "ver", 1);
    mp_kstr(pk, "type", "replay");
    mp_kstr(pk, "eng", E.id);
    mp_kuint(pk, "first", journal_first_seq(E.journal));
    mp_kuint(pk, "last", journal_last_seq(E.journal));
    mp_pack_str(pk, "signals");
    if (journal_replay(E.journal, after, (size_t)n, sb, &count) != 0)
        msgpack_pack_array(pk, 0);
}

/* {ver:1, type:"indicators", sym:S, n:N} -> {ver:1, type:"indicators",
 * eng, sym, points:[{t, ind}, ...]}: the indicator values of the last N
 * bars held for S (at most IND_MSG_REQ_MAX), oldest first, as they were
 * computed (the strategy's own arrays). */
static void s_pack_indicators(msgpack_packer *pk, const msgpack_object *o)
{
    static struct log_limit lim = LOG_LIMIT_INIT;
    char err[ERR_LEN], sym[SYM_MAX];
    const struct runner *r;
    struct ind_point p;
    size_t len, first;
    int64_t n;
    int k;

    if (ind_msg_req_parse(o, sym, &n, err)) {
        log_limited(&lim, LL_WARN, "bad indicators request; answered with "
                    "an error");
        history_pack_error(pk, err);
        return;
    }
    k = s_find(sym);
    if (k < 0) {
        snprintf(err, sizeof err, "unknown symbol '%s'", sym);
        history_pack_error(pk, err);
        return;
    }
    r = E.syms[k].run;
    len = r->data.time.len;
    first = len > (size_t)n ? len - (size_t)n : 0;
    ind_msg_pack_reply_head(pk, E.id, sym, len - first);
    for (size_t i = first; i < len; i++) {
        p.t = (int64_t)r->data.time.v[i];
        p.n = runner_ind_at(r, i, p.v);
        ind_msg_pack_point(pk, &p);
    }
}

static void s_on_request(loop_t *loop, void *sock, int fd, void *arg)
{
    static struct log_limit lim = LOG_LIMIT_INIT;
    zmq_msg_t id, body;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    (void)loop; (void)fd; (void)arg;

    /* At most BUS_REQ_BATCH requests a wake-up: the loop polls again,
     * so bars keep flowing under a flood of requests. */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (int k = 0; k < BUS_REQ_BATCH &&
                    bus_router_recv(sock, &id, &body) >= 0; k++) {
        const msgpack_object *o = mp_body_decode(&E.body,
                                                 zmq_msg_data(&body),
                                                 zmq_msg_size(&body));
        const msgpack_object *type = mp_get(o, "type");
        E.requests++;
        msgpack_sbuffer_clear(&sb);
        if (mp_is(type, "status")) {
            s_pack_status(&pk);
        } else if (mp_is(type, "replay")) {
            s_pack_replay(&pk, &sb, o);
        } else if (mp_is(type, "indicators")) {
            s_pack_indicators(&pk, o);
        } else {
            log_limited(&lim, LL_WARN, "bad request (%s); answered with an "
                        "error", o ? "unknown type" : "not a msgpack map");
            history_pack_error(&pk, o ? "unknown request type (expected "
                               "status, replay or indicators)" : "request "
                               "is not a msgpack map");
        }
        if (bus_router_reply(sock, &id, &sb) != 0) {
            E.replies_dropped++;
            log_limited(&lim, LL_WARN, "reply dropped (%s): the client "
                        "has not read its earlier ones, or is gone; %llu "
                        "so far", zmq_strerror(zmq_errno()),
                        (unsigned long long)E.replies_dropped);
        }
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
    msgpack_sbuffer_destroy(&sb);
}

/* }========================================================== */

/* SIGHUP: the strategy file is loaded again for every symbol and each new
 * instance is warmed up on the bars the engine holds (signals off, as in
 * a warm-up); then the new instances take over, before the next bar. If
 * the file does not load, or a new instance fails on those bars, the
 * running instances stay, with one ERROR line. */
static void s_reload(void)
{
    struct runner **nr = calloc((size_t)(E.nsym ? E.nsym : 1), sizeof *nr);
    char err[ERR_LEN] = "out of memory";
    uint64_t bars = 0;
    int k, ok = nr != NULL;

    log_msg(LL_INFO, "SIGHUP: reloading %s", E.strategy);
    for (k = 0; k < E.nsym && ok; k++) {
        const struct strat_data *d = &E.syms[k].run->data;
        const char *sym = E.syms[k].run->sym;
        nr[k] = calloc(1, sizeof **nr);
        if (!nr[k] || runner_init(nr[k], E.strategy, sym, &E.params,
                                  &E.bcfg, err)) {
            free(nr[k]);
            nr[k] = NULL;
            ok = 0;
            break;
        }
        for (size_t i = 0; i < d->time.len && ok; i++) {
            struct bar b;
            int rc;
            memset(&b, 0, sizeof b);
            snprintf(b.sym, sizeof b.sym, "%s", sym);
            b.t = (int64_t)d->time.v[i];
            b.tf = E.syms[k].tf;
            b.o = d->open.v[i];
            b.h = d->high.v[i];
            b.l = d->low.v[i];
            b.c = d->close.v[i];
            b.vol = d->volume.v[i];
            rc = runner_feed(nr[k], &b, NULL, NULL);
            if (rc == ERR_LUA || rc == ERR_NOMEM) {
                snprintf(err, sizeof err, "%s: %.200s", sym, rc == ERR_LUA ?
                         nr[k]->error : "out of memory");
                ok = 0;
            }
            bars++;
        }
    }
    if (!ok) {
        E.reload_errors++;
        log_msg(LL_ERROR, "reload of %s failed; the running strategy goes "
                "on: %s", E.strategy, err);
    }
    for (k = 0; nr && k < E.nsym; k++) {
        if (!nr[k])
            continue;
        if (ok) {
            runner_free(E.syms[k].run);
            free(E.syms[k].run);
            E.syms[k].run = nr[k];
        } else {
            runner_free(nr[k]);
            free(nr[k]);
        }
    }
    free(nr);
    if (!ok)
        return;
    E.reloads++;
    for (k = 0; k < E.nsym; k++)   /* paper P&L counts from here on */
        if (E.syms[k].first_live_t >= 0)
            E.syms[k].eq0 = s_equity(&E.syms[k]);
    if (E.lookback <= 0 && E.nsym)
        E.lb = strategy_lookback(s_strat());
    {
        int64_t last = -1;
        for (k = 0; k < E.nsym; k++)
            if (E.syms[k].run->last_t > last)
                last = E.syms[k].run->last_t;
        log_msg(LL_INFO, "reloaded %s (%s, parameters %s): %d symbol(s) "
                "warmed up again on the %llu bars held; it takes over after "
                "the bar at %lld", E.strategy, strategy_name(s_strat()),
                strategy_params(s_strat()), E.nsym, (unsigned long long)bars,
                (long long)last);
    }
}

/* Warm-up work, every WARM_TICK_MS while symbols are warming (then the
 * timer all but stops): at most WARM_SLICE_MS at a time, so bars keep
 * being read in between, but often, so that a thousand symbols warm up
 * while their feeders publish at full speed. */
static void s_on_warm(loop_t *loop, void *arg)
{
    (void)arg;
    if (!E.warming) {
        loop_set_timer(loop, E.warm_timer, 60000);
        return;
    }
    if (E.pub.subscribers < E.wait_subs) {
        if (!E.wait_logged++)
            log_msg(LL_INFO, "waiting for %lld signal subscriber(s) before "
                    "going live", (long long)E.wait_subs);
    } else {
        int64_t now = mono_ms();
        /* After one symbol's request goes unanswered, leave the others
         * for the next tick rather than wait once per symbol; and give
         * the bar subscription its turn every WARM_SLICE_MS, so that
         * feeders are never pushed back by an engine warming up. */
        s_route();
        for (int k = 0; k < E.nsym && !proc_stop; k++) {
            if (!E.syms[k].live && now >= E.syms[k].next_try &&
                s_warm(&E.syms[k]) < 0)
                break;
            if (mono_ms() - now >= WARM_SLICE_MS)
                break;
        }
    }
}

static void s_on_tick(loop_t *loop, void *arg)
{
    (void)loop; (void)arg;
    if (proc_reload) {
        proc_reload = 0;
        s_reload();
    }
    if (E.journal) {
        int64_t now = mono_ms();
        journal_tick(E.journal, now);
        if (now >= E.next_mark_ms) {
            E.next_mark_ms = now + MARK_MS;
            for (int k = 0; k < E.nsym; k++)
                if (E.syms[k].live)
                    s_mark(&E.syms[k]);
        }
    }
    s_stale_check();
    s_runs_report();
    bus_pub_tick(&E.pub, E.sig_seq);
    if (E.headdeferred < E.ndeferred)
        s_on_sub(loop, E.sub, 0, NULL);     /* read during a request */
}

static void s_on_pub(loop_t *loop, void *sock, int fd, void *arg)
{
    (void)loop; (void)sock; (void)fd; (void)arg;
    bus_pub_read_subs(&E.pub, "sig|");
}

static const struct opt s_opts[] = {
    { "strategy", OPT_STR, &E.strategy, NULL, "FILE",
      "Lua strategy file (required)" },
    { "symbols", OPT_STR, &E.symbols, "TRADING_SYMBOLS", "A,B",
      "symbols to trade (default AAPL)" },
    { "sub", OPT_STR, &E.sub_ep, NULL, "EP[,EP...]",
      "feeders' bar publishers (default tcp://127.0.0.1:5555)" },
    { "history", OPT_STR, &E.hist_ep, NULL, "EP[,EP...]",
      "feeders' request endpoints for history, \"\" for none "
      "(default tcp://127.0.0.1:5556)" },
    { "pub", OPT_STR, &E.pub_ep, NULL, "EP",
      "signal publisher (default tcp://127.0.0.1:5557)" },
    { "rep", OPT_STR, &E.rep_ep, NULL, "EP",
      "request endpoint for status (default tcp://127.0.0.1:5558)" },
    { "param", OPT_MULTI, &E.params, NULL, "NAME=VALUE",
      "override a strategy parameter (repeatable)" },
    { "lookback", OPT_INT, &E.lookback, NULL, "N",
      "bars of history to warm up on (default: automatic)" },
    { "wait-subscribers", OPT_INT, &E.wait_subs, NULL, "N",
      "start only once N subscriptions to signals have arrived (0)" },
    { "memory-mb", OPT_INT, &E.memory_mb, NULL, "MB",
      "memory for all the strategies' Lua states together (2048)" },
    { "shard", OPT_STR, &E.shard, "LIVETRADE_SHARD", "I/N",
      "only the symbols of --symbols in shard I of N (0 <= I < N)" },
    { "id", OPT_STR, &E.id, NULL, "NAME",
      "engine id in signals (default: strategy-<hash of symbols>)" },
    { "cash", OPT_DBL, &E.bcfg.cash, NULL, "N",
      "paper broker: starting cash (10000)" },
    { "commission", OPT_DBL, &E.bcfg.commission, NULL, "RATE",
      "paper broker: commission rate per fill (0)" },
    { "spread", OPT_DBL, &E.bcfg.spread, NULL, "RATE",
      "paper broker: relative bid-ask spread (0)" },
    { "margin", OPT_DBL, &E.bcfg.margin, NULL, "RATIO",
      "paper broker: margin ratio, leverage = 1/margin (1)" },
    { "trade-on-close", OPT_BOOL, &E.bcfg.trade_on_close, NULL, NULL,
      "paper broker: market orders fill at the signal bar's close" },
    { "hedging", OPT_BOOL, &E.bcfg.hedging, NULL, NULL,
      "paper broker: allow opposite trades at once" },
    { "exclusive-orders", OPT_BOOL, &E.bcfg.exclusive_orders, NULL, NULL,
      "paper broker: each order closes the position first" },
    { "journal", OPT_STR, &E.journal_dir, NULL, "DIR",
      "signal journal directory, \"\" for none (default: "
      "$XDG_STATE_HOME/livetrade/journal/<id>)" },
    { "fsync", OPT_STR, &E.fsync, NULL, "always|everysec|no",
      "when the journal is synced to disk (everysec)" },
    { "journal-max-mb", OPT_INT, &E.journal_mb, NULL, "MB",
      "journal size kept, oldest files deleted first (256)" },
    { "journal-max-days", OPT_INT, &E.journal_days, NULL, "DAYS",
      "journal age kept, 0 for no limit (7)" },
    { "curve", OPT_STR, &E.curve, "LIVETRADE_CURVE", "DIR",
      CURVE_OPT_HELP },
    { "metrics", OPT_STR, &E.metrics_addr, NULL, "HOST:PORT",
      "serve Prometheus metrics on http://HOST:PORT/metrics (off)" },
    { "stale-after", OPT_DBL, &E.stale_after, NULL, "SEC",
      "report a symbol without a bar this long (3 timeframes + 30)" },
    { "summary", OPT_INT, &E.summary_s, NULL, "SEC",
      "log a summary line (bars, signals, lag, paper P&L) every SEC "
      "seconds, 0 for none (60)" },
    { "verbose", OPT_BOOL, &E.verbose, NULL, NULL, "debug logging" },
    { NULL, 0, NULL, NULL, NULL, NULL }
};

/* Opens the journal (unless --journal "") and takes the sequence number
 * and each symbol's newest signal and mark from it. */
static int s_journal_open(char *err)
{
    struct journal_cfg jc;
    char dir[1024];

    if (E.journal_dir && !*E.journal_dir)
        return 0;
    if (E.journal_dir) {
        snprintf(E.journal_path, sizeof E.journal_path, "%s", E.journal_dir);
    } else if (!xdg_dir("state", dir, sizeof dir) ||
               strfmt(E.journal_path, sizeof E.journal_path, "%s/journal/%s",
                      dir, E.id) < 0) {
        return proc_usage_error(PROG, "no place for the journal: set "
                                "--journal DIR (or XDG_STATE_HOME or HOME)");
    }
    memset(&jc, 0, sizeof jc);
    jc.dir = E.journal_path;
    jc.fsync = strcmp(E.fsync, "always") == 0 ? JOURNAL_FSYNC_ALWAYS :
               strcmp(E.fsync, "no") == 0 ? JOURNAL_FSYNC_NO :
               JOURNAL_FSYNC_EVERYSEC;
    jc.max_bytes = E.journal_mb << 20;
    jc.seg_bytes = jc.max_bytes / 8 < (32 << 20) ? jc.max_bytes / 8 :
                   (32 << 20);
    jc.max_age_ms = E.journal_days * 86400000LL;
    jc.on_segment = s_mark_all;
    E.journal = journal_open(&jc, s_journal_record, NULL, err);
    if (!E.journal) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        return 1;
    }
    E.sig_seq = journal_last_seq(E.journal);
    E.seq0 = E.sig_seq;
    for (int k = 0; k < E.nsym; k++)
        if (E.syms[k].npend)
            qsort(E.syms[k].pend, E.syms[k].npend, sizeof *E.syms[k].pend,
                  s_u64_cmp);
    return 0;
}

static int s_setup(int argc, char **argv)
{
    char err[ERR_LEN], list[65536], *items[MAX_SYMBOLS];
    int rc;

    E.started_ms = wall_ms();
    E.symbols = "AAPL";
    E.sub_ep = "tcp://127.0.0.1:5555";
    E.hist_ep = "tcp://127.0.0.1:5556";
    E.pub_ep = "tcp://127.0.0.1:5557";
    E.rep_ep = "tcp://127.0.0.1:5558";
    E.lookback = -1;
    E.fsync = "everysec";
    E.journal_mb = 256;
    E.journal_days = 7;
    E.summary_s = 60;
    broker_cfg_default(&E.bcfg);
    rc = config_parse(s_opts, argc, argv, 1, NULL, 0, NULL, err);
    if (rc == 1) {
        config_usage(PROG " --strategy FILE [--symbols A,B] [options]",
                     s_opts);
        exit(0);
    }
    if (rc)
        return proc_usage_error(PROG, err);
    if (E.verbose)
        log_level = LL_DEBUG;
    if ((rc = curve_flag(PROG, E.curve)) != 0)
        return rc;
    if (!E.strategy)
        return proc_usage_error(PROG, "--strategy FILE is required");
    if (E.memory_mb < 0 || E.memory_mb > 1 << 20)
        return proc_usage_error(PROG, "--memory-mb must be between 1 and "
                                "1048576");
    strategy_set_memory_cap((size_t)E.memory_mb << 20);
    if (strcmp(E.fsync, "always") && strcmp(E.fsync, "everysec") &&
        strcmp(E.fsync, "no"))
        return proc_usage_error(PROG, "--fsync must be always, everysec "
                                "or no");
    if (E.journal_mb < 1 || E.journal_mb > 1 << 20)
        return proc_usage_error(PROG, "--journal-max-mb must be between 1 "
                                "and 1048576");
    if (E.journal_days < 0 || E.journal_days > 36500)
        return proc_usage_error(PROG, "--journal-max-days must be between 0 "
                                "and 36500");
    if (E.metrics_addr && http_metrics_check(E.metrics_addr, err))
        return proc_usage_error(PROG, err);
    if (!(E.stale_after >= 0 && E.stale_after <= 86400 * 7))
        return proc_usage_error(PROG, "--stale-after must be between 0 "
                                "(3 timeframes + 30) and 604800 seconds");
    if (E.summary_s < 0 || E.summary_s > 86400)
        return proc_usage_error(PROG, "--summary must be between 0 (none) "
                                "and 86400 seconds");
    if (E.lookback != -1 && (E.lookback < 1 || E.lookback > HISTORY_MAX))
        return proc_usage_error(PROG, "--lookback must be between 1 and "
                                "300000");
    if (strlen(E.symbols) >= sizeof list)
        return proc_usage_error(PROG, "--symbols list too long");
    snprintf(list, sizeof list, "%s", E.symbols);
    E.nsym = split_list(list, items, MAX_SYMBOLS);
    if (E.nsym <= 0)
        return proc_usage_error(PROG, "--symbols: no symbol given (or more "
                                "than 10000)");
    for (int k = 0; k < E.nsym; k++)
        if (!symbol_valid(items[k])) {
            snprintf(err, sizeof err, "--symbols: invalid symbol '%s' "
                     "(letters, digits and . : / _ - only)", items[k]);
            return proc_usage_error(PROG, err);
        }
    if (E.shard) {
        char tail;
        int n = 0;
        if (sscanf(E.shard, "%d/%d%c", &E.shard_i, &E.shard_n, &tail) != 2
            || E.shard_n < 1 || E.shard_n > 1024 || E.shard_i < 0 ||
            E.shard_i >= E.shard_n)
            return proc_usage_error(PROG, "--shard must be I/N with 0 <= I "
                                    "< N <= 1024, e.g. 0/2");
        /* The symbol's own shard first, so an empty shard still has a
         * strategy to name. */
        rc = runner_init(&E.probe, E.strategy, items[0], &E.params, &E.bcfg,
                         err);
        if (rc) {
            if (rc == ERR_USAGE)
                return proc_usage_error(PROG, err);
            fprintf(stderr, "%s: %s\n", PROG, err);
            return 1;
        }
        for (int k = 0; k < E.nsym; k++)
            if (symbol_shard(items[k], E.shard_n) == E.shard_i)
                items[n++] = items[k];
        log_msg(n ? LL_INFO : LL_WARN, "shard %d/%d: %d of the %d symbols%s",
                E.shard_i, E.shard_n, n, E.nsym, n ? "" : " (none: this "
                "engine stays idle)");
        E.nsym = n;
    }
    /* Each symbol's strategy gets its share of --memory-mb. */
    if (strategy_set_memory_share(E.nsym, err))
        return proc_usage_error(PROG, err);
    E.syms = calloc((size_t)(E.nsym ? E.nsym : 1), sizeof *E.syms);
    if (!E.syms)
        return proc_usage_error(PROG, "out of memory");
    for (int k = 0; k < E.nsym; k++) {
        struct sym *y = &E.syms[k];
        y->run = calloc(1, sizeof *y->run);
        if (!y->run)
            return proc_usage_error(PROG, "out of memory");
        rc = runner_init(y->run, E.strategy, items[k], &E.params, &E.bcfg,
                         err);
        if (rc == ERR_USAGE)
            return proc_usage_error(PROG, err);
        if (rc) {
            fprintf(stderr, "%s: %s\n", PROG, err);
            return 1;
        }
        y->first_live_t = -1;
        y->jt = y->mark_t = y->marked_t = -1;
        y->mark_params = -1;
        y->eq0 = NAN;
        y->hist_i = -1;
        y->last_rx = mono_ms();
    }
    snprintf(E.hist_list, sizeof E.hist_list, "%s", E.hist_ep);
    E.nheps = split_list(E.hist_list, E.heps, HIST_EPS_MAX);
    if (E.nheps < 0)
        E.nheps = 0;
    rc = s_index_build();
    if (rc == ERR_INVALID)
        return proc_usage_error(PROG, "--symbols: a symbol is listed twice");
    if (rc)
        return 1;
    if (!E.id) {
        char shard[32] = "";
        if (E.shard)
            snprintf(shard, sizeof shard, "-s%dof%d", E.shard_i, E.shard_n);
        snprintf(E.idbuf, sizeof E.idbuf, "%s-%08llx%s",
                 strategy_name(s_strat()),
                 (unsigned long long)(hash_str(HASH_INIT, E.symbols) &
                                      0xffffffffULL), shard);
        E.id = E.idbuf;
        if (!eng_id_valid(E.id)) {
            fprintf(stderr, "%s: strategy name \"%.80s\" cannot make an "
                    "engine id (1..%d characters of A-Z a-z 0-9 . _ -); "
                    "rename it or give --id NAME\n", PROG,
                    strategy_name(s_strat()), ENG_ID_MAX - 1);
            return 2;
        }
    } else if (!eng_id_valid(E.id)) {
        fprintf(stderr, "%s: --id \"%.80s\": an engine id is 1..%d "
                "characters of A-Z a-z 0-9 . _ - (and not . or ..)\n", PROG,
                E.id, ENG_ID_MAX - 1);
        return 2;
    }
    rc = s_journal_open(err);
    if (rc)
        return rc;
    if (E.lookback > 0) {
        E.lb = E.lookback;
        log_msg(LL_INFO, "lookback %lld bars (--lookback)",
                (long long)E.lb);
    } else {
        E.lb = strategy_lookback(s_strat());
        log_msg(LL_INFO, "lookback %lld bars (auto: from the strategy's "
                "indicators and parameters %s)", (long long)E.lb,
                strategy_params(s_strat()));
    }
    return 0;
}

int main(int argc, char **argv)
{
    char err[ERR_LEN], joined[96] = "";
    loop_t *loop = NULL;
    int rc;

    proc_init(PROG);
    mp_body_init(&E.body);
    E.lim_bad = E.lim_old = E.lim_unknown = E.lim_gap =
        (struct log_limit)LOG_LIMIT_INIT;
    E.lim_stale = E.lim_fresh = (struct log_limit)LOG_LIMIT_INIT;
    rc = s_setup(argc, argv);
    if (rc)
        return rc;

    if (bus_pub_init(&E.pub, E.pub_ep, E.id, err)) {
        fprintf(stderr, "%s: signal publisher: %s\n", PROG, err);
        return 1;
    }
    E.pub.side_kind = "ind|";
    E.router = bus_bind_router(E.rep_ep, err);
    if (!E.router) {
        fprintf(stderr, "%s: request endpoint: %s\n", PROG, err);
        return 1;
    }
    E.sub = bus_connect_sub(E.sub_ep, BUS_FEEDER, err);
    if (!E.sub) {
        fprintf(stderr, "%s: bar subscriber: %s\n", PROG, err);
        return 1;
    }
    /* pace|: a demo or csv feeder replaying at full speed paces itself
     * to this engine (and to no reader that does not ask for it). */
    rc = bus_subscribe(E.sub, "hb", NULL);
    if (rc == 0)
        rc = bus_subscribe(E.sub, BUS_PACE_KIND, NULL);
    for (int k = 0; k < E.nsym && rc == 0; k++)
        rc = bus_subscribe(E.sub, "bar", E.syms[k].run->sym);
    if (rc) {
        fprintf(stderr, "%s: bar subscriber: cannot subscribe: %s\n", PROG,
                zmq_strerror(errno));
        return 1;
    }
    log_msg(LL_INFO, "engine %s: strategy %s (%s) on %d symbol(s); bars "
            "from %s, history from %s, signals on %s, requests on %s",
            E.id, strategy_name(s_strat()),
            strategy_params(s_strat()), E.nsym, E.sub_ep,
            *E.hist_ep ? E.hist_ep : "(none)", E.pub_ep, E.rep_ep);

    E.warming = E.nsym;
    loop = loop_new();
    if (!loop)
        return 1;
    loop_add_socket(loop, E.sub, s_on_sub, NULL);
    bus_request_pump(E.sub, s_defer, NULL);
    loop_add_socket(loop, E.router, s_on_request, NULL);
    loop_add_socket(loop, E.pub.sock, s_on_pub, NULL);
    loop_add_timer(loop, 100, s_on_tick, NULL);
    E.warm_timer = loop_add_timer(loop, WARM_TICK_MS, s_on_warm, NULL);
    if (E.summary_s > 0)
        loop_add_timer(loop, E.summary_s * 1000, s_on_summary, NULL);
    if (s_metrics_open(loop))
        return 1;
    s_on_tick(loop, NULL);
    s_on_warm(loop, NULL);          /* first warm-up attempt right away */
    rc = loop_run(loop);
    log_msg(LL_INFO, "stopping (%s): draining the bars already received",
            rc ? "zmq_poll failed" : proc_stop_reason());

    /* Drain: bars already received are still processed. */
    if (!E.warming)
        s_on_sub(loop, E.sub, 0, NULL);
    s_runs_report();
    for (int k = 0; k < E.nsym; k++)
        if (E.syms[k].live)
            s_mark(&E.syms[k]);
    journal_close(&E.journal);
    if (E.joined)
        snprintf(joined, sizeof joined, "; %llu bar(s) published while "
                 "subscribing, taken from history",
                 (unsigned long long)E.joined);
    log_msg(LL_INFO, "stopping: %llu bars in (%llu of them already had "
            "from history), %llu signals published (journal at seq %llu; "
            "%llu derived again and already journalled), %llu bad bars, "
            "%llu out of order, %llu gaps (%llu bars missed, %llu "
            "recovered), %llu feeder restarts, %llu signals dropped at the "
            "publisher%s",
            (unsigned long long)E.bars_in, (unsigned long long)E.dups,
            (unsigned long long)E.signals_run,
            (unsigned long long)E.sig_seq, (unsigned long long)E.rederived,
            (unsigned long long)E.bad, (unsigned long long)E.old,
            (unsigned long long)E.gaps, (unsigned long long)E.missed,
            (unsigned long long)E.recovered,
            (unsigned long long)E.restarts,
            (unsigned long long)E.pub.dropped, joined);
    s_summary(1);
    s_exit_pl();
    http_metrics_destroy(&E.http);
    metrics_destroy(&E.metrics);
    loop_destroy(&loop);
    bus_close(&E.sub);
    bus_close(&E.router);
    bus_pub_free(&E.pub);
    mp_body_free(&E.body);
    for (int k = 0; k < E.nsym; k++) {
        runner_free(E.syms[k].run);
        free(E.syms[k].run);
        free(E.syms[k].buf);
        free(E.syms[k].pend);
    }
    if (E.shard)
        runner_free(&E.probe);
    for (size_t i = E.headdeferred; i < E.ndeferred; i++)
        free(E.deferred[i].body);
    free(E.deferred);
    free(E.syms);
    free(E.index);
    bus_term();
    return rc ? 1 : 0;
}
