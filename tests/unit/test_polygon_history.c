/* test_polygon_history.c -- the polygon source's history queue without a
 * network: the progress line and its estimate, a cache that reaches the
 * newest bar served without a request, live bars held (bounded) until
 * the history, then published after it, and a failed history going live
 * without one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../feeder/polygon_int.h"
#include "err.h"
#include "history.h"
#include "util.h"

#define MAXOUT 256

/* The bars the source handed to the feeder. */
static struct {
    int sym[MAXOUT];
    int64_t t[MAXOUT];
    int live[MAXOUT];
    int n;
} s_out;

static int s_emit(void *arg, int i, const struct bar *b, int live)
{
    (void)arg;
    if (s_out.n < MAXOUT) {
        s_out.sym[s_out.n] = i;
        s_out.t[s_out.n] = b->t;
        s_out.live[s_out.n] = live;
        s_out.n++;
    }
    return 0;
}

static void s_bar(struct bar *b, int64_t t)
{
    memset(b, 0, sizeof *b);
    snprintf(b->src, sizeof b->src, "polygon");
    snprintf(b->sym, sizeof b->sym, "AAPL");
    b->t = t;
    b->tf = 60;
    b->o = b->h = b->l = b->c = 100;
    b->vol = 10;
    b->n = -1;
}

/* A source of nsym symbols wanting `hist` bars each, without workers. */
static struct polygon_src *s_src(int nsym, int64_t hist)
{
    struct polygon_src *ps = calloc(1, sizeof *ps);

    assert_non_null(ps);
    ps->sym = calloc((size_t)nsym, sizeof *ps->sym);
    assert_non_null(ps->sym);
    ps->nsym = nsym;
    ps->tf_ms = 60000;
    ps->mult = 1;
    ps->timespan = "minute";
    ps->hist_n = hist;
    ps->hist_log_ms = HIST_LOG_MS;
    ps->emit = s_emit;
    for (int i = 0; i < nsym; i++) {
        snprintf(ps->sym[i].name, sizeof ps->sym[i].name, "S%d", i);
        ps->sym[i].last = -1;
        ps->sym[i].pending = 1;
        ps->sym[i].cut_t = -1;
    }
    memset(&s_out, 0, sizeof s_out);
    return ps;
}

static void s_free(struct polygon_src *ps)
{
    for (int i = 0; i < ps->nsym; i++) {
        free(ps->sym[i].cache);
        free(ps->sym[i].wait);
        free(ps->sym[i].held);
    }
    free(ps->sym);
    free(ps->hq);
    free(ps);
}

/* Symbol i's cache: n bars, the last at `last`. */
static void s_cache(struct polygon_src *ps, int i, size_t n, int64_t last)
{
    struct psym *s = &ps->sym[i];

    s->cache = calloc(n, sizeof *s->cache);
    assert_non_null(s->cache);
    for (size_t j = 0; j < n; j++)
        s_bar(&s->cache[j], last - (int64_t)(n - 1 - j) * 60000);
    s->ncache = s->capcache = n;
}

static void test_progress(void **state)
{
    char line[160];
    (void)state;

    assert_string_equal(history_progress(line, sizeof line, 3200,
                                              11000, 40000),
                        "history 3,200/11,000 symbols, 29%, about 40 s "
                        "left");
    assert_string_equal(history_progress(line, sizeof line, 5, 5, 0),
                        "history 5/5 symbols, 100%, done");
    assert_string_equal(history_progress(line, sizeof line, 0,
                                              1234567, -1),
                        "history 0/1,234,567 symbols, 0%, time left "
                        "unknown");
    assert_string_equal(history_progress(line, sizeof line, 999,
                                              1000, 300000),
                        "history 999/1,000 symbols, 99%, about 5 min left");
    assert_string_equal(history_progress(line, sizeof line, 1, 2, 1),
                        "history 1/2 symbols, 50%, about 1 s left");
    /* the estimate: the pace so far over what is left */
    assert_int_equal(polygon_hist_eta_ms(0, 10, 1000), -1);
    assert_int_equal(polygon_hist_eta_ms(10, 0, 5000), 0);
    assert_int_equal(polygon_hist_eta_ms(100, 300, 2000), 6000);
}

static void test_cache_first(void **state)
{
    struct polygon_src *ps = s_src(2, 3);
    int64_t to = wall_ms() - 60000, newest = to - to % 60000;
    (void)state;

    s_cache(ps, 0, 5, newest + 5 * 60000);  /* reaches the newest bar */
    s_cache(ps, 1, 5, newest - 10 * 60000); /* ten minutes short */
    polygon_hist_want(ps, 0);
    assert_int_equal(ps->sym[0].hist, HIST_DONE);
    assert_int_equal(ps->hist_cached, 1);
    assert_int_equal(s_out.n, 3);           /* the last three, history */
    for (int k = 0; k < 3; k++) {
        assert_int_equal(s_out.sym[k], 0);
        assert_int_equal(s_out.live[k], 0);
        assert_int_equal(s_out.t[k], newest + (3 + k) * 60000);
    }
    polygon_hist_want(ps, 1);               /* no worker: stays queued */
    assert_int_equal(ps->sym[1].hist, HIST_QUEUED);
    assert_int_equal(ps->hq_n, 1);
    assert_int_equal(s_out.n, 3);
    polygon_hist_want(ps, 0);               /* once per symbol */
    polygon_hist_want(ps, 1);
    assert_int_equal(ps->hq_n, 1);
    assert_int_equal(ps->hist_total, 2);
    assert_int_equal(ps->hist_done, 1);
    s_free(ps);
}

