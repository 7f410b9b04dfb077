/* The runner's check for close() while flat: a strategy ported from
 * Python with `if not self.position` closes on every bar; it is warned
 * about once, when such calls are at least RUNNER_FLAT_MIN and on most of
 * the last RUNNER_FLAT_WINDOW bars, never for a strategy that closes while
 * flat now and then. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "err.h"
#include "runner.h"

static char s_path[64];

/* Writes a strategy to a temporary file; returns its path. */
static const char *write_strategy(const char *src)
{
    int fd;
    snprintf(s_path, sizeof s_path, "/tmp/lt_runner_XXXXXX.lua");
    fd = mkstemps(s_path, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, src, strlen(src)), (ssize_t)strlen(src));
    close(fd);
    return s_path;
}

static struct bar mkbar(int i)
{
    struct bar b;
    memset(&b, 0, sizeof b);
    snprintf(b.sym, sizeof b.sym, "TEST");
    b.t = 1700000000000LL + i * 60000LL;
    b.tf = 60;
    b.o = b.h = b.l = b.c = 100 + 5 * sin(i / 4.0);
    b.vol = 100;
    return b;
}

static void ignore(void *arg, struct signal *s)
{
    (void)arg; (void)s;
}

/* Runs `src` over n bars (signals on from bar `live`); the runner stays
 * for the caller to look at and free. */
static void run(struct runner *r, const char *src, int n, int live)
{
    char err[ERR_LEN];
    const char *path = write_strategy(src);

    assert_int_equal(runner_init(r, path, "TEST", NULL, NULL, err), 0);
    unlink(path);
    for (int i = 0; i < n; i++) {
        struct bar b = mkbar(i);
        assert_true(runner_feed(r, &b, i >= live ? ignore : NULL,
                                NULL) >= 0);
    }
}

static const char *HABIT =
    "local S = Strategy {}\n"
    "function S:next()\n"
    "  if not self.position then self:buy() else self.position:close() "
    "end\n"
    "end\n"
    "return S\n";

static void test_habit_warned_once(void **state)
{
    struct runner r;
    (void)state;

    run(&r, HABIT, 300, 0);
    assert_true(r.flat_warned);
    assert_true(r.flat_closes >= 290);  /* next() runs from bar 2 */
    assert_int_equal(r.flat_in_win, RUNNER_FLAT_WINDOW);
    runner_free(&r);
    /* In warm-up too (signals off): the calls are the strategy's. */
    run(&r, HABIT, 60, 1000);
    assert_true(r.flat_warned);
    runner_free(&r);
    /* Not before RUNNER_FLAT_MIN such calls. */
    run(&r, HABIT, RUNNER_FLAT_MIN - 1, 0);
    assert_false(r.flat_warned);
    runner_free(&r);
}

/* A close on every third bar while flat: a third of the window, never
 * most of it, however many in all. */
static void test_some_flat_closes_not_warned(void **state)
{
    struct runner r;
    (void)state;

    run(&r, "local S = Strategy {}\n"
            "function S:next()\n"
            "  if #self.data % 3 == 0 then self.position:close() end\n"
            "end\n"
            "return S\n", 600, 0);
    assert_true(r.flat_closes >= 190);
    assert_false(r.flat_warned);
    runner_free(&r);
}

/* Closes of an open position are not closes while flat. */
static void test_closing_a_position_not_counted(void **state)
{
    struct runner r;
    (void)state;

    run(&r, "local S = Strategy {}\n"
            "function S:next()\n"
            "  if self.position.size == 0 then self:buy()\n"
            "  else self.position:close() end\n"
            "end\n"
            "return S\n", 300, 0);
    assert_int_equal(r.flat_closes, 0);
    assert_false(r.flat_warned);
    runner_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_habit_warned_once),
        cmocka_unit_test(test_some_flat_closes_not_warned),
        cmocka_unit_test(test_closing_a_position_not_counted),
    };
    return cmocka_run_group_tests_name("runner", tests, NULL, NULL);
}
