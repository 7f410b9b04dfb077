/* test_flags.c -- common/flags: the one rule of --symbols (spaces, a
 * repeat, a bad name, none, too many), the shared flags beside a
 * program's own, the default and the setting of --symbols, a setter's
 * error naming its flag, and --help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "flags.h"
#include "log.h"

static void test_symbols_rule(void **state)
{
    struct flags_symbols s = { 0, NULL, NULL, 0 };
    char err[ERR_LEN], *many;
    size_t off = 0;
    (void)state;

    assert_int_equal(flags_symbols_split(&s, " AAPL, MSFT ,BRK.B", "--x",
                                         err), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.v[0], "AAPL");
    assert_string_equal(s.v[1], "MSFT");
    assert_string_equal(s.v[2], "BRK.B");
    /* A repeat is refused, naming the symbol; s keeps what it held. */
    assert_int_equal(flags_symbols_split(&s, "AAPL,MSFT,AAPL", "--symbols",
                                         err), ERR_USAGE);
    assert_string_equal(err, "--symbols: AAPL is listed twice (give each "
                        "symbol once)");
    assert_int_equal(s.n, 3);
    assert_int_equal(flags_symbols_split(&s, "A B", "TRADING_SYMBOLS",
                                         err), ERR_USAGE);
    assert_non_null(strstr(err, "TRADING_SYMBOLS: invalid symbol 'A B'"));
    assert_int_equal(flags_symbols_split(&s, " , ", "--symbols", err),
                     ERR_USAGE);
    assert_string_equal(err, "--symbols: no symbol given");
    /* FLAGS_SYMBOLS_MAX distinct names pass, one more does not. */
    many = malloc((FLAGS_SYMBOLS_MAX + 1) * 9);
    assert_non_null(many);
    for (int i = 0; i <= FLAGS_SYMBOLS_MAX; i++)
        off += (size_t)snprintf(many + off, 9, "%sS%06d", i ? "," : "", i);
    assert_int_equal(flags_symbols_split(&s, many, "--symbols", err),
                     ERR_USAGE);
    assert_non_null(strstr(err, "more than 100000 symbols"));
    many[strrchr(many, ',') - many] = '\0';
    assert_int_equal(flags_symbols_split(&s, many, "--symbols", err), 0);
    assert_int_equal(s.n, FLAGS_SYMBOLS_MAX);
    free(many);
    /* '*' alone is every symbol; beside a name it is not a symbol. */
    assert_int_equal(flags_symbols_split(&s, " * ", "--symbols", err), 0);
    assert_int_equal(s.all, 1);
    assert_int_equal(s.n, 0);
    assert_null(s.v);
    assert_int_equal(flags_symbols_split(&s, "AAPL,*", "--symbols", err),
                     ERR_USAGE);
    assert_non_null(strstr(err, "invalid symbol '*'"));
    assert_int_equal(s.all, 1);
    assert_int_equal(flags_symbols_split(&s, "AAPL", "--symbols", err), 0);
    assert_int_equal(s.all, 0);
    flags_symbols_free(&s);
    flags_symbols_free(&s);
    assert_null(s.v);
}

/* '*' is taken only by a program that says so. */
static void test_all(void **state)
{
    struct flags f = {
        .prog = "t", .usage = "t [flags]", .shared = FLAG_SYMBOLS,
        .symbols = "AAPL",
    };
    const char *argv[] = { "t", "--symbols", "*", NULL };
    char err[ERR_LEN];
    (void)state;

    assert_int_equal(flags_parse(&f, 3, (char **)argv, 1, NULL, 0, NULL,
                                 err), ERR_USAGE);
    assert_string_equal(err, "--symbols '*' (every symbol) is not taken by "
                        "t: list the symbols");
    flags_free(&f);
    f.symbols_all = 1;
    assert_int_equal(flags_parse(&f, 3, (char **)argv, 1, NULL, 0, NULL,
                                 err), 0);
    assert_int_equal(f.syms.all, 1);
    assert_int_equal(f.syms.n, 0);
    flags_free(&f);
}

