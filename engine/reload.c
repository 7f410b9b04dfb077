/* reload.c -- SIGHUP: the strategy file is loaded again for every symbol
 * and the new runners (runner.h) replace the running ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

/* SIGHUP: the strategy file is loaded again for every symbol and each new
 * instance is warmed up on the bars the engine holds (signals off, as in
 * a warm-up); then the new instances take over, before the next bar. If
 * the file does not load, or a new instance fails on those bars, the
 * running instances stay, with one ERROR line. */
void engine_reload(engine_t *self)
{
    struct runner **nr = calloc((size_t)(self->nsym ? self->nsym : 1),
                                sizeof *nr);
    char err[ERR_LEN] = "out of memory";
    uint64_t bars = 0;
    int k, ok = nr != NULL;

    log_msg(LL_INFO, "SIGHUP: reloading %s", self->cfg.strategy);
    for (k = 0; k < self->nsym && ok; k++) {
        const struct strat_data *d = &self->syms[k].run->data;
        const char *sym = self->syms[k].run->sym;
        nr[k] = calloc(1, sizeof **nr);
        if (!nr[k] || runner_init(nr[k], self->cfg.strategy, sym,
                                  self->cfg.params, self->cfg.bcfg, err)) {
            free(nr[k]);
            nr[k] = NULL;
            ok = 0;
            break;
        }
        for (size_t i = d->time.off; i < d->time.len && ok; i++) {
            struct bar b;
            int rc;
            memset(&b, 0, sizeof b);
            snprintf(b.sym, sizeof b.sym, "%s", sym);
            b.t = (int64_t)SERIES_AT(&d->time, i);
            b.tf = self->syms[k].tf;
            b.o = SERIES_AT(&d->open, i);
            b.h = SERIES_AT(&d->high, i);
            b.l = SERIES_AT(&d->low, i);
            b.c = SERIES_AT(&d->close, i);
            b.vol = SERIES_AT(&d->volume, i);
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
        self->reload_errors++;
        log_msg(LL_ERROR, "reload of %s failed; the running strategy goes "
                "on: %s", self->cfg.strategy, err);
    }
    for (k = 0; nr && k < self->nsym; k++) {
        if (!nr[k])
            continue;
        if (ok) {
            runner_free(self->syms[k].run);
            free(self->syms[k].run);
            self->syms[k].run = nr[k];
        } else {
            runner_free(nr[k]);
            free(nr[k]);
        }
    }
    free(nr);
    if (!ok)
        return;
    self->reloads++;
    for (k = 0; k < self->nsym; k++)   /* paper P&L counts from here on */
        if (self->syms[k].first_live_t >= 0)
            self->syms[k].eq0 = engine_equity(&self->syms[k]);
    if (self->cfg.lookback <= 0 && self->nsym)
        self->lb = strategy_lookback(engine_strat(self));
    engine_keep(self, 1);
    {
        int64_t last = -1;
        for (k = 0; k < self->nsym; k++)
            if (self->syms[k].run->last_t > last)
                last = self->syms[k].run->last_t;
        log_msg(LL_INFO, "reloaded %s (%s, parameters %s): %d symbol(s) "
                "warmed up again on the %llu bars held; it takes over after "
                "the bar at %lld", self->cfg.strategy,
                strategy_name(engine_strat(self)),
                strategy_params(engine_strat(self)), self->nsym,
                (unsigned long long)bars,
                (long long)last);
    }
}

