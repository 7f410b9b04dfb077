/* engine.c -- the engine object: its set-up (strategies per symbol, the
 * symbol index, the id, the journal, the lookback), its sockets and
 * timers in the event loop, the drain at exit and the teardown. The rest
 * of its behaviour lives in the files engine.h names. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "proc.h"
#include "util.h"

#define MARK_MS 5000                /* marks of symbols that moved on */
#define WARM_TICK_MS 10             /* between warm-up slices */
#define TICK_MS 100                 /* journal, staleness, heartbeats */
#define SUB_BATCH 10000             /* bar bus messages read a wake-up */

/* The strategy (for its name, parameters and lookback). */
strategy_t *engine_strat(const engine_t *self)
{
    return self->nsym ? self->syms[0].run->strat : self->probe.strat;
}

void engine_keep(engine_t *self, int say)
{
    const struct runner *r = self->nsym ? self->syms[0].run : &self->probe;
    int64_t reach = runner_reach(r), want = self->cfg.keep_bars;
    char far[512];

    if (want < 0) {
        self->keep = 2 * reach > ENGINE_KEEP_MIN ? 2 * reach
                                                 : ENGINE_KEEP_MIN;
    } else if (want > 0 && want < reach) {
        self->keep = reach;
        if (say)
            log_msg(LL_WARN, "--keep-bars %lld is less than %s reads back "
                    "(%lld bars: its indicators' history, windows and "
                    "whole-number parameters); keeping %lld",
                    (long long)want, self->cfg.strategy, (long long)reach,
                    (long long)reach);
    } else {
        self->keep = want;
    }
    for (int k = 0; k < self->nsym; k++)
        runner_keep(self->syms[k].run, (size_t)self->keep);
    if (say && self->keep > 0 &&
        strategy_far_reads(r->strat, far, sizeof far) > 0)
        log_msg(LL_WARN, "%s reads further back than the %lld bars kept: "
                "%s; such a read fails (naming the bar) once that bar is "
                "gone: index from the end ([-k]), declare a window, or "
                "raise --keep-bars (0 keeps every bar)", self->cfg.strategy,
                (long long)self->keep, far);
}

void engine_keep_said(engine_t *self, int64_t tf)
{
    const struct runner *r = self->nsym ? self->syms[0].run : &self->probe;
    size_t bar = strat_data_bar_bytes(&r->data, r->strat);
    double per_day = tf > 0 ? 86400.0 / (double)tf * (double)bar : 0;

    if (self->keep_said || tf <= 0)
        return;
    self->keep_said = 1;
    if (self->keep == 0) {
        log_msg(LL_INFO, "keeping every bar (--keep-bars 0): %zu bytes a "
                "bar, about %.0f KiB per symbol per day at %llds bars, "
                "growing for as long as the engine runs", bar,
                per_day / 1024, (long long)tf);
        return;
    }
    log_msg(LL_INFO, "keeping the last %lld bars per symbol (--keep-bars; "
            "the strategy reads back %lld): %zu bytes a bar, about %.0f KiB "
            "per symbol per day at %llds bars until %.1f days are held, "
            "then flat at %.0f KiB at most", (long long)self->keep,
            (long long)runner_reach(r), bar, per_day / 1024, (long long)tf,
            (double)self->keep / (86400.0 / (double)tf),
            2.0 * (double)self->keep * (double)bar / 1024);
}

/* A bar time (epoch ms) for people: "2026-01-02T15:04:00Z". */
const char *engine_time(char *out, size_t n, int64_t ms)
{
    if (utc_text(out, n, ms, UTC_ISO))
        snprintf(out, n, "%lld", (long long)ms);
    return out;
}

const char *engine_id(const engine_t *self)
{
    return self->id;
}

/* {==================== symbols ============================== */

int engine_find(const engine_t *self, const char *sym)
{
    return symtab_find(self->names, sym);
}

