/* test_lwslog.c -- common/lwslog: libwebsockets' lines as livetrade log
 * lines (levels, trailing newlines). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libwebsockets.h>

#include "log.h"
#include "lwslog.h"

/* What lwslog_emit(level, line) writes to stderr, in out[n]. */
static void s_emit(int level, const char *line, char *out, size_t n)
{
    FILE *f = tmpfile();
    int saved = dup(2);
    size_t got;

    assert_non_null(f);
    assert_true(saved >= 0);
    fflush(stderr);
    assert_true(dup2(fileno(f), 2) == 2);
    lwslog_emit(level, line);
    fflush(stderr);
    assert_true(dup2(saved, 2) == 2);
    close(saved);
    rewind(f);
    got = fread(out, 1, n - 1, f);
    out[got] = '\0';
    fclose(f);
}

static void test_emit(void **state)
{
    char out[512];
    (void)state;

    log_init("test");
    log_level = LL_INFO;
    s_emit(LLL_ERR, "bind failed\r\n", out, sizeof out);
    assert_non_null(strstr(out, " test["));
    assert_non_null(strstr(out, "] WARN  lws: bind failed\n"));
    assert_null(strstr(out, "\r"));
    /* Warnings only when debug lines are logged. */
    s_emit(LLL_WARN, "peer reset\n", out, sizeof out);
    assert_string_equal(out, "");
    log_level = LL_DEBUG;
    s_emit(LLL_WARN, "peer reset\n\n", out, sizeof out);
    assert_non_null(strstr(out, "] DEBUG lws: peer reset\n"));
    s_emit(LLL_ERR, "", out, sizeof out);
    assert_non_null(strstr(out, "] WARN  lws: \n"));
    lwslog_init();                  /* installs it, and again harmlessly */
    lwslog_init();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
