/* main.c -- livetrade-sink: consumes signals from engines and hands them
 * to one output (console, file, ...).
 *
 *   livetrade-sink console [--sub EP[,EP...]] [--json] [--symbols A,B]
 *                          [--color auto|always|never] [--verbose]
 *   livetrade-sink file --path FILE [--sub ...] [--symbols A,B] [--verbose]
 *
 * An output is a const struct sink_ops (sink.h) listed in s_outputs. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "config.h"
#include "curve.h"
#include "err.h"
#include "flags.h"
#include "http_metrics.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "msg_ind.h"
#include "proc.h"
#include "sink.h"

#define PROG "livetrade-sink"
#define DEFAULT_SUB "tcp://127.0.0.1:5557"  /* the engine's signal PUB */
#define DEFAULT_BARS "tcp://127.0.0.1:5555" /* the feeder's bar PUB */
#define DEFAULT_REPLAY "tcp://127.0.0.1:5558" /* the engine's requests */
#define SAVE_MS 100                 /* state file saves, at most this often */
#define BATCH 4096          /* messages per wake-up before timers run */

static const struct sink_ops *const s_outputs[] = {
    &sink_console,
    &sink_file,
    &sink_alert,
    &sink_lua,
    &sink_exec,
    &sink_web,
    NULL
};

/* Flags every output takes. */
static struct {
    const char *sub;                /* --sub */
    const char *bars;               /* --bars, outputs that take bars */
    const char *replay;             /* --replay */
    const char *state;              /* --state, NULL: the default */
    const char *since;              /* --since */
    int flat_closes;                /* --flat-closes */
} s_args = { DEFAULT_SUB, DEFAULT_BARS, DEFAULT_REPLAY, NULL, "run", 0 };

/* The shared flags (flags.h): --symbols (NULL: all), --verbose,
 * --metrics, --curve. */
static struct flags s_flags;

static const struct opt s_common_opts[] = {
    { "sub", OPT_STR, &s_args.sub, NULL, "ENDPOINT[,...]",
      "signal publishers to connect to (default " DEFAULT_SUB ")" },
    { "replay", OPT_STR, &s_args.replay, NULL, "ENDPOINT[,...]",
      "engines' request endpoints, for what was missed (default "
      DEFAULT_REPLAY "; \"\" for none)" },
    { "state", OPT_STR, &s_args.state, NULL, "FILE",
      "last signal processed per engine (default: next to the output "
      "file, or $XDG_STATE_HOME/livetrade/sink-OUTPUT.state; \"\" for "
      "none)" },
    { "since", OPT_STR, &s_args.since, NULL, "WHEN",
      "what to take from an engine this sink has no state for: run (its "
      "current run's signals, default), start (since the sink started), "
      "all (its whole journal), a duration (15m; s, m, h, d) or a UTC "
      "time (2026-11-25T15:20:00Z)" },
    { 0 }
};

/* Added for outputs that leave flat closes out (sink_ops). */
static const struct opt s_flat_opts[] = {
    { "flat-closes", OPT_BOOL, &s_args.flat_closes, NULL, NULL,
      "show closes that found no position as well (left out by default)" },
    { 0 }
};

/* Added for outputs that take bars (sink_ops.bar). */
static const struct opt s_bar_opts[] = {
    { "bars", OPT_STR, &s_args.bars, NULL, "ENDPOINT[,...]",
      "bar publishers (feeders) to connect to (default " DEFAULT_BARS ")" },
    { 0 }
};

struct app {
    sink_t *sink;
    const struct sink_ops *ops;
    void *state;                    /* the output's */
    int fatal;                      /* the output is gone: stop, exit 1 */
    struct mp_body body;            /* bar decoder */
    uint64_t bars, bad_bars;        /* bars handed over, dropped */
    uint64_t inds, bad_inds;        /* indicator messages, the same */
    struct log_limit lim_bar, lim_ind;
    metrics_t *metrics;             /* --metrics, else NULL */
    http_metrics_t *http;
};