/* Appends symbol `name`: its runner (the strategy loaded) and state.
 * Its index, or the status (2: the configuration is at fault, else 1)
 * negated, with a line in err. */
static int s_sym_new(engine_t *self, const char *name, char *err)
{
    const struct engine_config *c = &self->cfg;
    struct sym *y;
    int rc, k;

    rc = grow((void **)&self->syms, &self->capsyms, (size_t)self->nsym + 1,
              sizeof *self->syms, SYMTAB_MAX);
    if (rc) {
        snprintf(err, ERR_LEN, "%s: %s", name, rc == ERR_TOO_LARGE ?
                 "too many symbols" : "out of memory");
        return -1;
    }
    y = &self->syms[self->nsym];
    memset(y, 0, sizeof *y);
    y->owner = self;
    y->run = calloc(1, sizeof *y->run);
    if (!y->run) {
        snprintf(err, ERR_LEN, "out of memory");
        return -1;
    }
    rc = runner_init(y->run, c->strategy, name, c->params, c->bcfg, err);
    if (rc) {
        free(y->run);
        y->run = NULL;
        return rc == ERR_USAGE ? -2 : -1;
    }
    k = symtab_add(self->names, name);
    if (k != self->nsym) {
        runner_free(y->run);
        free(y->run);
        y->run = NULL;
        if (k >= 0) {
            snprintf(err, ERR_LEN, "--symbols: %s is listed twice", name);
            return -2;
        }
        snprintf(err, ERR_LEN, "%s: %s", name, err_str(k));
        return -1;
    }
    if (self->keep > 0)             /* set: a symbol that came later */
        runner_keep(y->run, (size_t)self->keep);
    y->first_live_t = -1;
    y->jt = y->mark_t = y->marked_t = -1;
    y->mark_params = -1;
    y->eq0 = NAN;
    y->hist_i = -1;
    y->last_rx = mono_ms();
    self->nsym++;
    return k;
}

int engine_add(engine_t *self, const char *sym)
{
    const struct engine_config *c = &self->cfg;
    char err[ERR_LEN];
    int k;

    if (!c->all)
        return -1;
    if (c->shard_n > 0 && symbol_shard(sym, c->shard_n) != c->shard_i)
        return -1;                  /* another engine's */
    k = s_sym_new(self, sym, err);
    if (k < 0) {
        log_limited(&self->lim_new, LL_WARN, "new symbol %s not taken: %s",
                    sym, err);
        return -1;
    }
    if (self->started && !self->warming++)  /* the warm-up timer wakes */
        loop_set_timer(self->loop, self->warm_timer, WARM_TICK_MS);
    log_limited(&self->lim_new, LL_INFO, "new symbol %s: strategy loaded, "
                "warming up (%d symbols)", sym, self->nsym);
    return k;
}

/* }========================================================== */

/* {==================== set-up =============================== */

/* The default history source: the feeders' history endpoints over the
 * bus, through the engine's request client in its loop. */
static void s_on_call(struct history_call *c, int rc, struct bar *bars,
                      size_t n, uint64_t seq, size_t bad, const char *err,
                      void *arg)
{
    engine_history_reply(arg, c->ep, rc, bars, n, seq, bad, err);
}

static int s_fetch_bus(void *arg, engine_t *e, int ep, const char *name,
                       const struct history_req *r, int timeout_ms,
                       char *err)
{
    (void)arg; (void)name;
    return history_call_start(&e->calls[ep], e->rq, ep, r, timeout_ms,
                              s_on_call, e, err);
}

/* With --shard: the probe strategy (so that an empty shard still has a
 * strategy to name) and the symbols of this shard into syms[*n]. 0, or
 * the status with a line in err. */