/* --n: a whole number from 1 to 9, through a setter. */
static int s_set_digit(void *dst, const char *val, const char *from,
                       char *err)
{
    if (strlen(val) != 1 || val[0] < '1' || val[0] > '9') {
        snprintf(err, ERR_LEN, "%s must be a digit from 1 to 9", from);
        return ERR_USAGE;
    }
    *(int *)dst = val[0] - '0';
    return 0;
}

static void test_parse(void **state)
{
    const char *out = NULL;
    int n = 0;
    struct opt_setter digit = { s_set_digit, &n };
    const struct opt own[] = {
        { "out", OPT_STR, &out, NULL, "FILE", "where" },
        { "n", OPT_SET, &digit, NULL, "N", "how many" },
        { 0 }
    };
    struct flags f = {
        .prog = "t", .usage = "t [flags]", .tables = { own },
        .shared = FLAG_SYMBOLS | FLAG_VERBOSE | FLAG_METRICS,
        .symbols = "AAPL", .symbols_env = "LT_TEST_FLAGS_SYMBOLS",
    };
    const char *argv[] = { "t", "--out", "x", "--n=7", "--verbose",
                           "--metrics", "127.0.0.1:9100", NULL };
    const char *bad_n[] = { "t", "--n", "0", NULL };
    const char *twice[] = { "t", "--symbols", "A,B,A", NULL };
    const char *help[] = { "t", "--help", NULL };
    char err[ERR_LEN];
    int level = log_level;
    (void)state;

    /* The default, split; a program's own flags and the shared ones. */
    unsetenv("LT_TEST_FLAGS_SYMBOLS");
    assert_int_equal(flags_parse(&f, 7, (char **)argv, 1, NULL, 0, NULL,
                                 err), 0);
    assert_int_equal(f.syms.n, 1);
    assert_string_equal(f.syms.v[0], "AAPL");
    assert_string_equal(out, "x");
    assert_int_equal(n, 7);
    assert_int_equal(f.verbose, 1);
    assert_int_equal(log_level, LL_DEBUG);
    log_level = level;
    assert_string_equal(f.metrics, "127.0.0.1:9100");
    flags_free(&f);
    /* The setting, with its own name in errors. */
    setenv("LT_TEST_FLAGS_SYMBOLS", "X,Y", 1);
    assert_int_equal(flags_parse(&f, 1, (char **)argv, 1, NULL, 0, NULL,
                                 err), 0);
    assert_int_equal(f.syms.n, 2);
    flags_free(&f);
    setenv("LT_TEST_FLAGS_SYMBOLS", "X,X", 1);
    assert_int_equal(flags_parse(&f, 1, (char **)argv, 1, NULL, 0, NULL,
                                 err), ERR_USAGE);
    assert_string_equal(err, "LT_TEST_FLAGS_SYMBOLS: X is listed twice "
                        "(give each symbol once)");
    unsetenv("LT_TEST_FLAGS_SYMBOLS");
    flags_free(&f);
    /* One line naming the flag, from the setter and from the rule. */
    assert_int_equal(flags_parse(&f, 3, (char **)bad_n, 1, NULL, 0, NULL,
                                 err), ERR_USAGE);
    assert_string_equal(err, "--n must be a digit from 1 to 9");
    flags_free(&f);
    assert_int_equal(flags_parse(&f, 3, (char **)twice, 1, NULL, 0, NULL,
                                 err), ERR_USAGE);
    assert_string_equal(err, "--symbols: A is listed twice (give each "
                        "symbol once)");
    flags_free(&f);
    assert_int_equal(flags_parse(&f, 2, (char **)help, 1, NULL, 0, NULL,
                                 err), 1);
    flags_free(&f);
    flags_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symbols_rule),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_all),
    };
    setenv("LIVETRADE_SETTINGS_CHECKED", "1", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