static void s_help(void)
{
    printf("usage: " PROG " OUTPUT [flags]\n\n"
           "Receives trading signals from livetrade engines and writes "
           "them to OUTPUT:\n\n");
    for (int i = 0; s_outputs[i]; i++)
        printf("  %-10s %s\n", s_outputs[i]->name, s_outputs[i]->summary);
    printf("\nRun '" PROG " OUTPUT --help' for the flags of an output.\n");
}

/* An indicator message (outputs that take them): a well-formed one is
 * handed over; others are counted and logged (rate-limited). They are no
 * signals, so the signal pipeline never sees them. */
static void s_ind(struct app *app, const char *topic, const void *body,
                  size_t len)
{
    const msgpack_object *o = mp_body_decode(&app->body, body, len);
    char why[ERR_LEN], want[BUS_TOPIC_MAX];
    struct ind_msg m;

    if (o && msg_ind_unpack(o, &m, why) == ERR_OK) {
        bus_topic(want, "ind", m.sym);
        if (strcmp(want, topic) == 0) {
            app->inds++;
            app->ops->ind(app->state, &m);
            return;
        }
        snprintf(why, sizeof why, "symbol %s on another topic", m.sym);
    }
    app->bad_inds++;
    log_limited(&app->lim_ind, LL_WARN, "bad indicator message on %s: %s; "
                "dropped (%llu so far)", topic, o ? why : "not msgpack",
                (unsigned long long)app->bad_inds);
}

/* Receives up to `max` pending messages. Returns 0, or -1 once the
 * output failed for good. */
static int s_drain(void *sock, struct app *app, int max)
{
    char topic[BUS_TOPIC_MAX];
    struct bus_topic_of t;
    zmq_msg_t msg;

    for (int i = 0; i < max; i++) {
        int n = bus_recv(sock, topic, sizeof topic, &msg);
        int rc;
        if (n == -1)
            break;
        if (n < 0) {
            sink_bad_frame(app->sink);
            continue;
        }
        bus_topic_parse(topic, &t);     /* a bad one: its kind's check */
        if (app->ops->ind && t.kind == BUS_K_IND) {
            s_ind(app, topic, zmq_msg_data(&msg), (size_t)n);
            zmq_msg_close(&msg);
            continue;
        }
        rc = sink_handle(app->sink, topic, zmq_msg_data(&msg), (size_t)n);
        zmq_msg_close(&msg);
        if (rc != ERR_OK) {
            app->fatal = 1;
            return -1;
        }
    }
    return 0;
}

static void s_on_save(loop_t *loop, void *arg)
{
    struct app *app = arg;
    (void)loop;
    sink_save(app->sink);
}

/* The state file: --state, else the output's own default, else one per
 * output in the state directory; "" (none) when there is no place. */
static const char *s_state_file(const struct sink_ops *ops, void *state,
                                char *buf, size_t n)
{
    char dir[1024], err[ERR_LEN];

    if (s_args.state)
        return s_args.state;
    if (ops->state_path && ops->state_path(state, buf, n) == 0)
        return buf;
    if (!xdg_dir("state", dir, sizeof dir) || mkdir_p(dir, err) ||
        strfmt(buf, n, "%s/sink-%s.state", dir, ops->name) < 0) {
        log_msg(LL_WARN, "no state file (set --state FILE): a restart "
                "will not resume where this run stopped");
        return "";
    }
    return buf;
}

static void s_on_sub(loop_t *loop, void *sock, int fd, void *arg)
{
    (void)fd;
    if (s_drain(sock, arg, BATCH) != 0)
        loop_stop(loop);
}

/* Bars for outputs that take them: well-formed ones are handed over,
 * others counted and logged (rate-limited). */
