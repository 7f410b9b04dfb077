/* backtest.c -- a strategy over a whole series of bars, with the live
 * engine's own runner (strategy, indicators, broker), and backtesting.py's
 * results: the calls, the trades, the equity curve, the statistics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backtest.h"
#include "err.h"
#include "runner.h"
#include "util.h"

struct collect {
    struct signal *v;
    size_t n, cap;
    int nomem;
};

static void s_collect(void *arg, struct signal *s)
{
    struct collect *c = arg;
    if (grow((void **)&c->v, &c->cap, c->n + 1, sizeof *c->v, SIZE_MAX)) {
        c->nomem = 1;
        return;
    }
    c->v[c->n++] = *s;
}

static int s_add_warning(struct bt_result *r, const char *msg)
{
    void *w = realloc(r->warnings, (r->nwarnings + 1) * sizeof *r->warnings);
    if (!w)
        return ERR_NOMEM;
    r->warnings = w;
    snprintf(r->warnings[r->nwarnings++], sizeof r->warnings[0], "%s", msg);
    return 0;
}

/* Most position:close() calls finding no position is the mark of
 * Python's `if not self.position:` or `if self.position:` ported as is:
 * a position is a userdata, always true in Lua. The calls stay (they are
 * calls, as in backtesting.py); one warning says how to test it. */
static void s_flat_closes(struct bt_result *r)
{
    size_t closes = 0, flat = 0;
    char msg[256];

    for (size_t i = 0; i < r->ncalls; i++)
        if (r->calls[i].act == SIG_CLOSE) {
            closes++;
            flat += msg_signal_is_flat_close(&r->calls[i]);
        }
    if (flat == 0 || 2 * flat <= closes)
        return;
    snprintf(msg, sizeof msg, "%zu of %zu position:close() calls found "
             "no position: a position is always true in Lua (`if not "
             "self.position` is never taken); test `if "
             "self.position.size == 0` (or `~= 0`)", flat, closes);
    s_add_warning(r, msg);
}

static struct trade *s_copy_trades(const broker_t *b, int closed, size_t *n)
{
    struct trade *t;
    *n = closed ? broker_nclosed(b) : broker_ntrades(b);
    t = malloc((*n ? *n : 1) * sizeof *t);
    if (!t)
        return NULL;
    for (size_t i = 0; i < *n; i++)
        t[i] = closed ? *broker_closed(b, i) : *broker_trade(b, i);
    return t;
}

/* Statistics over all n bars (after an out-of-money stop, too: the
 * equity is 0 there, as in backtesting.py). */
static int s_stats(struct bt_result *r, const struct runner *run,
                   const struct bar *bars, const struct bt_opts *o)
{
    const broker_t *b = strategy_broker(run->strat);
    struct stats_trade *st = malloc((r->ntrades ? r->ntrades : 1) *
                                    sizeof *st);
    double *tm = malloc(r->n * sizeof *tm), *c = malloc(r->n * sizeof *c);
    struct stats_input in;
    int64_t start = strategy_start(run->strat);

    if (!st || !tm || !c) {
        free(st);
        free(tm);
        free(c);
        return ERR_NOMEM;
    }
    for (size_t i = 0; i < r->n; i++) {
        tm[i] = (double)bars[i].t;
        c[i] = bars[i].c;
    }
    for (size_t i = 0; i < r->ntrades; i++) {
        const struct trade *t = &r->trades[i];
        st[i].size = t->size;
        st[i].entry_bar = t->entry_bar;
        st[i].exit_bar = t->exit_bar;
        st[i].entry_price = t->entry_price;
        st[i].exit_price = t->exit_price;
        st[i].pnl = broker_trade_pl(b, t);
        st[i].commission = t->commission;
        st[i].return_pct = broker_trade_pl_pct(b, t);
        st[i].entry_time = t->entry_time;
        st[i].exit_time = t->exit_time;
    }
    memset(&in, 0, sizeof in);
    in.n = r->n;
    in.equity = r->equity;
    in.time_ms = tm;
    in.close = c;
    in.warmup = start > 0 ? start - 1 : 0;
    in.trades = st;
    in.ntrades = r->ntrades;
    in.cash = o->broker.cash;
    r->nstats = stats_compute(&in, r->stats, STATS_MAX);
    free(st);
    free(tm);
    free(c);
    return r->nstats < 0 ? r->nstats : 0;
}