static int s_shard(engine_t *self, const char **syms, int *n, char *err)
{
    const struct engine_config *c = &self->cfg;
    int rc;

    rc = runner_init(&self->probe, c->strategy, c->all ? "*" : c->syms[0],
                     c->params, c->bcfg, err);
    if (rc)
        return rc == ERR_USAGE ? 2 : 1;
    self->has_probe = 1;
    *n = 0;
    if (c->all) {
        if (c->shard_n > 0)
            log_msg(LL_INFO, "shard %d/%d: the symbols of this shard, each "
                    "as it comes", c->shard_i, c->shard_n);
        else
            log_msg(LL_INFO, "every symbol, each as it comes");
        return 0;
    }
    for (int k = 0; k < c->nsym; k++)
        if (symbol_shard(c->syms[k], c->shard_n) == c->shard_i)
            syms[(*n)++] = c->syms[k];
    log_msg(*n ? LL_INFO : LL_WARN, "shard %d/%d: %d of the %d symbols%s",
            c->shard_i, c->shard_n, *n, c->nsym, *n ? "" : " (none: this "
            "engine stays idle)");
    return 0;
}

/* Each symbol's runner and state. 0, or the status with a line. */
static int s_syms_init(engine_t *self, const char **names, int n,
                       char *err)
{
    /* Each symbol's strategy gets its share of --memory-mb (with '*'
     * each has the default cap, and the total holds for them all). */
    if (strategy_set_memory_share(n, err))
        return 2;
    self->names = symtab_new(SYMTAB_MAX);
    if (!self->names) {
        snprintf(err, ERR_LEN, "out of memory");
        return 1;
    }
    for (int k = 0; k < n; k++) {
        int rc = s_sym_new(self, names[k], err);
        if (rc < 0)
            return -rc;
    }
    return 0;
}

/* The engine id: --id, else strategy-<hash of --symbols>[-sIofN]. */
static int s_id(engine_t *self, char *err)
{
    const struct engine_config *c = &self->cfg;
    char shard[32] = "";

    if (c->id) {
        self->id = c->id;
        if (eng_id_valid(self->id))
            return 0;
        snprintf(err, ERR_LEN, "--id \"%.80s\": an engine id is 1..%d "
                 "characters of A-Z a-z 0-9 . _ - (and not . or ..)",
                 self->id, ENG_ID_MAX - 1);
        return 2;
    }
    if (c->shard_n > 0)
        snprintf(shard, sizeof shard, "-s%dof%d", c->shard_i, c->shard_n);
    snprintf(self->idbuf, sizeof self->idbuf, "%s-%08llx%s",
             strategy_name(engine_strat(self)),
             (unsigned long long)(hash_str(HASH_INIT, c->symbols) &
                                  0xffffffffULL), shard);
    self->id = self->idbuf;
    if (eng_id_valid(self->id))
        return 0;
    snprintf(err, ERR_LEN, "strategy name \"%.80s\" cannot make an engine "
             "id (1..%d characters of A-Z a-z 0-9 . _ -); rename it or give "
             "--id NAME", strategy_name(engine_strat(self)), ENG_ID_MAX - 1);
    return 2;
}

static int s_setup(engine_t *self, char *err)
{
    const struct engine_config *c = &self->cfg;
    const char **names = malloc((size_t)(c->nsym ? c->nsym : 1) *
                                sizeof *names);
    int rc = 0;

    if (!names) {
        snprintf(err, ERR_LEN, "out of memory");
        return 1;
    }
    int n = c->nsym;

    for (int k = 0; k < c->nsym; k++)
        names[k] = c->syms[k];
    if (c->shard_n > 0 || c->all)
        rc = s_shard(self, names, &n, err);
    if (rc == 0)
        rc = s_syms_init(self, names, n, err);
    free(names);
    if (rc)
        return rc;
    snprintf(self->hist_list, sizeof self->hist_list, "%s", c->hist_ep);
    self->nheps = split_list(self->hist_list, self->heps, HIST_EPS_MAX);
    if (self->nheps < 0)
        self->nheps = 0;
    rc = s_id(self, err);
    if (rc)
        return rc;
    rc = engine_journal_open(self, err);
    if (rc)
        return rc;
    if (c->lookback > 0) {
        self->lb = c->lookback;
        log_msg(LL_INFO, "lookback %lld bars (--lookback)",
                (long long)self->lb);
    } else {
        self->lb = strategy_lookback(engine_strat(self));
        log_msg(LL_INFO, "lookback %lld bars (auto: from the strategy's "
                "indicators and parameters %s)", (long long)self->lb,
                strategy_params(engine_strat(self)));
    }
    engine_keep(self, 1);
    return 0;
}

