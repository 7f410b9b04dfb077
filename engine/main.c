/* main.c -- livetrade-engine: parses the flags into a struct
 * engine_config and runs the engine (engine.h) in an event loop until
 * SIGTERM or SIGINT; SIGHUP reloads the strategy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "config.h"
#include "curve.h"
#include "engine.h"
#include "err.h"
#include "flags.h"
#include "log.h"
#include "loop.h"
#include "proc.h"
#include "strategy.h"
#include "util.h"

#define PROG "livetrade-engine"

/* The flags: most go straight into the engine's config. */
struct eflags {
    struct flags fl;                /* the shared ones */
    struct engine_config c;
    const char *shard;              /* --shard i/N, NULL: none */
    int64_t memory_mb;              /* Lua memory for all strategies */
    struct opt_multi params;
    struct broker_cfg bcfg;         /* the paper broker's settings */
};

/* Parses and checks the flags into f. 0, or the exit status (the usage
 * and exit 0 for --help). */
static int s_flags(struct eflags *f, int argc, char **argv)
{
    const struct opt opts[] = {
        { "strategy", OPT_STR, &f->c.strategy, NULL, "FILE",
          "Lua strategy file (required)" },
        { "sub", OPT_STR, &f->c.sub_ep, NULL, "EP[,EP...]",
          "feeders' bar publishers (default tcp://127.0.0.1:5555)" },
        { "history", OPT_STR, &f->c.hist_ep, NULL, "EP[,EP...]",
          "feeders' request endpoints for history, \"\" for none "
          "(default tcp://127.0.0.1:5556)" },
        { "pub", OPT_STR, &f->c.pub_ep, NULL, "EP",
          "signal publisher (default tcp://127.0.0.1:5557)" },
        { "rep", OPT_STR, &f->c.rep_ep, NULL, "EP",
          "request endpoint for status (default tcp://127.0.0.1:5558)" },
        { "param", OPT_MULTI, &f->params, NULL, "NAME=VALUE",
          "override a strategy parameter (repeatable)" },
        { "lookback", OPT_INT, &f->c.lookback, NULL, "N",
          "bars of history to warm up on (default: automatic)" },
        { "keep-bars", OPT_INT, &f->c.keep_bars, NULL, "N",
          "bars per symbol kept for the strategy, 0 for all (default: "
          "twice what it reads back, at least 1000)" },
        { "wait-subscribers", OPT_INT, &f->c.wait_subs, NULL, "N",
          "start only once N subscriptions to signals have arrived (0)" },
        { "memory-mb", OPT_INT, &f->memory_mb, NULL, "MB",
          "memory for all the strategies' Lua states together (2048)" },
        { "shard", OPT_STR, &f->shard, "LIVETRADE_SHARD", "I/N",
          "only the symbols of --symbols (or of '*') in shard I of N "
          "(0 <= I < N)" },
        { "journal", OPT_STR, &f->c.journal_dir, NULL, "DIR",
          "signal journal directory, \"\" for none (default: "
          "$XDG_STATE_HOME/livetrade/journal/<id>)" },
        { "fsync", OPT_STR, &f->c.fsync, NULL, "always|everysec|no",
          "when the journal is synced to disk (everysec)" },
        { "journal-max-mb", OPT_INT, &f->c.journal_mb, NULL, "MB",
          "journal size kept, oldest files deleted first (256)" },
        { "journal-max-days", OPT_INT, &f->c.journal_days, NULL, "DAYS",
          "journal age kept, 0 for no limit (7)" },
        { "stale-after", OPT_DBL, &f->c.stale_after, NULL, "SEC",
          "report a symbol without a bar this long (3 timeframes + 30)" },
        { "summary", OPT_INT, &f->c.summary_s, NULL, "SEC",
          "log a summary line (bars, signals, lag, paper P&L) every SEC "
          "seconds, 0 for none (60)" },
        { NULL, 0, NULL, NULL, NULL, NULL }
    };
    struct opt broker[BROKER_OPTS + 1];
    char err[ERR_LEN];
    struct engine_config *c = &f->c;
    int rc;

    broker_opts(&f->bcfg, broker);
    f->fl = (struct flags){
        .prog = PROG, .usage = PROG " --strategy FILE [--symbols A,B] "
                               "[options]",
        .tables = { opts, broker },
        .shared = FLAG_SYMBOLS | FLAG_METRICS | FLAG_VERBOSE | FLAG_CURVE |
                  FLAG_ID,
        .symbols = "AAPL", .symbols_env = "TRADING_SYMBOLS",
        .symbols_help = "symbols to trade [AAPL]; '*': every symbol of "
                        "the feeders, each from its first bar on",
        .symbols_all = 1,
        .id_help = "engine id in signals [strategy-<hash of symbols>]",
    };
    c->sub_ep = "tcp://127.0.0.1:5555";
    c->hist_ep = "tcp://127.0.0.1:5556";
    c->pub_ep = "tcp://127.0.0.1:5557";
    c->rep_ep = "tcp://127.0.0.1:5558";
    c->lookback = -1;
    c->keep_bars = -1;
    c->fsync = "everysec";
    c->journal_mb = 256;
    c->journal_days = 7;
    c->summary_s = 60;
    broker_cfg_default(&f->bcfg);
    c->params = &f->params;
    c->bcfg = &f->bcfg;
    rc = flags_parse(&f->fl, argc, argv, 1, NULL, 0, NULL, err);
    if (rc == 1) {
        flags_usage(&f->fl);
        flags_free(&f->fl);
        exit(0);
    }
    if (rc)
        return proc_usage_error(PROG, err);
    c->syms = f->fl.syms.v;
    c->nsym = f->fl.syms.n;
    c->all = f->fl.syms.all;
    c->symbols = f->fl.symbols;
    c->id = f->fl.id;
    c->metrics_addr = f->fl.metrics;
    if ((rc = curve_flag(PROG, f->fl.curve)) != 0)
        return rc;
    if (!c->strategy)
        return proc_usage_error(PROG, "--strategy FILE is required");
    if (f->memory_mb < 0 || f->memory_mb > 1 << 20)
        return proc_usage_error(PROG, "--memory-mb must be between 1 and "
                                "1048576");
    strategy_set_memory_cap((size_t)f->memory_mb << 20);
    if (strcmp(c->fsync, "always") && strcmp(c->fsync, "everysec") &&
        strcmp(c->fsync, "no"))
        return proc_usage_error(PROG, "--fsync must be always, everysec "
                                "or no");
    if (c->journal_mb < 1 || c->journal_mb > 1 << 20)
        return proc_usage_error(PROG, "--journal-max-mb must be between 1 "
                                "and 1048576");
    if (c->journal_days < 0 || c->journal_days > 36500)
        return proc_usage_error(PROG, "--journal-max-days must be between 0 "
                                "and 36500");
    if (!(c->stale_after >= 0 && c->stale_after <= 86400 * 7))
        return proc_usage_error(PROG, "--stale-after must be between 0 "
                                "(3 timeframes + 30) and 604800 seconds");
    if (c->summary_s < 0 || c->summary_s > 86400)
        return proc_usage_error(PROG, "--summary must be between 0 (none) "
                                "and 86400 seconds");
    if (c->lookback != -1 && (c->lookback < 1 || c->lookback > HISTORY_MAX))
        return proc_usage_error(PROG, "--lookback must be between 1 and "
                                "300000");
    if (c->keep_bars < -1 || c->keep_bars > 1000000000)
        return proc_usage_error(PROG, "--keep-bars must be between 0 (every "
                                "bar) and 1000000000");
    if (f->shard) {
        char tail;
        if (sscanf(f->shard, "%d/%d%c", &c->shard_i, &c->shard_n, &tail) !=
            2 || c->shard_n < 1 || c->shard_n > 1024 || c->shard_i < 0 ||
            c->shard_i >= c->shard_n)
            return proc_usage_error(PROG, "--shard must be I/N with 0 <= I "
                                    "< N <= 1024, e.g. 0/2");
    }
    return 0;
}

int main(int argc, char **argv)
{
    char err[ERR_LEN];
    struct eflags *f = calloc(1, sizeof *f);
    engine_t *engine = NULL;
    loop_t *loop = NULL;
    int rc;

    proc_init(PROG);
    if (!f) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        return 1;
    }
    rc = s_flags(f, argc, argv);
    if (rc)
        goto out;
    engine = engine_new(&f->c, err, &rc);
    if (!engine) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        goto out;
    }
    loop = loop_new();
    if (!loop) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        rc = 1;
        goto out;
    }
    rc = engine_start(engine, loop, err);
    if (rc) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        goto out;
    }
    rc = loop_run(loop);
    log_msg(LL_INFO, "stopping (%s): draining the bars already received",
            rc ? "zmq_poll failed" : proc_stop_reason());
    engine_drain(engine);
    rc = rc ? 1 : 0;
out:
    engine_destroy(&engine);
    loop_destroy(&loop);
    bus_term();
    flags_free(&f->fl);
    free(f);
    return rc;
}
