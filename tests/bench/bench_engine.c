/* bench_engine.c -- the engine's cost per bar must not grow with the
 * length of a symbol's history.
 *
 * For each strategy: a runner (engine/runner.h, the code the live engine
 * and the backtest share) takes H bars of history with signals suppressed,
 * then the next TIMED bars are timed with signals on. Done for a short and
 * a long history (fresh runner each time, best of REPS), and the two costs
 * per bar are compared. The timed bars are also timed in blocks of BLOCK:
 * the median block gives the steady cost, the slowest one shows a stall
 * (such as the dataset's arrays being reallocated on growth) that the mean
 * spreads over the window. Then sma_cross once more with MANY_SYMBOLS
 * runners fed in rotation, as an engine with many symbols runs them.
 * Prints figures only; exits 1 only if something is broken (a strategy
 * fails to load or errors, or no signal is made).
 *
 * Run from the repository root (tests/bench/run.sh does); strategies are
 * read from strategies/. With BENCH_BRIEF set (make test), one
 * rep over a long history of BRIEF_HISTORY bars: the same figures, less
 * steady. A strategy using EMA is written to a temporary
 * directory at run time. `bench_engine --core` measures the engine core
 * alone (decode, sma_cross, signal encode), for a profiler. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "mp.h"
#include "runner.h"

#define SHORT_HISTORY 1000
#define LONG_HISTORY 1000000
#define BRIEF_HISTORY 100000        /* the long history, brief runs */
#define TIMED 100000
#define REPS 3                      /* 1 in brief runs */
#define MANY_SYMBOLS 1000
#define MANY_HISTORY 100            /* bars per symbol before timing */
#define BLOCK 1000                  /* timed bars are also timed in blocks */
#define NBLOCKS (TIMED / BLOCK)
#define CORE_BARS 200000            /* bars through the engine core */
#define CORE_TARGET 3e6             /* bars/s the engine core should do */
#define TF 60                       /* seconds */
#define T0 1700000000000LL          /* epoch ms of the first bar */

static const char s_ema_lua[] =
    "-- EMA crossover (written by bench_engine).\n"
    "local EmaCross = Strategy { n1 = 12, n2 = 26 }\n"
    "\n"
    "function EmaCross:init()\n"
    "  local close = self.data.Close\n"
    "  self.fast = self:I(EMA, close, self.n1)\n"
    "  self.slow = self:I(EMA, close, self.n2)\n"
    "end\n"
    "\n"
    "function EmaCross:next()\n"
    "  if crossover(self.fast, self.slow) then\n"
    "    self:buy()\n"
    "  elseif crossover(self.slow, self.fast) then\n"
    "    self:sell()\n"
    "  end\n"
    "end\n"
    "\n"
    "return EmaCross\n";

/* {==================== bars ============================== */

struct walk {
    uint64_t s;                     /* xorshift64* state */
    double price;                   /* last close */
    int64_t k;                      /* bars made */
};

static void s_walk_init(struct walk *w, uint64_t seed)
{
    w->s = seed ? seed : 1;
    w->price = 100.0;
    w->k = 0;
}

static uint64_t s_rand(struct walk *w)
{
    w->s ^= w->s >> 12;
    w->s ^= w->s << 25;
    w->s ^= w->s >> 27;
    return w->s * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, 1). */
static double s_unif(struct walk *w)
{
    return (double)(s_rand(w) >> 11) * 0x1.0p-53;
}

/* The next bar: open at the last close, a small multiplicative step
 * (kept inside [1, 10000] by reflection), wicks around open and close. */
static void s_walk_bar(struct walk *w, struct bar *b)
{
    double o = w->price, step = (s_unif(w) - 0.5) * 0.004;
    double c = o * exp(step);

    if (c < 1.0 || c > 10000.0)
        c = o * exp(-step);
    memset(b, 0, sizeof *b);
    snprintf(b->src, sizeof b->src, "bench");
    snprintf(b->sym, sizeof b->sym, "BENCH");
    b->t = T0 + w->k * TF * 1000;
    b->tf = TF;
    b->o = o;
    b->c = c;
    b->h = fmax(o, c) * (1.0 + s_unif(w) * 0.001);
    b->l = fmin(o, c) * (1.0 - s_unif(w) * 0.001);
    b->vol = 1000.0 + floor(s_unif(w) * 9000.0);
    b->vw = NAN;
    b->n = -1;
    b->seq = (uint64_t)w->k + 1;
    b->pub = 1;
    w->price = c;
    w->k++;
}

/* }========================================================== */

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void s_count(void *arg, struct signal *s)
{
    (void)s;
    (*(uint64_t *)arg)++;
}

