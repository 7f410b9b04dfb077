/* engine_metrics.c -- the engine's monitoring: the --metrics registry
 * and its HTTP endpoint, and the staleness of symbols that go silent
 * (--stale-after). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "engine_int.h"
#include "util.h"

#define STALE_TF_DEFAULT 60         /* s, before a symbol's first bar */

/* Silence after which symbol y counts as stale, in ms: --stale-after,
 * else three of its bars and 30 s. */
static int64_t s_stale_limit(const engine_t *self, const struct sym *y)
{
    if (self->cfg.stale_after > 0)
        return (int64_t)llround(self->cfg.stale_after * 1000.0);
    return (3 * (y->tf > 0 ? y->tf : STALE_TF_DEFAULT) + 30) * 1000;
}

/* From the tick: symbols silent past their limit become stale, once,
 * with one (rate-limited) WARN line. */
void engine_stale_check(engine_t *self)
{
    int64_t now = mono_ms();

    for (int k = 0; k < self->nsym; k++) {
        struct sym *y = &self->syms[k];
        int64_t limit = s_stale_limit(self, y);
        if (y->stale || now - y->last_rx <= limit)
            continue;
        y->stale = 1;
        self->stale_now++;
        self->stale_events++;
        log_limited(&self->lim_stale, LL_WARN, "%s: no bar for %.1f s (stale "
                    "after %.1f s); %d symbol(s) stale", y->run->sym,
                    (double)(now - y->last_rx) / 1000.0,
                    (double)limit / 1000.0, self->stale_now);
    }
}

/* A bar of y arrived: the silence clock restarts, and a stale y is not
 * stale any more. */
void engine_stale_clear(engine_t *self, struct sym *y)
{
    int64_t now = mono_ms();

    if (y->stale) {
        y->stale = 0;
        self->stale_now--;
        log_limited(&self->lim_fresh, LL_INFO, "%s: bars again after %.1f "
                    "s of silence; %d symbol(s) stale", y->run->sym,
                    (double)(now - y->last_rx) / 1000.0, self->stale_now);
    }
    y->last_rx = now;
}

static void s_m_lag(metrics_out_t *out, void *arg)
{
    double now = (double)wall_ms();
    const engine_t *self = arg;
    for (int k = 0; k < self->nsym; k++)
        if (self->syms[k].run->last_t >= 0)
            metrics_out_sample(out, self->syms[k].run->sym,
                               (now - (double)self->syms[k].run->last_t) /
                               1000.0 - (double)self->syms[k].tf);
}

static void s_m_age(metrics_out_t *out, void *arg)
{
    int64_t now = mono_ms();
    const engine_t *self = arg;
    for (int k = 0; k < self->nsym; k++)
        metrics_out_sample(out, self->syms[k].run->sym,
                           (double)(now - self->syms[k].last_rx) / 1000.0);
}

static void s_m_stale(metrics_out_t *out, void *arg)
{
    const engine_t *self = arg;
    for (int k = 0; k < self->nsym; k++)
        metrics_out_sample(out, self->syms[k].run->sym, self->syms[k].stale);
}

static void s_m_disabled(metrics_out_t *out, void *arg)
{
    int n = 0;
    const engine_t *self = arg;
    for (int k = 0; k < self->nsym; k++)
        n += self->syms[k].run->failed != 0;
    metrics_out_sample(out, NULL, n);
}

/* The engine's counters: its status reply, its exit line and its
 * metrics (counters.h). */
#define C(f, key, metric, help) \
    COUNTER(struct engine, f, key, "livetrade_engine_" metric, help)