static void s_on_bars(loop_t *loop, void *sock, int fd, void *arg)
{
    struct app *app = arg;
    char topic[BUS_TOPIC_MAX], why[ERR_LEN];
    struct bus_topic_of t;
    zmq_msg_t msg;
    (void)loop;
    (void)fd;

    for (int i = 0; i < BATCH; i++) {
        const msgpack_object *o;
        struct bar b;
        int rc, n = bus_recv(sock, topic, sizeof topic, &msg);
        if (n == -1)
            break;
        if (n < 0) {
            app->bad_bars++;
            continue;
        }
        rc = bus_topic_parse(topic, &t);
        if (t.kind != BUS_K_BAR) {
            zmq_msg_close(&msg);
            continue;               /* heartbeats, pace| probes */
        }
        if (rc != 0) {
            zmq_msg_close(&msg);
            app->bad_bars++;
            log_limited(&app->lim_bar, LL_WARN, "bad topic '%s'; dropped "
                        "(%llu so far)", topic,
                        (unsigned long long)app->bad_bars);
            continue;
        }
        o = mp_body_decode(&app->body, zmq_msg_data(&msg), (size_t)n);
        if (!o || msg_bar_unpack(o, &b, why) != ERR_OK) {
            app->bad_bars++;
            log_limited(&app->lim_bar, LL_WARN, "bad bar on %s: %s; dropped "
                        "(%llu so far)", topic, o ? why : "not msgpack",
                        (unsigned long long)app->bad_bars);
        } else {
            app->bars++;
            app->ops->bar(app->state, &b);
        }
        zmq_msg_close(&msg);
    }
}

/* Subscribes `sock` to `kind` for each of syms[n], or for all of them
 * when n is 0. 0, or -1 with the reason in err. */
static int s_subscribe(void *sock, const char *kind, char *const *syms,
                       int n, char *err)
{
    for (int i = 0; i < n || (n == 0 && i == 0); i++)
        if (bus_subscribe(sock, kind, n ? syms[i] : NULL) != 0) {
            snprintf(err, ERR_LEN, "cannot subscribe to %s|%s: %s", kind,
                     n ? syms[i] : "", zmq_strerror(zmq_errno()));
            return -1;
        }
    return 0;
}

static void s_log_counters(const char *name, const struct sink_stats *st)
{
    char line[1024] = "";

    log_msg(LL_INFO, "%s: received %llu messages (%llu signals, %llu "
            "heartbeats), written %llu, duplicates %llu, bad %llu, failed "
            "%llu, gaps %llu (%llu missed), restarts %llu, out of order "
            "%llu, replays %llu (%llu signals), lost %llu, flat closes "
            "left out %llu",
            name, (unsigned long long)st->received,
            (unsigned long long)st->signals,
            (unsigned long long)st->heartbeats,
            (unsigned long long)st->written,
            (unsigned long long)st->duplicates,
            (unsigned long long)st->bad, (unsigned long long)st->failed,
            (unsigned long long)st->gaps, (unsigned long long)st->missed,
            (unsigned long long)st->restarts, (unsigned long long)st->old,
            (unsigned long long)st->replays,
            (unsigned long long)st->replayed, (unsigned long long)st->lost,
            (unsigned long long)st->flat_closes);
    log_msg(LL_INFO, "counters:%s", counters_line(line, sizeof line,
            sink_counters, sink_ncounters, st));
}

static void s_m_info(metrics_out_t *out, void *arg)
{
    const struct app *app = arg;
    metrics_out_sample(out, app->ops->name, 1);
}

/* --metrics: the pipeline's counters (and the bars', for outputs that
 * take them) on http://HOST:PORT/metrics. 0, or an ERR_* code with a
 * reason in err[ERR_LEN]. */