engine_t *engine_new(const struct engine_config *cfg, char *err,
                     int *status)
{
    engine_t *self = calloc(1, sizeof *self);
    int rc;

    assert(cfg && cfg->strategy && (cfg->nsym > 0 || cfg->all));
    if (!self) {
        snprintf(err, ERR_LEN, "out of memory");
        *status = 1;
        return NULL;
    }
    self->cfg = *cfg;
    if (!self->cfg.fetch)
        self->cfg.fetch = s_fetch_bus;
    for (int i = 0; i < HIST_EPS_MAX; i++)
        self->ep_sym[i] = EP_FREE;
    if (!self->cfg.hist_ep)
        self->cfg.hist_ep = "";
    self->started_ms = wall_ms();
    mp_body_init(&self->body);
    self->lim_bad = self->lim_old = self->lim_unknown = self->lim_gap =
        self->lim_journal = (struct log_limit)LOG_LIMIT_INIT;
    self->lim_ind = self->lim_replay = self->lim_request =
        self->lim_request_ind = (struct log_limit)LOG_LIMIT_INIT;
    self->lim_stale = self->lim_fresh = (struct log_limit)LOG_LIMIT_INIT;
    self->lim_new = self->lim_hist = (struct log_limit)LOG_LIMIT_INIT;
    rc = s_setup(self, err);
    if (rc) {
        *status = rc;
        engine_destroy(&self);
        return NULL;
    }
    *status = 0;
    return self;
}

void engine_destroy(engine_t **self_p)
{
    engine_t *self = *self_p;

    if (!self)
        return;
    engine_metrics_close(self);
    journal_close(&self->journal);
    request_destroy(&self->rq);     /* requests in flight are dropped */
    for (int i = 0; i < HIST_EPS_MAX; i++)
        history_call_free(&self->calls[i]);
    bus_close(&self->sub);
    bus_close(&self->router);
    if (self->pub_open)
        bus_pub_free(&self->pub);
    mp_body_free(&self->body);
    for (int k = 0; self->syms && k < self->nsym; k++) {
        if (self->syms[k].run)
            runner_free(self->syms[k].run);
        free(self->syms[k].run);
        free(self->syms[k].buf);
        free(self->syms[k].pend);
    }
    if (self->has_probe)
        runner_free(&self->probe);
    free(self->syms);
    symtab_destroy(&self->names);
    free(self);
    *self_p = NULL;
}

/* }========================================================== */

/* {==================== the loop ============================= */

/* Takes what waits on the bar subscription `sock`, but yields to timers
 * and requests after SUB_BATCH messages so a burst cannot starve them
 * (the loop comes back while more wait). */
static void s_read_sub(engine_t *self, void *sock)
{
    char topic[BUS_TOPIC_MAX];
    zmq_msg_t msg;
    int n;

    for (int i = 0; i < SUB_BATCH; i++) {
        n = bus_recv(sock, topic, sizeof topic, &msg);
        if (n == -1)
            return;
        if (n == -2) {
            self->bad++;
            log_limited(&self->lim_bad, LL_WARN, "malformed message on the "
                        "bar bus (not topic + one body); dropped");
            continue;
        }
        engine_on_message(self, topic, zmq_msg_data(&msg), (size_t)n);
        zmq_msg_close(&msg);
    }
}

static void s_on_sub(loop_t *loop, void *sock, int fd, void *arg)
{
    (void)loop; (void)fd;
    s_read_sub(arg, sock);
}