int backtest_run(const char *strategy, const char *symbol,
                 const struct bar *bars, size_t n, const struct bt_opts *o,
                 struct bt_result *r, char *err)
{
    struct runner run;
    struct collect c = { NULL, 0, 0, 0 };
    const broker_t *b;
    const double *eq;
    size_t neq, done = 0;
    int rc;

    memset(r, 0, sizeof *r);
    if (n == 0) {
        snprintf(err, ERR_LEN, "no bars to run on");
        return ERR_INVALID;
    }
    if (o->nextra < 0 || o->nextra > STRAT_MAX_EXTRA) {
        snprintf(err, ERR_LEN, "at most %d extra data columns",
                 STRAT_MAX_EXTRA);
        return ERR_INVALID;
    }
    rc = runner_init_ex(&run, strategy, symbol, o->params, &o->broker,
                        o->extra_names, o->nextra, err);
    if (rc)
        return rc;
    for (; done < n; done++) {
        double ex[STRAT_MAX_EXTRA];
        for (int j = 0; j < o->nextra; j++)
            ex[j] = o->extra[j][done];
        rc = runner_feed_extra(&run, &bars[done], ex, s_collect, &c);
        if (rc == ERR_OLD) {
            snprintf(err, ERR_LEN, "bar %zu (t=%lld) is not newer than the "
                     "one before", done, (long long)bars[done].t);
            rc = ERR_INVALID;
            goto fail;
        }
        if (rc == ERR_NOMEM || c.nomem) {
            snprintf(err, ERR_LEN, "out of memory at bar %zu", done);
            rc = ERR_NOMEM;
            goto fail;
        }
        if (rc == ERR_LUA) {
            if (strategy_out_of_money(run.strat)) {
                r->out_of_money = 1;
                done++;
                break;
            }
            snprintf(err, ERR_LEN, "%s", run.error);
            goto fail;
        }
    }
    b = strategy_broker(run.strat);
    if (o->finalize_trades && !r->out_of_money)
        broker_finalize(strategy_broker(run.strat), &run.data);

    r->n = n;
    r->equity = malloc(n * sizeof *r->equity);
    r->trades = s_copy_trades(b, 1, &r->ntrades);
    r->open = s_copy_trades(b, 0, &r->nopen);
    if (!r->equity || !r->trades || !r->open) {
        snprintf(err, ERR_LEN, "out of memory");
        rc = ERR_NOMEM;
        goto fail;
    }
    /* Bars after an out-of-money stop have equity 0, as backtesting.py. */
    eq = broker_equity_curve(b, &neq);
    for (size_t i = 0; i < n; i++)
        r->equity[i] = i < neq ? eq[i] : 0;
    r->calls = c.v;
    r->ncalls = c.n;
    c.v = NULL;
    for (size_t i = 0; i < broker_nwarnings(b); i++)
        s_add_warning(r, broker_warning(b, i));
    if (r->nopen && !o->finalize_trades)
        s_add_warning(r, "Some trades remain open at the end of the "
                      "backtest; give --finalize-trades to close them at "
                      "the last bar and count them in the statistics.");
    s_flat_closes(r);
    rc = s_stats(r, &run, bars, o);
    if (rc) {
        snprintf(err, ERR_LEN, "statistics: %s", err_str(rc));
        goto fail;
    }
    runner_free(&run);
    return ERR_OK;
fail:
    free(c.v);
    bt_result_free(r);
    runner_free(&run);
    return rc;
}

void bt_result_free(struct bt_result *r)
{
    free(r->equity);
    free(r->calls);
    free(r->trades);
    free(r->open);
    free(r->warnings);
    memset(r, 0, sizeof *r);
}