static int s_metrics_open(struct app *app, loop_t *loop, char *err)
{
    const struct sink_stats *st = sink_stats(app->sink);
    int rc = 0;

    if (!s_flags.metrics)
        return 0;
    app->metrics = metrics_new();
    if (!app->metrics)
        goto nomem;
    rc |= counters_metrics(app->metrics, sink_counters, sink_ncounters, st);
    if (app->ops->bar) {
        rc |= metrics_add_u64(app->metrics, METRICS_COUNTER,
                              "livetrade_sink_bars_total", "Bars handed to "
                              "the output", &app->bars);
        rc |= metrics_add_u64(app->metrics, METRICS_COUNTER,
                              "livetrade_sink_bars_bad_total", "Bars "
                              "dropped as bad input", &app->bad_bars);
    }
    if (app->ops->ind) {
        rc |= metrics_add_u64(app->metrics, METRICS_COUNTER,
                              "livetrade_sink_indicator_messages_total",
                              "Indicator messages handed to the output",
                              &app->inds);
        rc |= metrics_add_u64(app->metrics, METRICS_COUNTER,
                              "livetrade_sink_indicator_bad_total",
                              "Indicator messages dropped as bad input",
                              &app->bad_inds);
    }
    rc |= metrics_add_fn(app->metrics, METRICS_GAUGE, "livetrade_sink_info",
                         "Always 1; the output in its label", "output",
                         s_m_info, app);
    if (rc)
        goto nomem;
    app->http = http_metrics_new(s_flags.metrics, app->metrics, loop, err);
    return app->http ? ERR_OK : ERR_IO;
nomem:
    snprintf(err, ERR_LEN, "out of memory");
    return ERR_NOMEM;
}