const struct counter engine_counters[] = {
    C(bars_in, "bars_in", "bars_total",
      "Bars received for this engine's symbols"),
    C(bad, "bad", "bars_bad_total",
      "Messages on the bar bus dropped as malformed"),
    C(old, "old", "bars_old_total",
      "Bars dropped as not newer than the last one"),
    C(dups, "dups", "bars_duplicate_total",
      "Bars skipped: already taken from history"),
    C(gaps, "gaps", "gaps_total",
      "Gaps in a symbol's bar sequence numbers"),
    C(missed, "missed", "gap_bars_missed_total", "Bars missing in those gaps"),
    C(recovered, "recovered", "gap_bars_recovered_total",
      "Bars fetched from history to fill gaps"),
    C(restarts, "restarts", "feeder_restarts_total",
      "Feeder restarts seen (a new publisher instance)"),
    C(heartbeats, "heartbeats", "heartbeats_total",
      "Feeder heartbeats received"),
    C(overflow, "overflow", "warmup_overflow_total",
      "Bars not held while the symbol waited for history (warm-up or a "
      "gap; buffer full): left to history"),
    C(signals_run, "published", "signals_total",
      "Signals published since the engine started"),
    C(rederived, "rederived", "signals_rederived_total",
      "Signals derived again and not published: the journal has them"),
    C(pub.dropped, "dropped", "signals_dropped_total",
      "Times a full subscriber was left behind (it fills the signals it "
      "missed from the journal)"),
    C(caught_up, "caught_up", "caught_up_signals_total",
      "Signals of bars that arrived while the engine was stopped"),
    C(journal_errors, "journal_errors", "journal_errors_total",
      "Signals that could not be written to the journal"),
    C(strategy_errors, "strategy_errors", "strategy_errors_total",
      "Strategy errors (each disables the strategy of its symbol)"),
    C(requests, "requests", "requests_total",
      "Requests answered (status, replay, errors)"),
    C(replays, "replays", "replays_total", "Replay requests answered"),
    C(replies_dropped, "replies_dropped", "replies_dropped_total",
      "Replies dropped: the client had not read its earlier ones, or was "
      "gone"),
    C(reloads, "reloads", "reloads_total", "Strategy reloads done (SIGHUP)"),
    C(reload_errors, "reload_errors", "reload_errors_total",
      "Strategy reloads refused"),
    C(ind_sent, "ind_sent", "indicator_messages_total",
      "Indicator values published on ind| (only while subscribed)"),
    C(ind_dropped, "ind_dropped", "indicator_dropped_total",
      "Indicator messages dropped: a subscriber was full"),
    C(stale_events, "stale_events", "stale_total",
      "Times a symbol went stale (no bar for --stale-after)"),
};
#undef C
const size_t engine_ncounters = COUNTERS_N(engine_counters);

/* --metrics: the registry and its HTTP endpoint. 0, or 1 with one line
 * in err[ERR_LEN]. */
int engine_metrics_open(engine_t *self, loop_t *loop, char *err)
{
    static const double buckets[] = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
        0.1, 0.25, 0.5, 1, 2.5, 5, 10
    };
    int rc = 0;

    if (!self->cfg.metrics_addr)
        return 0;
    self->metrics = metrics_new();
    if (!self->metrics) {
        snprintf(err, ERR_LEN, "out of memory");
        return 1;
    }
    rc |= counters_metrics(self->metrics, engine_counters, engine_ncounters,
                           self);
    rc |= metrics_add_u64(self->metrics, METRICS_GAUGE,
                          "livetrade_engine_last_signal_seq", "Sequence "
                          "number of the newest signal (continues across "
                          "restarts)", &self->sig_seq);
    rc |= metrics_add_int(self->metrics, METRICS_GAUGE,
                          "livetrade_engine_symbols", "Symbols this engine "
                          "runs", &self->nsym);
    rc |= metrics_add_int(self->metrics, METRICS_GAUGE,
                          "livetrade_engine_symbols_warming", "Symbols not "
                          "live yet (warming up)", &self->warming);
    rc |= metrics_add_int(self->metrics, METRICS_GAUGE,
                          "livetrade_engine_stale_symbols", "Symbols without "
                          "a bar for --stale-after", &self->stale_now);
    rc |= metrics_add_int(self->metrics, METRICS_GAUGE,
                          "livetrade_engine_subscribers", "Subscriptions to "
                          "signals", &self->pub.subscribers);
    rc |= metrics_add_int(self->metrics, METRICS_GAUGE,
                          "livetrade_engine_indicator_subscribers",
                          "Subscriptions to indicator values (ind|)",
                          &self->pub.side_subs);
    rc |= metrics_add_fn(self->metrics, METRICS_GAUGE,
                         "livetrade_engine_strategies_disabled", "Symbols "
                         "whose strategy an error disabled", NULL,
                         s_m_disabled, self);
    rc |= metrics_add_fn(self->metrics, METRICS_GAUGE,
                         "livetrade_engine_symbol_stale", "1 if the symbol "
                         "is stale, else 0", "symbol", s_m_stale, self);
    rc |= metrics_add_fn(self->metrics, METRICS_GAUGE,
                         "livetrade_engine_last_bar_age_seconds", "Seconds "
                         "since the symbol's newest bar arrived (or since "
                         "the start)", "symbol", s_m_age, self);
    rc |= metrics_add_fn(self->metrics, METRICS_GAUGE,
                         "livetrade_engine_lag_seconds", "Now minus the end "
                         "of the symbol's newest bar (start + timeframe)",
                         "symbol", s_m_lag, self);
    self->latency = metrics_add_hist(self->metrics,
                                     "livetrade_engine_bar_to_signal_"
                                     "seconds", "From a live bar taken off "
                                     "the bus to its signal's publication",
                                     buckets, (int)(sizeof buckets /
                                                    sizeof *buckets));
    if (rc || !self->latency) {
        snprintf(err, ERR_LEN, "out of memory");
        return 1;
    }
    self->http = http_metrics_new(self->cfg.metrics_addr, self->metrics,
                                  loop, err);
    return self->http ? 0 : 1;
}

void engine_metrics_close(engine_t *self)
{
    http_metrics_destroy(&self->http);
    metrics_destroy(&self->metrics);
}