static int s_cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct result {
    double warm_ns;                 /* per history bar (signals off) */
    double live_ns;                 /* per timed bar (signals on) */
    double median_ns;               /* per bar in the median block */
    double max_block_ms;            /* the slowest block of BLOCK bars */
    uint64_t signals;               /* in the timed bars */
};

/* One measurement: `history` bars, then TIMED timed bars. 0, or -1 with
 * the reason printed. */
static int s_measure(const char *path, int64_t history, uint64_t seed,
                     struct result *res)
{
    struct runner r;
    struct walk w;
    struct bar b;
    char err[ERR_LEN] = "";
    uint64_t signals = 0;
    double t0, t1, t2, tb, block[NBLOCKS];
    int rc;

    rc = runner_init(&r, path, "BENCH", NULL, NULL, err);
    if (rc != ERR_OK) {
        fprintf(stderr, "bench_engine: %s: %s (%s)\n", path, err,
                err_str(rc));
        return -1;
    }
    s_walk_init(&w, seed);
    t0 = s_now();
    for (int64_t i = 0; i < history; i++) {
        s_walk_bar(&w, &b);
        rc = runner_feed(&r, &b, NULL, NULL);
        if (rc < 0)
            goto fail;
    }
    t1 = s_now();
    tb = t1;
    for (int k = 0; k < NBLOCKS; k++) {
        for (int i = 0; i < BLOCK; i++) {
            s_walk_bar(&w, &b);
            rc = runner_feed(&r, &b, s_count, &signals);
            if (rc < 0)
                goto fail;
        }
        t2 = s_now();
        block[k] = t2 - tb;
        tb = t2;
    }
    t2 = tb;
    qsort(block, NBLOCKS, sizeof block[0], s_cmp_dbl);
    res->warm_ns = history ? (t1 - t0) * 1e9 / (double)history : 0;
    res->live_ns = (t2 - t1) * 1e9 / (double)TIMED;
    res->median_ns = block[NBLOCKS / 2] * 1e9 / BLOCK;
    res->max_block_ms = block[NBLOCKS - 1] * 1e3;
    res->signals = signals;
    if (signals != r.signals) {
        fprintf(stderr, "bench_engine: %s: %llu signals emitted but the "
                "runner counted %llu\n", path, (unsigned long long)signals,
                (unsigned long long)r.signals);
        runner_free(&r);
        return -1;
    }
    runner_free(&r);
    return 0;
fail:
    fprintf(stderr, "bench_engine: %s: runner_feed failed at bar %llu: "
            "%s%s%s\n", path, (unsigned long long)w.k, err_str(rc),
            r.error[0] ? ": " : "", r.error);
    runner_free(&r);
    return -1;
}

static int s_reps = REPS;
static int64_t s_long = LONG_HISTORY;

/* Best of s_reps (the least disturbed by the rest of the machine). */
static int s_best(const char *path, int64_t history, struct result *best)
{
    double live[REPS], warm[REPS], med[REPS], max[REPS];
    struct result r;

    for (int k = 0; k < s_reps; k++) {
        if (s_measure(path, history, 42, &r))
            return -1;
        live[k] = r.live_ns;
        warm[k] = r.warm_ns;
        med[k] = r.median_ns;
        max[k] = r.max_block_ms;
        best->signals = r.signals;  /* same bars each time: same count */
    }
    qsort(live, (size_t)s_reps, sizeof live[0], s_cmp_dbl);
    qsort(warm, (size_t)s_reps, sizeof warm[0], s_cmp_dbl);
    qsort(med, (size_t)s_reps, sizeof med[0], s_cmp_dbl);
    qsort(max, (size_t)s_reps, sizeof max[0], s_cmp_dbl);
    best->live_ns = live[0];
    best->warm_ns = warm[0];
    best->median_ns = med[0];
    best->max_block_ms = max[0];
    return 0;
}

static int s_strategy(const char *label, const char *path, double *one_ns)
{
    struct result s, l;
    const char *note = "";
    double ratio;

    if (s_best(path, SHORT_HISTORY, &s) || s_best(path, s_long, &l))
        return -1;
    ratio = l.live_ns / s.live_ns;
    if (one_ns)
        *one_ns = s.live_ns;
    if (l.median_ns / s.median_ns > 1.5)
        note = "   (grows with history)";
    else if (ratio > 1.5)
        note = "   (steady cost flat; the mean includes a stall)";
    printf("engine per-bar cost (%s):  history %d: %.0f ns/bar   "
           "history %lld: %.0f ns/bar   ratio %.2f%s\n", label, SHORT_HISTORY,
           s.live_ns, (long long)s_long, l.live_ns, ratio, note);
    printf("    median %d-bar block: %.0f / %.0f ns/bar (ratio %.2f); "
           "slowest block: %.2f / %.2f ms; signals: %llu / %llu; "
           "warm-up (signals off): %.0f ns/bar\n", BLOCK, s.median_ns,
           l.median_ns, l.median_ns / s.median_ns, s.max_block_ms,
           l.max_block_ms, (unsigned long long)s.signals,
           (unsigned long long)l.signals, l.warm_ns);
    fflush(stdout);
    if (s.signals == 0 || l.signals == 0) {
        fprintf(stderr, "bench_engine: %s made no signal in %d bars\n", path,
                TIMED);
        return -1;
    }
    return 0;
}