int main(int argc, char **argv)
{
    const struct sink_ops *ops = NULL;
    char err[ERR_LEN], info[ERR_LEN], usage[256], statebuf[1200];
    char **syms;
    struct app app;
    void *state = NULL, *sub = NULL, *bars = NULL;
    loop_t *loop = NULL;
    int nsyms, ntab = 0, rc, code = 1;

    memset(&app, 0, sizeof app);
    app.lim_bar = app.lim_ind = (struct log_limit)LOG_LIMIT_INIT;
    mp_body_init(&app.body);
    proc_init(PROG);
    if (argc < 2)
        return proc_usage_error(PROG, "missing output, e.g. console or "
                                "file (see --help)");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        s_help();
        return 0;
    }
    for (int i = 0; s_outputs[i]; i++)
        if (strcmp(argv[1], s_outputs[i]->name) == 0)
            ops = s_outputs[i];
    if (!ops) {
        char names[128] = "";
        for (int i = 0; s_outputs[i]; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names),
                     "%s%s", i ? ", " : "", s_outputs[i]->name);
        if (argv[1][0] == '-')
            snprintf(err, ERR_LEN, "missing output before '%.64s': one of "
                     "%s (see --help)", argv[1], names);
        else
            snprintf(err, ERR_LEN, "unknown output '%.64s': expected one of "
                     "%s (see --help)", argv[1], names);
        return proc_usage_error(PROG, err);
    }

    /* The output's flags, then the common ones, then the shared ones. */
    snprintf(usage, sizeof usage, PROG " %s %s [--sub ENDPOINT[,...]] "
             "[--symbols A,B] [--verbose]", ops->name, ops->usage);
    s_flags = (struct flags){
        .prog = PROG, .usage = usage,
        .shared = FLAG_SYMBOLS | FLAG_VERBOSE | FLAG_METRICS | FLAG_CURVE,
        .symbols_help = "only signals for these symbols (default, or "
                        "'*': all)",
        .symbols_all = 1,
        .verbose_help = "debug logging (one line per signal) on stderr",
    };
    if (ops->opts)
        s_flags.tables[ntab++] = ops->opts;
    s_flags.tables[ntab++] = s_common_opts;
    if (ops->bar)
        s_flags.tables[ntab++] = s_bar_opts;
    if (ops->quiet_flat_closes)
        s_flags.tables[ntab++] = s_flat_opts;
    rc = flags_parse(&s_flags, argc, argv, 2, NULL, 0, NULL, err);
    if (rc == 1) {
        flags_usage(&s_flags);
        return 0;
    }
    if (rc != 0)
        return proc_usage_error(PROG, err);
    if ((rc = curve_flag(PROG, s_flags.curve)) != 0)
        return rc;
    syms = s_flags.syms.v;
    nsyms = s_flags.syms.n;

    rc = ops->open(&state, info, err);
    if (rc == ERR_USAGE)
        return proc_usage_error(PROG, err);
    if (rc != ERR_OK) {
        log_msg(LL_ERROR, "%s: %s", ops->name, err);
        return 1;
    }
    /* A bad endpoint is a bad argument: exit 2 like any other. */
    sub = bus_connect_sub(s_args.sub, BUS_ENGINE, err);
    if (!sub) {
        code = proc_usage_error(PROG, err);
        goto out;
    }
    if (s_subscribe(sub, "sig", syms, nsyms, err) ||
        (ops->ind && s_subscribe(sub, "ind", syms, nsyms, err)) ||
        s_subscribe(sub, "hb", NULL, 0, err)) {
        log_msg(LL_ERROR, "%s", err);
        code = 1;
        goto out;
    }

    if (ops->bar) {
        bars = bus_connect_sub(s_args.bars, BUS_FEEDER, err);
        if (!bars) {
            code = proc_usage_error(PROG, err);
            goto out;
        }
        /* pace|: a demo or csv replay at full speed paces itself to the
         * chart as to an engine, so the chart has every bar. */
        if (s_subscribe(bars, "bar", syms, nsyms, err) ||
            s_subscribe(bars, BUS_PACE_KIND, NULL, 0, err)) {
            log_msg(LL_ERROR, "%s", err);
            code = 1;
            goto out;
        }
    }

    app.ops = ops;
    app.state = state;
    app.sink = sink_new(ops, state, nsyms == 0);
    if (app.sink && sink_since(app.sink, s_args.since, err) != ERR_OK) {
        code = proc_usage_error(PROG, err);
        goto out;
    }
    if (app.sink)
        sink_show_flat_closes(app.sink, s_args.flat_closes);
    loop = loop_new();
    if (!app.sink || !loop || loop_add_socket(loop, sub, s_on_sub, &app) ||
        (bars && loop_add_socket(loop, bars, s_on_bars, &app))) {
        log_msg(LL_ERROR, "out of memory");
        goto out;
    }
    if (ops->attach && (rc = ops->attach(state, loop, err)) != ERR_OK) {
        log_msg(LL_ERROR, "%s: %s", ops->name, err);
        goto out;
    }
    rc = sink_resume(app.sink, s_state_file(ops, state, statebuf,
                                            sizeof statebuf),
                     s_args.replay, syms, nsyms, err);
    if (rc == ERR_USAGE) {
        code = proc_usage_error(PROG, err);
        goto out;
    }
    if (rc == ERR_OK)
        rc = sink_attach(app.sink, loop, err);
    if (rc == ERR_USAGE) {
        code = proc_usage_error(PROG, err);
        goto out;
    }
    if (rc != ERR_OK || loop_add_timer(loop, SAVE_MS, s_on_save, &app) < 0) {
        log_msg(LL_ERROR, "%s", rc ? err : "event loop is full");
        goto out;
    }
    if (s_metrics_open(&app, loop, err) != ERR_OK) {
        log_msg(LL_ERROR, "%s", err);
        goto out;
    }
    log_msg(LL_INFO, "%s: signals from %s (%s%s), %s", ops->name,
            s_args.sub, nsyms ? "symbols " : "all symbols",
            nsyms ? s_flags.symbols : "", info);

    sink_catch_up(app.sink);
    rc = loop_run(loop);
    /* Stopped by SIGINT/SIGTERM (or a poll error): write what is already
     * queued, within the subscriber's high-water mark. */
    if (sink_failed(app.sink))
        app.fatal = 1;
    if (!app.fatal)
        s_drain(sub, &app, BUS_HWM);
    code = (rc != 0 || app.fatal) ? 1 : 0;
    sink_save(app.sink);
    s_log_counters(ops->name, sink_stats(app.sink));

out:
    http_metrics_destroy(&app.http);
    metrics_destroy(&app.metrics);
    sink_destroy(&app.sink);
    ops->close(&state);
    loop_destroy(&loop);
    bus_close(&sub);
    bus_close(&bars);
    mp_body_free(&app.body);
    bus_term();
    flags_free(&s_flags);
    return code;
}
