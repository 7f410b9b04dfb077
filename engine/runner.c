/* runner.c -- per-symbol dataset + strategy, calls to signals. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "runner.h"

#define CONF_MOVE_BARS 20       /* bars behind the typical move */

int runner_init(struct runner *r, const char *path, const char *sym,
                const struct opt_multi *params,
                const struct broker_cfg *bcfg, char *err)
{
    return runner_init_ex(r, path, sym, params, bcfg, NULL, 0, err);
}

int runner_init_ex(struct runner *r, const char *path, const char *sym,
                   const struct opt_multi *params,
                   const struct broker_cfg *bcfg,
                   const char *const *columns, int ncolumns, char *err)
{
    int rc;

    memset(r, 0, sizeof *r);
    snprintf(r->sym, sizeof r->sym, "%s", sym);
    snprintf(r->path, sizeof r->path, "%s", path);
    strat_data_init(&r->data);
    for (int j = 0; j < ncolumns; j++)
        if (strat_data_add_column(&r->data, columns[j])) {
            snprintf(err, ERR_LEN, "extra data column '%s': too many (at "
                     "most %d), empty, too long or already a column",
                     columns[j], STRAT_MAX_EXTRA);
            strat_data_free(&r->data);
            return ERR_INVALID;
        }
    r->last_t = r->first_t = -1;
    r->strat = strategy_new(path, sym, params, bcfg, &r->data, &rc,
                           err);
    if (!r->strat) {
        strat_data_free(&r->data);
        return rc;
    }
    return ERR_OK;
}

void runner_free(struct runner *r)
{
    strategy_destroy(&r->strat);
    strat_data_free(&r->data);
}

void runner_keep(struct runner *r, size_t bars)
{
    strat_data_keep(&r->data, bars);
    strategy_keep(r->strat, bars);
}

int64_t runner_reach(const struct runner *r)
{
    int64_t lb = strategy_lookback(r->strat);
    return lb > CONF_MOVE_BARS + 2 ? lb : CONF_MOVE_BARS + 2;
}

double runner_confidence(const struct runner *r)
{
    const strategy_t *st = r->strat;
    const struct series *c = &r->data.close;
    int n = strategy_nind(st);
    double a1, a2, b1, b2, d, move = 0;
    size_t k, len = c->len;

    for (k = 1; k <= CONF_MOVE_BARS && k < len; k++)
        move += fabs(series_back(c, k) - series_back(c, k + 1));
    move = k > 1 ? move / (double)(k - 1) : 0;
    if (n == 0 || !(move > 0))
        return 0.5;
    a1 = strategy_ind_value(st, 0, 1);
    a2 = strategy_ind_value(st, 0, 2);
    b1 = n >= 2 ? strategy_ind_value(st, 1, 1) : series_back(c, 1);
    b2 = n >= 2 ? strategy_ind_value(st, 1, 2) : series_back(c, 2);
    d = fabs((a1 - b1) - (a2 - b2)) / (0.5 * move);
    if (isnan(d))
        return 0.5;
    return 0.5 + 0.5 * (d < 1 ? d : 1);
}

int runner_ind_at(const struct runner *r, size_t i, struct sig_ind *v)
{
    const strategy_t *st = r->strat;
    int n = strategy_nind(st);

    if (n > SIG_MAX_IND)
        n = SIG_MAX_IND;
    for (int k = 0; k < n; k++) {
        snprintf(v[k].name, sizeof v[k].name, "%s",
                 strategy_ind_name(st, k));
        v[k].v = strategy_ind_at(st, k, i);
    }
    return n;
}

static void s_signal(struct runner *r, const struct strat_call *c, int ord,
                     const struct bar *b, struct signal *s)
{
    const strategy_t *st = r->strat;

    memset(s, 0, sizeof *s);
    snprintf(s->strat, sizeof s->strat, "%s", strategy_name(st));
    snprintf(s->sym, sizeof s->sym, "%s", r->sym);
    s->act = c->act;
    s->t = b->t;
    s->ord = ord;
    s->px = b->c;
    s->size = c->size;
    s->limit = c->limit;
    s->stop = c->stop;
    s->sl = c->sl;
    s->tp = c->tp;
    snprintf(s->tag, sizeof s->tag, "%s", c->tag);
    s->pos = c->pos;
    msg_signal_make_id(s, strategy_params(st));
    s->conf = isnan(c->conf) ? runner_confidence(r) : c->conf;
    s->nind = runner_ind_at(r, r->data.time.len - 1, s->ind);
}

/* After a bar whose next() ran and made calls[n]: counts the bars with a
 * close() while flat over the last RUNNER_FLAT_WINDOW and warns once
 * when they are most of them. backtesting.py's `if not self.position:`
 * is true while flat, but in Lua every object is true, so a ported
 * strategy reaches its close() branch on nearly every bar. */
static void s_flat_check(struct runner *r, const struct strat_call *calls,
                         int n)
{
    unsigned char flat = 0;

    for (int i = 0; i < n; i++)
        if (calls[i].act == CALL_CLOSE && calls[i].pos == 0) {
            flat = 1;
            r->flat_closes++;
        }
    r->flat_in_win += flat - r->flat_win[r->flat_i];
    r->flat_win[r->flat_i] = flat;
    r->flat_i = (r->flat_i + 1) % RUNNER_FLAT_WINDOW;
    if (r->flat_warned || r->flat_closes < RUNNER_FLAT_MIN ||
        r->flat_in_win * 2 <= RUNNER_FLAT_WINDOW)
        return;
    r->flat_warned = 1;
    log_msg(LL_WARN, "%s: %s: close() while flat on %d of the last %d "
            "bars (%llu such calls so far), each a CLOSE signal that "
            "changes nothing. In Lua `not self.position` is always false (a "
            "table is true); to act only while flat, write `if "
            "self.position.size == 0`", r->path, r->sym, r->flat_in_win,
            RUNNER_FLAT_WINDOW, (unsigned long long)r->flat_closes);
}

int runner_feed(struct runner *r, const struct bar *b, runner_emit_fn *emit,
                void *arg)
{
    return runner_feed_extra(r, b, NULL, emit, arg);
}

int runner_feed_extra(struct runner *r, const struct bar *b,
                      const double *extra, runner_emit_fn *emit, void *arg)
{
    const struct strat_call *calls;
    int n, rc;

    if (b->t <= r->last_t)
        return ERR_OLD;
    if (strat_data_push(&r->data, b->t, b->o, b->h, b->l, b->c, b->vol,
                        extra))
        return ERR_NOMEM;
    r->last_t = b->t;
    if (!r->bars++)
        r->first_t = b->t;
    if (r->failed)
        return 0;
    rc = strategy_on_bar(r->strat, r->error);
    if (rc < 0) {
        r->failed = 1;              /* kept for its account, never run */
        return ERR_LUA;
    }
    if (rc == 0)
        return 0;
    calls = strategy_calls(r->strat, &n);
    s_flat_check(r, calls, n);
    if (!emit)
        return 0;
    for (int i = 0; i < n; i++) {
        struct signal s;
        s_signal(r, &calls[i], i, b, &s);
        emit(arg, &s);
        r->signals++;
    }
    return n;
}