/* Many symbols: one runner per symbol, bars in rotation (as the engine
 * sees them when every symbol ticks), so each bar touches another Lua
 * state and dataset. Same number of timed bars as above. */
static int s_many(const char *label, const char *path, double one_ns)
{
    struct runner *r = calloc(MANY_SYMBOLS, sizeof *r);
    struct walk *w = calloc(MANY_SYMBOLS, sizeof *w);
    char err[ERR_LEN] = "";
    uint64_t signals = 0;
    double t0, t1, t2, t_load;
    struct bar b;
    int n = 0, rc = 0, status = -1;

    if (!r || !w)
        goto out;
    t0 = s_now();
    for (; n < MANY_SYMBOLS; n++) {
        rc = runner_init(&r[n], path, "BENCH", NULL, NULL, err);
        if (rc != ERR_OK) {
            fprintf(stderr, "bench_engine: %s: %s (%s)\n", path, err,
                    err_str(rc));
            goto out;
        }
        s_walk_init(&w[n], 1000 + (uint64_t)n);
    }
    t_load = s_now() - t0;
    for (int64_t i = 0; i < MANY_HISTORY; i++)
        for (int k = 0; k < MANY_SYMBOLS; k++) {
            s_walk_bar(&w[k], &b);
            if ((rc = runner_feed(&r[k], &b, NULL, NULL)) < 0)
                goto fail;
        }
    t1 = s_now();
    for (int64_t i = 0; i < TIMED / MANY_SYMBOLS; i++)
        for (int k = 0; k < MANY_SYMBOLS; k++) {
            s_walk_bar(&w[k], &b);
            if ((rc = runner_feed(&r[k], &b, s_count, &signals)) < 0)
                goto fail;
        }
    t2 = s_now();
    {
        double ns = (t2 - t1) * 1e9 / (double)TIMED;
        printf("engine per-bar cost (%s), %d symbols in rotation: %.0f "
               "ns/bar (one symbol: %.0f, ratio %.2f); %llu signals; "
               "loading the strategy %d times: %.2f ms each\n", label,
               MANY_SYMBOLS, ns, one_ns, ns / one_ns,
               (unsigned long long)signals, MANY_SYMBOLS,
               t_load * 1e3 / MANY_SYMBOLS);
        fflush(stdout);
    }
    status = signals ? 0 : -1;
    if (!signals)
        fprintf(stderr, "bench_engine: %s made no signal\n", path);
    goto out;
fail:
    fprintf(stderr, "bench_engine: %s: runner_feed failed: %s\n", path,
            err_str(rc));
out:
    for (int k = 0; k < n; k++)
        runner_free(&r[k]);
    free(r);
    free(w);
    return status;
}

/* {==================== the engine core ==================== */

/* Each signal packed for the bus, as the engine does (its body only). */
struct core_out {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint64_t signals;
};

static void s_core_emit(void *arg, struct signal *s)
{
    struct core_out *o = arg;

    snprintf(s->eng, sizeof s->eng, "bench");
    s->seq = ++o->signals;
    s->pub = 1;
    s->ts = 0;
    msg_signal_pack(&o->pk, s);
    msgpack_sbuffer_clear(&o->sb);
}

/* The engine's work on one bar without the bus: the body decoded and
 * checked (mp_body_decode, msg_bar_unpack), the strategy run
 * (runner_feed) and each signal packed (msg_signal_pack). The bars are
 * packed beforehand, one after the other in one buffer. Best of s_reps
 * runs; ns per bar in *ns. */