static void s_on_pub(loop_t *loop, void *sock, int fd, void *arg)
{
    engine_t *self = arg;
    (void)loop; (void)sock; (void)fd;
    bus_pub_read_subs(&self->pub, "sig|");
}

static void s_on_tick(loop_t *loop, void *arg)
{
    engine_t *self = arg;
    (void)loop;

    if (proc_reload) {
        proc_reload = 0;
        engine_reload(self);
    }
    if (self->journal) {
        int64_t now = mono_ms();
        journal_tick(self->journal, now);
        if (now >= self->next_mark_ms) {
            self->next_mark_ms = now + MARK_MS;
            engine_mark_live(self);
        }
    }
    engine_stale_check(self);
    engine_runs_report(self);
    bus_pub_tick(&self->pub, self->sig_seq);
}

/* Every WARM_TICK_MS while symbols are warming; then the timer all but
 * stops. */
static void s_on_warm(loop_t *loop, void *arg)
{
    engine_t *self = arg;

    if (!self->warming) {
        loop_set_timer(loop, self->warm_timer, 60000);
        return;
    }
    engine_warm_step(self);
}

static void s_on_summary(loop_t *loop, void *arg)
{
    (void)loop;
    engine_summary(arg, 0);
}

/* The bar subscription: feeders' heartbeats, pace| probes (a demo or csv
 * feeder replaying at full speed paces itself to this engine, and to no
 * reader that does not ask for it) and each symbol's bars. */
static int s_subscribe(engine_t *self, char *err)
{
    char why[ERR_LEN];
    int rc;

    self->sub = bus_connect_sub(self->cfg.sub_ep, BUS_FEEDER, why);
    if (!self->sub) {
        snprintf(err, ERR_LEN, "bar subscriber: %.200s", why);
        return 1;
    }
    rc = bus_subscribe(self->sub, "hb", NULL);
    if (rc == 0)
        rc = bus_subscribe(self->sub, BUS_PACE_KIND, NULL);
    if (self->cfg.all && rc == 0)
        rc = bus_subscribe(self->sub, "bar", NULL);     /* every bar| */
    for (int k = 0; k < self->nsym && rc == 0 && !self->cfg.all; k++)
        rc = bus_subscribe(self->sub, "bar", self->syms[k].run->sym);
    if (rc) {
        snprintf(err, ERR_LEN, "bar subscriber: cannot subscribe: %s",
                 zmq_strerror(errno));
        return 1;
    }
    return 0;
}

/* The sockets and timers in the loop. 0, or 1 with a line in err. */
static int s_loop_add(engine_t *self, loop_t *loop, char *err)
{
    int rc = 0;

    rc |= loop_add_socket(loop, self->sub, s_on_sub, self);
    rc |= loop_add_socket(loop, self->router, engine_on_request, self);
    rc |= loop_add_socket(loop, self->pub.sock, s_on_pub, self);
    rc |= loop_add_timer(loop, TICK_MS, s_on_tick, self) < 0;
    self->warm_timer = loop_add_timer(loop, WARM_TICK_MS, s_on_warm, self);
    rc |= self->warm_timer < 0;
    if (self->cfg.summary_s > 0)
        rc |= loop_add_timer(loop, self->cfg.summary_s * 1000,
                             s_on_summary, self) < 0;
    if (rc) {
        snprintf(err, ERR_LEN, "the event loop is full: cannot register "
                 "the engine's sockets and timers");
        return 1;
    }
    return 0;
}

/* The request client and its endpoints, one per --history feeder, in
 * order (their handles are the endpoints' indexes). */