static void test_held_until_history(void **state)
{
    struct polygon_src *ps = s_src(2, 2);
    struct polygon_answer a;
    struct bar b, hist[4];
    int64_t t0 = 1700000000000LL;
    (void)state;

    ps->sym[0].hist = HIST_ASKING;
    ps->sym[0].hist_gen = 7;
    ps->sym[1].hist = HIST_DONE;
    ps->hist_total = 2;
    ps->hist_done = 1;
    s_bar(&b, t0 + 10 * 60000);
    assert_int_equal(polygon_hist_hold(ps, 1, &b), 0);  /* done: goes */
    for (int k = 0; k < HIST_WAIT_MAX + 6; k++) {
        s_bar(&b, t0 + (4 + k) * 60000);
        assert_int_equal(polygon_hist_hold(ps, 0, &b), 1);
    }
    /* bounded: the newest kept, the oldest dropped */
    assert_int_equal(ps->sym[0].nwait, HIST_WAIT_MAX);
    assert_int_equal(ps->hist_dropped, 6);
    assert_int_equal(ps->sym[0].wait[0].t, t0 + 10 * 60000);
    assert_int_equal(s_out.n, 0);

    /* A stale answer is ignored; the right one publishes the history,
     * then the held bars, live, in order. The gap between them (the
     * dropped bars) is asked of REST: no worker here, so nothing more. */
    for (int k = 0; k < 4; k++)
        s_bar(&hist[k], t0 + k * 60000);
    memset(&a, 0, sizeof a);
    a.kind = POLYGON_ASK_HISTORY;
    a.tag = 0;
    a.gen = 6;
    a.bars = hist;
    a.n = 4;
    polygon_hist_answer(ps, &a);
    assert_int_equal(ps->sym[0].hist, HIST_ASKING);
    a.gen = 7;
    polygon_hist_answer(ps, &a);
    assert_int_equal(ps->sym[0].hist, HIST_DONE);
    assert_int_equal(ps->hist_done, 2);
    assert_int_equal(s_out.n, 2);
    assert_int_equal(s_out.t[0], t0 + 2 * 60000);
    assert_int_equal(s_out.t[1], t0 + 3 * 60000);
    assert_int_equal(s_out.live[1], 0);
    assert_int_equal(ps->sym[0].nwait, 0);
    /* the first held bar opened a gap from the history's last bar */
    assert_int_equal(ps->sym[0].gap_from, t0 + 4 * 60000);
    assert_int_equal(ps->sym[0].gap_to, t0 + 10 * 60000);
    assert_int_equal(ps->sym[0].nheld, HIST_WAIT_MAX);
    s_free(ps);
}

static void test_failed_goes_live(void **state)
{
    struct polygon_src *ps = s_src(1, 5);
    struct polygon_answer a;
    struct bar b;
    int64_t t0 = 1700000000000LL;
    (void)state;

    ps->sym[0].hist = HIST_ASKING;
    ps->hist_total = 1;
    for (int k = 0; k < 3; k++) {
        s_bar(&b, t0 + k * 60000);
        assert_int_equal(polygon_hist_hold(ps, 0, &b), 1);
    }
    polygon_hist_resumed(ps);               /* a reconnect: dropped */
    assert_int_equal(ps->sym[0].nwait, 0);
    assert_int_equal(ps->hist_dropped, 3);
    s_bar(&b, t0 + 5 * 60000);
    assert_int_equal(polygon_hist_hold(ps, 0, &b), 1);
    memset(&a, 0, sizeof a);
    a.kind = POLYGON_ASK_HISTORY;
    a.rc = ERR_INVALID;
    snprintf(a.err, sizeof a.err, "HTTP 404 from /v2/aggs/ticker/S0/...");
    polygon_hist_answer(ps, &a);
    assert_int_equal(ps->sym[0].hist, HIST_FAILED);
    assert_int_equal(ps->hist_failed, 1);
    assert_int_equal(ps->hist_done, 1);
    assert_int_equal(s_out.n, 1);           /* live, without history */
    assert_int_equal(s_out.t[0], t0 + 5 * 60000);
    assert_int_equal(s_out.live[0], 1);
    assert_int_equal(polygon_hist_hold(ps, 0, &b), 0);
    polygon_hist_want(ps, 0);               /* not asked again */
    assert_int_equal(ps->hist_total, 1);
    s_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_cache_first),
        cmocka_unit_test(test_held_until_history),
        cmocka_unit_test(test_failed_goes_live),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