static int s_core(const char *path, double *ns)
{
    msgpack_sbuffer in;
    msgpack_packer pk;
    size_t *off = malloc((CORE_BARS + 1) * sizeof *off);
    char why[ERR_LEN];
    int status = -1;

    *ns = 0;
    msgpack_sbuffer_init(&in);
    msgpack_packer_init(&pk, &in, msgpack_sbuffer_write);
    if (!off)
        goto out;
    for (int rep = 0; rep < s_reps; rep++) {
        struct runner r;
        struct walk w;
        struct bar b;
        struct mp_body mb;
        struct core_out o;
        double t0, t1;
        int rc;

        msgpack_sbuffer_clear(&in);
        s_walk_init(&w, 42);
        for (int i = 0; i <= CORE_BARS; i++) {
            off[i] = in.size;
            if (i < CORE_BARS) {
                s_walk_bar(&w, &b);
                msg_bar_pack(&pk, &b);
            }
        }
        rc = runner_init(&r, path, "BENCH", NULL, NULL, why);
        if (rc != ERR_OK) {
            fprintf(stderr, "bench_engine: %s: %s\n", path, why);
            goto out;
        }
        mp_body_init(&mb);
        memset(&o, 0, sizeof o);
        msgpack_sbuffer_init(&o.sb);
        msgpack_packer_init(&o.pk, &o.sb, msgpack_sbuffer_write);
        /* The first SHORT_HISTORY bars warm the strategy up, untimed. */
        t0 = 0;
        for (int i = 0; i < CORE_BARS; i++) {
            const msgpack_object *ob;
            const char *body = in.data + off[i];
            size_t len = off[i + 1] - off[i];
            if (i == SHORT_HISTORY)
                t0 = s_now();
            /* As the engine: the fast path, else the general one. */
            if (msg_bar_decode_fast(body, len, &b) != 0 &&
                (!(ob = mp_body_decode(&mb, body, len)) ||
                 msg_bar_unpack(ob, &b, why) != ERR_OK))
                rc = -1;
            if (rc == 0 && runner_feed(&r, &b, i < SHORT_HISTORY ? NULL :
                                       s_core_emit, &o) < 0)
                rc = -1;
            if (rc < 0) {
                fprintf(stderr, "bench_engine: core: bar %d refused\n", i);
                rc = -1;
                break;
            }
        }
        t1 = s_now();
        mp_body_free(&mb);
        msgpack_sbuffer_destroy(&o.sb);
        runner_free(&r);
        if (rc < 0 || !o.signals)
            goto out;
        t1 = (t1 - t0) * 1e9 / (CORE_BARS - SHORT_HISTORY);
        if (*ns == 0 || t1 < *ns)
            *ns = t1;
    }
    printf("engine core (decode, sma_cross, signal encode), one symbol, "
           "one core: %.0f ns/bar = %.2f M bars/s   (target >= %.0f M "
           "bars/s: %.0f%% of it)\n", *ns, 1e3 / *ns, CORE_TARGET / 1e6,
           100.0 * (1e9 / *ns) / CORE_TARGET);
    fflush(stdout);
    status = 0;
out:
    msgpack_sbuffer_destroy(&in);
    free(off);
    return status;
}

/* }========================================================== */

/* The repository's strategies/ directory: ./strategies when run from the
 * root, else found from the binary's place (build/rel/bench/...). */
static void s_strategy_dir(const char *argv0, char *out, size_t n)
{
    const char *slash = strrchr(argv0, '/');

    if (access("strategies/sma_cross.lua", R_OK) == 0 || !slash) {
        snprintf(out, n, "strategies");
        return;
    }
    snprintf(out, n, "%.*s/../../../strategies", (int)(slash - argv0), argv0);
}

int main(int argc, char **argv)
{
    char dir[1024], sma[1100], rnd[1100], tmpdir[] = "/tmp/lt-bench-XXXXXX";
    char ema[64];
    double one = 0, core_ns;
    FILE *f;
    int status = 0;

    if (getenv("BENCH_BRIEF")) {
        s_reps = 1;
        s_long = BRIEF_HISTORY;
    }
    s_strategy_dir(argv[0], dir, sizeof dir);
    snprintf(sma, sizeof sma, "%s/sma_cross.lua", dir);
    snprintf(rnd, sizeof rnd, "%s/random.lua", dir);
    if (argc == 2 && strcmp(argv[1], "--core") == 0)
        return s_core(sma, &core_ns) ? 1 : 0;   /* for a profiler */

    if (s_core(sma, &core_ns) || s_strategy("sma_cross", sma, &one) ||
        s_many("sma_cross", sma, one))
        status = 1;

    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "bench_engine: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(ema, sizeof ema, "%s/ema_cross.lua", tmpdir);
    f = fopen(ema, "w");
    if (f && fputs(s_ema_lua, f) == EOF) {
        fclose(f);
        f = NULL;
    }
    if (!f || fclose(f) != 0) {
        fprintf(stderr, "bench_engine: cannot write %s\n", ema);
        status = 1;
    } else if (s_strategy("ema_cross", ema, NULL)) {
        status = 1;
    }
    unlink(ema);
    rmdir(tmpdir);

    if (access(rnd, R_OK) == 0 && s_strategy("random", rnd, NULL))
        status = 1;
    return status;
}