static int s_requests(engine_t *self, loop_t *loop, char *err)
{
    char why[ERR_LEN];

    self->rq = request_new(loop, why);
    if (!self->rq) {
        snprintf(err, ERR_LEN, "the event loop is full: cannot register "
                 "the engine's requests (%.150s)", why);
        return 1;
    }
    for (int i = 0; i < self->nheps; i++)
        if (request_endpoint(self->rq, self->heps[i], BUS_FEEDER) != i) {
            snprintf(err, ERR_LEN, "--history: endpoint '%.150s' is too "
                     "long", self->heps[i]);
            return 2;
        }
    return 0;
}

int engine_start(engine_t *self, loop_t *loop, char *err)
{
    const struct engine_config *c = &self->cfg;
    char why[ERR_LEN];
    int rc;

    if (bus_pub_init(&self->pub, c->pub_ep, self->id, why)) {
        snprintf(err, ERR_LEN, "signal publisher: %.200s", why);
        return 1;
    }
    self->pub_open = 1;
    self->pub.side_kind = "ind|";
    self->router = bus_bind_router(c->rep_ep, why);
    if (!self->router) {
        snprintf(err, ERR_LEN, "request endpoint: %.200s", why);
        return 1;
    }
    rc = s_subscribe(self, err);
    if (rc)
        return rc;
    if (c->all)
        log_msg(LL_INFO, "engine %s: strategy %s (%s) on every symbol, "
                "each from its first bar on (%d from the journal); bars "
                "from %s, history from %s, signals on %s, requests on %s",
                self->id, strategy_name(engine_strat(self)),
                strategy_params(engine_strat(self)), self->nsym, c->sub_ep,
                *c->hist_ep ? c->hist_ep : "(none)", c->pub_ep, c->rep_ep);
    else
        log_msg(LL_INFO, "engine %s: strategy %s (%s) on %d symbol(s); "
                "bars from %s, history from %s, signals on %s, requests "
                "on %s", self->id, strategy_name(engine_strat(self)),
                strategy_params(engine_strat(self)), self->nsym, c->sub_ep,
                *c->hist_ep ? c->hist_ep : "(none)", c->pub_ep, c->rep_ep);
    self->warming = self->nsym;
    self->started = 1;
    self->loop = loop;
    rc = s_loop_add(self, loop, err);
    if (rc)
        return rc;
    rc = s_requests(self, loop, err);
    if (rc)
        return rc;
    rc = engine_metrics_open(self, loop, err);
    if (rc)
        return rc;
    s_on_tick(loop, self);
    s_on_warm(loop, self);          /* first warm-up attempt right away */
    return 0;
}

void engine_drain(engine_t *self)
{
    char joined[96] = "", line[1024] = "";

    /* Bars already received are still processed. */
    if (!self->warming && self->sub)
        s_read_sub(self, self->sub);
    engine_runs_report(self);
    engine_mark_live(self);
    journal_close(&self->journal);
    if (self->joined)
        snprintf(joined, sizeof joined, "; %llu bar(s) published while "
                 "subscribing, taken from history",
                 (unsigned long long)self->joined);
    log_msg(LL_INFO, "stopping: %llu bars in (%llu of them already had "
            "from history), %llu signals published (journal at seq %llu; "
            "%llu derived again and already journalled), %llu bad bars, "
            "%llu out of order, %llu gaps (%llu bars missed, %llu "
            "recovered), %llu feeder restarts, %llu signals dropped at the "
            "publisher%s",
            (unsigned long long)self->bars_in, (unsigned long long)self->dups,
            (unsigned long long)self->signals_run,
            (unsigned long long)self->sig_seq,
            (unsigned long long)self->rederived,
            (unsigned long long)self->bad, (unsigned long long)self->old,
            (unsigned long long)self->gaps, (unsigned long long)self->missed,
            (unsigned long long)self->recovered,
            (unsigned long long)self->restarts,
            (unsigned long long)self->pub.dropped, joined);
    log_msg(LL_INFO, "counters:%s", counters_line(line, sizeof line,
            engine_counters, engine_ncounters, self));
    engine_summary(self, 1);
    engine_exit_pl(self);
}

/* }========================================================== */
